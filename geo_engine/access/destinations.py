"""Destination sets and a region's data: towns by size, ports, airports, hubs, and cached frictions."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import h3.api.numpy_int as h3n
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo_engine import settings
from geo_engine._errors import MissingSourceError
from geo_engine.access.friction import cell_speeds
from geo_engine.access.graph import GRAPH_CACHE_SIZE, clear_graphs, grid_digest
from geo_engine.access.speeds import FloatArray, Friction
from geo_engine.access.travel import cell_centres, travel_time
from geo_engine.spatial.sphere import (
    check_grid,
)

__all__ = [
    "DESTINATION_SETS",
    "REGION_FILES",
    "access_minutes",
    "access_paths",
    "clear_caches",
    "destinations",
    "region_friction",
]

DESTINATION_SETS: Mapping[str, str] = MappingProxyType({
    "towns10k": "towns of 10,000 people or more (towns.parquet)",
    "towns50k": "towns of 50,000 people or more (towns.parquet)",
    "towns500k": "cities of 500,000 people or more (towns.parquet)",
    "ports": "sea and river ports (ports.parquet)",
    "airports": "airports with an IATA code (airports.parquet)",
    "hubs": "engine-hub cells of the dual model (their centres; pass `hubs`)",
})
"""Named destination sets of :func:`destinations`, with what each holds."""

_TOWN_THRESHOLDS = {"towns10k": 10_000, "towns50k": 50_000, "towns500k": 500_000}


def _region_path(name: str, data_dir: Path | None, region: str | None) -> Path:
    return Path(data_dir or settings.data_dir) / (region or settings.default_region) / name


def destinations(
    name: str,
    *,
    data_dir: Path | None = None,
    region: str | None = None,
    hubs: npt.ArrayLike | None = None,
) -> gpd.GeoDataFrame:
    """Return one of the named destination sets as points.

    Parameters
    ----------
    name : str
        One of :data:`DESTINATION_SETS`: ``towns10k``, ``towns50k``, ``towns500k`` (towns by
        population), ``ports``, ``airports`` (with an IATA code), ``hubs``.
    data_dir : pathlib.Path, optional
        Folder of the curated data; :data:`geo_engine.settings.data_dir` when omitted.
    region : str, optional
        Region sub-folder; :data:`geo_engine.settings.default_region` when omitted.
    hubs : array_like, optional
        For ``hubs``: the H3 ids (integers or hexadecimal strings) of the engine-hub cells, e.g.
        ``run.matrix["h3"][np.isin(run.dual.typology, ["engine_hub", "dual_zone"])]``.

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:4326 with ``name`` and the set's own attribute (``population``,
        ``harbour_size``, ``iata``; ``h3`` for hubs). May be empty (:func:`travel_time` then
        raises).

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the known sets), or ``hubs`` is missing for the
        ``hubs`` set.
    MissingSourceError
        If the set's file is not in the region's data folder.
    """
    if name not in DESTINATION_SETS:
        msg = f"unknown destination set {name!r}; known sets are {', '.join(DESTINATION_SETS)}"
        raise ValueError(msg)
    if name == "hubs":
        if hubs is None:
            msg = ("the 'hubs' destination set needs `hubs`: the H3 ids of the engine-hub cells "
                   "(e.g. the matrix's h3 where the dual typology is engine_hub or dual_zone)")
            raise ValueError(msg)
        cells = np.asarray(hubs)
        lat, lon = cell_centres(cells) if cells.size else (np.empty(0), np.empty(0))
        ids = (np.array([h3n.str_to_int(str(c)) for c in cells.ravel()], dtype=np.uint64)
               if cells.dtype.kind in "USO" else cells.ravel().astype(np.uint64))
        return gpd.GeoDataFrame({"name": [format(int(c), "x") for c in ids], "h3": ids},
                                geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    from geo_engine.io.safe_read import read_vector

    if name in _TOWN_THRESHOLDS:
        towns = read_vector(_region_path("towns.parquet", data_dir, region))
        pop = pd.to_numeric(towns["population"], errors="coerce")
        keep = (pop >= _TOWN_THRESHOLDS[name]).fillna(False).to_numpy(dtype=bool)
        out = towns.loc[keep, ["name", "population", "geometry"]]
    elif name == "ports":
        out = read_vector(_region_path("ports.parquet", data_dir, region))[["name", "harbour_size",
                                                                            "geometry"]]
    else:
        airports = read_vector(_region_path("airports.parquet", data_dir, region))
        out = airports.loc[airports["iata"].notna().to_numpy(dtype=bool), ["name", "iata", "geometry"]]
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry").to_crs(4326)


_FRICTIONS: OrderedDict[tuple[Any, ...], Friction] = OrderedDict()

REGION_FILES: Mapping[str, str] = MappingProxyType({
    "elevation": "elevation.tif", "roads": "roads_national.parquet", "rivers": "rivers.parquet",
    "lakes": "lakes.parquet", "towns": "towns.parquet"})
"""File of each travel mode in a shipped region's data folder (a region file's ``access:`` names
its own; only ``elevation`` is required)."""


def access_paths(data_dir: Path | None = None, region: str | None = None,
                 files: Mapping[str, str | Path] | None = None) -> dict[str, Path]:
    """Return the file of each travel mode (:data:`REGION_FILES`).

    A region's own ``files`` (relative to ``data_dir``) when given, else the shipped names in
    ``data_dir/region/``.
    """
    if files is not None:
        root = Path(data_dir or settings.data_dir)
        return {k: (Path(v) if Path(v).is_absolute() else root / v) for k, v in files.items()}
    return {k: _region_path(v, data_dir, region) for k, v in REGION_FILES.items()}


def region_friction(
    grid: pd.DataFrame,
    *,
    data_dir: Path | None = None,
    region: str | None = None,
    files: Mapping[str, str | Path] | None = None,
) -> Friction:
    """Return :func:`cell_speeds` of a grid from a region's curated files, with the default table.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid or indicator matrix of the region.
    data_dir : pathlib.Path, optional
        Folder of the curated data; :data:`geo_engine.settings.data_dir` when omitted.
    region : str, optional
        Region sub-folder; :data:`geo_engine.settings.default_region` when omitted.
    files : mapping, optional
        A region's own travel files (``elevation`` required; ``roads``, ``rivers``, ``lakes``,
        ``towns`` optional), relative to ``data_dir`` (:func:`access_paths`).

    Returns
    -------
    Friction
        Speeds and links from ``elevation.tif``, ``roads_national.parquet``,
        ``rivers.parquet``, ``lakes.parquet`` and ``towns.parquet`` of the region (a missing
        optional file — all but the DEM — leaves that mode out). The result is cached for the last
        few grids as long as the files are unchanged, so its arrays are read-only (copy them to
        change them).
    """
    from geo_engine.io.safe_read import read_vector

    paths = access_paths(data_dir, region, files)
    if not paths.get("elevation", Path()).is_file():
        where = paths.get("elevation") or "(none given)"
        msg = (f"travel times need an elevation raster (GeoTIFF), and there is none: {where}; "
               "name one in the region file (`access: {elevation: dem.tif}`, relative to its data "
               "folder), with optional roads, rivers, lakes and towns files")
        raise MissingSourceError(msg)
    g = check_grid(grid)
    stamp = tuple((str(p), p.stat().st_mtime_ns if p.is_file() else None) for p in paths.values())
    key = (grid_digest(g), stamp)
    if key in _FRICTIONS:
        _FRICTIONS.move_to_end(key)
        return _FRICTIONS[key]
    # a shipped region may lack an optional mode; a file the region names must be there
    layers = {k: read_vector(p) for k, p in paths.items()
              if k != "elevation" and (files is not None or p.is_file())}
    friction = cell_speeds(grid, elevation=paths["elevation"], roads=layers.get("roads"),
                           rivers=layers.get("rivers"), lakes=layers.get("lakes"),
                           towns=layers.get("towns"))
    for arr in (friction.speed_kmh, friction.link_rows, friction.link_km, friction.link_kmh):
        arr.setflags(write=False)  # shared by the cache: read-only
    _FRICTIONS[key] = friction
    while len(_FRICTIONS) > GRAPH_CACHE_SIZE:
        _FRICTIONS.popitem(last=False)
    return friction


def access_minutes(
    matrix: pd.DataFrame,
    *,
    to: str,
    data_dir: Path | None = None,
    region: str | None = None,
    hubs: npt.ArrayLike | None = None,
    max_minutes: float | None = None,
    files: Mapping[str, str | Path] | None = None,
    targets: gpd.GeoDataFrame | None = None,
) -> FloatArray:
    """Return the travel time (minutes) from every cell of a region to a named destination set.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix (or grid) of the region: ``h3``, ``lat``, ``lon``.
    to : str
        Destination set, one of :data:`DESTINATION_SETS`.
    data_dir : pathlib.Path, optional
        Folder of the curated data; :data:`geo_engine.settings.data_dir` when omitted.
    region : str, optional
        Region sub-folder; :data:`geo_engine.settings.default_region` when omitted.
    hubs : array_like, optional
        For ``to="hubs"``: the engine-hub cells, as H3 ids or as a boolean mask aligned with the rows
        of ``matrix``.
    max_minutes : float, optional
        Cells farther than this are NaN (see :func:`travel_time`).
    files : mapping, optional
        The region's own travel files (see :func:`region_friction`).
    targets : geopandas.GeoDataFrame, optional
        Points to reach instead of a named set (e.g. a point layer of the region, or a file);
        ``to`` then only names them in messages.

    Returns
    -------
    numpy.ndarray
        Minutes per matrix row; NaN where unreachable.

    Examples
    --------
    >>> from geo_engine.matrix.indicators import build_indicators  # doctest: +SKIP
    >>> m = build_indicators(resolution=5)  # doctest: +SKIP
    >>> minutes = access_minutes(m, to="towns50k")  # doctest: +SKIP
    """
    if targets is None and to not in DESTINATION_SETS:
        msg = f"`to` was {to!r}; known destination sets are {', '.join(DESTINATION_SETS)}"
        raise ValueError(msg)
    if hubs is not None:
        mask = np.asarray(hubs)
        if mask.dtype == bool:
            if mask.shape != (len(matrix),):
                msg = (f"`hubs` is a boolean mask of shape {mask.shape} but the matrix has "
                       f"{len(matrix)} rows; give one value per row, or H3 ids")
                raise ValueError(msg)
            hubs = matrix["h3"].to_numpy(dtype=np.uint64)[mask]
    if targets is None:
        targets = destinations(to, data_dir=data_dir, region=region, hubs=hubs)
    friction = region_friction(matrix, data_dir=data_dir, region=region, files=files)
    return travel_time(matrix, friction, targets, max_minutes=max_minutes)


def clear_caches() -> None:
    """Forget the cached frictions and neighbour graphs (to time a cold start or free memory)."""
    _FRICTIONS.clear()
    clear_graphs()
