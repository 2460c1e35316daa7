"""Build the indicator matrix: every layer of a region as one raw value per H3 cell, cached on disk."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_engine import __version__, settings
from geo_engine._errors import GeoEngineWarning, MissingSourceError, SourceFormatError, SpecError
from geo_engine.ingest.filters import parse_filter
from geo_engine.ingest.specs import (
    GRID_COLUMNS,
    LayerSpec,
    Suitability,
    load_layers,
    slot_column,
    slot_columns,
)
from geo_engine.ingest.table import (
    CROPLAND_PRIORITY,
    centre_allocation,
    combine_allocations,
    placement_priority,
    suitable_allocation,
    table_to_cells,
    to_numbers,
)
from geo_engine.io.cache import cached
from geo_engine.io.manifest import file_sha256
from geo_engine.io.safe_read import drop_missing_geometries, looks_swapped, read_table_file, read_vector
from geo_engine.matrix.dataset import dataset_folder, read_dataset
from geo_engine.spatial.grid import build_grid

__all__ = [
    "GRID_COLUMNS",
    "LAYER_DTYPE",
    "MatrixOptions",
    "Progress",
    "build_indicators",
    "cache_key",
    "coded_grid",
    "compute_layer",
    "layer_features",
    "layer_matrix",
    "layer_sources",
    "matrix_inputs",
    "matrix_path",
    "points_from_table",
    "read_table",
    "region_units",
]

CACHE_FORMAT = 7
"""Bumped whenever the way values are computed or stored changes, so old caches are not reused."""

LAYER_DTYPE = np.float64
"""Type of the layer columns of the matrix. float32 would halve it (Peru at resolution 8: 0.67 GB
instead of 1.35 GB) and keeps every profile's scores within 3e-8, but exported values would read
0.20000000298 for 0.2; the layers are filled into one preallocated block that the frame takes
without a copy instead, which keeps a resolution-8 build under 4 GB."""

Progress = Callable[[str, int, int], None]


class MatrixOptions(TypedDict, total=False):
    """The options of :func:`build_indicators`, for builds that take the same ones."""

    region: str | None
    resolution: int
    layers: str | Path | Sequence[LayerSpec] | None
    units: gpd.GeoDataFrame | None
    data_dir: Path | None
    cache_dir: Path | None
    use_cache: bool
    force: bool
    progress: Progress | None
    urban_centre_weight: float | None
    access_files: Mapping[str, str] | None


def region_units(region: str | None = None, *, data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """Return the admin units a region's grid is built on (its curated districts).

    Parameters
    ----------
    region : str, optional
        Region folder in the data folder; :data:`geo_engine.settings.default_region` when
        omitted.
    data_dir : pathlib.Path, optional
        Defaults to :data:`geo_engine.settings.data_dir`.

    Returns
    -------
    geopandas.GeoDataFrame
        Districts with ``unit_code``, ``parent_code``, ``grandparent_code`` and the names
        ``unit``, ``parent``, ``grandparent`` (the curated file's Peru columns, renamed).
    """
    region = settings.region_or_default(region)
    path = Path(data_dir or settings.data_dir) / region / "districts.parquet"
    if not path.is_file():
        msg = (f"region {region!r}: {path} not found; the region's data folder needs a "
               "districts.parquet (or build from a boundary file)")
        raise MissingSourceError(msg)
    return slot_columns(gpd.read_parquet(path))


TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
"""Sources read as tables; a points layer takes its positions from latitude/longitude columns."""

_LAT_NAMES = ("lat", "latitude", "latitud", "y")
_LON_NAMES = ("lon", "lng", "long", "longitude", "longitud", "x")


def points_from_table(frame: pd.DataFrame, spec: LayerSpec, path: Path) -> gpd.GeoDataFrame:
    """Return the points of a table with latitude/longitude columns (WGS 84 degrees).

    The columns are ``params.lat_column``/``params.lon_column``, or found by name (lat, latitude,
    latitud, y / lon, lng, longitude, longitud, x; any case). Rows without coordinates are dropped
    with a warning; text that is not a number, or degrees out of range, is an error naming the
    rows.
    """
    if spec.kind != "points":
        msg = (f"layer {spec.id!r}: {path.name} is a table; a {spec.kind} layer needs a vector file "
               "(GeoPackage, GeoJSON, shapefile…); tables can give points (kind: points) or values "
               "per admin unit (kind: table)")
        raise SpecError(msg)
    lower = {str(c).strip().lower(): c for c in frame.columns}

    def column(param: str, names: tuple[str, ...]) -> str:
        if param in spec.params:
            name = str(spec.params[param])
            if name not in frame:
                msg = (f"{path}: no column {name!r} (`params.{param}` of layer {spec.id!r}); "
                       f"columns are {list(frame.columns)[:25]}")
                raise SourceFormatError(msg)
            return name
        for n in names:
            if n in lower:
                return str(lower[n])
        msg = (f"{path}: no latitude/longitude columns found for points layer {spec.id!r} (looked "
               f"for {', '.join(names)}); columns are {list(frame.columns)[:25]}; name them with "
               f"`params: {{lat_column: ..., lon_column: ...}}`")
        raise SourceFormatError(msg)

    lat_col, lon_col = column("lat_column", _LAT_NAMES), column("lon_column", _LON_NAMES)
    coords = {}
    for col in (lat_col, lon_col):
        text = frame[col].astype("string").str.strip().str.replace(",", ".", regex=False)
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna() & (text != "")
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy()) + 2)[:5].tolist()  # +2: header and 1-based lines
            msg = (f"{path}: column {col!r} holds text that is not a number on lines {rows} "
                   f"(e.g. {text[bad].iloc[0]!r}); write decimal degrees such as -12.05")
            raise SourceFormatError(msg)
        coords[col] = values.to_numpy(dtype=float)
    lat, lon = coords[lat_col], coords[lon_col]
    out_of_range = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if out_of_range.any():
        rows = (np.flatnonzero(out_of_range) + 2)[:5].tolist()
        msg = (f"{path}: latitude/longitude out of range on lines {rows} (latitude {lat_col!r} must "
               f"be within ±90, longitude {lon_col!r} within ±180): are they projected metres, or "
               "swapped? Write WGS 84 decimal degrees")
        raise SourceFormatError(msg)
    missing = np.isnan(lat) | np.isnan(lon)
    if missing.any():
        warnings.warn(f"{path.name}: {int(missing.sum())} of {len(frame)} rows have no "
                      f"{lat_col!r}/{lon_col!r} and were left out", GeoEngineWarning, stacklevel=3)
    keep = ~missing
    attrs = frame[keep].drop(columns=[lat_col, lon_col]).reset_index(drop=True)
    for col in attrs.columns:  # numbers become numbers (for sums and filters); codes stay text
        text = attrs[col].astype("string").str.strip()
        numbers = pd.to_numeric(text, errors="coerce")
        given = text.notna() & (text != "")
        if given.any() and numbers[given].notna().all() and not text.str.match(r"^0\d").any():
            attrs[col] = numbers.astype(float)
    return gpd.GeoDataFrame(attrs, geometry=gpd.points_from_xy(lon[keep], lat[keep]),
                            crs="EPSG:4326")


def _apply_filter(frame: pd.DataFrame, spec: LayerSpec) -> pd.DataFrame:
    """Return the rows of ``frame`` that pass the layer's filter (see :mod:`geo_engine.ingest.filters`)."""
    if not spec.filter:
        return frame
    try:
        mask = parse_filter(spec.filter).evaluate(frame)
    except SpecError as exc:
        msg = f"{spec.where}: {exc} (source {spec.source})"
        raise SpecError(msg) from exc
    return frame[mask]




def read_table(path: Path) -> pd.DataFrame:
    """Read an admin table from Parquet, or CSV with every column as text.

    CSV columns stay text so that codes keep their leading zeros; the value column is converted
    to numbers when the layer is computed. The checks of :func:`geo_engine.io.safe_read.read_table_file`
    apply (size, binary content, encoding: a CSV that is not UTF-8 is decoded with a warning).
    """
    if not path.is_file():
        msg = f"{path}: table source not found; check `source` in the layer spec"
        raise MissingSourceError(msg)
    return read_table_file(path)


def _read_features(path: Path, spec: LayerSpec) -> gpd.GeoDataFrame:
    """Read a vector source, or points from a CSV with latitude/longitude columns."""
    if path.suffix.lower() in TEXT_SUFFIXES:
        return points_from_table(read_table(path), spec, path)
    return drop_missing_geometries(read_vector(path), source=str(path))


def layer_features(spec: LayerSpec, data_dir: Path) -> gpd.GeoDataFrame:
    """Return the features of a vector layer as the matrix reads them (its filter applied).

    Parameters
    ----------
    spec : LayerSpec
        A ``points``, ``lines`` or ``polygons`` layer.
    data_dir : pathlib.Path
        Folder its ``source`` is relative to.
    """
    return _apply_filter(_read_features(spec.source_path(data_dir), spec), spec)


def layer_sources(data_dir: Path, region: str, units: gpd.GeoDataFrame, *, urban_weight: float,
                  access_files: Mapping[str, str] | None = None) -> _Sources:
    """Return the source reader :func:`compute_layer` takes (each file read once, allocations kept).

    Parameters
    ----------
    data_dir : pathlib.Path
        Base folder of relative layer sources.
    region : str
        Region folder in ``data_dir`` (populated centres, elevation, cropland, travel files).
    units : geopandas.GeoDataFrame
        The region's admin units.
    urban_weight : float
        Weight of an urban populated centre against a rural one.
    access_files : mapping, optional
        The region's own travel files.
    """
    return _Sources(data_dir, region, units, urban_weight=urban_weight, access_files=access_files)


class _Sources:
    """Reads each source once per build and remembers derived allocations."""

    def __init__(self, data_dir: Path, region: str, units: gpd.GeoDataFrame, *,
                 urban_weight: float, access_files: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.access_files = access_files
        self.urban_weight = urban_weight
        self.region = region
        self.units = units
        self._frames: dict[Path, pd.DataFrame] = {}
        self._allocations: dict[tuple[str, bool], pd.DataFrame] = {}
        self._cell_values: dict[str, np.ndarray] = {}

    def vector(self, spec: LayerSpec) -> gpd.GeoDataFrame:
        path = spec.source_path(self.data_dir)
        if path not in self._frames:
            self._frames[path] = _read_features(path, spec)
        return _apply_filter(self._frames[path], spec)

    def table(self, spec: LayerSpec) -> pd.DataFrame:
        path = spec.source_path(self.data_dir)
        if path not in self._frames:
            self._frames[path] = read_table(path)
        return _apply_filter(self._frames[path], spec)

    def _level_codes(self, district_codes: pd.Series, level: str) -> pd.Series:
        """Map district codes to codes of ``level`` (by the units' table, else by prefix)."""
        codes = district_codes.astype("string")
        if level == "unit_code" or level not in self.units:
            return codes
        lookup = self.units.set_index("unit_code")[level].astype("string")
        lookup = lookup[~lookup.index.duplicated()]
        mapped = codes.map(lookup)
        lengths = lookup.str.len().unique()
        if len(lengths) == 1 and (lookup.index.str[: lengths[0]] == lookup.to_numpy()).all():
            mapped = mapped.fillna(codes.str[: int(lengths[0])])  # hierarchical codes (ubigeo)
        return mapped

    def allocation(self, grid: pd.DataFrame, level: str, *, centres: bool) -> pd.DataFrame:
        """Return where admin totals fall: populated centres (if asked) and a point per unit."""
        from geo_engine.ingest.vector import point_positions

        key = (level, centres)
        if key in self._allocations:
            return self._allocations[key]
        parts = []
        path = self.data_dir / self.region / "populated_centres.parquet"
        if centres and path.is_file():
            pts = slot_columns(read_vector(path))
            parts.append(centre_allocation(
                self._level_codes(pts["unit_code"], level).to_numpy(),
                point_positions(grid, pts.geometry.y.to_numpy(), pts.geometry.x.to_numpy()),
                pts["urban"].to_numpy(dtype=bool), urban_weight=self.urban_weight))
        elif centres:
            warnings.warn("no populated centres for the region; totals split by area instead",
                          GeoEngineWarning, stacklevel=3)
        # last resort for units owning no cell: the cell under a point inside the unit
        has_geom = self.units.geometry.notna() & ~self.units.geometry.is_empty
        units = self.units[has_geom]
        rep = units.geometry.representative_point()
        parts.append(pd.DataFrame({
            "unit": self._level_codes(units["unit_code"], level).to_numpy(),
            "cell": point_positions(grid, rep.y.to_numpy(), rep.x.to_numpy()),
            "weight": 1.0, "priority": 2}).query("cell >= 0"))
        self._allocations[key] = pd.concat(parts, ignore_index=True)
        return self._allocations[key]

    def _region_file(self, name: str, what: str) -> Path:
        path = self.data_dir / self.region / name
        if not path.is_file():
            msg = (f"{path} not found: spreading totals by suitability (params.weights "
                   f"`suitable`) needs the region's {what}")
            raise MissingSourceError(msg)
        return path

    def cell_elevation(self, grid: pd.DataFrame) -> np.ndarray:
        """Return the mean elevation (m) of every cell, read once per build."""
        if "elevation" not in self._cell_values:
            from geo_engine.ingest.raster import raster_to_cells

            path = self._region_file("elevation.tif", "elevation raster")
            self._cell_values["elevation"] = raster_to_cells(grid, path, method="mean")
        return self._cell_values["elevation"]

    def cell_cropland(self, grid: pd.DataFrame) -> np.ndarray:
        """Return the cropland share (%) of every cell, read once per build."""
        if "cropland" not in self._cell_values:
            from geo_engine.ingest.vector import polygons_to_cells

            path = self._region_file("cropland_grid.parquet", "cropland grid")
            self._cell_values["cropland"] = polygons_to_cells(
                grid, read_vector(path), method="intensive", column="percent_cropland",
                repair=True)
        return self._cell_values["cropland"]

    def cell_centres(self, grid: pd.DataFrame) -> np.ndarray:
        """Return the number of populated centres in every cell, counted once per build."""
        if "centres" not in self._cell_values:
            from geo_engine.ingest.vector import point_positions

            pts = read_vector(self._region_file("populated_centres.parquet", "populated centres"))
            cells = point_positions(grid, pts.geometry.y.to_numpy(), pts.geometry.x.to_numpy())
            self._cell_values["centres"] = np.bincount(cells[cells >= 0], minlength=len(grid))
        return self._cell_values["centres"]

    def suitable_allocation(self, grid: pd.DataFrame, level: str,
                            suitability: Suitability) -> pd.DataFrame:
        """Return where a crop's totals fall: cells in its elevation band (and on cropland)."""
        suitable = np.ones(len(grid), dtype=bool)
        if suitability.elevation_m is not None:
            low, high = suitability.elevation_m
            elevation = self.cell_elevation(grid)
            with np.errstate(invalid="ignore"):
                suitable = ((elevation >= (-np.inf if low is None else low))
                            & (elevation <= (np.inf if high is None else high)))
        cropland = self.cell_cropland(grid) if suitability.cropland else None
        centres = self.cell_centres(grid) if suitability.centres else None
        pairs = suitable_allocation(grid[level], area=grid["area_km2"].to_numpy(),
                                    suitable=suitable, cropland=cropland, centres=centres)
        return combine_allocations([pairs, self.allocation(grid, level, centres=False)])


def _warn_fallbacks(allocation: pd.DataFrame, table: pd.DataFrame, *, key: str, column: str,
                    name: str) -> None:
    """Warn how many units with a total had no suitable cell and fell back."""
    values = to_numbers(table[column], name=name, column=column)
    units = pd.Index(table.loc[values.fillna(0).to_numpy() > 0, key].astype("string").unique())
    best = placement_priority(allocation, units).fillna(np.inf)
    for chosen, what in ((best[best == CROPLAND_PRIORITY],
                          "spread over their cropland at any elevation"),
                         (best[best > CROPLAND_PRIORITY], "spread over their cells by area")):
        if len(chosen):
            warnings.warn(f"{name}: {len(chosen)} of {len(units)} districts with a value have no "
                          f"cell where the crop can grow ({what}), e.g. "
                          f"{sorted(chosen.index)[:5]}", GeoEngineWarning, stacklevel=3)


def _overlaps(features: gpd.GeoDataFrame, grid: pd.DataFrame) -> bool:
    """Whether the features' extent meets the grid's (cell centres padded by about a cell)."""
    import h3

    if not len(grid):
        return False
    pad = 2 * h3.average_hexagon_edge_length(h3.get_resolution(format(int(grid["h3"].iloc[0]), "x")),
                                             unit="km") / 111.0
    west, south, east, north = features.to_crs(4326).total_bounds
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    return bool(west <= lon.max() + pad and east >= lon.min() - pad
                and south <= lat.max() + pad and north >= lat.min() - pad)


def _swapped_points(features: gpd.GeoDataFrame, grid: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """Return point features with x and y exchanged when they fit the grid only that way.

    Only for points in a geographic CRS; the rule is :func:`geo_engine.io.safe_read.looks_swapped`
    against the grid's extent.
    """
    if features.crs is None or not features.crs.is_geographic:
        return None
    geoms = features.geometry
    if not len(grid) or not (geoms.geom_type == "Point").all():
        return None
    x, y = geoms.x.to_numpy(), geoms.y.to_numpy()
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    swapped, _, _ = looks_swapped(x, y, bounds=(lon.min(), lat.min(), lon.max(), lat.max()))
    return features.set_geometry(gpd.points_from_xy(y, x, crs=features.crs)) if swapped else None


def compute_layer(spec: LayerSpec, grid: pd.DataFrame, sources: _Sources, *,
                  extent: pd.DataFrame | None = None) -> np.ndarray:
    """Return the raw values of one layer for every cell of ``grid``.

    ``extent`` (cells with ``h3``, ``lat``, ``lon``; ``grid`` itself by default) is the region the
    checks of a source's position run against: a part of a grid passes the whole grid, so that
    features outside the part but inside the region are read as in a whole build.
    """
    p = spec.params
    extent = grid if extent is None else extent
    if spec.kind == "raster":
        from geo_engine.ingest import raster

        path = spec.source_path(sources.data_dir)
        if not path.is_file():
            msg = f"layer {spec.id!r}: raster {path} not found; check `source`"
            raise MissingSourceError(msg)
        options = {"mode": p.get("mode", "auto"), "band": p.get("band", 1)}
        if spec.method == "range":  # relief: highest minus lowest value in the cell
            return (raster.raster_to_cells(grid, path, method="max", **options)
                    - raster.raster_to_cells(grid, path, method="min", **options))
        return raster.raster_to_cells(grid, path, method=spec.method, classes=p.get("classes"),
                                      **options)
    if spec.kind == "table":
        table = sources.table(spec)
        named = p.get("level", "district_code")  # the table's key column by default
        level = slot_column(named)
        allocation = None
        weights = p.get("weights", "centres")
        if spec.method == "extensive" and weights == "suitable":
            allocation = sources.suitable_allocation(
                grid, level, Suitability.model_validate(p["suitability"]))
        elif spec.method == "extensive":
            allocation = sources.allocation(grid, level, centres=weights == "centres")
        key = p.get("key", named)
        if "aggregate" in p:  # several rows per unit (e.g. one per crop): combine them first
            if p["aggregate"] == "count":  # rows per unit with a value in the column
                values = table[p["column"]].notna().astype(float)
            else:
                values = to_numbers(table[p["column"]], name=spec.source, column=p["column"])
            how = "sum" if p["aggregate"] == "count" else p["aggregate"]
            table = (values.groupby(table[key].astype("string")).agg(how)
                     .rename(p["column"]).rename_axis(key).reset_index())
        if allocation is not None and weights == "suitable":
            _warn_fallbacks(allocation, table, key=key, column=p["column"], name=spec.source)
        return table_to_cells(grid, table, column=p["column"], key=key,
                              level=level, method=spec.method, allocation=allocation,
                              name=spec.source)
    from geo_engine.ingest import vector

    features = sources.vector(spec)
    method: Any = spec.method  # validated against the kind by LayerSpec
    if len(features) and not _overlaps(features, extent):
        swapped = _swapped_points(features, extent)
        if swapped is not None:
            warnings.warn(f"{spec.source}: latitude and longitude look swapped (the points fall in "
                          "the region only with them exchanged); read them exchanged. Swap the "
                          "columns in the file (or name them with params lat_column/lon_column) "
                          "to silence this", GeoEngineWarning, stacklevel=2)
            features = swapped
        elif spec.method != "distance":
            warnings.warn(f"{spec.source} does not overlap the region (check its CRS and extent); "
                          "all values NaN", GeoEngineWarning, stacklevel=2)
            return np.full(len(grid), np.nan)
    if spec.method == "distance":
        return vector.distance_to_nearest(grid, features, max_km=p.get("max_km"))
    if spec.method == "travel_time":
        from geo_engine import access

        friction = access.region_friction(grid, data_dir=sources.data_dir, region=sources.region,
                                          files=sources.access_files)
        return access.travel_time(grid, friction, features, max_minutes=p.get("max_minutes"))
    if spec.kind == "points":
        if spec.method == "density":
            return vector.kernel_density(grid, features, bandwidth_km=p["bandwidth_km"],
                                         column=p.get("column"))
        return vector.points_to_cells(grid, features, method=method, column=p.get("column"))
    if spec.kind == "lines":
        return vector.lines_to_cells(grid, features, method=method)
    return vector.polygons_to_cells(grid, features, method=method, column=p.get("column"),
                                    classes=p.get("classes"), class_column=p.get("class_column"),
                                    repair=True)


AUXILIARY_FILES = ("populated_centres.parquet", "elevation.tif", "cropland_grid.parquet")
"""Files of a region's data folder that layers read besides their own source (to place totals)."""


def cache_key(*, units_hash: str, resolution: int, specs: Sequence[LayerSpec],
              data_dir: Path, region: str | None = None,
              urban_centre_weight: float | None = None,
              extra_files: Sequence[Path] = (), within: tuple[str, str] | None = None) -> str:
    """Return the hash that identifies an indicator matrix.

    It covers the region's units, the resolution, every layer spec, the checksum of every source
    file, of the region's :data:`AUXILIARY_FILES` and of ``extra_files`` (a region's own travel
    files), the dasymetric weight setting, the unit a build is restricted to (``within``), the
    cache format and the package version, so a change in any of them builds a new matrix.
    """
    sources = sorted({str(s.source_path(data_dir)) for s in specs}
                     | ({str(Path(data_dir) / region / name) for name in AUXILIARY_FILES}
                        if region else set())
                     | {str(p) for p in extra_files})
    payload = {
        "format": CACHE_FORMAT,
        "version": __version__,
        "units": units_hash,
        "resolution": resolution,
        "specs": [s.model_dump(mode="json") for s in specs],
        "sources": {p: file_sha256(Path(p)) if Path(p).is_file() else None for p in sources},
        "urban_centre_weight": (settings.urban_centre_weight if urban_centre_weight is None
                                else urban_centre_weight),
    }
    if within is not None:  # absent for whole builds: their keys stay as they were
        payload["within"] = list(within)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def matrix_path(*, region: str, resolution: int, specs: Sequence[LayerSpec],
                units: gpd.GeoDataFrame, data_dir: Path, cache_dir: Path,
                urban_centre_weight: float, access_files: Mapping[str, str] | None = None,
                within: tuple[str, str] | None = None) -> Path:
    """Return where the matrix of these inputs is cached (named by :func:`cache_key`)."""
    key = cache_key(units_hash=_units_hash(units), resolution=resolution, specs=specs, region=region,
                    urban_centre_weight=urban_centre_weight, data_dir=data_dir,
                    extra_files=[data_dir / f for f in (access_files or {}).values()],
                    within=within)
    part = ("" if within is None else
            "-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{within[0].removesuffix('_code')}{within[1]}"))
    return cache_dir / "indicators" / f"{region}{part}-r{resolution}-{key[:16]}.parquet"


def _units_hash(units: gpd.GeoDataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(units.drop(columns="geometry"), index=False).values)
    digest.update(b"".join(g.wkb if g is not None else b"-" for g in units.geometry))
    return digest.hexdigest()


def matrix_inputs(
    *,
    region: str | None,
    resolution: int,
    layers: str | Path | Sequence[LayerSpec] | None,
    units: gpd.GeoDataFrame | None,
    data_dir: Path | None,
    cache_dir: Path | None,
    urban_centre_weight: float | None,
    access_files: Mapping[str, str] | None,
    within: tuple[str, str] | None = None,
) -> tuple[str, float, Path, list[LayerSpec], gpd.GeoDataFrame, Path]:
    """Resolve a build's defaults and say where its matrix is cached.

    Returns the region id, the urban-centre weight, the data folder, the layer specs, the units
    and the cache path (:func:`matrix_path`): the one place :func:`build_indicators` and the
    partitioned build read ``settings`` and the region's defaults, so both name the same matrix.
    ``within`` (``(column, code)`` of the unit a build is restricted to) is part of the name.
    """
    region = settings.region_or_default(region)
    weight = (settings.urban_centre_weight if urban_centre_weight is None
              else float(urban_centre_weight))
    data_dir = Path(data_dir or settings.data_dir)
    specs = list(layers) if isinstance(layers, Sequence) and not isinstance(layers, str) \
        else load_layers(layers, region=region)
    units = region_units(region, data_dir=data_dir) if units is None else units
    path = matrix_path(region=region, resolution=resolution, specs=specs, units=units,
                       data_dir=data_dir, cache_dir=Path(cache_dir or settings.cache_dir),
                       urban_centre_weight=weight, access_files=access_files, within=within)
    return region, weight, data_dir, specs, units, path


def build_indicators(
    *,
    region: str | None = None,
    resolution: int = 7,
    layers: str | Path | Sequence[LayerSpec] | None = None,
    units: gpd.GeoDataFrame | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    force: bool = False,
    progress: Progress | None = None,
    urban_centre_weight: float | None = None,
    access_files: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Return the indicator matrix of a region: cells × layers of raw values.

    Parameters
    ----------
    region : str, optional
        Region whose curated units and layer specs are used by default;
        :data:`geo_engine.settings.default_region` when omitted.
    resolution : int, default 7
        H3 resolution (3–10).
    layers : path or sequence of LayerSpec, optional
        A YAML file/folder of specs, or specs; the region's shipped specs by default.
    units : geopandas.GeoDataFrame, optional
        Admin units of a custom region (``unit_code`` column); the region's districts by
        default.
    data_dir : pathlib.Path, optional
        Base folder for relative layer sources; :data:`geo_engine.settings.data_dir` by default.
    cache_dir : pathlib.Path, optional
        :data:`geo_engine.settings.cache_dir` by default.
    use_cache : bool, default True
        Reuse a matrix built from identical inputs; write the new one otherwise. A cached matrix
        is checked against the checksum in its sidecar: a damaged one is rebuilt with a
        :class:`GeoEngineWarning`. Concurrent builds of one matrix build it once (see
        :mod:`geo_engine.io.cache`). The dataset of a partitioned build of the same inputs
        (:func:`geo_engine.matrix.partition.build_partitioned`) is read when there is no matrix
        file.
    force : bool, default False
        Build grids larger than :data:`geo_engine.spatial.grid.MAX_CELLS`.
    progress : callable, optional
        Called as ``progress(layer_id, i, n)`` before each layer.
    urban_centre_weight : float, optional
        Weight of an urban populated centre against a rural one when totals are split over
        populated centres (the region file's calibration, e.g. Peru's 90);
        :data:`geo_engine.settings.urban_centre_weight` when omitted.
    access_files : mapping, optional
        The region's own travel files (``access:`` of its region file) for ``travel_time`` layers;
        the shipped file names in the region's data folder when omitted.

    Returns
    -------
    pandas.DataFrame
        :data:`GRID_COLUMNS` then one :data:`LAYER_DTYPE` (float64) column per layer id, one row
        per cell sorted by ``h3``; NaN where a source has no data. ``attrs`` holds
        ``cache_path``, ``cache_hit`` and ``report`` (grid figures, seconds and warnings per
        layer).
    """
    region, weight, data_dir, specs, units, path = matrix_inputs(
        region=region, resolution=resolution, layers=layers, units=units, data_dir=data_dir,
        cache_dir=cache_dir, urban_centre_weight=urban_centre_weight, access_files=access_files)
    if use_cache and not path.exists():  # a partitioned build of the same inputs
        found = read_dataset(dataset_folder(path))
        if found is not None:
            found.attrs.update(cache_path=str(dataset_folder(path)), cache_hit=True)
            return found

    def build() -> tuple[pd.DataFrame, dict[str, Any]]:
        return _compute_matrix(specs, units, resolution=resolution, data_dir=data_dir,
                               region=region, force=force, progress=progress,
                               urban_weight=weight, access_files=access_files)

    matrix, report, hit = cached(path, build) if use_cache else (*build(), False)
    matrix.attrs.update(cache_path=str(path), cache_hit=hit, report=report)
    return matrix


def _peak_rss_mb() -> float | None:
    """Return the process's peak resident memory so far in MB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def coded_grid(grid: pd.DataFrame) -> pd.DataFrame:
    """Return the grid with its text columns (admin codes) as categoricals, for the layers.

    A table layer then matches its few thousand codes against the categories instead of a code
    per cell (a million at resolution 8).
    """
    out = grid.copy(deep=False)
    for col in grid.columns:
        if col != "h3" and pd.api.types.is_string_dtype(grid[col]):
            out[col] = grid[col].astype("category")
    return out


def _compute_matrix(
    specs: Sequence[LayerSpec], units: gpd.GeoDataFrame, *, resolution: int, data_dir: Path,
    region: str, force: bool, progress: Progress | None, urban_weight: float,
    access_files: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build the grid and every layer's column; return the matrix and its build report."""
    t0 = time.perf_counter()
    grid = build_grid(units, resolution=resolution, force=force, repair=True)
    grid_report = {**grid.attrs["report"], "seconds": round(time.perf_counter() - t0, 3)}
    sources = _Sources(data_dir, region, units, urban_weight=urban_weight,
                       access_files=access_files)
    work = coded_grid(grid)
    matrix, report = layer_matrix(specs, grid, lambda spec: compute_layer(spec, work, sources),
                                  progress=progress)
    report = {"grid": grid_report, **report, "seconds": round(time.perf_counter() - t0, 3)}
    return matrix, report


def layer_matrix(specs: Sequence[LayerSpec], grid: pd.DataFrame,
                 compute: Callable[[LayerSpec], np.ndarray], *, progress: Progress | None = None,
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the matrix of a grid's cells whose layers ``compute`` gives, and its layers' report.

    Each layer's values (one per grid row) fill one row of a preallocated block that the frame
    takes without a copy; its seconds, the peak memory after it, its cells with a value and its
    warnings (re-emitted with the layer's id) go to ``report["layers"]``.
    """
    ids = list(dict.fromkeys(spec.id for spec in specs))  # a repeated id keeps its last values
    block = np.empty((len(ids), len(grid)), dtype=LAYER_DTYPE)  # one row per layer, filled in turn
    row = {layer_id: k for k, layer_id in enumerate(ids)}
    layers: dict[str, Any] = {}
    for i, spec in enumerate(specs):
        if progress:
            progress(spec.id, i, len(specs))
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GeoEngineWarning)
            values = np.asarray(compute(spec), dtype=float)
        if values.shape != (len(grid),):
            msg = f"layer {spec.id!r}: got {values.shape} values for {len(grid)} cells"
            raise RuntimeError(msg)
        block[row[spec.id]] = values
        messages = [str(w.message) for w in caught if issubclass(w.category, GeoEngineWarning)]
        for other in (w for w in caught if not issubclass(w.category, GeoEngineWarning)):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
        for message in messages:
            warnings.warn(f"layer {spec.id!r}: {message}", GeoEngineWarning, stacklevel=2)
        layers[spec.id] = {
            "seconds": round(time.perf_counter() - t, 3),
            "peak_rss_mb": _peak_rss_mb(),
            "cells_with_value": int(np.isfinite(values).sum()),
            "warnings": messages,
        }
    if progress:
        progress("", len(specs), len(specs))
    from geo_engine.ingest.raster import clear_coverage_cache

    clear_coverage_cache()  # shared by the raster layers of this build only
    grid_cols = [c for c in GRID_COLUMNS if c in grid]
    # the block's transpose is taken as the frame's own storage: no copy of the layer values
    values_frame = pd.DataFrame(block.T, columns=ids, index=range(len(grid)), copy=False)
    matrix = pd.concat([grid[grid_cols].reset_index(drop=True), values_frame], axis=1)
    return matrix, {"layers": layers}
