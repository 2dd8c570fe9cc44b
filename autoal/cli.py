"""The ``autoal`` command.

Simulated labeling: ``autoal demo``, ``autoal run FILE``, ``autoal bench FILE``.
Labeling by people, one round at a time, in a run directory: ``autoal init``,
``next``, ``label`` (a web page), ``import``, ``status``, ``export``.
Every command calls the public API (:func:`autoal.loop`, :class:`autoal.Project`)
exactly as a user would.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import warnings
from pathlib import Path

logger = logging.getLogger("autoal")

DEMO_DATA = Path("data") / "fashion" / "labels.csv"
#: The learners by name (:data:`autoal.learners.LEARNERS`), here so building the parser
#: imports nothing heavy.
LEARNERS = ["auto", "tabular", "multimodal", "embedding"]


class _TqdmHandler(logging.Handler):
    """Log lines that do not tear the progress bar."""

    def emit(self, record):
        from tqdm.auto import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def _setup_logging(verbose: bool) -> None:
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def _quiet_warnings() -> None:
    """Hide other packages' noise (FutureWarnings, scikit-learn, their UserWarnings),
    never autoal's own UserWarnings. Call inside ``warnings.catch_warnings()``.

    A warning belongs to the module its ``stacklevel`` points at: autoal's warnings point
    at autoal code or at the command that called autoal, both ``autoal.*``.
    """
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", module="sklearn")
    warnings.filterwarnings("default", category=UserWarning, module=r"autoal(\.|$)")


def _find_demo_data(explicit) -> Path:
    if explicit:
        return Path(explicit)
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (base / DEMO_DATA).is_file():
            return base / DEMO_DATA
    raise SystemExit(
        f"autoal demo: cannot find {DEMO_DATA}; run it from the repository root or pass --data.")


def _curve_table(results: dict):
    """Per round: the number of labeled rows and the test accuracy, one column per run."""
    import pandas as pd

    histories = {name: r.history.set_index("round") for name, r in results.items()}
    labels = {name: h["n_labeled"] for name, h in histories.items()}
    shared = len({tuple(v) for v in labels.values()}) == 1
    columns = {"labels": next(iter(labels.values()))} if shared else {
        f"{name} labels": v for name, v in labels.items()}
    columns.update({name: h["accuracy"] for name, h in histories.items()})
    return pd.DataFrame(columns)


def _timing_table(results: dict):
    """Mean seconds per round, split into fit, predict and scoring."""
    import pandas as pd

    rows = {name: r.history[["fit_seconds", "predict_seconds", "score_seconds"]].mean()
            for name, r in results.items()}
    return pd.DataFrame(rows).T.rename(columns=lambda c: c.replace("_seconds", " s"))


def _data_file(parser) -> None:
    parser.add_argument("file", help="CSV or Parquet file; relative image paths resolve "
                                     "against its folder")


def _learner_options(parser) -> None:
    parser.add_argument("--learner", default="auto", choices=LEARNERS)
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds per AutoGluon fit (default: no limit)")


def _common_options(parser) -> None:
    parser.add_argument("--rounds", type=int, default=10, help="query rounds (default 10)")
    parser.add_argument("--init", type=int, default=8,
                        help="initial labeled examples per class (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _learner_options(parser)
    parser.add_argument("--test-size", type=float, default=0.2,
                        help="fraction held out for evaluation (default 0.2)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logs")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoal", description="Active labeling with AutoGluon and cleanlab ActiveLab.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="run the default strategy beside random on the images shipped in data/",
        description="Runs the loop on data/fashion (Fashion-MNIST sample) with each strategy "
                    "from the same start, prints the learning curves and writes a PNG plot.")
    demo.add_argument("--batch", type=int, default=100, help="labels per round (default 100)")
    demo.add_argument("--strategies", nargs="+", default=["auto", "random"])
    demo.add_argument("--data", help=f"labels file (default {DEMO_DATA})")
    demo.add_argument("--out", default="autoal-demo", help="output folder (default autoal-demo)")
    _common_options(demo)

    run = commands.add_parser(
        "run", help="run the loop on a CSV or Parquet file",
        description="Simulated active labeling on FILE: every row's label is known and revealed "
                    "only when the loop queries it.")
    _data_file(run)
    run.add_argument("--batch", type=int, default=150, help="labels per round (default 150)")
    run.add_argument("--label", default="label", help="label column (default 'label')")
    run.add_argument("--strategy", default="auto", help="query strategy (default auto)")
    run.add_argument("--out", default="autoal-out", help="output folder (default autoal-out)")
    run.add_argument("--annotators", type=float, nargs="+", metavar="ACCURACY",
                     help="simulate noisy annotators with these accuracies (e.g. 0.9 0.8 0.65) "
                          "instead of one perfect one; ActiveLab then asks for second opinions")
    _common_options(run)

    bench = commands.add_parser(
        "bench", help="compare strategies over several seeds on a CSV or Parquet file",
        description="Runs each strategy once per seed from the same starts; prints the area "
                    "under the learning curve and the label-saving ratio against random, "
                    "and writes curves.csv, summary.csv and learning_curves.png.")
    _data_file(bench)
    bench.add_argument("--strategies", nargs="+", default=["auto", "random"])
    bench.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    bench.add_argument("--batch", type=int, default=150, help="labels per round (default 150)")
    bench.add_argument("--label", default="label", help="label column (default 'label')")
    bench.add_argument("--out", default="autoal-bench",
                       help="output folder; finished runs there are kept (default autoal-bench)")
    _common_options(bench)
    _project_commands(commands)
    _check_command(commands)
    return parser


def _check_command(commands) -> None:
    check = commands.add_parser(
        "check", help="verify a run directory; remove temporary files of killed writes",
        description="Checks that the run directory's files are readable and agree (settings, "
                    "state, history, probability files, annotations), removes temporary files "
                    "left by killed writes and rebuilds a damaged state.json when the other "
                    "files allow. Exit status 0: healthy; 1: problems remain.")
    check.add_argument("workdir")
    check.add_argument("-v", "--verbose", action="store_true", help="show debug logs")


def _project_commands(commands) -> None:
    init = commands.add_parser(
        "init", help="start a labeling project from a CSV/Parquet where some labels are missing",
        description="Rows with a label are the first training set; rows without one are the "
                    "pool people will label. Everything is kept in the run directory DIR.")
    _data_file(init)
    init.add_argument("--workdir", required=True, help="the project's run directory (new)")
    init.add_argument("--label", default="label", help="label column (default 'label')")
    init.add_argument("--classes", nargs="+", help="every class, if some have no label yet")
    init.add_argument("--id", dest="id_column", help="column of unique row ids (default: the "
                                                      "row number)")
    init.add_argument("--column-types", nargs="+", metavar="COLUMN=TYPE", default=[],
                      help="override column types: image_path, text, categorical, numerical")
    init.add_argument("--strategy", default="auto", help="query strategy (default auto)")
    _learner_options(init)
    init.add_argument("--relabel", action="store_true",
                      help="let the queue ask for second opinions on doubtful labels")
    init.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    init.add_argument("--data-root", metavar="DIR",
                      help="the folder every image lies in, the only one the labeling page "
                           "serves files from (default: FILE's folder)")

    nxt = commands.add_parser(
        "next", help="fit on the answers so far and write the next queue (queue.csv)",
        description="Fits the model on every answer so far, scores the pool and writes "
                    "DIR/queue.csv: row, kind, show (what to show), guess, confidence, score.")
    nxt.add_argument("workdir")
    nxt.add_argument("--batch", type=int, default=20, help="rows to queue (default 20)")

    imp = commands.add_parser(
        "import", help="add answers from a CSV (row,label[,annotator]) or a Label Studio export",
        description="Answers are validated first: a file with any bad line (unknown class or "
                    "row, a row outside the current queue, a blank label, a row the annotator "
                    "answered already) is refused whole and nothing stored changes. A .json "
                    "file is read as a Label Studio JSON export.")
    imp.add_argument("workdir")
    imp.add_argument("answers", help="CSV with row,label[,annotator] or Label Studio .json")
    imp.add_argument("--annotator", metavar="NAME",
                     help="who answered (when the file has no annotator column)")

    label = commands.add_parser(
        "label", help="label the current queue in a local web page",
        description="Serves a labeling page for the current queue. Every answer is stored as "
                    "it is given; several people can label at once.")
    label.add_argument("workdir")
    label.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any)")
    label.add_argument("--host", default="127.0.0.1",
                       help="address to serve on (default 127.0.0.1: this machine only)")
    label.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="another name people reach the page by (NAME or NAME:PORT; "
                            "repeatable); requests for any other name are refused")
    label.add_argument("--labelers", nargs="+", default=[], metavar="NAME",
                       help="print a sign-in link for each of these people")
    label.add_argument("--trust-names", action="store_true",
                       help="take the name each request gives, unchecked: anyone can act "
                            "as anyone (for one person on their own machine only)")

    status = commands.add_parser("status", help="rounds, labels, per-class counts, accuracy")
    status.add_argument("workdir")

    export = commands.add_parser(
        "export", help="write the labeled rows with consensus labels, or the queue for "
                       "Label Studio",
        description="OUT ending in .csv or .parquet: the labeled rows with their consensus "
                    "label. OUT ending in .json: the current queue as Label Studio tasks, with "
                    "the labeling interface beside it (OUT with .xml).")
    export.add_argument("workdir")
    export.add_argument("out")
    for command in (init, nxt, imp, label, status, export):
        command.add_argument("-v", "--verbose", action="store_true", help="show debug logs")


def _loop_kwargs(args) -> dict:
    return dict(rounds=args.rounds, batch=args.batch, init=args.init, seed=args.seed,
                learner=args.learner, time_limit=args.time_limit, test_size=args.test_size)


def _demo(args) -> int:
    import autoal
    from autoal.rundir import RunDir

    path = _find_demo_data(args.data)
    df = autoal.read_table(path)
    out = Path(args.out)
    RunDir(out).check_folder("out", owner="demo")
    out.mkdir(parents=True, exist_ok=True)
    logger.info("autoal demo: %d images, %d classes, from %s", len(df), df["label"].nunique(), path)
    results = {}
    for strategy in args.strategies:
        logger.info("strategy %s", strategy)
        results[strategy] = autoal.loop(df, strategy=strategy, workdir=out / strategy,
                                        **_loop_kwargs(args))
    _report(results, out)
    return 0


def _run(args) -> int:
    import autoal

    df = autoal.read_table(args.file, label=args.label)
    out = Path(args.out)
    annotators = (autoal.SimulatedAnnotators(args.annotators, seed=args.seed)
                  if args.annotators else None)
    result = autoal.loop(df, label=args.label, strategy=args.strategy, workdir=out,
                         annotators=annotators, **_loop_kwargs(args))
    _report({result.strategy: result}, out)
    return 0


def _bench(args) -> int:
    import pandas as pd

    import autoal
    from autoal.bench import summarize

    df = autoal.read_table(args.file, label=args.label)
    kwargs = _loop_kwargs(args)
    kwargs.pop("seed")
    curves = autoal.bench(df, strategies=args.strategies, seeds=args.seeds, label=args.label,
                          out=args.out, **kwargs)
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        print("\nMean test accuracy by round (over seeds):")
        print(curves.pivot_table(index="round", columns="strategy", values="accuracy",
                                 sort=False).to_string())
        print("\nPer strategy (auc: normalised area under the learning curve; "
              "label_saving_ratio: labels needed to reach random's final accuracy / random's "
              "labels):")
        print(summarize(curves).to_string())
    print(f"\nCurves, summary and plot in {args.out}/")
    return 0


def _init(args) -> int:
    from .project import Project

    types = {}
    for item in args.column_types:
        column, _, kind = item.partition("=")
        if not kind:
            raise ValueError(f"--column-types takes COLUMN=TYPE items. Got {item!r}.")
        types[column] = kind
    project = Project.init(args.file, args.workdir, label=args.label, classes=args.classes,
                           id_column=args.id_column, column_types=types or None,
                           strategy=args.strategy, learner=args.learner, seed=args.seed,
                           time_limit=args.time_limit, relabel=args.relabel,
                           data_root=args.data_root)
    status = project.status()
    print(f"Project in {project.path}: {status['rows']} rows, {status['labeled']} labeled, "
          f"classes {', '.join(map(str, project.classes))}.")
    print(f"Next: autoal next {args.workdir} --batch 20")
    return 0


def _next(args) -> int:
    import pandas as pd

    from .project import Project

    queue = Project(args.workdir).next(batch=args.batch)
    with pd.option_context("display.width", 120, "display.max_colwidth", 40):
        print(queue.drop(columns=["round"]).to_string(index=False))
    print(f"\nQueue of {len(queue)} rows in {Path(args.workdir) / 'queue.csv'}. Label them with "
          f"'autoal label {args.workdir}', or answer in a CSV (row,label) and run "
          f"'autoal import {args.workdir} FILE --annotator NAME'.")
    return 0


def _import(args) -> int:
    from .project import Project

    answers = args.answers
    if str(answers).endswith(".json"):
        from .labelstudio import read_answers

        answers = read_answers(answers)
    stored = Project(args.workdir).import_answers(answers, annotator=args.annotator)
    print(f"Stored {len(stored)} answers from {args.answers}.")
    return 0


def _label(args) -> int:
    from .web import serve, sign_in_links

    def ready(url):
        print(f"Labeling page: {url} (Ctrl+C to stop)", flush=True)
        for name, link in sign_in_links(args.workdir, args.labelers, url).items():
            print(f"Link for {name} (keep it to them: it signs them in): {link}", flush=True)

    serve(args.workdir, host=args.host, port=args.port, allow_hosts=args.allow_host,
          trust_names=args.trust_names, ready=ready)
    return 0


def _status(args) -> int:
    from .status import read_status

    status = read_status(args.workdir)
    accuracy = status["estimated_accuracy"]
    print(f"Project {status['workdir']}: round {status['round']}, {status['rows']} rows, "
          f"{status['labeled']} labeled ({status['annotations']} answers).")
    print("Per class: " + ", ".join(f"{c}: {n}" for c, n in status["per_class"].items()))
    print(f"Queue: {status['queue']['answered']} of {status['queue']['size']} rows answered.")
    print("Estimated accuracy (out-of-fold, labeled rows): "
          + (f"{accuracy:.3f}" if accuracy is not None else "none yet"))
    return 0


def _export(args) -> int:
    from .project import Project

    project = Project(args.workdir)
    out = Path(args.out)
    if out.suffix == ".json":
        from .labelstudio import label_config, to_tasks
        from .rundir import write_json

        kind = project.show_kind()
        write_json(out, to_tasks(project.queue(), kind))
        out.with_suffix(".xml").write_text(label_config(project.classes, kind))
        print(f"Label Studio tasks for the current queue in {out}; labeling interface in "
              f"{out.with_suffix('.xml')}.")
        return 0
    table = project.export(out)
    print(f"{len(table)} labeled rows with consensus labels in {out}.")
    return 0


def _report(results: dict, out: Path) -> None:
    import pandas as pd

    from .plotting import plot_curves

    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        if all("accuracy" in r.history for r in results.values()):
            print("\nTest accuracy by round and number of labeled rows:")
            print(_curve_table(results).to_string())
            fig = plot_curves(results)
            fig.savefig(out / "learning_curve.png", dpi=120)
            print(f"\nPlot: {out / 'learning_curve.png'}")
        print("\nMean seconds per round:")
        print(_timing_table(results).to_string())
        for name, result in results.items():
            if result.annotations["annotator"].nunique() > 1:
                _report_annotators(name, result)
    for name, result in results.items():
        folder = out / name if len(results) > 1 else out
        print(f"{name}: history, queries and annotations in {folder}/")


def _report_annotators(name: str, result) -> None:
    """Consensus and annotator quality, when several annotators labeled."""
    c = result.consensus
    h = result.history
    print(f"\n{name}: {len(result.annotations)} annotations of {len(c)} rows "
          f"({int(h['n_relabeled'].sum())} second opinions); consensus by "
          f"{', '.join(f'{m}: {n}' for m, n in c['method'].value_counts().items())}.")
    if "consensus_accuracy" in h:
        print(f"Consensus labels right (against the known labels): "
              f"{h['consensus_accuracy'].iloc[-1]:.3f}")
    print("Annotators:")
    print(result.annotator_stats.to_string())
    print("Least certain consensus labels:")
    print(c.sort_values("consensus_quality_score").head(5).to_string())


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    command = {"demo": _demo, "run": _run, "bench": _bench, "init": _init, "next": _next,
               "import": _import, "label": _label, "status": _status,
               "export": _export, "check": _check}[args.command]
    try:
        with warnings.catch_warnings():
            if not args.verbose:
                _quiet_warnings()
            return command(args)
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        if args.verbose:
            raise
        message = _with_flags(str(error), _subparser(parser, args.command))
        print(f"autoal {args.command}: error: {message}", file=sys.stderr)
        return 2


def _check(args) -> int:
    from .rundir import check

    findings = check(args.workdir)
    for finding in findings:
        print(f"{finding.level}: {finding.text}")
    return 1 if any(f.level == "problem" for f in findings) else 0


#: Parameters of the Python API whose flag has another name, by the flag's ``dest``.
_FLAG_ALIASES = {"workdir": "out"}
_PARAMETER = re.compile(r"The '(\w+)' parameter of [\w.]+")
_ASSIGNED = re.compile(r"(?<![\w.])(\w+)=('[^']*'|\[\.\.\.\]|\.\.\.|[^\s,;)]+)")


def _subparser(parser, command):
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return actions[0].choices[command]


def _with_flags(message: str, parser) -> str:
    """An error message of the library with its parameter hints in this command's flags:
    ``label=...`` as ``--label``, ``annotator=...`` as ``--annotator NAME``, ``rounds=3``
    as ``--rounds 3``, "The 'batch' parameter of loop" as ``--batch``."""
    flags = {a.dest: a for a in parser._actions if a.option_strings}
    for name, dest in _FLAG_ALIASES.items():
        if name not in flags and dest in flags:
            flags[name] = flags[dest]

    def flag(name):
        action = flags[name]
        return next(o for o in action.option_strings if o.startswith("--"))

    def assigned(match):
        name, value = match.groups()
        if name not in flags:
            return match.group(0)
        action = flags[name]
        if action.nargs == 0:  # a switch
            return flag(name)
        if value in ("...", "[...]"):
            return f"{flag(name)} {action.metavar}" if isinstance(action.metavar, str) \
                else flag(name)
        return f"{flag(name)} {value.strip(chr(39))}"

    message = _PARAMETER.sub(lambda m: flag(m.group(1)) if m.group(1) in flags
                             else m.group(0), message)
    message = _ASSIGNED.sub(assigned, message)
    # A hint that named the flag already: "--data-root DIR (--data-root DIR)".
    return re.sub(r"(--[\w-]+(?: [A-Z]+)?) \(\1(?: on the command line)?\)", r"\1", message)


if __name__ == "__main__":
    sys.exit(main())
