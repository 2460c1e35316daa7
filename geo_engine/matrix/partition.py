"""Build the indicator matrix by parts of the grid (groups of H3 parent cells), in process or on Dask.

The grid is built whole (cell ids, centres, admin codes: a few columns per cell), split into parts
of whole H3 parent cells, and each part's layers are computed on its own, with only the cells it
needs. What a layer needs decides how it is computed (:func:`layer_scope`):

``cell``
    The value of a cell depends on the cell and the source only: rasters (every method: pixels are
    binned, sampled or covered per cell), lines (length clipped to the cell), polygons (share,
    area-weighted values; an extensive value is split by the polygon's whole area), point density
    (every point of the source within the bandwidth of the cell centre is read, wherever it lies)
    and distance to the nearest feature (all features are read). A part computes them on its own
    cells: exact.
``snap``
    Point counts, sums and maxima: a point outside every cell of the grid goes to the nearest cell
    within :data:`~geo_engine.ingest.vector.SNAP_KM` (plus one edge), which may lie in another
    part. A part computes them on its cells plus a halo of the grid cells within
    :func:`snap_halo_km` of them and keeps its own cells: exact (see the function's notes).
``units``
    Admin tables: a unit's total is split over all its cells and populated centres, which cross
    parts, with weights normalised over the unit. A part computes them on the context of the units
    holding its cells (:mod:`geo_engine.matrix.context`: those units and the neighbours with a
    centre in their cells, whole, and the cells around them) and keeps its own cells: exact, with
    memory that grows with the part, not with the whole grid.
``global``
    Travel times (least-cost paths cross parts: a halo gives only upper bounds). They are computed
    over the whole grid in one task that runs on a worker beside the parts: exact, but the memory
    of that task grows with the whole grid.

So the parts' matrix equals the whole build's (up to the order of floating-point sums in kernel
densities, about 1e-15 relative). Scores are computed from the whole matrix as before: the
dataset is read back whole (:func:`geo_engine.matrix.dataset.read_dataset`), so every
normalisation statistic (minimum, maximum, percentiles, means) is the single-machine one.

Parts run one after another in this process (``workers=0``), on a :class:`distributed.LocalCluster`
of ``workers`` processes, or on a running Dask cluster (``scheduler="tcp://host:8786"``); every
worker must see the region's data folder at the same path and run the same geo-engine version.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.specs import GRID_COLUMNS, LayerSpec
from geo_engine.ingest.vector import SNAP_KM
from geo_engine.matrix.context import context_grid, context_layer, region_centres, table_levels
from geo_engine.matrix.dataset import DatasetWriter, dataset_folder, parent_cells, read_dataset
from geo_engine.matrix.indicators import (
    Progress,
    coded_grid,
    compute_layer,
    layer_sources,
    matrix_inputs,
)
from geo_engine.spatial.grid import build_grid
from geo_engine.spatial.sphere import edge_km, km_to_chord, unit_vectors

__all__ = [
    "Built",
    "Part",
    "build_partitioned",
    "default_parent_resolution",
    "layer_scope",
    "plan_parts",
    "snap_halo_km",
]

Scope = Literal["cell", "snap", "units", "global"]

_CONNECT_SECONDS = 20
"""How long to try reaching a Dask scheduler before giving up."""


def layer_scope(spec: LayerSpec) -> Scope:
    """Return what a layer's value of a cell depends on: the cell, a halo, whole units, the grid.

    ``global`` for travel times, ``units`` for admin tables, ``snap`` for point counts, sums and
    maxima, ``cell`` for the rest (see the module's description).
    """
    if spec.method == "travel_time":
        return "global"
    if spec.kind == "table":
        return "units"
    if spec.kind == "points" and spec.method in ("count", "sum", "max"):
        return "snap"
    return "cell"


def snap_halo_km(resolution: int) -> float:
    r"""Return the halo (km between cell centres) that makes point counts of a part exact.

    Notes
    -----
    A point no grid cell holds goes to the grid cell of nearest centre :math:`c^*` if
    :math:`d(p, c^*) \le r`, :math:`r` = ``SNAP_KM`` + one edge. A part that searches only its
    cells and halo can place it wrongly in one of its own cells :math:`c'` only when :math:`c^*`
    is outside the halo; but :math:`d(c^*, c') \le d(c^*, p) + d(p, c') \le 2r`. A point inside a
    grid cell outside the part is within an edge of that cell's centre, so the same bound holds.
    The halo is :math:`2r` plus two edges (edges vary around their average).
    """
    edge = edge_km(resolution)
    return 2.0 * (SNAP_KM + edge) + 2.0 * edge


def default_parent_resolution(resolution: int) -> int:
    """Return the parent resolution parts are made of: 3 up to resolution 8, 4 above (≥ 0)."""
    return max(0, min(3 if resolution <= 8 else 4, resolution - 1))


@dataclass(frozen=True)
class Part:
    """One part of a grid: whole parent cells, the rows they hold and the halo rows around them.

    Attributes
    ----------
    number : int
        Position of the part, from 0.
    parents : tuple of str
        Hexadecimal ids of its parent cells.
    core : numpy.ndarray
        Sorted grid rows of its cells.
    halo : numpy.ndarray
        Sorted grid rows of the other cells within :func:`snap_halo_km` of them.
    """

    number: int
    parents: tuple[str, ...]
    core: np.ndarray
    halo: np.ndarray

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the sorted rows of core and halo, and which of them are the core's."""
        rows = np.union1d(self.core, self.halo)
        return rows, np.isin(rows, self.core, assume_unique=True)


def plan_parts(grid: pd.DataFrame, *, parts: int, parent_resolution: int,
               halo_km: float) -> list[Part]:
    """Split a grid into at most ``parts`` parts of whole parent cells, each with its halo.

    Parent cells are taken in id order (which keeps neighbours together: children of one
    coarser cell are consecutive) and cut into runs of about equal numbers of cells; with as many
    parts as parent cells or more, each parent cell is a part.

    Parameters
    ----------
    grid : pandas.DataFrame
        A grid (:func:`geo_engine.spatial.grid.build_grid`): sorted ``h3``, ``lat``, ``lon``.
    parts : int
        Number of parts wanted (fewer when the grid has fewer parent cells).
    parent_resolution : int
        Resolution of the parent cells, coarser than the grid's.
    halo_km : float
        Cells whose centre is within this distance of a part's cell centre form its halo.

    Returns
    -------
    list of Part
        Parts covering every row once, in id order.
    """
    if parts < 1:
        msg = f"`parts` was {parts!r} but must be at least 1"
        raise ValueError(msg)
    ids = grid["h3"].to_numpy(dtype=np.uint64)
    parents = parent_cells(ids, parent_resolution)
    order = np.argsort(parents, kind="stable")
    keys, starts = np.unique(parents[order], return_index=True)
    ends = np.append(starts[1:], len(ids))
    if parts >= len(keys):
        groups = [np.array([k]) for k in range(len(keys))]
    else:  # a parent goes to the part its first cell falls in, by equal shares of the cells
        bucket = np.minimum(parts - 1, starts * parts // max(len(ids), 1))
        groups = np.split(np.arange(len(keys)), np.flatnonzero(np.diff(bucket)) + 1)
    xyz = unit_vectors(grid["lat"].to_numpy(dtype=float), grid["lon"].to_numpy(dtype=float))
    out = []
    for number, group in enumerate(g for g in groups if len(g)):
        core = np.sort(order[starts[group[0]]:ends[group[-1]]])
        out.append(Part(number=number, parents=tuple(format(int(k), "x") for k in keys[group]),
                        core=core, halo=_halo(xyz, core, halo_km)))
    return out


def _halo(xyz: np.ndarray, core: np.ndarray, km: float) -> np.ndarray:
    """Return the rows outside ``core`` whose centre is within ``km`` of a core centre."""
    others = np.setdiff1d(np.arange(len(xyz)), core, assume_unique=True)
    if not len(core) or not len(others):
        return np.empty(0, np.int64)
    chord, _ = cKDTree(xyz[core]).query(xyz[others], distance_upper_bound=km_to_chord(km))
    return others[np.isfinite(chord)]


@dataclass(frozen=True)
class _Inputs:
    """What every task needs besides its cells."""

    specs: tuple[LayerSpec, ...]
    data_dir: Path
    region: str
    units: gpd.GeoDataFrame
    urban_weight: float
    access_files: Mapping[str, str] | None
    extent: pd.DataFrame


def _part_task(cells: pd.DataFrame, core: np.ndarray, inputs: _Inputs
               ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compute the ``cell``, ``snap`` and ``units`` layers of one part; return its own rows."""
    own = cells[core].reset_index(drop=True)
    grids = {"cell": own, "snap": cells.reset_index(drop=True)}
    specs = [s for s in inputs.specs if layer_scope(s) != "global"]
    rows = None
    if any(layer_scope(s) == "units" for s in specs):
        grids["units"], rows = _units_context(own, specs, inputs)
    columns, report = _columns(specs, grids, core, inputs, context_rows=rows)
    grid_cols = [c for c in GRID_COLUMNS if c in own]
    frame = pd.concat([own[grid_cols], pd.DataFrame(columns, index=own.index)], axis=1)
    return frame, report


def _units_context(own: pd.DataFrame, specs: Sequence[LayerSpec], inputs: _Inputs
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the context grid of the units holding a part's cells, and the rows of those cells."""
    units = inputs.units
    codes = own["unit_code"].astype("string") if "unit_code" in own else pd.Series([], dtype="string")
    inside = units["unit_code"].astype("string").isin(codes.dropna()).to_numpy(dtype=bool)
    resolution = int(h3n.get_resolution(int(own["h3"].iloc[0]))) if len(own) else 0
    context = context_grid(units, inside, resolution=resolution, km=0.0,
                           levels=table_levels(specs), force=True,
                           centres=region_centres(inputs.data_dir, inputs.region))
    ids = context["h3"].to_numpy(dtype=np.uint64)
    at = np.searchsorted(ids, own["h3"].to_numpy(dtype=np.uint64))
    return coded_grid(context), at


def _global_task(grid: pd.DataFrame, specs: Sequence[LayerSpec], inputs: _Inputs
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compute ``global`` layers over the whole grid."""
    columns, report = _columns(specs, {"global": grid}, np.ones(len(grid), dtype=bool), inputs)
    return pd.DataFrame(columns, index=range(len(grid))), report


def _columns(specs: Sequence[LayerSpec], grids: Mapping[str, pd.DataFrame], core: np.ndarray,
             inputs: _Inputs, *, context_rows: np.ndarray | None = None,
             ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Compute each layer on the grid of its scope; keep the part's rows of halo and context grids.

    ``core`` marks the part's rows of the ``snap`` grid, ``context_rows`` are its rows in the
    ``units`` grid.
    """
    t0, cpu0 = time.perf_counter(), time.process_time()
    sources, context_sources = (  # allocations are kept per grid
        layer_sources(inputs.data_dir, inputs.region, inputs.units,
                      urban_weight=inputs.urban_weight, access_files=inputs.access_files)
        for _ in range(2))
    columns: dict[str, np.ndarray] = {}
    layers: dict[str, Any] = {}
    for spec in specs:
        t = time.perf_counter()
        scope = layer_scope(spec)
        grid = grids[scope]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GeoEngineWarning)
            if scope == "units":
                values = context_layer(spec, grid, context_sources, inputs.extent)[context_rows]
            else:
                values = np.asarray(compute_layer(spec, grid, sources, extent=inputs.extent),
                                    dtype=float)
        columns[spec.id] = values[core] if scope == "snap" else values
        layers[spec.id] = {"seconds": round(time.perf_counter() - t, 3), "scope": scope,
                           "warnings": [str(w.message) for w in caught
                                        if issubclass(w.category, GeoEngineWarning)]}
    from geo_engine.ingest.raster import clear_coverage_cache

    clear_coverage_cache()
    return columns, {"layers": layers, "seconds": round(time.perf_counter() - t0, 3),
                     "cpu_seconds": round(time.process_time() - cpu0, 3),
                     "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float | None:
    """Return the process's peak resident memory in MB (None where the OS does not say).

    Linux's ``VmHWM`` is the peak of this process image; ``getrusage``'s peak, the fallback, is
    carried over from the parent by a process started with ``exec`` (as Dask starts its workers).
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


@dataclass(frozen=True)
class Built:
    """A partitioned matrix on disk.

    Attributes
    ----------
    folder : pathlib.Path
        The dataset folder (:mod:`geo_engine.matrix.dataset`).
    cells, layers : int
        Rows and layer columns.
    hit : bool
        True when the dataset was there already.
    report : dict
        The build report: ``grid``, ``layers`` (seconds summed over the parts, scope, warnings),
        ``parts`` (parents, cells, halo cells, seconds, peak memory of each task), ``seconds``.
    """

    folder: Path
    cells: int
    layers: int
    hit: bool
    report: dict[str, Any]


def build_partitioned(
    *,
    region: str | None = None,
    resolution: int = 7,
    layers: str | Path | Sequence[LayerSpec] | None = None,
    units: gpd.GeoDataFrame | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    parts: int = 4,
    parent_resolution: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    rebuild: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    urban_centre_weight: float | None = None,
    access_files: Mapping[str, str] | None = None,
) -> Built:
    """Build a region's indicator matrix by parts and write it as a partitioned dataset.

    The dataset goes where :func:`~geo_engine.matrix.indicators.build_indicators` caches the
    matrix of the same inputs (``<name>.parts`` beside ``<name>.parquet``), so
    :func:`~geo_engine.matrix.indicators.build_indicators`, :func:`geo_engine.pipeline.run`, the
    CLI's ``score``, ``rank``… and the app read it instead of building the matrix again.

    Parameters
    ----------
    region, resolution, layers, units, data_dir, cache_dir, force, urban_centre_weight, access_files
        As in :func:`~geo_engine.matrix.indicators.build_indicators`.
    parts : int, default 4
        Number of parts (fewer when the grid has fewer parent cells).
    parent_resolution : int, optional
        Resolution of the parent cells parts are made of and the dataset is split by;
        :func:`default_parent_resolution` when omitted.
    workers : int, optional
        Processes of a local Dask cluster; 0 runs the parts one after another in this process
        (no Dask); the number of CPUs (at most ``parts`` + 2) when omitted. Ignored with
        ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``).
    rebuild : bool, default False
        Build even when the dataset is there.
    progress : callable, optional
        Called as ``progress(task, done, total)`` as tasks finish.

    Returns
    -------
    Built
        Where the dataset is and what it holds.

    Raises
    ------
    ImportError
        When Dask is asked for and ``distributed`` is not installed.
    """
    region, weight, data_dir, specs, units, path = matrix_inputs(
        region=region, resolution=resolution, layers=layers, units=units, data_dir=data_dir,
        cache_dir=cache_dir, urban_centre_weight=urban_centre_weight, access_files=access_files)
    folder = dataset_folder(path)
    parent_res = (default_parent_resolution(resolution) if parent_resolution is None
                  else parent_resolution)
    if not 0 <= parent_res < resolution:
        msg = (f"`parent_resolution` was {parent_res!r} but must be from 0 to {resolution - 1}, "
               f"coarser than the grid's resolution {resolution}")
        raise ValueError(msg)
    if not rebuild:
        found = read_dataset(folder, columns=["h3"])
        if found is not None:
            kept = found.attrs["report"]
            return Built(folder, len(found), len(kept["layers"]), hit=True, report=kept)
    t0 = time.perf_counter()
    grid = build_grid(units, resolution=resolution, force=force, repair=True)
    grid_report = {**grid.attrs["report"], "seconds": round(time.perf_counter() - t0, 3)}
    grid.attrs = {}
    plan = plan_parts(grid, parts=parts, parent_resolution=parent_res,
                      halo_km=snap_halo_km(resolution))
    extent = _extent(grid)
    inputs = _Inputs(tuple(specs), data_dir, region, units, weight, access_files, extent)
    report: dict[str, Any] = {"grid": grid_report, "layers": {}, "parts": []}
    with DatasetWriter(folder, parent_resolution=parent_res) as writer:
        _run(grid, plan, inputs, writer, report, workers=workers, scheduler=scheduler,
             progress=progress)
        report["seconds"] = round(time.perf_counter() - t0, 3)
        writer.finish(report)
    return Built(folder, len(grid), len(specs), hit=False, report=report)


def _extent(grid: pd.DataFrame) -> pd.DataFrame:
    """Return two cells standing for the grid's extent (its south-west and north-east corners)."""
    if not len(grid):
        return grid[["h3", "lat", "lon"]]
    ids = grid["h3"].to_numpy()
    return pd.DataFrame({"h3": [ids[0], ids[-1]],
                         "lat": [grid["lat"].min(), grid["lat"].max()],
                         "lon": [grid["lon"].min(), grid["lon"].max()]})


def _global_groups(specs: Sequence[LayerSpec]) -> list[list[LayerSpec]]:
    """Return the global layers as tasks: the travel times in one (they share a friction surface)."""
    travel = [s for s in specs if layer_scope(s) == "global"]
    return [travel] if travel else []


def _run(grid: pd.DataFrame, plan: Sequence[Part], inputs: _Inputs, writer: DatasetWriter,
         report: dict[str, Any], *, workers: int | None, scheduler: str | None,
         progress: Progress | None) -> None:
    """Run the global tasks and the parts, and write each part once the global layers are in."""
    groups = _global_groups(inputs.specs)
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (_global_task, (grid, group, inputs)) for group in groups]
    rows = [part.rows() for part in plan]
    calls += [(_part_task, (grid.iloc[r].reset_index(drop=True), core, inputs))
              for r, core in rows]
    order = [s.id for s in inputs.specs]
    grid_cols = [c for c in GRID_COLUMNS if c in grid]
    global_frame = pd.DataFrame(index=range(len(grid)))
    waiting: dict[int, pd.DataFrame] = {}
    done_groups = 0
    task_reports: list[tuple[int, dict[str, Any]]] = []
    for done, (i, (frame, task_report)) in enumerate(
            _execute(calls, workers=workers, scheduler=scheduler), start=1):
        task_reports.append((i, task_report))
        if i < len(groups):
            global_frame = pd.concat([global_frame, frame], axis=1)
            done_groups += 1
        else:
            waiting[i - len(groups)] = frame
        if done_groups == len(groups):
            for n in sorted(waiting):
                part = waiting.pop(n)
                glob = global_frame.iloc[plan[n].core].reset_index(drop=True)
                writer.add(pd.concat([part, glob], axis=1)[grid_cols + order])
        if progress:
            progress(f"task {done} of {len(calls)}", done, len(calls))
    _merge_reports(report, task_reports, plan, rows, n_global=len(groups))


def _merge_reports(report: dict[str, Any], tasks: Sequence[tuple[int, dict[str, Any]]],
                   plan: Sequence[Part], rows: Sequence[tuple[np.ndarray, np.ndarray]], *,
                   n_global: int) -> None:
    """Sum the tasks' per-layer seconds, list each part, and keep the warnings of the source.

    A warning raised by a global task, or raised identically by every part, is about the source
    and is emitted again; other part warnings (counts of points outside a part…) describe a part,
    not the region, and stay in the report only.
    """
    seen: Counter[tuple[str, str]] = Counter()
    for i, task in sorted(tasks, key=lambda t: t[0]):
        for layer_id, entry in task["layers"].items():
            merged = report["layers"].setdefault(
                layer_id, {"seconds": 0.0, "scope": entry["scope"], "warnings": []})
            merged["seconds"] = round(merged["seconds"] + entry["seconds"], 3)
            for message in dict.fromkeys(entry["warnings"]):
                seen[layer_id, message] += 1
                if i < n_global and message not in merged["warnings"]:
                    merged["warnings"].append(message)
        if i >= n_global:
            part = plan[i - n_global]
            report["parts"].append({"parents": list(part.parents), "cells": len(part.core),
                                    "halo": len(rows[i - n_global][0]) - len(part.core),
                                    "seconds": task["seconds"],
                                    "cpu_seconds": task["cpu_seconds"],
                                    "peak_rss_mb": task["peak_rss_mb"]})
        else:
            report.setdefault("global", []).append({"layers": list(task["layers"]),
                                                    "seconds": task["seconds"],
                                                    "cpu_seconds": task["cpu_seconds"],
                                                    "peak_rss_mb": task["peak_rss_mb"]})
    for (layer_id, message), count in seen.items():
        entry = report["layers"][layer_id]
        if entry["scope"] != "global" and count == len(plan):
            entry["warnings"].append(message)
    for layer_id, entry in report["layers"].items():
        for message in entry["warnings"]:
            warnings.warn(f"layer {layer_id!r}: {message}", GeoEngineWarning, stacklevel=3)


def _execute(calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]], *, workers: int | None,
             scheduler: str | None) -> Iterator[tuple[int, Any]]:
    """Yield ``(position, result)`` of each call as it finishes: in process or on Dask."""
    if scheduler is None and workers == 0:
        for i, (fn, args) in enumerate(calls):
            yield i, fn(*args)
        return
    client, cluster = _client(workers=workers, scheduler=scheduler, tasks=len(calls))
    try:
        from distributed import as_completed

        shared: dict[int, Any] = {}

        def scattered(arg: Any) -> Any:
            if isinstance(arg, pd.DataFrame | _Inputs):
                if id(arg) not in shared:
                    shared[id(arg)] = client.scatter(arg)
                return shared[id(arg)]
            return arg

        futures = {client.submit(fn, *map(scattered, args), pure=False): i
                   for i, (fn, args) in enumerate(calls)}
        shared.clear()
        for future in as_completed(futures):
            yield futures[future], future.result()
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _client(*, workers: int | None, scheduler: str | None, tasks: int) -> tuple[Any, Any]:
    """Return a Dask client (and the local cluster it started, or None for a given scheduler)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        msg = ("running parts on Dask needs `distributed`: pip install 'geo-engine[dask]' (or "
               "`--workers 0` to run them in this process)")
        raise ImportError(msg) from exc
    if scheduler is not None:
        try:
            return Client(scheduler, timeout=_CONNECT_SECONDS), None
        except OSError as exc:
            msg = (f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one with "
                   "`dask scheduler` and workers with `dask worker <address>`, or check --scheduler")
            raise OSError(msg) from exc
    n = workers if workers is not None else min(os.cpu_count() or 1, tasks)
    # silence_logs: a worker slow to stop on a loaded machine is killed with a log warning
    cluster = LocalCluster(n_workers=max(1, n), threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster
