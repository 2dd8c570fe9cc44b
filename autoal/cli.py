"""The ``autoal`` command.

Simulated labeling: ``autoal demo``, ``autoal run FILE``, ``autoal bench FILE``.
Labeling by people, one round at a time, in a run directory: ``autoal init``,
``next``, ``label`` (a web page), ``import``, ``status``, ``export``, ``add-rows``,
``add-classes``, ``relocate``.
The final model of a project or a loop run: ``autoal train``, ``autoal predict``.
Every command calls the public API (:func:`autoal.loop`, :class:`autoal.Project`,
:func:`autoal.load`) exactly as a user would.
"""

from __future__ import annotations

import argparse
import logging
import os
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


#: Commands that print what the project logs of their result: its log line is left out.
_PRINTS_ITS_RESULT = {"init", "add-rows", "add-classes", "rename-class", "relocate"}


def _setup_logging(verbose: bool, command: str = "") -> None:
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    quiet = command in _PRINTS_ITS_RESULT and not verbose
    logging.getLogger("autoal.project").setLevel(logging.WARNING if quiet else logging.NOTSET)


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
    """Mean seconds per round, split into fit, predict and scoring, the learner's one-time
    preparation (embedding every row) apart: its total."""
    import pandas as pd

    rows = {}
    for name, result in results.items():
        h = result.history
        prepare = h.get("prepare_seconds", pd.Series(0.0, index=h.index)).fillna(0.0)
        rows[name] = {"fit s": (h["fit_seconds"] - prepare).mean(),
                      "predict s": h["predict_seconds"].mean(),
                      "score s": h["score_seconds"].mean(), "prepare s (once)": prepare.sum()}
    return pd.DataFrame(rows).T


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
    _label_studio_commands(commands)
    _model_commands(commands)
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
        "init", help="start a labeling project from a CSV/Parquet where labels are missing",
        description="Rows without a label are the pool people will label; rows with one are "
                    "the first training set. No label at all is fine: name the classes with "
                    "--classes. Everything is kept in the run directory DIR.")
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
                    "answered already) is refused whole and nothing stored changes; with "
                    "--correct, an answer to a row the annotator answered already, in any "
                    "round, replaces the earlier one. A .json "
                    "file is read as a Label Studio JSON export, which holds every answer ever "
                    "given: answers stored already are skipped, new answers to earlier queues "
                    "are taken, answers changed in Label Studio replace the stored ones, "
                    "cancelled ones are left out.")
    imp.add_argument("workdir")
    imp.add_argument("answers", help="CSV with row,label[,annotator] or Label Studio .json")
    imp.add_argument("--annotator", metavar="NAME",
                     help="who answered (when the file has no annotator column)")
    imp.add_argument("--correct", action="store_true",
                     help="answers to rows the annotator answered already replace theirs")

    label = commands.add_parser(
        "label", help="label the current queue in a local web page",
        description="Serves a labeling page for the project. Every answer is stored as it is "
                    "given; several people can label at once, each on rows of their own. When "
                    "a batch runs low the next one is fitted in the background (no 'autoal "
                    "next' needed; --no-auto-next turns this off), until a stop rule fires or "
                    "the pool runs out.")
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
    label.add_argument("--batch", type=int, default=20,
                       help="rows each new batch queues (default 20)")
    label.add_argument("--no-auto-next", dest="auto_next", action="store_false",
                       help="never start a round from the page: batches come from "
                            "'autoal next' only")
    label.add_argument("--refill", type=int, metavar="N",
                       help="start fitting the next batch when N rows of this one are left "
                            "(default: a quarter of --batch)")
    label.add_argument("--budget", type=int, metavar="N",
                       help="stop once N answers are given in all")
    label.add_argument("--stop-stable", type=float, nargs="?", const=0.99, metavar="KAPPA",
                       help="stop once the model's predictions stop changing: Cohen's kappa "
                            ">= KAPPA (default 0.99) between rounds, 2 rounds in a row")

    status = commands.add_parser("status", help="rounds, labels, per-class counts, accuracy")
    status.add_argument("workdir")

    export = commands.add_parser(
        "export", help="write the labeled rows with consensus labels, or the queue for "
                       "Label Studio",
        description="OUT ending in .csv, .parquet or .jsonl (JSON Lines): the labeled rows "
                    "with their consensus label. OUT a folder (no suffix), for an image "
                    "project: one folder of images per class (OUT/<class>/<file>, the "
                    "ImageFolder layout), copied or linked, never moved; OUT must be new or "
                    "empty. OUT ending in .json: the current queue as Label Studio tasks, with "
                    "the labeling interface beside it (OUT with .xml).")
    export.add_argument("workdir")
    export.add_argument("out")
    export.add_argument("--format", choices=["csv", "parquet", "jsonl", "imagefolder"],
                        help="the labeled rows' format (default: from OUT's suffix; a folder "
                             "is imagefolder)")
    export.add_argument("--files", choices=["copy", "link"], default="copy",
                        help="imagefolder: copy the images (default) or link to them "
                             "(symbolic links)")
    _label_studio_task_options(export)

    out = commands.add_parser(
        "exclude", help="take rows out: no class fits, or not to be labeled",
        description="Rows that fit no class, or should not be labeled (a broken image, a "
                    "duplicate, off topic), leave the project: never queued again, and their "
                    "answers, kept, are neither trained on nor exported. --undo puts them "
                    "back. A running labeling page follows.")
    out.add_argument("workdir")
    out.add_argument("rows", nargs="+", metavar="ROW", help="row ids, as queue.csv gives them")
    out.add_argument("--annotator", metavar="NAME", help="who decided")
    out.add_argument("--undo", action="store_true", help="put the rows back")

    rows = commands.add_parser(
        "add-rows", help="add rows to label, when the pile grows",
        description="FILE (CSV or Parquet) holds the new rows: the project's feature columns, "
                    "and its id column where it has one (else the rows are numbered on), with "
                    "no label; relative image paths resolve against FILE's folder and must "
                    "lie in the project's data root. The next round picks from them too; a "
                    "running labeling page follows.")
    rows.add_argument("workdir")
    rows.add_argument("data", metavar="FILE")

    add = commands.add_parser(
        "add-classes", help="add classes nobody named at init (a labeler met one)",
        description="Adds the classes after the project's others: answers may give them at "
                    "once, and the next round's model learns them from their labels. A "
                    "running labeling page offers them from its next item on.")
    add.add_argument("workdir")
    add.add_argument("classes", nargs="+", metavar="CLASS")

    rename = commands.add_parser(
        "rename-class", help="rename a class (a typo at init, a clearer name)",
        description="Renames the class OLD to NEW in its place: in the class list, every "
                    "answer and the queue's guesses; answers that still give OLD (a page "
                    "opened before, a Label Studio export) read as NEW. NEW must not be a "
                    "class yet. Train the final model again for it to predict NEW.")
    rename.add_argument("workdir")
    rename.add_argument("old", metavar="OLD")
    rename.add_argument("new", metavar="NEW")

    relocate = commands.add_parser(
        "relocate", help="say where a project's images are now, after they moved",
        description="The images moved apart from the run directory: DATA_ROOT is the folder "
                    "that now holds what the project's data root held, under the same "
                    "relative paths; every image must be there. (A project moved or copied "
                    "together with its images finds them itself.)")
    relocate.add_argument("workdir")
    relocate.add_argument("data_root", metavar="DATA_ROOT")
    for command in (init, nxt, imp, label, status, export, out, rows, add, rename, relocate):
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
              "label_saving_ratio: on the mean curves, labels needed to reach random's final "
              "accuracy / random's labels; ratio_per_seed: each seed's, 'never' where it did "
              "not get there):")
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
    print(f"Next: label in the page ('autoal label {args.workdir}': batches come on their "
          f"own), or step by step ('autoal next {args.workdir} --batch 20').")
    if status["model"]:
        print(status["model"])
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

    if Path(args.answers).suffix.lower() == ".json":
        from .labelstudio import describe, read_export, stored_names

        if args.annotator is not None:
            raise ValueError("A Label Studio export names its annotators (Label Studio "
                             "users); drop --annotator.")
        export = read_export(args.answers, names=stored_names(args.workdir))
        stored = Project(args.workdir).import_answers(export.answers, incremental=True)
        print(f"{args.answers}: {describe(export, stored)}.")
        return 0
    stored = Project(args.workdir).import_answers(args.answers, annotator=args.annotator,
                                                  correct=args.correct)
    fixed = int(stored["corrected"].sum())
    print(f"Stored {len(stored)} answers from {args.answers}"
          + (f" ({fixed} of them corrections of earlier answers)." if fixed else "."))
    return 0


def _label(args) -> int:
    from .web import serve, sign_in_links

    def ready(url):
        print(f"Labeling page: {url} (Ctrl+C to stop)", flush=True)
        for name, link in sign_in_links(args.workdir, args.labelers, url).items():
            print(f"Link for {name} (keep it to them: it signs them in): {link}", flush=True)

    from .stopping import Budget, StablePredictions

    stop = ([Budget(args.budget)] if args.budget is not None else []) + \
        ([StablePredictions(kappa=args.stop_stable)] if args.stop_stable is not None else [])
    serve(args.workdir, host=args.host, port=args.port, allow_hosts=args.allow_host,
          trust_names=args.trust_names, ready=ready, batch=args.batch,
          auto_next=args.auto_next, refill=args.refill, stop=stop or None)
    return 0


def _status(args) -> int:
    from .status import read_status

    status = read_status(args.workdir)
    accuracy = status["estimated_accuracy"]
    out = f", {status['excluded']} excluded" if status["excluded"] else ""
    print(f"Project {status['workdir']}: round {status['round']}, {status['rows']} rows, "
          f"{status['labeled']} labeled ({status['annotations']} answers){out}.")
    print("Per class: " + ", ".join(f"{c}: {n}" for c, n in status["per_class"].items()))
    queue = status["queue"]
    print(f"Queue: {queue['answered']} of {queue['size']} rows answered"
          + (f", {queue['excluded']} excluded." if queue["excluded"] else "."))
    print("Estimated accuracy (out-of-fold, labeled rows): "
          + (f"{accuracy:.3f}" if accuracy is not None else "none yet"))
    if status["model"]:
        print(status["model"])
    if status["stop_reason"]:
        print(f"A stop rule fired: {status['stop_reason']}; you can stop labeling here.")
    final = status["final_model"]
    if final:
        what = ", the rounds' models" if final["kept"] == "rounds" else ""
        score = final["oof_accuracy"]
        since = final["answers_since"]
        print(f"Final model: trained {final['trained_at']} on {final['n_labels']} labels{what}"
              + (f", out-of-fold accuracy {score:.3f}" if score is not None else "") + "; "
              + ("no answers since." if not since else
                 f"{since} answers since, which it has not seen: '{final['retrain']}' "
                 f"again to fit them in."))
    return 0


def _exclude(args) -> int:
    from .project import Project

    project = Project(args.workdir)
    if args.undo:
        back = project.include(args.rows)
        print(f"Put back {len(back)} rows into {args.workdir}.")
        return 0
    if args.annotator is None:
        raise ValueError("Say who excludes the rows: pass --annotator NAME.")
    out = project.exclude(args.rows, args.annotator)
    print(f"Excluded {len(out)} rows from {args.workdir} "
          f"({len(args.rows) - len(out)} were excluded already).")
    return 0


def _add_rows(args) -> int:
    from .project import Project

    project = Project(args.workdir)
    added = project.add_rows(args.data)
    print(f"Added {added} rows to {args.workdir}: {len(project.data)} rows in all.")
    return 0


def _add_classes(args) -> int:
    from .project import Project

    classes = Project(args.workdir).add_classes(args.classes)
    print(f"The classes of {args.workdir}: {', '.join(map(str, classes))}.")
    return 0


def _rename_class(args) -> int:
    from .project import Project

    classes = Project(args.workdir).rename_class(args.old, args.new)
    print(f"The classes of {args.workdir}: {', '.join(map(str, classes))}.")
    return 0


def _relocate(args) -> int:
    from .project import Project

    root = Project(args.workdir).relocate(args.data_root)
    print(f"The images of {args.workdir} are now read from {root}.")
    return 0


def _export(args) -> int:
    from .project import Project

    project = Project(args.workdir)
    out = Path(args.out)
    if out.suffix == ".json" and args.format is None:
        from .labelstudio import document_root, label_config, to_tasks
        from .rundir import write_json

        kind = project.show_kind()
        root = document_root(args.ls_document_root) if kind == "image" else None
        write_json(out, to_tasks(project.queue(), kind, root=root, prefill=args.prefill))
        out.with_suffix(".xml").write_text(label_config(project.classes, kind))
        print(f"Label Studio tasks for the current queue in {out}; labeling interface in "
              f"{out.with_suffix('.xml')}.")
        return 0
    table = project.export(out, format=args.format, files=args.files)
    if "exported_file" in table:
        done = "copied" if args.files == "copy" else "linked"
        print(f"{len(table)} labeled images {done} into {table[project.label].nunique()} class "
              f"folders in {out}.")
    else:
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
        print("\nMean seconds per round, and the learner's one-time preparation apart from "
              "fit (embedding every row; a later run reads the embeddings from the cache):")
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


def _label_studio_task_options(parser) -> None:
    parser.add_argument("--ls-document-root", metavar="DIR",
                        help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT, for image tasks "
                             "(default: $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT)")
    parser.add_argument("--prefill", action="store_true",
                        help="pre-select the model's guess in Label Studio (off by default: "
                             "it biases labelers toward the model)")


def _label_studio_commands(commands) -> None:
    ls = commands.add_parser(
        "labelstudio", help="connect a project to a Label Studio server",
        description="sync: push the queue to a Label Studio project and pull its answers "
                    "(run it whenever you like). backend: serve Label Studio's ML backend "
                    "protocol, so answers arrive and new tasks appear as people label.")
    actions = ls.add_subparsers(dest="action", required=True)
    sync = actions.add_parser(
        "sync", help="create/update the Label Studio project, pull answers, push the queue",
        description="Creates the Label Studio project (or updates the one given or made "
                    "before), stores the answers given there since the last sync, starts the "
                    "next round when every queued row is answered or skipped, and pushes the "
                    "queue as tasks. Safe to run again at any time.")
    backend = actions.add_parser(
        "backend", help="serve Label Studio's ML backend protocol for a project",
        description="Add http://HOST:PORT under the Label Studio project's Settings > Model. "
                    "Each annotation is stored as it is made; when the queue is answered the "
                    "next round runs in the background and its tasks are pushed to the "
                    "project.")
    for parser in (sync, backend):
        parser.add_argument("workdir")
        parser.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL"),
                            help="Label Studio's address (default: $LABEL_STUDIO_URL)")
        parser.add_argument("--token", default=os.environ.get("LABEL_STUDIO_API_KEY"),
                            help="an API token (Account & Settings; default: "
                                 "$LABEL_STUDIO_API_KEY)")
        parser.add_argument("--project", type=int, metavar="ID",
                            help="the Label Studio project (default: the one an earlier sync "
                                 "made, else a new one)")
        parser.add_argument("--batch", type=int, metavar="N",
                            help="rows each new round queues (default: as many as the last)")
        _label_studio_task_options(parser)
        parser.add_argument("-v", "--verbose", action="store_true", help="show debug logs")
    backend.add_argument("--port", type=int, default=9090, help="port (default 9090)")
    backend.add_argument("--host", default="127.0.0.1",
                         help="address to serve on (default 127.0.0.1)")


def _labelstudio(args) -> int:
    from . import labelstudio as ls

    if args.action == "sync" and not (args.url and args.token):
        raise ValueError("Name the Label Studio server: --url URL --token TOKEN (or set "
                         "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY).")
    client = ls.Client(args.url, args.token) if args.url and args.token else None
    if args.action == "sync":
        report = ls.sync(args.workdir, client, project_id=args.project,
                         root=args.ls_document_root, prefill=args.prefill, batch=args.batch)
        made = "created" if report.created else "existing"
        print(f"Label Studio project {report.project} ({made}) at {client.url}: "
              f"{report.answers()}.")
        if report.round is not None:
            print(f"Round {report.round} started: its queue holds {report.queue} rows.")
        print(f"{report.pushed} new tasks pushed; the queue has {report.queue} rows.")
        return 0

    def ready(url):
        print(f"ML backend for {args.workdir}: {url} (add it in the Label Studio project's "
              f"Settings > Model; Ctrl+C to stop)", flush=True)

    ls.serve_backend(args.workdir, host=args.host, port=args.port, client=client,
                     project_id=args.project, root=args.ls_document_root,
                     prefill=args.prefill, batch=args.batch, ready=ready)
    return 0


def _model_commands(commands) -> None:
    train = commands.add_parser(
        "train", help="fit the final model on every consensus label and save it in DIR/final",
        description="Fits the final AutoGluon model on every consensus label of the run, at a "
                    "higher quality than the rounds' fits (medium: AutoGluon's default "
                    "models in 5-fold bags, 45 s; high: its zeroshot portfolio, 8-fold bags "
                    "and a stack level, 600 s; best: as high with two bag sets, 3600 s), and "
                    "saves it in DIR/final (AutoGluon's folder and final.json). On tables "
                    "medium keeps the rounds' models refitted on every label, and high and "
                    "best keep theirs only where it beats those clearly out of fold. A loop run "
                    "directory does not keep its data: name it with --data.")
    train.add_argument("workdir")
    train.add_argument("--quality", choices=["medium", "high", "best"], default="medium",
                       help="how much to fit (default medium)")
    train.add_argument("--time-limit", type=float, default=None, metavar="S",
                       help="seconds for AutoGluon's fit of its portfolio (default: by "
                            "--quality; on tables medium fits none)")
    train.add_argument("--data", metavar="FILE",
                       help="a loop run directory's data: the CSV/Parquet file the loop ran on "
                            "(checked against the run's fingerprint)")
    predict = commands.add_parser(
        "predict", help="predict new rows with the final model (after 'autoal train')",
        description="Writes each row's predicted class (prediction) and one probability "
                    "column per class (proba_<class>), after its row id, to a CSV.")
    predict.add_argument("workdir")
    predict.add_argument("data", help="CSV or Parquet file with the feature columns; relative "
                                      "image paths resolve against its folder")
    predict.add_argument("--out", default="predictions.csv",
                         help="the CSV to write (default predictions.csv)")
    predict.add_argument("--id", dest="id_column", metavar="COLUMN",
                         help="column of DATA holding row ids, written as given (default: "
                              "the row number, as 'row'); may be the image column itself")
    for command in (train, predict):
        command.add_argument("-v", "--verbose", action="store_true", help="show debug logs")


def _train(args) -> int:
    from .final import PORTFOLIO, ROUNDS
    from .learners import WEIGHTED_BLEND_MARGIN
    from .rundir import RunDir

    if RunDir(args.workdir).config().get("kind") == "project":
        from .project import Project

        if args.data is not None:
            raise ValueError(f"{args.workdir} is a labeling project, which keeps its data; "
                             f"drop --data.")
        model = Project(args.workdir).train(quality=args.quality, time_limit=args.time_limit)
    else:
        from .final import train_run

        model = train_run(args.workdir, args.data, quality=args.quality,
                          time_limit=args.time_limit)
    info = model.info
    accuracy = info["oof_accuracy"]
    print(f"Final model ({info['learner']['name']} learner, quality {info['quality']}) fitted "
          f"on {info['n_labels']} labels in {info['fit_seconds']:.0f} s"
          + (f", out-of-fold accuracy {accuracy:.3f}" if accuracy is not None else "")
          + f"; saved in {model.path}.")
    candidates = info.get("candidates", {})
    rounds, portfolio = (candidates.get(name, {}).get("oof_accuracy")
                         for name in (ROUNDS, PORTFOLIO))
    if PORTFOLIO not in candidates:
        print(f"It is the rounds' models refitted on every label: on tables quality "
              f"{info['quality']} keeps them (--quality high fits AutoGluon's portfolio "
              f"beside them).")
    elif rounds is not None and portfolio is not None:
        print(f"It is the {info['quality']} portfolio, whose out-of-fold accuracy beat the "
              f"rounds' models' ({rounds:.3f}) clearly." if info["kept"] == PORTFOLIO else
              f"It is the rounds' models refitted on every label: the {info['quality']} "
              f"portfolio's out-of-fold accuracy ({portfolio:.3f}) did not beat theirs "
              f"by more than {WEIGHTED_BLEND_MARGIN:g} standard error.")
    print(f"Next: autoal predict {args.workdir} DATA --out predictions.csv")
    return 0


def _predict(args) -> int:
    import autoal
    from .rundir import write_csv

    from .data import IMAGE, resolve_paths

    model = autoal.load(args.workdir)
    data = autoal.read_table(args.data, label=model.label, exclude=[args.id_column])
    if args.id_column is not None:
        if args.id_column not in data.columns:
            raise ValueError(f"The --id column {args.id_column!r} is not in {args.data}. "
                             f"Columns: {', '.join(map(str, data.columns[:10]))}.")
        data = data.set_index(args.id_column, drop=False)
        images = {f["name"] for f in model.info["features"] if f["type"] == IMAGE}
        if args.id_column in images:  # the ids as given, the model's images found
            base = Path(args.data).resolve().parent
            data[args.id_column] = resolve_paths(data[args.id_column], base)
    table = model.predictions(data).rename_axis(args.id_column or "row").reset_index()
    write_csv(Path(args.out), table)
    print(f"Predictions for {len(table)} rows in {args.out}.")
    return 0


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.command)
    command = {"demo": _demo, "run": _run, "bench": _bench, "init": _init, "next": _next,
               "import": _import, "label": _label, "status": _status, "export": _export,
               "exclude": _exclude, "add-rows": _add_rows, "add-classes": _add_classes,
               "rename-class": _rename_class, "relocate": _relocate,
               "check": _check, "labelstudio": _labelstudio, "train": _train,
               "predict": _predict}[args.command]
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
    from .project import check

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
    # A hint that named the flag already: "--data-root DIR (--data-root DIR)", and
    # "--classes (--classes A B ...)".
    message = re.sub(r"(--[\w-]+(?: [A-Z]+)?) \(\1(?: on the command line)?\)", r"\1", message)
    return re.sub(r"(--[\w-]+) \((\1 [^)]*)\)", r"\2", message)


if __name__ == "__main__":
    sys.exit(main())
