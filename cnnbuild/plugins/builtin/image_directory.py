"""``image_directory``: a folder of class sub-folders, as flower_photos and cell_images are laid out."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from cnnbuild.contracts.data import DataContext, DataParams, Datasets
from cnnbuild.contracts.values import Interpolation, SpecPath
from cnnbuild.data.decode import decode_files
from cnnbuild.data.image_files import ImageFile, Scan, class_folders, scan
from cnnbuild.data.splitting import stratified_split
from cnnbuild.errors import DataError
from cnnbuild.plugins.hookspecs import hookimpl


class ImageDirectoryParams(DataParams):
    path: SpecPath | None = Field(None, description="folder of class sub-folders, relative to the spec file")
    url: str | None = Field(None, description="archive (.tgz, .tar.gz, .zip) downloaded and extracted when path does not exist")
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$", description="expected checksum of the archive")
    class_names: list[str] | None = Field(None, min_length=2, description="classes to use, in label order; default: every sub-folder, sorted")
    interpolation: Interpolation = "bilinear"
    crop_to_aspect_ratio: bool = Field(False, description="center-crop to the target aspect ratio before resizing instead of stretching")
    test_path: SpecPath | None = Field(None, description="separate folder with the same class sub-folders, evaluated after training")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://", "file://")):
            raise ValueError("must start with https://, http:// or file://")
        return value

    @field_validator("class_names")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("class names must be unique")
        return value

    @model_validator(mode="after")
    def _where(self) -> ImageDirectoryParams:
        if self.path is None and self.url is None:
            raise ValueError("give data.path (a folder of class sub-folders) or data.url (an archive of one)")
        return self


def data_root(params: ImageDirectoryParams, context: DataContext) -> Path:
    """The folder the images are in: ``path``, or where ``url`` is extracted to."""
    if params.path is not None:
        return context.resolve_path(params.path)
    from cnnbuild.data.archives import cache_dir_for

    return cache_dir_for(params.url)


def class_names(params: ImageDirectoryParams, context: DataContext) -> list[str] | None:
    if params.class_names:
        return list(params.class_names)
    root = data_root(params, context)
    return class_folders(root) if root.is_dir() else None


def load(params: ImageDirectoryParams, context: DataContext) -> Datasets:
    root = data_root(params, context)
    if not root.exists() and params.url:
        from cnnbuild.data.archives import fetch_and_extract

        fetch_and_extract(params.url, root, sha256=params.sha256)
    found: Scan = scan(root, params.class_names)
    files = sorted(found.files, key=lambda f: f.path)
    train_index, validation_index = stratified_split([f.label for f in files], params.validation_split, context.seed)
    train, validation = [files[i] for i in train_index], [files[i] for i in validation_index]
    test = None
    test_files: list[ImageFile] = []
    skipped = list(found.skipped)
    if params.test_path:
        test_root = context.resolve_path(params.test_path)
        test_scan = scan(test_root, found.class_names)
        test_files = test_scan.files
        skipped += test_scan.skipped
        test = decode_files(test_files, params)
    if not train:
        raise DataError(f"{root}: no training images left after the validation split; lower data.validation_split or add images")
    return Datasets(
        train=decode_files(train, params),
        validation=decode_files(validation, params) if validation else None,
        class_names=found.class_names,
        train_count=len(train),
        validation_count=len(validation),
        test=test,
        test_count=len(test_files),
        skipped=skipped,
        fingerprint=found.fingerprint(),
        train_labels=[f.label for f in train],
        files=[(f.path, f.label, "train") for f in train] + [(f.path, f.label, "validation") for f in validation] + [(f.path, f.label, "test") for f in test_files],
    )


@hookimpl
def register_data_sources(register) -> None:
    register("image_directory", ImageDirectoryParams, load, class_names=class_names)
