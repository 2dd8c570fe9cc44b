import numpy as np
import pandas as pd
import pytest

from autoal.data import check_images, infer_column_types, read_table


def test_infer_column_types(image_csv, texts):
    df = read_table(image_csv)
    frame = pd.DataFrame({
        "image_path": df["image_path"],
        "text": (texts["text"].tolist() * 2)[: len(df)],
        "n": np.arange(len(df)),
        "flag": [True, False] * (len(df) // 2),
        "colour": ["red", "blue"] * (len(df) // 2),
        "label": df["label"],
    })
    types = infer_column_types(frame, exclude=["label"])
    assert types == {"image_path": "image_path", "text": "text", "n": "numerical",
                     "flag": "numerical", "colour": "categorical"}
    assert infer_column_types(frame, exclude=["label"], column_types={"n": "categorical"})["n"] == "categorical"

    # The same columns as pandas categories (as R's factors and parquet files come), one
    # of them holding a single value: mapped, a category column stays one, and its mean
    # is an error.
    as_categories = frame.astype({"image_path": "category", "text": "category",
                                  "colour": "category"}).assign(
        kind=pd.Categorical(["x"] * len(frame)))
    assert infer_column_types(as_categories, exclude=["label"]) == {**types,
                                                                    "kind": "categorical"}


def test_column_types_errors(blobs):
    with pytest.raises(ValueError, match="not in the data: 'nope'"):
        infer_column_types(blobs, column_types={"nope": "text"})
    with pytest.raises(ValueError, match="takes types"):
        infer_column_types(blobs, column_types={"f0": "picture"})


def test_read_table_resolves_relative_paths_against_the_file(image_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)
    df = read_table(image_csv)
    assert all(p.startswith(str(tmp_path)) for p in df["image_path"])
    check_images(df, ["image_path"])  # all exist and open
    parquet = tmp_path / "labels.parquet"
    pd.read_csv(image_csv).to_parquet(parquet)
    assert read_table(parquet)["image_path"].tolist() == df["image_path"].tolist()


def test_read_table_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such data file"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "x.txt").write_text("a,b\n")
    with pytest.raises(ValueError, match=r"must be \.csv or \.parquet"):
        read_table(tmp_path / "x.txt")


def test_check_images_lists_missing_and_broken(image_csv, tmp_path):
    df = read_table(image_csv)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    df.loc[0, "image_path"] = str(tmp_path / "gone.png")
    df.loc[1, "image_path"] = str(tmp_path / "broken.png")
    with pytest.raises(ValueError, match=r"1 do not exist \(.*gone\.png.*1 cannot be opened.*broken\.png"):
        check_images(df, ["image_path"])
