"""``image_directory``: a folder of class sub-folders, as flower_photos and cell_images are laid out."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from cnnbuild.contracts.data import DataContext, DataParams, Datasets
from cnnbuild.contracts.values import Interpolation, SpecPath
from cnnbuild.data.folders import check_layout
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
    from cnnbuild.data.cache import cache_dir_for

    return cache_dir_for(params.url)


def class_names(params: ImageDirectoryParams, context: DataContext) -> list[str] | None:
    """The classes, after a cheap look at the folder's layout (a listing, no decoding); None
    while the data is an archive not downloaded yet. A layout problem is a DataError."""
    root = data_root(params, context)
    if params.url and not root.exists():
        return None
    return check_layout(root, params.class_names)


def load(params: ImageDirectoryParams, context: DataContext) -> Datasets:
    from cnnbuild.data.files import datasets_from_files, scan  # the scan and its index: not for validate, which loads no data

    root = data_root(params, context)
    if not root.exists() and params.url:
        from cnnbuild.data.archives import fetch_and_extract

        fetch_and_extract(params.url, root, sha256=params.sha256)
    found = scan(root, params.class_names)
    test = scan(context.resolve_path(params.test_path), found.class_names) if params.test_path else None
    return datasets_from_files(found, params, context, test=test, where=str(root))


@hookimpl
def register_data_sources(register) -> None:
    register("image_directory", ImageDirectoryParams, load, class_names=class_names)
