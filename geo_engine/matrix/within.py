"""Build the indicator matrix of one admin unit of a region (a department) instead of the whole grid.

The matrix holds the unit's cells (the cells of the whole region's grid whose centre lies in one
of its units), and each layer is computed on the cells it needs (the scopes of
:func:`geo_engine.matrix.partition.layer_scope`):

``cell``
    Rasters, lines, polygons, point densities and distances: on the unit's cells alone, exact.
``snap`` and admin tables
    On the *context* of the unit (:mod:`geo_engine.matrix.context`): its cells, the cells within
    :func:`context_km` of it (where points snap), and the neighbouring units that can place a
    table's total in its cells, whole: exact.
``travel_time``
    On the context grid, started from its edge cells with the times of the region's whole grid
    at :data:`SEED_RESOLUTION` (at the parent of each edge cell; see the ``start`` of
    :func:`geo_engine.access.travel_time`). A shortest path that leaves the context passes an
    edge cell, so at the resolution of the whole grid's times the unit's times are the whole
    build's up to the road and river links the context's edge cuts (Cusco at resolution 7: at
    most 1.5 minutes, 0.3 %, in under 3 % of its cells); at a finer resolution the part of a path
    outside the context is timed at the coarser one.

Scores of such a matrix are normalised over the unit's cells: a minimum, a maximum or a
percentile of the unit, not of the region, so a cell's score compares it with the rest of the unit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_engine._errors import SpecError
from geo_engine.ingest.specs import LayerSpec
from geo_engine.io.cache import cached
from geo_engine.matrix.context import context_grid, context_layer, region_centres, table_levels
from geo_engine.matrix.dataset import dataset_folder, parent_cells
from geo_engine.matrix.indicators import (
    MatrixOptions,
    Progress,
    build_indicators,
    coded_grid,
    compute_layer,
    layer_matrix,
    layer_sources,
    matrix_inputs,
)
from geo_engine.matrix.partition import layer_scope, snap_halo_km

__all__ = ["SEED_RESOLUTION", "build_within", "context_km"]

SEED_RESOLUTION = 7
"""Resolution of the whole grid whose travel times start the unit's (its own if coarser)."""


def context_km(resolution: int) -> float:
    """Return how far (km) around the unit the context reaches: :func:`snap_halo_km`, at least 5."""
    return max(5.0, snap_halo_km(resolution))


def build_within(*, within: tuple[str, str], **options: Unpack[MatrixOptions]) -> pd.DataFrame:
    """Return the indicator matrix of one admin unit's cells (``within=("grandparent_code", "08")``).

    Parameters
    ----------
    within : tuple of str
        The units' code column of the level and the unit's code
        (:attr:`geo_engine.regions.focus.Focus.within`).
    **options
        The options of :func:`~geo_engine.matrix.indicators.build_indicators` (region,
        resolution, layers, units, data_dir, cache_dir, use_cache, force, progress,
        urban_centre_weight, access_files); the cache name and key hold ``within``.

    Returns
    -------
    pandas.DataFrame
        As :func:`~geo_engine.matrix.indicators.build_indicators`, for the unit's cells; the report's
        ``grid`` also gives ``context_cells`` and ``seed_resolution``.

    Raises
    ------
    SpecError
        When the units have no such column or code.
    """
    resolution = options.get("resolution", 7)
    access_files, cache_dir = options.get("access_files"), options.get("cache_dir")
    force = options.get("force", False)
    region, weight, data_dir, specs, units, path = matrix_inputs(
        region=options.get("region"), resolution=resolution, layers=options.get("layers"),
        units=options.get("units"), data_dir=options.get("data_dir"), cache_dir=cache_dir,
        urban_centre_weight=options.get("urban_centre_weight"), access_files=access_files,
        within=within)
    column, code = within
    if column not in units or not (units[column].astype("string") == code).any():
        msg = (f"region {region!r}: no unit with {column} {code!r} to build within; name a unit "
               "of the region (e.g. department=Cusco)")
        raise SpecError(msg)
    inputs = {"region": region, "data_dir": data_dir, "units": units, "weight": weight,
              "access_files": access_files, "cache_dir": cache_dir}

    def build() -> tuple[pd.DataFrame, dict[str, Any]]:
        return _compute(specs, within=within, resolution=resolution, force=force,
                        progress=options.get("progress"), inputs=inputs)

    matrix, report, hit = cached(path, build) if options.get("use_cache", True) \
        else (*build(), False)
    matrix.attrs.update(cache_path=str(path), cache_hit=hit, report=report)
    return matrix


def _compute(specs: Sequence[LayerSpec], *, within: tuple[str, str], resolution: int, force: bool,
             progress: Progress | None, inputs: Mapping[str, Any]
             ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build the context grid and each layer on the cells its scope needs; keep the unit's cells."""
    t0 = time.perf_counter()
    units: gpd.GeoDataFrame = inputs["units"]
    column, code = within
    inside = (units[column].astype("string") == code).fillna(False).to_numpy(dtype=bool)
    levels = table_levels(specs)
    context = context_grid(units, inside, resolution=resolution, km=context_km(resolution),
                           levels=levels, force=force,
                           centres=region_centres(inputs["data_dir"], inputs["region"]))
    core = (context[column].astype("string") == code).fillna(False).to_numpy(dtype=bool)
    grid = context[core].reset_index(drop=True)
    grid_report = {**context.attrs["report"], "cells": len(grid), "context_cells": len(context),
                   "seed_resolution": min(resolution, SEED_RESOLUTION),
                   "seconds": round(time.perf_counter() - t0, 3)}
    shared = grid_report.get("shared_units")
    if isinstance(shared, dict):
        own = set(units.loc[inside, "unit_code"].astype(str))
        grid_report["shared_units"] = {k: v for k, v in shared.items() if k in own}
    extent = _extent(units, context)

    def sources() -> Any:
        return layer_sources(inputs["data_dir"], inputs["region"], units,
                             urban_weight=inputs["weight"], access_files=inputs["access_files"])

    on_grid, on_context = sources(), sources()  # allocations are kept per grid
    coded, coded_context = coded_grid(grid), coded_grid(context)
    seeds = _Seeds(specs, context, resolution=resolution, inputs=inputs, force=force)

    def compute(spec: LayerSpec) -> np.ndarray:
        if layer_scope(spec) == "cell":
            return compute_layer(spec, coded, on_grid, extent=extent)
        if spec.method == "travel_time":
            return _travel(spec, context, on_context, seeds.start(spec))[core]
        return context_layer(spec, coded_context, on_context, extent)[core]

    matrix, report = layer_matrix(specs, grid, compute, progress=progress)
    return matrix, {"grid": grid_report, **report, "seconds": round(time.perf_counter() - t0, 3)}


def _extent(units: gpd.GeoDataFrame, context: pd.DataFrame) -> pd.DataFrame:
    """Return two cells standing for the whole region's extent (for the checks of a source's position)."""
    west, south, east, north = units.to_crs(4326).total_bounds
    first = context["h3"].iloc[:1].to_numpy() if len(context) else np.zeros(1, np.uint64)
    return pd.DataFrame({"h3": np.repeat(first, 2), "lat": [south, north], "lon": [west, east]})


def _travel(spec: LayerSpec, context: pd.DataFrame, sources: Any, start: np.ndarray) -> np.ndarray:
    """Return a travel-time layer on the context grid, its edge cells started at ``start``."""
    from geo_engine import access

    friction = access.region_friction(context, data_dir=sources.data_dir, region=sources.region,
                                      files=sources.access_files)
    return access.travel_time(context, friction, sources.vector(spec),
                              max_minutes=spec.params.get("max_minutes"), start=start)


class _Seeds:
    """The whole grid's travel times at the edge cells of the context, read once when first needed."""

    def __init__(self, specs: Sequence[LayerSpec], context: pd.DataFrame, *, resolution: int,
                 inputs: Mapping[str, Any], force: bool) -> None:
        self.specs = list(specs)
        self.context = context
        self.resolution = min(resolution, SEED_RESOLUTION)
        self.inputs = inputs
        self.force = force
        self._whole: pd.DataFrame | None = None
        self._edge: tuple[np.ndarray, np.ndarray] | None = None

    def _edge_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the context's edge rows (a neighbour outside it) and their rows in the whole grid."""
        if self._edge is None:
            from geo_engine.access.graph import neighbour_graph
            from geo_engine.spatial.sphere import check_grid

            graph = neighbour_graph(check_grid(self.context))
            edge = np.flatnonzero(np.diff(graph.indptr) < 6)
            ids = parent_cells(self.context["h3"].to_numpy(dtype=np.uint64)[edge], self.resolution)
            whole = self.whole()["h3"].to_numpy(dtype=np.uint64)
            at = np.minimum(np.searchsorted(whole, ids), max(len(whole) - 1, 0))
            found = whole[at] == ids if len(whole) else np.zeros(len(ids), dtype=bool)
            self._edge = edge[found], at[found]
        return self._edge

    def whole(self) -> pd.DataFrame:
        """Return the whole region's matrix at the seed resolution: its cache, or its travel layers."""
        if self._whole is None:
            i = self.inputs
            kw: dict[str, Any] = {
                "region": i["region"], "resolution": self.resolution, "units": i["units"],
                "data_dir": i["data_dir"], "cache_dir": i["cache_dir"],
                "urban_centre_weight": i["weight"], "access_files": i["access_files"]}
            full = matrix_inputs(layers=self.specs, **kw)[-1]
            built = full.exists() or dataset_folder(full).exists()
            travel = [s for s in self.specs if s.method == "travel_time"]
            self._whole = build_indicators(layers=self.specs if built else travel, force=self.force,
                                           **kw)
        return self._whole

    def start(self, spec: LayerSpec) -> np.ndarray:
        """Return the start minutes of a travel-time layer: per context row, NaN off the edge."""
        edge, rows = self._edge_rows()
        out = np.full(len(self.context), np.nan)
        out[edge] = self.whole()[spec.id].to_numpy(dtype=float)[rows]
        return out
