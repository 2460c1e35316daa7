"""Declarative layer specs: load, validate and list the YAML files of ``layers/``."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from geo_engine import settings
from geo_engine._errors import SpecError, validation_lines
from geo_engine.ingest.filters import parse_filter
from geo_engine.io.yaml_io import load_yaml

__all__ = [
    "GRID_COLUMNS",
    "KINDS",
    "LEGACY_CODE_COLUMNS",
    "METHODS",
    "LayerSpec",
    "Suitability",
    "Title",
    "Transform",
    "default_layers_path",
    "load_layers",
    "path_inside",
    "slot_column",
    "slot_columns",
    "source_paths",
]

GRID_COLUMNS = ("h3", "lat", "lon", "area_km2", "unit_code", "parent_code", "grandparent_code",
                "centre_inside")
"""Columns of the indicator matrix that describe the cells rather than a layer."""

LEGACY_CODE_COLUMNS = {"district_code": "unit_code", "province_code": "parent_code",
                       "department_code": "grandparent_code"}
"""Peru's names of the admin code columns, as curated files and layer specs still write them, and
the grid column (slot) each stands for."""

RESERVED_IDS = (*GRID_COLUMNS, *LEGACY_CODE_COLUMNS, "geometry")
"""Names a layer id may not take: the matrix's cell columns (and Peru's names of its code columns,
which exports use), and the geometry of exported cells."""


def slot_column(name: str) -> str:
    """Return the grid column a layer spec's admin ``level`` names.

    Layer specs name the admin level of a table either by the grid's own column (``unit_code``,
    ``parent_code``, ``grandparent_code``) or by Peru's name for it (``district_code``…), which
    the curated files and the shipped specs keep.

    Examples
    --------
    >>> slot_column("province_code")
    'parent_code'
    >>> slot_column("unit_code")
    'unit_code'
    """
    return LEGACY_CODE_COLUMNS.get(name, name)


def slot_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a curated frame whose admin columns take the grid's slot names.

    Curated files keep Peru's names of the code columns
    (:data:`LEGACY_CODE_COLUMNS`), each with a name column beside it
    named as the level; the grid names the slots ``unit``, ``parent`` and ``grandparent``. A
    name column is renamed only where its code column is.
    """
    rename = {old: new for old, new in LEGACY_CODE_COLUMNS.items() if old in frame}
    rename.update({old.removesuffix("_code"): new.removesuffix("_code")
                   for old, new in LEGACY_CODE_COLUMNS.items()
                   if old in frame and old.removesuffix("_code") in frame})
    return frame.rename(columns=rename) if rename else frame


KINDS = ("raster", "points", "lines", "polygons", "table")
"""Kinds of source a layer can read."""

METHODS: dict[str, dict[str, tuple[str, ...]]] = {
    "raster": {"mean": (), "sum": (), "min": (), "max": (), "range": (), "majority": (),
               "share": ("classes",)},
    "points": {"count": (), "sum": ("column",), "max": ("column",), "density": ("bandwidth_km",),
               "distance": (), "travel_time": ()},
    "lines": {"length": (), "distance": ()},
    "polygons": {"share": (), "intensive": ("column",), "extensive": ("column",), "distance": ()},
    "table": {"intensive": ("column",), "extensive": ("column",)},
}
"""Methods allowed for each kind, with the parameters each method requires."""

OPTIONAL_PARAMS: dict[str, tuple[str, ...]] = {
    "raster": ("mode", "band", "classes"),
    "points": ("column", "bandwidth_km", "max_km", "max_minutes", "lat_column", "lon_column"),
    "lines": ("max_km",),
    "polygons": ("column", "classes", "class_column", "max_km"),
    "table": ("column", "key", "level", "weights", "aggregate", "suitability"),
}
"""Parameters each kind accepts besides the required ones."""


class Title(BaseModel):
    """A title in Spanish and English."""

    model_config = ConfigDict(extra="forbid")
    es: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Transform(BaseModel):
    """Optional transform applied to raw values before normalisation.

    ``log1p`` takes ``log(1 + x)`` (for skewed counts and amounts); ``cap`` clips values above the
    given percentile (computed over the cells with a value).
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["log1p", "cap"]
    percentile: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _percentile_for_cap(self) -> Transform:
        if self.kind == "cap" and self.percentile is None:
            msg = "transform `cap` needs `percentile` (e.g. 99)"
            raise ValueError(msg)
        return self


class Suitability(BaseModel):
    """Where a crop can grow, for spreading a district's production (``params.weights: suitable``).

    A cell qualifies when its mean elevation lies in ``elevation_m`` (either end may be ``null``:
    open) and, with ``cropland: true``, the cropland map records farmland in it; with
    ``centres: true`` the qualifying cells holding populated centres take the total first, split
    by their number of centres. ``source`` says where the band comes from and why.
    """

    model_config = ConfigDict(extra="forbid")
    elevation_m: tuple[float | None, float | None] | None = None
    cropland: bool = False
    centres: bool = False
    source: str = Field(min_length=10)

    @model_validator(mode="after")
    def _some_condition(self) -> Suitability:
        if self.elevation_m is None and not self.cropland:
            msg = "suitability needs `elevation_m: [low, high]`, `cropland: true`, or both"
            raise ValueError(msg)
        if self.elevation_m is not None:
            low, high = self.elevation_m
            if low is None and high is None:
                msg = "suitability `elevation_m` needs at least one bound (use null for an open end)"
                raise ValueError(msg)
            if low is not None and high is not None and low >= high:
                msg = (f"suitability `elevation_m` was [{low}, {high}]: the low end must be below "
                       "the high end")
                raise ValueError(msg)
        return self


class LayerSpec(BaseModel):
    """One spatial variable: where it comes from and how it becomes one number per cell.

    Attributes
    ----------
    id : str
        Unique snake_case identifier; the column name in the indicator matrix.
    title : Title
        Spanish and English titles.
    theme : {"resource", "infrastructure", "social", "environment"}
    kind : {"raster", "points", "lines", "polygons", "table"}
    source : str
        File path, relative to the data folder (``peru/ports.parquet``); an absolute path or a link
        must also lead inside that folder (see :meth:`source_path`).
    dataset : str, optional
        Id of the dataset in ``MANIFEST.yaml`` (provenance: source, licence, vintage).
    method : str
        One of :data:`METHODS` for the kind.
    params : dict
        Method parameters (``column``, ``classes``, ``bandwidth_km``, ``level``…).
    filter : str, optional
        A condition on the features or rows, applied before ingest
        (``"harbour_size in ['large', 'medium']"``); the grammar of :mod:`geo_engine.ingest.filters`.
    units : str
        Units of the raw value (``km``, ``% of population``, ``count``…).
    direction : {"benefit", "cost"}
        Whether more is more favourable (benefit) or less (cost).
    transform : Transform, optional
    description : str, optional
        What the layer measures and why, in a sentence or two.
    """

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=48)
    title: Title
    theme: Literal["resource", "infrastructure", "social", "environment"]
    kind: Literal["raster", "points", "lines", "polygons", "table"]
    source: str = Field(min_length=1, max_length=1024)
    dataset: str | None = None
    method: str
    params: dict[str, Any] = Field(default_factory=dict)
    filter: str | None = None
    units: str = Field(min_length=1)
    direction: Literal["benefit", "cost"]
    transform: Transform | None = None
    description: str | None = None
    _file: Path | None = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _not_a_grid_column(cls, value: str) -> str:
        if value in RESERVED_IDS:
            msg = (f"id {value!r} is the name of a column of the grid ({', '.join(RESERVED_IDS)}); "
                   f"rename the layer, e.g. {value}_layer")
            raise ValueError(msg)
        return value

    @field_validator("source")
    @classmethod
    def _plain_path(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            msg = "source holds a control character; write a plain file path such as ports.parquet"
            raise ValueError(msg)
        return value

    @field_validator("filter")
    @classmethod
    def _filter_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_filter(value)  # a SpecError is a ValueError: reported as this field's error
        return value

    @property
    def where(self) -> str:
        """Where the layer is defined, for messages: ``"layers/x.yaml: layer 'ports'"``."""
        return f"{self._file}: layer {self.id!r}" if self._file else f"layer {self.id!r}"

    @model_validator(mode="after")
    def _method_fits_kind(self) -> LayerSpec:
        allowed = METHODS[self.kind]
        if self.method not in allowed:
            msg = (f"method {self.method!r} is not available for kind {self.kind!r}; "
                   f"use one of {sorted(allowed)}")
            raise ValueError(msg)
        missing = [p for p in allowed[self.method] if p not in self.params]
        if missing:
            msg = f"method {self.method!r} needs params {missing}"
            raise ValueError(msg)
        known = set(allowed[self.method]) | set(OPTIONAL_PARAMS[self.kind])
        unknown = sorted(set(self.params) - known)
        if unknown:
            msg = f"unknown params {unknown} for kind {self.kind!r}; allowed: {sorted(known)}"
            raise ValueError(msg)
        checks = {"aggregate": {"sum", "mean", "max", "count"},
                  "weights": {"centres", "area", "suitable"},
                  "mode": {"auto", "fast", "exact"}}
        for param, allowed_values in checks.items():
            if param in self.params and self.params[param] not in allowed_values:
                msg = (f"params.{param} was {self.params[param]!r} but must be one of "
                       f"{sorted(allowed_values)}")
                raise ValueError(msg)
        odd = sorted(k for k, v in self.params.items() if isinstance(v, float) and not math.isfinite(v))
        if odd:
            msg = f"params {odd} must be finite numbers (not .inf or .nan); write e.g. 50"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _suitability_goes_with_weights(self) -> LayerSpec:
        suitable = self.params.get("weights") == "suitable"
        if suitable and (self.method != "extensive" or "suitability" not in self.params):
            msg = ("params.weights `suitable` spreads a total (method `extensive`) over the cells "
                   "described by params.suitability: {elevation_m: [low, high], cropland: true, "
                   "source: ...}")
            raise ValueError(msg)
        if "suitability" in self.params:
            if not suitable:
                msg = "params.suitability needs params.weights `suitable`"
                raise ValueError(msg)
            try:
                Suitability.model_validate(self.params["suitability"])
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(suitability)'}: "
                                     f"{e['msg']}" for e in exc.errors())
                msg = f"params.suitability is not valid: {problems}"
                raise ValueError(msg) from None
        return self

    def source_path(self, data_dir: Path) -> Path:
        """Return the resolved path of the source, which must lie inside ``data_dir``.

        Relative paths are under ``data_dir``; ``..``, absolute paths and links are followed and
        must still end inside it.

        Raises
        ------
        SpecError
            When the source leads outside ``data_dir``; the message names the spec file, the
            layer, the source, the folder and the fix.
        """
        return path_inside(self.source, data_dir, where=self.where)


def default_layers_path(region: str | None = None) -> Path:
    """Return the folder of the shipped layer specs of a region (``layers/<region>/``)."""
    return Path(__file__).resolve().parents[2] / "layers" / settings.region_or_default(region)


def _spec_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.glob("*.y*ml") if p.is_file() and p.name != "region.yaml")
        if not files:
            msg = f"{path}: no .yaml layer files in this folder"
            raise SpecError(msg)
        return files
    if not path.is_file():
        msg = f"{path}: layer spec file not found"
        raise SpecError(msg)
    return [path]


def path_inside(source: str, data_dir: Path, *, where: str, what: str = "source") -> Path:
    """Return the resolved path of a file a spec names, which must lie inside ``data_dir``.

    Relative paths are under ``data_dir``; ``..``, absolute paths and links are followed and must
    still end inside it.

    Raises
    ------
    SpecError
        When the path leads outside ``data_dir``; the message starts with ``where`` (the spec
        file and entry) and names the path, the folder and the fix.
    """
    root = Path(data_dir).resolve()
    given = Path(source)
    path = given if given.is_absolute() else root / given
    resolved = path.resolve()
    if resolved.is_relative_to(root):
        return resolved
    if Path(os.path.normpath(path)).is_relative_to(root):
        how = f"is a link to {str(resolved)!r}, which lies outside the data folder {root}"
    else:
        how = f"leads outside the data folder {root}"
    msg = (f"{where}: {what} {source!r} {how}; sources are read only inside that folder: "
           f"put the file there and write its path relative to it (e.g. {given.name!r})")
    raise SpecError(msg)


def source_paths(specs: Iterable[LayerSpec], data_dir: Path) -> dict[str, Path]:
    """Return the source path of every layer (:meth:`LayerSpec.source_path`), keyed by layer id.

    Raises
    ------
    SpecError
        Listing every layer whose source leads outside ``data_dir``.
    """
    paths: dict[str, Path] = {}
    problems = []
    for spec in specs:
        try:
            paths[spec.id] = spec.source_path(data_dir)
        except SpecError as exc:
            problems.append(str(exc))
    if problems:
        raise SpecError("\n".join(problems))
    return paths


def load_layers(path: str | Path | None = None, *, region: str | None = None) -> list[LayerSpec]:
    """Load and validate layer specs from a YAML file or a folder of YAML files.

    A file holds either a list of layers or a mapping with a ``layers`` list.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A ``.yaml`` file or a folder; the shipped specs of ``region`` by default.
    region : str, optional
        Region whose shipped specs are used when ``path`` is omitted;
        :data:`geo_engine.settings.default_region` when omitted.

    Returns
    -------
    list of LayerSpec
        In file order, files sorted by name.

    Raises
    ------
    SpecError
        On unreadable YAML (see :func:`geo_engine.io.yaml_io.load_yaml`), a field that fails
        validation (the message names the file, the layer, the field, the value and what is
        expected) or duplicate ids.
    """
    root = Path(path) if path is not None else default_layers_path(region)
    specs: list[LayerSpec] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for file in _spec_files(root):
        try:
            doc = load_yaml(file, what="layer spec")
        except SpecError as exc:
            problems.append(str(exc))
            continue
        items = doc.get("layers") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            problems.append(f"{file}: expected a list of layers or a mapping with `layers:`")
            continue
        for n, item in enumerate(items, start=1):
            where = f"layer {item.get('id', f'#{n}')!r}" if isinstance(item, dict) else f"item #{n}"
            if not isinstance(item, dict):
                problems.append(f"{file}: {where}: expected a mapping of fields")
                continue
            try:
                spec = LayerSpec.model_validate(item)
            except ValidationError as exc:
                problems.append(validation_lines(exc, prefix=f"{file}: {where}", whole="(layer)",
                                                 word="field", hide=(dict,)))
                continue
            if spec.id in seen:
                problems.append(f"{file}: {where}: duplicate id, first defined in {seen[spec.id]}")
                continue
            seen[spec.id] = file
            spec._file = file
            specs.append(spec)
    if problems:
        raise SpecError("invalid layer specs:\n" + "\n".join(problems))
    return specs
