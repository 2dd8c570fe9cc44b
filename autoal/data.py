"""Reading tables and deciding what each column is.

A column is one of ``"image_path"``, ``"text"``, ``"categorical"`` or
``"numerical"`` (AutoGluon's names). :func:`infer_column_types` guesses;
``column_types=`` overrides any guess, as in AutoGluon.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ._checks import format_examples

logger = logging.getLogger(__name__)

IMAGE = "image_path"
TEXT = "text"
CATEGORICAL = "categorical"
NUMERICAL = "numerical"
COLUMN_TYPES = (IMAGE, TEXT, CATEGORICAL, NUMERICAL)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_SAMPLE = 50


def read_table(path, *, label: str | None = None, exclude=(), column_types=None) -> pd.DataFrame:
    """Read a CSV or Parquet file; relative image paths resolve against its folder.

    Image-path columns (see :func:`infer_column_types`, which ``column_types`` overrides)
    are rewritten as absolute paths, so the frame works from any working directory; the
    ``label`` column and those in ``exclude`` (an id column: ``img_001.png`` reads like an
    image's path; None names none) are read as they are.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"The data file {path} is a folder; pass a .csv or .parquet file.")
    if not path.is_file():
        raise FileNotFoundError(f"No such data file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = read_csv_text(path, "data file")
    elif suffix in (".parquet", ".pq"):
        df = pd.read_parquet(path)
    else:
        raise ValueError(f"Data files must be .csv or .parquet. Got {path.name!r}.")
    base = path.resolve().parent
    exclude = [c for c in (label, *exclude) if c is not None]
    for column, kind in infer_column_types(df, exclude=exclude, column_types=column_types,
                                           base_dir=base).items():
        if kind == IMAGE:
            df[column] = resolve_paths(df[column], base)
    return df


def read_csv_text(path, what: str, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` with errors that name the file and say what to do: a file that
    is not UTF-8 text, or an empty one."""
    try:
        return pd.read_csv(path, encoding="utf-8", **kwargs)
    except UnicodeDecodeError as error:
        raise ValueError(
            f"The {what} {path} is not UTF-8 text (byte {error.object[error.start]:#x} at "
            f"position {error.start}); save it as UTF-8 (in a spreadsheet: 'CSV UTF-8') and "
            f"try again.") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"The {what} {path} is empty; it needs a header line with the column "
                         f"names.") from None


def resolve_paths(paths: pd.Series, base_dir) -> pd.Series:
    """Make relative paths absolute against ``base_dir``; missing values stay missing."""
    base = Path(base_dir)

    def resolve(p):
        if not isinstance(p, str):
            return p
        q = Path(p).expanduser()
        return str(q if q.is_absolute() else base / q)

    return paths.map(resolve)


def infer_column_types(df: pd.DataFrame, *, exclude=(), column_types=None, base_dir=None) -> dict:
    """Guess each feature column's type; ``column_types`` entries win over guesses.

    - image_path: strings that end in an image suffix or name existing files;
    - text: strings that read like prose (several words, mostly unique);
    - numerical: numbers (bools included);
    - categorical: everything else.
    """
    column_types = dict(column_types or {})
    unknown = set(column_types) - set(df.columns)
    if unknown:
        raise ValueError(
            f"The 'column_types' parameter names columns that are not in the data: "
            f"{format_examples(sorted(unknown))}."
        )
    bad = {c: t for c, t in column_types.items() if t not in COLUMN_TYPES}
    if bad:
        raise ValueError(
            f"The 'column_types' parameter takes types {list(COLUMN_TYPES)}. Got {bad}."
        )
    types = {}
    for column in df.columns:
        if column in exclude:
            continue
        types[column] = column_types.get(column) or _guess(df[column], base_dir)
    return types


def _guess(values: pd.Series, base_dir) -> str:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return NUMERICAL
    strings = values.dropna().astype(object)  # pandas' categories map to categories
    strings = strings[strings.map(lambda v: isinstance(v, str))]
    if len(strings) == 0:
        return CATEGORICAL
    sample = strings.iloc[:: max(1, len(strings) // _SAMPLE)].iloc[:_SAMPLE]
    if sample.str.lower().str.endswith(IMAGE_SUFFIXES).mean() >= 0.8:
        return IMAGE
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    if sample.map(lambda p: is_file(base / p)).mean() >= 0.8:
        return IMAGE
    words = sample.str.split().str.len().mean()
    unique = strings.nunique() / len(strings)
    if words >= 4 and unique >= 0.5:
        return TEXT
    return CATEGORICAL


def is_file(path) -> bool:
    """Whether ``path`` names a file; False, not an error, for text that cannot be a
    path (too long for the file system, a NUL byte)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def check_images(df: pd.DataFrame, columns, *, limit: int = 5) -> None:
    """Raise ``ValueError`` listing the first few image paths that are missing or unreadable."""
    from PIL import Image

    for column in columns:
        missing, broken = [], []
        for path in df[column]:
            if not isinstance(path, str) or not is_file(path):
                missing.append(path)
                continue
            try:
                with Image.open(path) as image:
                    image.verify()
            except Exception:  # PIL raises many types for a bad file
                broken.append(path)
        if missing or broken:
            parts = []
            if missing:
                parts.append(f"{len(missing)} do not exist ({format_examples(missing, limit)})")
            if broken:
                parts.append(
                    f"{len(broken)} cannot be opened as images ({format_examples(broken, limit)})"
                )
            raise ValueError(
                f"Image column {column!r}: {' and '.join(parts)}. Relative paths resolve against "
                f"the working directory, or the data file's folder when read with "
                f"autoal.read_table."
            )
