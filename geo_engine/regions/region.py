"""Regions: the territory a grid covers, its admin units, its layer specs and its profiles.

A region is described by a small YAML file, ``region.yaml``::

    id: brazil
    title: {en: "Brazil (states)", es: "Brasil (estados)"}
    boundary: brazil/states.parquet   # admin polygons, relative to data_dir
    code_column: adm1_code            # unique code of each unit
    name_column: name                 # name of each unit (optional)
    parents: {}                       # optional: {province_code: COL, department_code: COL}
    resolution: 5                     # default H3 resolution
    layers: .                         # spec file or folder, relative to this file
    profiles: profiles                # profile folder, relative to this file
    data_dir: .                       # base of relative sources, relative to this file

The shipped regions live in ``layers/<id>/region.yaml`` and read their sources from the project's
data folder (:data:`geo_engine.settings.data_dir`, so ``--data-dir`` redirects them); any other
region file is the user's own, and its ``data_dir`` (default: the file's folder) is the base of its
boundary and layer sources. Everywhere a region is asked for, either a shipped id (``peru``) or
the path of a region file (or of the folder holding ``region.yaml``) is accepted.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from geo_engine import settings
from geo_engine._errors import (
    GeoEngineWarning,
    MissingSourceError,
    SourceFormatError,
    SpecError,
)
from geo_engine.ingest.specs import Title, path_inside
from geo_engine.io.atomic import atomic_output, check_output
from geo_engine.io.yaml_io import dump_yaml, load_model

__all__ = ["REGION_FILE", "SLOTS", "Level", "LevelSpec", "Region", "RegionSpec", "admin_names",
           "load_region", "parse_level", "region_id_from", "shipped_regions", "write_region"]

REGION_FILE = "region.yaml"
"""Name of the region description inside a region folder."""

_LAYERS_ROOT = Path(__file__).resolve().parents[2] / "layers"
_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_PARENTS = ("parent_code", "grandparent_code")


SLOTS = ("unit", "parent", "grandparent")
"""The platform's three admin slots, finest first: each region's levels fill them in order; the
matrix holds ``<slot>_code`` columns and the unit tables ``<slot>`` name columns."""


class LevelSpec(BaseModel):
    """One admin level of a region file: its id, boundary columns and label in each language."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$",
                    description="Short id used on the command line (e.g. comuna, province, region).")
    code: str = Field(min_length=1, description="Boundary column with the level's codes.")
    name: str | None = Field(None, description="Boundary column with the level's names.")
    label: Title | str | None = Field(None, description="Label shown to users (es and en).")


class RegionSpec(BaseModel):
    """Validated content of a ``region.yaml`` file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID, description="Short id: lowercase letters, digits, - and _.")
    title: Title | str | None = None
    boundary: str = Field(description="Admin polygons (any vector format, or a zipped shapefile).")
    levels: list[LevelSpec] | None = Field(None, min_length=1, max_length=len(SLOTS),
                                           description="Admin levels, finest (the units) first.")
    code_column: str = "district_code"
    name_column: str | None = None
    parents: dict[Literal["province_code", "department_code"], str] = Field(default_factory=dict)
    resolution: int = Field(7, ge=3, le=10)
    layers: str = "."
    profiles: str = "profiles"
    data_dir: str | None = None
    access: dict[Literal["elevation", "roads", "rivers", "lakes", "towns"], str] | None = Field(
        None, description="Files of the travel modes, relative to the data folder (elevation "
                          "required for travel times).")
    urban_centre_weight: float | None = Field(
        None, gt=0, description="Weight of an urban populated centre against a rural one in the "
                                "dasymetric split of totals (the region's own calibration).")

    @model_validator(mode="after")
    def _one_way_of_naming_levels(self) -> RegionSpec:
        given = self.model_fields_set & {"code_column", "name_column", "parents"}
        if self.levels is not None and given:
            msg = (f"give the admin levels either as `levels` or as {sorted(given)}, not both "
                   "(`levels` names the code and name column of every level)")
            raise ValueError(msg)
        if self.levels is not None:
            ids = [lv.id for lv in self.levels]
            if len(set(ids)) != len(ids):
                msg = f"`levels` repeats an id: {ids}; give each level its own id"
                raise ValueError(msg)
        return self

    def level_specs(self) -> list[LevelSpec]:
        """Return the levels, finest first (from ``code_column``/``parents`` when no ``levels``)."""
        if self.levels is not None:
            return list(self.levels)
        out = [LevelSpec(id="district", code=self.code_column, name=self.name_column, label=None)]
        parents = {str(k): v for k, v in self.parents.items()}
        for slot in ("province", "department"):
            if f"{slot}_code" in parents:
                out.append(LevelSpec(id=slot, code=parents[f"{slot}_code"],
                                     name=slot if self.code_column == "district_code" else None,
                                     label=None))
        return out


@dataclass(frozen=True)
class Level:
    """An admin level of a resolved region.

    Attributes
    ----------
    slot : str
        The platform's slot it fills (:data:`SLOTS`): ``unit``, ``parent`` or ``grandparent``.
    id : str
        The region's own id for it (``comuna``, ``municipio``…), accepted wherever a level is named.
    code, name : str
        Boundary columns with its codes and (optionally) names.
    label_es, label_en : str
        Its name for users.
    """

    slot: str
    id: str
    code: str
    name: str | None
    label_es: str
    label_en: str

    def label(self, lang: str = "en") -> str:
        """Return the level's label in a language (``es`` or ``en``)."""
        return self.label_es if lang == "es" else self.label_en


_DEFAULT_LABELS = {"district": ("distrito", "district"), "province": ("provincia", "province"),
                   "department": ("departamento", "department")}


def _level(slot: str, spec: LevelSpec) -> Level:
    if isinstance(spec.label, Title):
        es, en = spec.label.es, spec.label.en
    elif spec.label:
        es = en = spec.label
    else:
        es, en = _DEFAULT_LABELS.get(spec.id, (spec.id.replace("_", " "),) * 2)
    return Level(slot=slot, id=spec.id, code=spec.code, name=spec.name, label_es=es, label_en=en)


@dataclass(frozen=True)
class Region:
    """A resolved region: absolute paths and the column mapping of its admin units.

    Attributes
    ----------
    id : str
        Region id (names cache files and the data sub-folder of shipped regions).
    title : str
        Human title (English).
    file : pathlib.Path or None
        The region file it came from.
    data_dir : pathlib.Path
        Base folder of relative sources.
    boundary : pathlib.Path
        Admin polygons.
    layers, profiles : pathlib.Path
        Spec file or folder, and profile folder.
    code_column, name_column : str
        Unit code and name columns of the boundary file.
    parents : tuple
        (``parent_code`` / ``grandparent_code``, boundary column) pairs.
    levels : tuple of Level
        The admin levels, finest first (the units, then their parents).
    urban_centre_weight : float or None
        The region's dasymetric calibration (:data:`geo_engine.settings.urban_centre_weight` when
        None).
    access_files : tuple or None
        (mode, file) pairs of the region's travel files (``access:`` of the file), resolved and
        checked to lie inside ``data_dir``; None for the shipped names
        (:data:`geo_engine.access.REGION_FILES`).
    resolution : int
        Default H3 resolution.
    shipped : bool
        Whether it is one of the project's regions.
    """

    id: str
    title: str
    file: Path | None
    data_dir: Path
    boundary: Path
    layers: Path
    profiles: Path
    code_column: str = "district_code"
    name_column: str | None = None
    parents: tuple[tuple[str, str], ...] = ()
    resolution: int = 7
    shipped: bool = False
    levels: tuple[Level, ...] = ()
    urban_centre_weight: float | None = None
    access_files: tuple[tuple[str, str], ...] | None = None

    def level(self, name: str) -> Level:
        """Return a level by the region's id for it or by its slot; the error lists the ids."""
        for lv in self.levels:
            if name in (lv.id, lv.slot):
                return lv
        known = ", ".join(lv.id for lv in self.levels) or "none"
        msg = f"region {self.id!r} has no admin level {name!r}; its levels are: {known}"
        raise SpecError(msg)

    def units(self) -> gpd.GeoDataFrame:
        """Return the admin units: ``unit_code`` (text), ``unit`` (name) and parents.

        Raises
        ------
        SourceFormatError
            When the boundary holds no unit, or units that are not polygons (points, lines); when a
            named column is missing, or codes are empty or repeated; the message names the file,
            the column, the offending values and the fix.

        Warns
        -----
        GeoEngineWarning
            When units have no geometry (null or empty), naming their codes: they get no cells.
        """
        from geo_engine.io.safe_read import read_vector

        frame = read_vector(self.boundary)
        if not len(frame):
            msg = (f"{self.boundary} holds no units (no features: an empty FeatureCollection or "
                   "layer); point `boundary` to the file with the admin units' polygons")
            raise SourceFormatError(msg)
        wanted = {self.code_column: "code_column"}
        if self.name_column:
            wanted[self.name_column] = "name_column"
        wanted.update({col: f"parents.{level}" for level, col in self.parents})
        wanted.update({lv.name: f"levels.{lv.id}.name" for lv in self.levels[1:]
                       if lv.name and lv.name not in wanted})
        for col, key in wanted.items():
            if col not in frame:
                fix = (f"set `{key}` in {self.file} to one of them" if self.file
                       else f"name the right one with --{key.replace('_', '-')}")
                msg = (f"{self.boundary}: no column {col!r} (`{key}` of region {self.id!r}); columns "
                       f"are {[c for c in frame.columns if c != 'geometry'][:25]}; {fix}")
                raise SourceFormatError(msg)
        codes = frame[self.code_column]
        if codes.isna().any():
            msg = (f"{self.boundary}: {int(codes.isna().sum())} units have no {self.code_column!r}; "
                   "every unit needs a code (fill them, or choose another `code_column`)")
            raise SourceFormatError(msg)
        if pd.api.types.is_float_dtype(codes) and (codes % 1 == 0).all():
            codes = codes.astype("int64")  # 101.0 from a shapefile's numeric field is code "101"
        codes = codes.astype(str).str.strip()
        dup = codes[codes.duplicated()].unique()
        if len(dup):
            msg = (f"{self.boundary}: column {self.code_column!r} repeats codes {list(dup[:10])}; "
                   "codes must be unique (dissolve the units first, or choose another `code_column`)")
            raise SourceFormatError(msg)
        _check_unit_geometries(frame.geometry, codes, self.boundary)
        rename = {self.code_column: "unit_code"}
        if self.name_column:
            rename[self.name_column] = "unit"
        rename.update({col: level for level, col in self.parents})
        rename.update({lv.name: lv.slot for lv in self.levels[1:] if lv.name and lv.name in frame})
        if self.shipped:  # curated units: every column kept, the admin ones under the slots' names
            return frame.rename(columns=rename)
        keep = list(dict.fromkeys([*rename, frame.geometry.name]))
        out = frame[keep].rename(columns=rename)
        out["unit_code"] = codes.to_numpy()
        for level, _ in self.parents:
            out[level] = out[level].astype("string")
        return gpd.GeoDataFrame(out, geometry=frame.geometry.name, crs=frame.crs)

    def names(self, units: pd.DataFrame | None = None) -> pd.DataFrame:
        """Return unit names keyed by ``unit_code`` (:func:`geo_engine.reporting.outputs.admin_names`)."""
        return admin_names(pd.DataFrame(self.units() if units is None else units))


def _check_unit_geometries(geoms: gpd.GeoSeries, codes: pd.Series, boundary: Path) -> None:
    """Refuse units that are not polygons; warn about units without geometry, naming their codes."""
    present = (geoms.notna() & ~geoms.is_empty).to_numpy()
    kinds = geoms.geom_type.to_numpy()
    wrong = present & ~np.isin(kinds, ["Polygon", "MultiPolygon"])
    if wrong.any():
        found = ", ".join(f"{n} {k}" for k, n in pd.Series(kinds[wrong]).value_counts().items())
        msg = (f"{boundary}: a boundary needs polygons (the areas of the admin units), but it holds "
               f"{found} (e.g. unit {codes.to_numpy()[wrong][0]!r}); point `boundary` to the units' "
               "polygons: points or lines cannot be divided into cells")
        raise SourceFormatError(msg)
    if not present.any():
        msg = (f"{boundary}: no unit has a geometry (all are null or empty); export the boundary "
               "again with its polygons")
        raise SourceFormatError(msg)
    if not present.all():
        missing = codes.to_numpy()[~present]
        listing = ", ".join(map(str, missing[:10])) + (", …" if len(missing) > 10 else "")
        warnings.warn(f"{boundary}: {len(missing)} units have no geometry (null or empty) and get no "
                      f"cells: {listing}; add their polygons to the file to map them",
                      GeoEngineWarning, stacklevel=3)


def region_id_from(name: str) -> str:
    """Return a region id made from a file name (lowercase letters, digits, ``-`` and ``_``).

    Examples
    --------
    >>> region_id_from("Bolivia Municipios (2024).geojson")
    'bolivia-municipios-2024'
    """
    stem = Path(name).name.split(".")[0].lower()
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_")[:63]
    return slug or "my-region"


def shipped_regions() -> list[str]:
    """Return the ids of the project's regions (folders of ``layers/`` with a region file)."""
    return sorted(p.parent.name for p in _LAYERS_ROOT.glob(f"*/{REGION_FILE}"))


def _title(spec: RegionSpec) -> str:
    if isinstance(spec.title, Title):
        return spec.title.en
    return spec.title or spec.id


def _read_spec(file: Path) -> RegionSpec:
    return load_model(file, RegionSpec, what="region file", keys="id, boundary, code_column, layers…")


def load_region(region: str | Path | Region | None = None, *, data_dir: Path | None = None) -> Region:
    """Resolve a region id, region file or region folder.

    Parameters
    ----------
    region : str, pathlib.Path or Region, optional
        A shipped id (``"peru"``), the path of a ``region.yaml``, or a folder holding one;
        :data:`geo_engine.settings.default_region` when omitted.
    data_dir : pathlib.Path, optional
        Data folder of shipped regions; :data:`geo_engine.settings.data_dir` by default. For a
        user's region file it overrides the file's ``data_dir``.

    Returns
    -------
    Region

    Raises
    ------
    SpecError
        Unknown id, unreadable or invalid region file.
    """
    if isinstance(region, Region):
        return region
    text = str(settings.region_or_default(None if region is None else str(region)))
    shipped = re.match(_ID, text) is not None and (_LAYERS_ROOT / text / REGION_FILE).is_file()
    if shipped:
        file = _LAYERS_ROOT / text / REGION_FILE
    else:
        path = Path(text).expanduser()
        file = path / REGION_FILE if path.is_dir() else path
        if not file.is_file():
            known = shipped_regions()
            msg = (f"region {text!r}: neither a shipped region ({', '.join(known)}) nor a region "
                   f"file; write one with `geo-engine region new` (see the README)")
            raise SpecError(msg)
    spec = _read_spec(file)
    base = file.resolve().parent
    if shipped:
        root = Path(data_dir or settings.data_dir)
    elif data_dir is not None:
        root = Path(data_dir)
    else:
        root = (base / spec.data_dir).resolve() if spec.data_dir else base
    boundary = Path(spec.boundary)
    levels = tuple(_level(slot, lv) for slot, lv in zip(SLOTS, spec.level_specs(), strict=False))
    return Region(
        id=spec.id, title=_title(spec), file=file, data_dir=root,
        boundary=boundary if boundary.is_absolute() else root / boundary,
        layers=(base / spec.layers).resolve(), profiles=(base / spec.profiles).resolve(),
        code_column=levels[0].code, name_column=levels[0].name,
        parents=tuple((f"{lv.slot}_code", lv.code) for lv in levels[1:]),
        resolution=spec.resolution, shipped=shipped, levels=levels,
        urban_centre_weight=spec.urban_centre_weight,
        access_files=None if spec.access is None else tuple(
            (str(k), str(path_inside(v, root, where=f"{file}: access.{k}", what="file")))
            for k, v in spec.access.items()))


def write_region(
    out: Path,
    *,
    region_id: str,
    boundary: Path,
    code_column: str,
    layers: Path,
    name_column: str | None = None,
    profiles: Path | None = None,
    resolution: int = 7,
    title: str | None = None,
    force: bool = False,
    unit: str = "unit",
    parents: Sequence[LevelSpec] = (),
) -> Region:
    """Write a region file for one's own boundary and layers, check it, and return the region.

    Paths are stored relative to the file's folder when they lie below it, absolute otherwise.
    The file names its admin levels (``levels:``): the units (id ``unit``, code and name columns)
    and up to two ``parents``, finest first (see :func:`parse_level`), so that rankings roll up to
    them.

    Raises
    ------
    OutputExistsError
        When ``out`` exists and not ``force`` (a ``FileExistsError``).
    OutputError
        When ``out`` cannot be written (folder, permission, full disk, name too long).
    SpecError, SourceFormatError, MissingSourceError
        When the result does not load: the file is not left behind.
    """
    out = check_output(out, force=force)
    if not Path(boundary).is_file():
        msg = f"{boundary}: boundary file not found"
        raise MissingSourceError(msg)
    base = out.resolve().parent

    def rel(path: Path) -> str:
        path = Path(path).resolve()
        return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)

    if len(parents) > len(SLOTS) - 1:
        msg = (f"{len(parents)} parent levels given; a region has at most {len(SLOTS) - 1} above its "
               "units (e.g. province and region)")
        raise SpecError(msg)
    units_level = LevelSpec(id=unit, code=code_column, name=name_column, label=None)
    doc: dict[str, object] = {"id": region_id, "title": title or region_id, "boundary": rel(boundary),
                              "levels": [lv.model_dump(exclude_none=True)
                                         for lv in (units_level, *parents)]}
    doc.update({"resolution": resolution, "layers": rel(layers), "data_dir": "."})
    if profiles is not None:
        doc["profiles"] = rel(profiles)
    text = ("# Region file of the Territorial Opportunity Platform: see `geo-engine region --help`.\n"
            + dump_yaml(doc))
    with atomic_output(out, force=force) as tmp:  # checked in the folder it is written to
        tmp.write_text(text, encoding="utf-8")
        spec = _read_spec(tmp)
        region = load_region(tmp)
        region.units()  # the boundary and its columns must load
    return dataclasses.replace(region, file=out, id=spec.id)

def admin_names(districts: pd.DataFrame) -> pd.DataFrame:
    """Return district, province and department names keyed by ``unit_code``."""
    cols = [c for c in ("unit_code", "unit", "parent", "grandparent") if c in districts]
    return pd.DataFrame(districts[cols]).drop_duplicates("unit_code")


def parse_level(text: str) -> LevelSpec:
    """Parse a level given on the command line as ``ID=CODE_COLUMN[:NAME_COLUMN]``.

    Examples
    --------
    >>> parse_level("province=CUT_PROV:PROVINCIA")
    LevelSpec(id='province', code='CUT_PROV', name='PROVINCIA', label=None)
    """
    ident, sep, columns = text.partition("=")
    code, _, name = columns.partition(":")
    if not sep or not ident.strip() or not code.strip():
        msg = (f"level {text!r}: write it as ID=CODE_COLUMN[:NAME_COLUMN], e.g. "
               "province=CUT_PROV:PROVINCIA")
        raise SpecError(msg)
    try:
        return LevelSpec(id=ident.strip(), code=code.strip(), name=name.strip() or None, label=None)
    except ValueError as exc:
        msg = (f"level {text!r}: the id must be lowercase letters, digits and _ starting with a "
               f"letter (e.g. province), got {ident.strip()!r}")
        raise SpecError(msg) from exc
