"""The context of a part of a region's grid: whole neighbouring units, on which admin tables are exact.

An admin table's total is spread over all cells of its unit and its populated centres (points in
cells, :func:`geo_engine.ingest.vector.point_positions`, with weights normalised over the unit),
so the value of a cell can come from its own unit or from a neighbour with a centre in it. The
context of some units (a department, the units of a part of the grid) is those units, whole; the
units with a populated centre (or their representative point) in one of their cells, whole too,
with every unit sharing their code at the levels tables are given at; and the cells around them
(a rim: every cell within a distance of the focus, where points snap, and within a margin of the
whole units, where their centres lie). Every unit that can put a value in one of the focus's cells
is then whole, with every cell its own centres lie in (those lying far out of their unit bring
the cells around them), and a table computed on the context gives the focus's cells the whole
grid's values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.specs import LayerSpec, slot_column, slot_columns
from geo_engine.io.safe_read import read_vector
from geo_engine.matrix.indicators import compute_layer
from geo_engine.spatial.crs import equal_area_crs_for
from geo_engine.spatial.grid import build_grid
from geo_engine.spatial.sphere import edge_km

__all__ = ["OTHER_UNITS", "context_grid", "context_layer", "context_units", "region_centres",
           "table_levels"]


def table_levels(specs: Sequence[LayerSpec]) -> list[str]:
    """Return the code columns of the levels the admin tables among ``specs`` are given at."""
    named = (str(s.params.get("level", "district_code")) for s in specs if s.kind == "table")  # Peru's names
    return sorted({slot_column(level) for level in named})


def context_units(units: gpd.GeoDataFrame, inside: np.ndarray, *, km: float, margin_km: float,
                  levels: Sequence[str] = (), centres: gpd.GeoDataFrame | None = None
                  ) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    """Return the whole units of the context of the ``inside`` ones and the rim around them.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        The region's units.
    inside : numpy.ndarray of bool
        The units of the focus.
    km : float
        Distance around the focus whose cells the context holds (point counts snap that far).
    margin_km : float
        Distance around the whole units whose cells the context holds (a unit's populated centres
        lie within it), and around the focus within which a neighbour's populated centre or
        representative point makes the neighbour whole (a cell whose centre is in the focus
        reaches that far out of it).
    levels : sequence of str
        Code columns of the levels admin tables are given at: a whole unit brings every unit
        sharing its code at each of them.
    centres : geopandas.GeoDataFrame, optional
        Populated centres with the ``unit_code`` of their unit.

    Returns
    -------
    whole : numpy.ndarray of bool
        The focus's units and the units with a populated centre or their representative point
        within ``margin_km`` of it (with their fellows at ``levels``).
    rim : geopandas.GeoDataFrame
        The other units within ``km`` of the focus or ``margin_km`` of the whole units or of
        their populated centres, cut to those distances (EPSG:4326).
    """
    inside = np.asarray(inside, dtype=bool)
    west, south, east, north = units.to_crs(4326).total_bounds
    crs = equal_area_crs_for(west, south, east, north)
    metric = units.geometry.to_crs(crs)
    has = (metric.notna() & ~metric.is_empty).to_numpy()
    focus = metric[inside & has].union_all()
    points = [metric[has].representative_point()]
    codes = [units["unit_code"][has].astype(str).to_numpy()]
    if centres is not None and len(centres):
        points.append(centres.geometry.to_crs(crs))
        codes.append(centres["unit_code"].astype(str).to_numpy())
    near = gpd.GeoSeries(pd.concat(points, ignore_index=True), crs=crs)
    held = near.sindex.query(focus.buffer(margin_km * 1000.0), predicate="intersects")
    whole = inside | units["unit_code"].astype(str).isin(np.concatenate(codes)[held]).to_numpy()
    for level in levels:
        if level in units:
            whole |= units[level].isin(units.loc[whole, level].dropna()).to_numpy()
    around = focus.buffer(km * 1000.0).union(metric[whole & has].union_all().buffer(margin_km * 1000.0))
    if centres is not None and len(centres):  # centres lying farther out of their unit
        mine = near[len(points[0]):][np.isin(codes[1], units["unit_code"][whole].astype(str))]
        stray = mine[~mine.intersects(around)]
        if len(stray):
            around = around.union(stray.buffer(margin_km * 1000.0).union_all())
    hits = np.zeros(len(metric), dtype=bool)
    hits[metric.sindex.query(around, predicate="intersects")] = True
    outer = hits & has & ~whole
    cut = metric[outer].intersection(around)
    rim = units[outer].set_geometry(cut.to_crs(4326).to_numpy()).set_crs(4326, allow_override=True)
    return whole, rim[~rim.geometry.is_empty]


def context_grid(units: gpd.GeoDataFrame, inside: np.ndarray, *, resolution: int, km: float,
                 levels: Sequence[str] = (), centres: gpd.GeoDataFrame | None = None,
                 force: bool = False) -> pd.DataFrame:
    """Return the grid of the context (:func:`context_units`): its whole units' cells, then the rim's.

    The margin is two cell edges and a kilometre. The whole units' grid is built together (so a
    neighbour too small to hold a cell centre takes a focus's cell as in the whole grid), then the
    rim's; a rim cell that a whole unit holds stays the whole unit's. ``attrs["report"]`` is the
    report of the whole units' grid.
    """
    whole, rim = context_units(units, inside, km=km, levels=levels, centres=centres,
                               margin_km=2.0 * edge_km(resolution) + 1.0)
    grid = build_grid(units[whole], resolution=resolution, force=force, repair=True)
    report = grid.attrs["report"]
    if len(rim):
        outer = build_grid(rim, resolution=resolution, force=force, repair=True)
        outer = outer[~np.isin(outer["h3"].to_numpy(), grid["h3"].to_numpy())]
        grid = pd.concat([grid, outer], ignore_index=True).sort_values("h3", ignore_index=True)
    grid.attrs = {"report": report}
    return grid


def region_centres(data_dir: Path, region: str) -> gpd.GeoDataFrame | None:
    """Return a region's populated centres (where admin totals are placed), or None without them."""
    path = Path(data_dir) / region / "populated_centres.parquet"
    return slot_columns(read_vector(path)) if path.is_file() else None


OTHER_UNITS = ("match no unit of the grid", "have no cell to receive their value",
               "fall outside the grid's cells", "have no cell where the crop can grow")
"""Words of the warnings on values outside the grid (a table's other units' codes, points far from
the grid): most of a region's, on a context, so they do not describe the source."""


def context_layer(spec: LayerSpec, context: pd.DataFrame, sources: Any, extent: pd.DataFrame
                  ) -> np.ndarray:
    """Return a layer on a context grid, without the warnings on what lies outside the context.

    An admin table without a row for any unit of the context gives NaN (what the whole build
    gives those cells) instead of the error a whole grid with no matching code deserves.
    """
    if spec.kind == "table":
        named = str(spec.params.get("level", "district_code"))  # Peru's names: the specs' default
        level = slot_column(named)
        key = str(spec.params.get("key", named))
        table = sources.table(spec)
        if slot_column(key) == level and key in table and level in context:
            codes = set(table[key].dropna().astype(str).str.strip())
            if not codes & set(context[level].astype(str)):
                return np.full(len(context), np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoEngineWarning)
        values = np.asarray(compute_layer(spec, context, sources, extent=extent), dtype=float)
    for w in caught:
        outside = any(words in str(w.message) for words in OTHER_UNITS)
        if not (issubclass(w.category, GeoEngineWarning) and outside):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return values
