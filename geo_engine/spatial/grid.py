"""Build the H3 grid of a region: sorted cell ids with centre, area and admin codes."""

from __future__ import annotations

import warnings

import geopandas as gpd
import h3
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely

from geo_engine._errors import GeoEngineWarning, GridSizeError
from geo_engine.spatial.crs import equal_area_crs_for

__all__ = [
    "MAX_CELLS",
    "MAX_RESOLUTION",
    "MIN_RESOLUTION",
    "build_grid",
    "cell_polygons",
    "estimate_cells",
    "h3_to_str",
]

MIN_RESOLUTION = 3
"""Coarsest resolution accepted (cells of about 12,000 km²)."""
MAX_RESOLUTION = 10
"""Finest resolution accepted (cells of about 0.015 km²)."""
MAX_CELLS = 3_000_000
"""Largest grid built without ``force=True`` (about 1 GB for a few dozen layers)."""


def _check_resolution(resolution: int) -> None:
    if not isinstance(resolution, int | np.integer) or not (
        MIN_RESOLUTION <= resolution <= MAX_RESOLUTION
    ):
        msg = (f"`resolution` was {resolution!r} but must be an integer from {MIN_RESOLUTION} to "
               f"{MAX_RESOLUTION} (7 ≈ 5 km² cells)")
        raise ValueError(msg)


def _prepare_units(units: gpd.GeoDataFrame, *, code_column: str, repair: bool) -> gpd.GeoDataFrame:
    if units.crs is None:
        msg = ("region units have no CRS; set it with `.set_crs(...)` (e.g. EPSG:4326 for lon/lat) "
               "before building a grid")
        raise ValueError(msg)
    if code_column not in units:
        msg = f"region units have no column {code_column!r}; columns are {list(units.columns)}"
        raise KeyError(msg)
    units = units[units.geometry.notna() & ~units.geometry.is_empty]
    if units[code_column].duplicated().any():
        dups = units.loc[units[code_column].duplicated(), code_column].head(5).tolist()
        msg = f"region units have duplicate {code_column!r} values, e.g. {dups}; codes must be unique"
        raise ValueError(msg)
    units = units.to_crs(4326)
    invalid = ~units.geometry.is_valid
    if invalid.any():
        if not repair:
            examples = units.loc[invalid, code_column].head(5).tolist()
            msg = (f"{int(invalid.sum())} invalid region geometries (e.g. {examples}); pass "
                   "`repair=True` to fix them with shapely.make_valid")
            raise ValueError(msg)
        units = units.copy()
        units.loc[invalid, "geometry"] = shapely.make_valid(units.loc[invalid].geometry.to_numpy())
        warnings.warn(f"repaired {int(invalid.sum())} invalid region geometries with make_valid",
                      GeoEngineWarning, stacklevel=3)
    return units


def estimate_cells(units: gpd.GeoDataFrame, *, resolution: int) -> int:
    """Estimate how many cells a grid of ``units`` at ``resolution`` will have.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Region polygons with a CRS.
    resolution : int
        H3 resolution, 3 to 10.

    Returns
    -------
    int
        Total area divided by the average cell area at that resolution (within a few percent).
    """
    _check_resolution(resolution)
    if units.crs is None:
        msg = "region units have no CRS; set it before estimating the grid size"
        raise ValueError(msg)
    crs = equal_area_crs_for(*(float(v) for v in units.to_crs(4326).total_bounds))
    area_km2 = float(units.to_crs(crs).geometry.area.sum()) / 1e6
    return int(np.ceil(area_km2 / h3.average_hexagon_area(resolution, unit="km^2")))



def build_grid(
    units: gpd.GeoDataFrame,
    *,
    resolution: int,
    code_column: str = "unit_code",
    keep_columns: tuple[str, ...] = ("parent_code", "grandparent_code"),
    max_cells: int = MAX_CELLS,
    force: bool = False,
    repair: bool = False,
) -> pd.DataFrame:
    """Return the H3 cells covering a region, each with its admin unit.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Admin polygons of the region (any CRS), one row per unit; rows without geometry are
        skipped.
    resolution : int
        H3 resolution from 3 to 10.
    code_column : str, default "unit_code"
        Unique code of each unit, copied to the cells.
    keep_columns : tuple of str
        Further unit columns copied to the cells (e.g. parent codes); missing ones are ignored.
    max_cells : int, default :data:`MAX_CELLS`
        Refuse to build a larger grid (estimated before building) unless ``force``.
    force : bool, default False
        Build even when the estimate exceeds ``max_cells``.
    repair : bool, default False
        Repair invalid polygons with :func:`shapely.make_valid` (a warning gives the count) instead
        of raising.

    Returns
    -------
    pandas.DataFrame
        One row per cell sorted by ``h3`` (uint64): ``h3``, ``lat``, ``lon`` (centre, degrees),
        ``area_km2``, ``code_column``, the ``keep_columns``, and ``centre_inside`` (False for the
        cells added for units too small to hold a cell centre). ``attrs["report"]`` gives counts.

    Raises
    ------
    GridSizeError
        If the estimated number of cells exceeds ``max_cells`` and ``force`` is False.

    Notes
    -----
    A cell belongs to the unit whose polygon contains its centre (H3's polygon-to-cells rule), so
    cells do not overlap and cover the region. A unit whose polygon contains no cell centre gets the
    cell holding its representative point; if that cell already belongs to a neighbour, it is
    given to the small unit, unless it is the neighbour's only cell. A unit whose every candidate
    cell is a neighbour's only cell (dense city districts at coarse resolutions) owns none; the
    report's ``shared_units`` gives, for each, the share of its area in each cell it overlaps
    (``{code: {cell hex id: share}}``), through which roll-ups and briefs still cover it.
    """
    _check_resolution(resolution)
    units = _prepare_units(units, code_column=code_column, repair=repair)
    estimate = estimate_cells(units, resolution=resolution)
    if estimate > max_cells and not force:
        mem_gb = estimate * 8 * 40 / 1e9
        msg = (f"a grid at resolution {resolution} would have about {estimate:,} cells (more than "
               f"{max_cells:,}; ~{mem_gb:.1f} GB for 40 layers); choose a coarser resolution or "
               "pass force=True (--force)")
        raise GridSizeError(msg)

    codes = units[code_column].to_numpy()
    parts: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for idx, geom in enumerate(units.geometry.to_numpy()):
        cells = h3n.geo_to_cells(geom, resolution)
        parts.append(np.asarray(cells, dtype=np.uint64))
        owners.append(np.full(len(cells), idx, dtype=np.int64))
    cell_ids = np.concatenate(parts) if parts else np.empty(0, np.uint64)
    owner = np.concatenate(owners) if owners else np.empty(0, np.int64)
    # a centre exactly on a shared border can be claimed twice: keep the first unit
    cell_ids, first = np.unique(cell_ids, return_index=True)
    owner = owner[first]
    inside = np.ones(len(cell_ids), dtype=bool)

    # units too small to hold a cell centre
    counts = np.bincount(owner, minlength=len(units))
    empty = np.flatnonzero(counts == 0)
    added = taken = failed = 0
    shared: dict[str, dict[str, float]] = {}
    for idx in (int(i) for i in empty):
        geom = units.geometry.iloc[idx]
        point = geom.representative_point()
        first_choice = np.uint64(h3n.latlng_to_cell(point.y, point.x, resolution))
        overlap = h3n.h3shape_to_cells_experimental(
            h3n.geo_to_h3shape(geom), resolution, contain="overlap"
        )
        candidates = [first_choice, *(np.uint64(c) for c in overlap if c != first_choice)]
        placed = False
        for cell in candidates:  # prefer a free cell, else one whose owner keeps another
            pos = int(np.searchsorted(cell_ids, cell))
            if pos < len(cell_ids) and cell_ids[pos] == cell:
                continue
            cell_ids = np.insert(cell_ids, pos, cell)
            owner = np.insert(owner, pos, idx)
            inside = np.insert(inside, pos, False)
            counts[idx] += 1
            added += 1
            placed = True
            break
        if not placed:
            for cell in candidates:
                pos = int(np.searchsorted(cell_ids, cell))
                other = owner[pos]
                if counts[other] > 1:
                    counts[other] -= 1
                    counts[idx] += 1
                    owner[pos] = idx
                    inside[pos] = False
                    taken += 1
                    placed = True
                    break
        if not placed:
            failed += 1
            shared[str(codes[idx])] = _overlap_shares(geom, candidates)

    lat, lon = (np.array(v) for v in zip(*map(h3n.cell_to_latlng, cell_ids), strict=True)) \
        if len(cell_ids) else (np.empty(0), np.empty(0))
    area = np.fromiter((h3n.cell_area(c, unit="km^2") for c in cell_ids), float, len(cell_ids))
    grid = pd.DataFrame({"h3": cell_ids, "lat": lat, "lon": lon, "area_km2": area,
                         code_column: codes[owner]})
    for col in keep_columns:
        if col in units:
            grid[col] = units[col].to_numpy()[owner]
    grid["centre_inside"] = inside
    grid.attrs["report"] = {
        "resolution": resolution,
        "cells": len(grid),
        "units": len(units),
        "units_with_cells": int(np.unique(owner).size),
        "small_units_added_cell": added,
        "small_units_took_cell": taken,
        "small_units_without_cell": failed,
        "shared_units": _in_grid(shared, cell_ids),
    }
    if failed:
        listing = ", ".join(list(shared)[:10]) + (", …" if failed > 10 else "")
        warnings.warn(f"{failed} admin units are smaller than one cell at resolution {resolution} and "
                      f"own none ({listing}): they are ranked and briefed through the cells they "
                      "overlap, weighted by the share of their area in each; use a finer resolution "
                      "for cells of their own", GeoEngineWarning, stacklevel=2)
    return grid


def _in_grid(shared: dict[str, dict[str, float]], cell_ids: np.ndarray) -> dict[str, dict[str, float]]:
    """Keep, for each shared unit, the overlapped cells that are in the grid (re-weighted to 1)."""
    present = set(cell_ids.tolist())
    out = {}
    for code, cells in shared.items():
        kept = {c: w for c, w in cells.items() if int(c, 16) in present}
        total = sum(kept.values())
        if total > 0:
            out[code] = {c: w / total for c, w in kept.items()}
    return out


def _overlap_shares(geom: shapely.Geometry, cells: list[np.uint64]) -> dict[str, float]:
    """Return ``{cell hex id: share of the unit's area in it}`` over the cells a unit overlaps."""
    polys = cell_polygons(np.asarray(cells, dtype=np.uint64))
    west, south, east, north = shapely.bounds(geom)
    crs = equal_area_crs_for(float(west), float(south), float(east), float(north))
    unit = gpd.GeoSeries([geom], crs="EPSG:4326").to_crs(crs).iloc[0]
    areas = polys.to_crs(crs).intersection(unit).area.to_numpy()
    total = float(areas.sum())
    if total <= 0:
        return {format(int(cells[0]), "x"): 1.0}
    return {format(int(c), "x"): float(a / total) for c, a in zip(cells, areas, strict=True) if a > 0}


def h3_to_str(cells: np.ndarray | pd.Series) -> np.ndarray:
    """Return H3 ids as 15-character hexadecimal strings (``'87…ffff'``)."""
    return np.array([format(int(c), "x") for c in np.asarray(cells, dtype=np.uint64)], dtype=object)


def cell_polygons(cells: np.ndarray | pd.Series) -> gpd.GeoSeries:
    """Return the hexagon (or pentagon) of each cell as polygons in EPSG:4326."""
    polys = [shapely.Polygon([(lng, lat) for lat, lng in h3n.cell_to_boundary(c)])
             for c in np.asarray(cells, dtype=np.uint64)]
    return gpd.GeoSeries(polys, crs="EPSG:4326")
