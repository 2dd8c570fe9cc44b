"""The package's shape: no import cycles between autoal's modules; strategies stay pure."""

import ast
from pathlib import Path

import autoal

PACKAGE = Path(autoal.__file__).parent


def _imports(path: Path) -> list:
    """``(module, line)`` of every import in ``path`` of a module of autoal (relative
    imports, or absolute ones of ``autoal``), at module level or inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .x import y
                found.append((node.module.split(".")[0], node.lineno))
            elif node.level == 1:  # from . import x, y
                found += [(alias.name, node.lineno) for alias in node.names]
            elif node.level == 0 and node.module and node.module.split(".")[0] == "autoal":
                parts = node.module.split(".")
                if len(parts) > 1:
                    found.append((parts[1], node.lineno))
                else:
                    found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name.split(".")[1], node.lineno) for alias in node.names
                      if alias.name.startswith("autoal.")]
    return found


def _graph() -> dict:
    modules = {path.stem: path for path in PACKAGE.glob("*.py")}
    return {name: sorted({target for target, _ in _imports(path)
                          if target in modules and target != "__init__"})
            for name, path in modules.items() if name != "__init__"}


def _cycle(graph: dict):
    """One cycle of ``graph`` as a list of modules (first repeated last), or None."""
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target, path + [target])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]
    assert _cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) is None


def test_no_import_cycles_between_modules():
    cycle = _cycle(_graph())
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_strategies_import_only_checks_and_select():
    path = PACKAGE / "strategies.py"
    assert {name for name, _ in _imports(path)} <= {"_checks", "select"}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
    assert not roots & {"pandas", "autogluon"}, sorted(roots & {"pandas", "autogluon"})
