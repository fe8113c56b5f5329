"""``csv``: images listed in a CSV file with their class, as Kaggle competitions ship labels
(``filename,label``). Built on the file-list helper, like any plugin's source can be."""

from __future__ import annotations

import csv

from pydantic import Field

from cnnbuild.contracts.data import DataContext, DataParams, Datasets, SkippedFile
from cnnbuild.contracts.values import Interpolation, SpecPath
from cnnbuild.data.files import file_list_source
from cnnbuild.errors import DataError, DataNotFound
from cnnbuild.plugins.hookspecs import hookimpl


class CsvParams(DataParams):
    path: SpecPath = Field(description="the CSV file: a header row, then one row per image; relative to the spec file")
    images: SpecPath | None = Field(None, description="folder the file names are relative to; default: the CSV file's folder")
    filename_column: str = "filename"
    label_column: str = "label"
    class_names: list[str] | None = Field(None, min_length=2, description="classes to use, in label order; default: every label in the file, sorted")
    interpolation: Interpolation = "bilinear"
    crop_to_aspect_ratio: bool = False
    test_path: SpecPath | None = Field(None, description="a second CSV of the same columns, evaluated after training")


def csv_rows(params: CsvParams, context: DataContext, which: str) -> tuple[list[tuple[str, str]], list[SkippedFile]]:
    """``(path, label)`` of every row of the CSV at ``which``, and the rows that name no file or label (used by ``cnnbuild init`` too)."""
    table = context.resolve_path(which)
    folder = context.resolve_path(params.images) if params.images else table.parent
    try:
        with table.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in (params.filename_column, params.label_column) if column not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{table}: no column {missing}; the header has {reader.fieldnames}; set data.filename_column and data.label_column")
            rows = list(reader)
    except FileNotFoundError as exc:
        raise DataNotFound(f"{table}: file does not exist; set data.path to the CSV file") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{table}: cannot read the CSV: {exc}") from exc
    pairs, skipped = [], []
    for number, row in enumerate(rows, start=2):
        name, label = (row.get(params.filename_column) or "").strip(), (row.get(params.label_column) or "").strip()
        if name and label:
            pairs.append((str(folder / name), label))
        else:
            skipped.append(SkippedFile(f"{table}:{number}", f"row without a {'file name' if not name else 'label'}; not used"))
    return pairs, skipped


def load(params: CsvParams, context: DataContext) -> Datasets:
    pairs, skipped = csv_rows(params, context, params.path)
    test = csv_rows(params, context, params.test_path)[0] if params.test_path else None
    return file_list_source(pairs, params, context, class_names=params.class_names, skipped=skipped, test_pairs=test, where=str(context.resolve_path(params.path)))


def class_names(params: CsvParams, context: DataContext) -> list[str]:
    names = params.class_names or sorted({label for _, label in csv_rows(params, context, params.path)[0]})
    if len(names) < 2:
        raise DataError(f"{context.resolve_path(params.path)}: {len(names)} class(es) in column {params.label_column!r}; a classifier needs at least two")
    return names


@hookimpl
def register_data_sources(register) -> None:
    register("csv", CsvParams, load, class_names=class_names)
