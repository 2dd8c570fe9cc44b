import subprocess
import sys

import pytest

import autoal


def test_public_surface_is_pinned():
    assert sorted(autoal.__all__) == [
        "Budget", "EmbeddingLearner", "MultiModalLearner", "Pool", "Project", "Result",
        "STRATEGIES", "Session", "Settings", "SimulatedAnnotators", "SimulatedOracle",
        "StablePredictions", "TabularLearner", "TargetAccuracy", "bench", "infer_column_types",
        "load", "loop", "plot_curves", "read_table",
    ]
    for name in autoal.__all__:
        assert hasattr(autoal, name)
    assert set(autoal.__all__) <= set(dir(autoal))
    assert sorted(autoal.STRATEGIES) == [
        "activelab", "activelab_ensemble", "activelab_margin", "activelab_margin_diverse_warm",
        "activelab_margin_diverse_warm_typical", "auto", "bald", "cluster", "coreset", "entropy",
        "expected_model_change", "good_random", "information_density", "kl_divergence", "least_confidence",
        "margin", "margin_diverse", "random", "typical", "variation_ratio", "vote_entropy"]


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_autoal_loads_nothing_heavy():
    heavy = ["pandas", "numpy", "autogluon", "torch", "cleanlab", "sklearn", "matplotlib"]
    loaded = _python(f"import sys, autoal; autoal.__version__; "
                     f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    assert loaded.strip() == "[]"


def test_names_load_on_first_use_and_stay_the_functions():
    # Importing autoal.loop / autoal.bench (modules) must not hide the functions of those names.
    out = _python(
        "import types, autoal, autoal.bench, autoal.loop\n"
        "from autoal import loop, bench, Result\n"
        "from autoal.bench import summarize\n"
        "from autoal import annotations\n"
        "assert isinstance(annotations, types.ModuleType)\n"
        "assert autoal.loop is loop and autoal.bench is bench and callable(autoal.loop)\n"
        "assert autoal.bench.__module__ == 'autoal.bench'\n"
        "assert callable(autoal.strategies.Scores)  # submodules load on first use too\n"
        "print('ok')\n")
    assert out.strip() == "ok"


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        autoal.nope
