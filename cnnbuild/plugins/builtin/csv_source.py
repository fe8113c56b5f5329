"""``csv``: images listed in a CSV file with their class, as Kaggle competitions ship labels
(``filename,label``). Built on the file-list helper, like any plugin's source can be.

For ``task: multi_label`` the labels are several per row (``label_separator`` in the label column,
or one 0/1 column per label in ``label_columns``); for ``task: regression`` the targets are numeric
columns (``target_columns``). Rows that cannot be read are listed with their row number."""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import Field

from cnnbuild.contracts.data import DataContext, DataParams, Datasets, SkippedFile
from cnnbuild.contracts.values import Interpolation, SpecPath
from cnnbuild.data.targets import datasets_from_targets, multi_hot, parse_flag, parse_number, split_labels
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
    label_separator: str | None = Field(None, min_length=1, description="task multi_label: the label column holds several labels with this between them, such as '|'")
    label_columns: list[str] | None = Field(None, min_length=1, description="task multi_label: one 0/1 column per label, named after it (instead of label_column)")
    target_columns: list[str] | None = Field(None, min_length=1, description="task regression: the numeric columns to predict, one output each")


def _read_table(params: CsvParams, context: DataContext, which: str, columns: list[str]) -> tuple[Path, Path, list[dict[str, str]]]:
    """The CSV at ``which``: its path, the folder its file names are relative to, and its rows (the header checked for ``columns``)."""
    table = context.resolve_path(which)
    folder = context.resolve_path(params.images) if params.images else table.parent
    try:
        with table.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in columns if column not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{table}: no column {missing}; the header has {reader.fieldnames}; set data.filename_column and the task's columns")
            return table, folder, list(reader)
    except FileNotFoundError as exc:
        raise DataNotFound(f"{table}: file does not exist; set data.path to the CSV file") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{table}: cannot read the CSV: {exc}") from exc


def _task_columns(params: CsvParams, context: DataContext) -> list[str]:
    """The columns the spec's task reads besides the file name; DataError when the spec names none."""
    where = context.resolve_path(params.path)
    if context.task == "regression":
        if not params.target_columns:
            raise DataError(f"{where}: task regression needs data.target_columns, the numeric columns to predict")
        return list(params.target_columns)
    if context.task == "multi_label":
        if params.label_columns:
            return list(params.label_columns)
        if not params.label_separator:
            raise DataError(f"{where}: task multi_label needs data.label_separator (the label column holds labels such as 'cat|dog') or data.label_columns (one 0/1 column per label)")
        return [params.label_column]
    given = [key for key in ("label_separator", "label_columns", "target_columns") if getattr(params, key) is not None]
    if given:
        raise DataError(f"{where}: data.{given[0]} is for task multi_label or regression, and the spec has no task (single-label); add task: or remove it")
    return [params.label_column]


def csv_targets(params: CsvParams, context: DataContext, which: str) -> tuple[list[str], list[list[float]], list[str], list[SkippedFile]]:
    """Multi-label or regression rows of the CSV at ``which``: image paths, target vectors, the
    label or target names, and every row left out with its row number and reason."""
    columns = _task_columns(params, context)
    table, folder, rows = _read_table(params, context, which, [params.filename_column, *columns])
    separated = context.task == "multi_label" and not params.label_columns
    if separated:
        names = list(params.class_names) if params.class_names else sorted({label for row in rows for label in split_labels(row.get(params.label_column), params.label_separator)})
    else:
        names = columns
    parse = parse_number if context.task == "regression" else parse_flag
    paths, targets, skipped = [], [], []
    for number, row in enumerate(rows, start=2):
        name = (row.get(params.filename_column) or "").strip()
        where = f"{table}:{number}"
        if not name:
            skipped.append(SkippedFile(where, "row without a file name; not used"))
            continue
        if separated:
            labels = split_labels(row.get(params.label_column), params.label_separator)
            unknown = sorted(set(labels) - set(names))
            if not labels:
                skipped.append(SkippedFile(where, f"row without labels in column {params.label_column!r}; not used (an image with none of the labels needs its own row in label_columns form)"))
            elif unknown:
                skipped.append(SkippedFile(where, f"label(s) {unknown} are not in data.class_names; not used"))
            else:
                paths.append(str(folder / name))
                targets.append(multi_hot(labels, names))
            continue
        values, problems = [], []
        for column in columns:
            value, why = parse(row.get(column))
            values.append(value)
            if value is None:
                problems.append(f"{column}: {why}")
        if problems:
            skipped.append(SkippedFile(where, f"{'; '.join(problems)}; not used"))
        else:
            paths.append(str(folder / name))
            targets.append(values)
    return paths, targets, names, skipped


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
    if context.task != "single_label":
        paths, targets, names, skipped = csv_targets(params, context, params.path)
        if context.task == "multi_label" and len(names) < 1:
            raise DataError(f"{context.resolve_path(params.path)}: no labels found in column {params.label_column!r}")
        test = None
        if params.test_path:
            test_paths, test_targets, _, test_skipped = csv_targets(params.model_copy(update={"class_names": names}), context, params.test_path)
            test, skipped = (test_paths, test_targets), skipped + test_skipped
        return datasets_from_targets(paths, targets, names, params, context, task=context.task, skipped=skipped, test=test, where=str(context.resolve_path(params.path)))
    _task_columns(params, context)  # task keys without a task are refused
    pairs, skipped = csv_rows(params, context, params.path)
    test = csv_rows(params, context, params.test_path)[0] if params.test_path else None
    from cnnbuild.data.files import file_list_source  # the scan and its index: not for validate, which loads no data

    return file_list_source(pairs, params, context, class_names=params.class_names, skipped=skipped, test_pairs=test, where=str(context.resolve_path(params.path)))


def class_names(params: CsvParams, context: DataContext) -> list[str]:
    if context.task != "single_label":
        names = csv_targets(params, context, params.path)[2]
        if not names:
            raise DataError(f"{context.resolve_path(params.path)}: no labels found in column {params.label_column!r}")
        return names
    names = params.class_names or sorted({label for _, label in csv_rows(params, context, params.path)[0]})
    if len(names) < 2:
        raise DataError(f"{context.resolve_path(params.path)}: {len(names)} class(es) in column {params.label_column!r}; a classifier needs at least two")
    return names


@hookimpl
def register_data_sources(register) -> None:
    register("csv", CsvParams, load, class_names=class_names, tasks=("single_label", "multi_label", "regression"))
