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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from geo_engine import settings
from geo_engine._errors import (
    GeoEngineWarning,
    MissingSourceError,
    SourceFormatError,
    SpecError,
)
from geo_engine.ingest.specs import Title
from geo_engine.io.atomic import atomic_output, check_output
from geo_engine.io.yaml_io import dump_yaml, load_model

__all__ = ["REGION_FILE", "Region", "RegionSpec", "admin_names", "load_region", "region_id_from",
           "shipped_regions", "write_region"]

REGION_FILE = "region.yaml"
"""Name of the region description inside a region folder."""

_LAYERS_ROOT = Path(__file__).resolve().parents[2] / "layers"
_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_PARENTS = ("province_code", "department_code")


class RegionSpec(BaseModel):
    """Validated content of a ``region.yaml`` file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID, description="Short id: lowercase letters, digits, - and _.")
    title: Title | str | None = None
    boundary: str = Field(description="Admin polygons (any vector format, or a zipped shapefile).")
    code_column: str = "district_code"
    name_column: str | None = None
    parents: dict[Literal["province_code", "department_code"], str] = Field(default_factory=dict)
    resolution: int = Field(7, ge=3, le=10)
    layers: str = "."
    profiles: str = "profiles"
    data_dir: str | None = None


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
    parents : dict
        ``province_code`` / ``department_code`` → boundary column.
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

    def units(self) -> gpd.GeoDataFrame:
        """Return the admin units: ``district_code`` (text), ``district`` (name) and parents.

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
        rename = {self.code_column: "district_code"}
        if self.name_column:
            rename[self.name_column] = "district"
        rename.update({col: level for level, col in self.parents})
        if self.shipped and all(k == v for k, v in rename.items()):
            return frame  # curated units, already in the platform's columns
        keep = list(dict.fromkeys([*rename, frame.geometry.name]))
        out = frame[keep].rename(columns=rename)
        out["district_code"] = codes.to_numpy()
        for level, _ in self.parents:
            out[level] = out[level].astype("string")
        return gpd.GeoDataFrame(out, geometry=frame.geometry.name, crs=frame.crs)

    def names(self, units: pd.DataFrame | None = None) -> pd.DataFrame:
        """Return unit names keyed by ``district_code`` (:func:`geo_engine.reporting.outputs.admin_names`)."""
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


def load_region(region: str | Path | Region, *, data_dir: Path | None = None) -> Region:
    """Resolve a region id, region file or region folder.

    Parameters
    ----------
    region : str, pathlib.Path or Region
        A shipped id (``"peru"``), the path of a ``region.yaml``, or a folder holding one.
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
    text = str(region)
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
    return Region(
        id=spec.id, title=_title(spec), file=file, data_dir=root,
        boundary=boundary if boundary.is_absolute() else root / boundary,
        layers=(base / spec.layers).resolve(), profiles=(base / spec.profiles).resolve(),
        code_column=spec.code_column, name_column=spec.name_column,
        parents=tuple((k, v) for k, v in spec.parents.items() if k in _PARENTS),
        resolution=spec.resolution, shipped=shipped)


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
) -> Region:
    """Write a region file for one's own boundary and layers, check it, and return the region.

    Paths are stored relative to the file's folder when they lie below it, absolute otherwise.

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

    doc: dict[str, object] = {"id": region_id, "title": title or region_id, "boundary": rel(boundary),
                              "code_column": code_column}
    if name_column:
        doc["name_column"] = name_column
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
    """Return district, province and department names keyed by ``district_code``."""
    cols = [c for c in ("district_code", "district", "province", "department") if c in districts]
    return pd.DataFrame(districts[cols]).drop_duplicates("district_code")
