"""The context of a part of a region's grid: whole neighbouring units, on which admin tables are exact.

An admin table's total is spread over all cells of its unit and its populated centres (points in
cells, :func:`geo_engine.ingest.vector.point_positions`), so the value of a cell can come from
its own unit or from a neighbour whose centre lies in it. The context of some units (a department,
the units of a part of the grid) is those units, the units within a distance of them (whole, with
every unit sharing their code at the levels tables are given at) and the cells of the units within
that distance of those (a rim, cut to the distance): every unit that can put a value in one of
the given units' cells is then whole, with the cells its own centres can fall in, and a table
computed on the context gives those cells the whole grid's values, as long as a unit's
populated centres lie within that distance of it (the curated centres lie in their district).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.specs import LayerSpec
from geo_engine.matrix.indicators import compute_layer
from geo_engine.spatial.crs import equal_area_crs_for
from geo_engine.spatial.grid import build_grid

__all__ = ["OTHER_UNITS", "context_grid", "context_units", "table_layer", "table_levels"]


def table_levels(specs: Sequence[LayerSpec]) -> list[str]:
    """Return the code columns of the levels the admin tables among ``specs`` are given at."""
    return sorted({str(s.params.get("level", "district_code")) for s in specs if s.kind == "table"})


def context_units(units: gpd.GeoDataFrame, inside: np.ndarray, *, km: float,
                  levels: Sequence[str] = ()) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    """Return the whole units of the context of the ``inside`` ones and the rim around them.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        The region's units.
    inside : numpy.ndarray of bool
        The units of the focus.
    km : float
        Distance around the focus, then around the whole units.
    levels : sequence of str
        Code columns of the levels admin tables are given at: a unit within ``km`` of the focus
        brings every unit sharing its code at each of them.

    Returns
    -------
    whole : numpy.ndarray of bool
        The focus's units and the units within ``km`` of them (with their fellows at ``levels``).
    rim : geopandas.GeoDataFrame
        The other units within ``km`` of those, cut to that distance (EPSG:4326).
    """
    west, south, east, north = units.to_crs(4326).total_bounds
    metric = units.geometry.to_crs(equal_area_crs_for(west, south, east, north))
    has = (metric.notna() & ~metric.is_empty).to_numpy()
    whole = _near(metric, has, np.asarray(inside, dtype=bool), km)
    for level in levels:
        if level in units:
            whole |= units[level].isin(units.loc[whole, level].dropna()).to_numpy()
    around = metric[whole & has].union_all().buffer(km * 1000.0)
    outer = _near(metric, has, whole, km) & ~whole & has
    cut = metric[outer].intersection(around)
    rim = units[outer].set_geometry(cut.to_crs(4326).to_numpy()).set_crs(4326, allow_override=True)
    return whole, rim[~rim.geometry.is_empty]


def _near(metric: gpd.GeoSeries, has: np.ndarray, chosen: np.ndarray, km: float) -> np.ndarray:
    """Return the units within ``km`` of the chosen ones (the chosen included)."""
    around = metric[chosen & has].union_all().buffer(km * 1000.0)
    hits = np.zeros(len(metric), dtype=bool)
    hits[metric.sindex.query(around, predicate="intersects")] = True
    return (hits & has) | chosen


def context_grid(units: gpd.GeoDataFrame, inside: np.ndarray, *, resolution: int, km: float,
                 levels: Sequence[str] = (), force: bool = False) -> pd.DataFrame:
    """Return the grid of the context: the cells of its whole units, then those of the rim.

    A rim cell that a whole unit holds too stays the whole unit's. ``attrs["report"]`` is the
    report of the whole units' grid.
    """
    whole, rim = context_units(units, inside, km=km, levels=levels)
    grid = build_grid(units[whole], resolution=resolution, force=force, repair=True)
    report = grid.attrs["report"]
    if len(rim):
        outer = build_grid(rim, resolution=resolution, force=force, repair=True)
        outer = outer[~np.isin(outer["h3"].to_numpy(), grid["h3"].to_numpy())]
        grid = pd.concat([grid, outer], ignore_index=True).sort_values("h3", ignore_index=True)
    grid.attrs = {"report": report}
    return grid


OTHER_UNITS = "match no unit of the grid"
"""Words of the warning on a table's codes outside the grid: most of them, on a context."""


def table_layer(spec: LayerSpec, context: pd.DataFrame, sources: Any, extent: pd.DataFrame
           ) -> np.ndarray:
    """Return an admin-table layer on a context grid, without the warning on the other units.

    A table without a row for any unit of the context gives NaN (what the whole build gives
    those cells) instead of the error a whole grid with no matching code deserves.
    """
    level = str(spec.params.get("level", "district_code"))
    key = str(spec.params.get("key", level))
    table = sources.table(spec)
    if key == level and key in table and level in context:
        codes = set(table[key].dropna().astype(str).str.strip())
        if not codes & set(context[level].astype(str)):
            return np.full(len(context), np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoEngineWarning)
        values = np.asarray(compute_layer(spec, context, sources, extent=extent), dtype=float)
    for w in caught:
        if not (issubclass(w.category, GeoEngineWarning) and OTHER_UNITS in str(w.message)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return values
