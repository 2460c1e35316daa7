"""Raster to H3 cells: ``raster_to_cells`` fast and exact modes against exactextract, Peru grid.

Run from the project root::

    python benchmarks/bench_ingest_raster.py [--raster PATH] [--resolutions 6 7] [--repeat 3]

The default raster is the 30″ (≈ 925 m) elevation of Peru from the raw sources
(``$GEO_ENGINE_RAW/peru/elevation_30s.tif`` or ``../shared/data/peru/elevation_30s.tif``), else the
curated ``data/peru/elevation.tif``. For each resolution, on the cells of the Peru grid, it times

* building the cell polygons with :func:`geo_engine.spatial.grid.cell_polygons` (exactextract needs them);
* exactextract ``mean`` over those polygons, with its default strategy (feature-sequential) and with
  ``strategy="raster-sequential"`` (its faster one here);
* ``raster_to_cells(mode="fast")``, cold (hexagon vertices computed) and warm (vertices cached, as
  for the second layer on the same grid);
* ``raster_to_cells(mode="exact")``;

and prints the speed-ups of fast (cold) over exactextract, the mean absolute difference of fast
against exactextract as a percentage of the range of exactextract's cell means, and the largest
absolute difference of exact against exactextract. Targets: fast at least 10 times faster than
exactextract with a mean difference of at most 1 % of the range; exact within 1e-6.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from exactextract import exact_extract

from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest import raster as raster_mod
from geo_engine.ingest.raster import raster_to_cells
from geo_engine.spatial.grid import build_grid, cell_polygons

ROOT = Path(__file__).resolve().parents[1]
DISTRICTS = ROOT / "data" / "peru" / "districts.parquet"


def default_raster() -> Path:
    """The raw 30″ elevation when the raw sources are here, else the curated elevation."""
    raw = Path(os.environ.get("GEO_ENGINE_RAW", ROOT.parent / "shared" / "data"))
    candidate = raw / "peru" / "elevation_30s.tif"
    return candidate if candidate.is_file() else ROOT / "data" / "peru" / "elevation.tif"


def timed(fn: Callable[[], Any], repeat: int = 1, setup: Callable[[], None] | None = None
          ) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (``setup`` untimed before each) and the last result."""
    best, result = np.inf, None
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def clear_vertex_cache() -> None:
    raster_mod._vertex_cache.clear()


def bench(resolution: int, raster: Path, repeat: int) -> dict[str, float]:
    """Time every contender at one resolution and print the figures."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # small districts without a cell
        grid = build_grid(gpd.read_parquet(DISTRICTS), resolution=resolution)
    ids = grid["h3"].to_numpy()
    t_poly, polys = timed(lambda: gpd.GeoDataFrame(geometry=cell_polygons(ids), crs=4326))

    def ee(strategy: str) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # CRS written differently, same CRS
            out = exact_extract(str(raster), polys, ["mean"], output="pandas", strategy=strategy)
        return out["mean"].to_numpy(dtype=float)

    t_ee, ref = timed(lambda: ee("feature-sequential"))
    t_ee_rs, ref_rs = timed(lambda: ee("raster-sequential"))
    t_fast, fast = timed(lambda: raster_to_cells(grid, raster, mode="fast"), repeat,
                         setup=clear_vertex_cache)
    t_warm, _ = timed(lambda: raster_to_cells(grid, raster, mode="fast"), repeat)
    t_exact, exact = timed(lambda: raster_to_cells(grid, raster, mode="exact"),
                           setup=clear_vertex_cache)

    both = ~np.isnan(ref) & ~np.isnan(fast)
    value_range = float(np.nanmax(ref) - np.nanmin(ref))
    mae_pct = float(np.mean(np.abs(fast[both] - ref[both]))) / value_range * 100
    exact_diff = float(np.nanmax(np.abs(exact - ref)))
    nan_mismatch = int(np.sum(np.isnan(exact) != np.isnan(ref)))
    fig = {"cells": len(grid), "polygons_s": t_poly, "exactextract_s": t_ee,
           "exactextract_rs_s": t_ee_rs, "fast_s": t_fast, "fast_warm_s": t_warm,
           "exact_s": t_exact, "speedup": t_ee / t_fast, "speedup_rs": t_ee_rs / t_fast,
           "mae_pct": mae_pct, "exact_max_diff": exact_diff}

    print(f"== Peru res {resolution}: {len(grid):,} cells, raster {raster.name}")
    print(f"   cell polygons (cell_polygons)          {t_poly:8.3f} s")
    print(f"   exactextract mean (default strategy)   {t_ee:8.3f} s")
    print(f"   exactextract mean (raster-sequential)  {t_ee_rs:8.3f} s"
          f"   (max |diff| to default {np.nanmax(np.abs(ref_rs - ref)):.1e})")
    print(f"   ours fast, cold                        {t_fast:8.3f} s   (best of {repeat})")
    print(f"   ours fast, warm (vertices cached)      {t_warm:8.3f} s")
    print(f"   ours exact                             {t_exact:8.3f} s")
    print(f"   speed-up fast vs exactextract: {t_ee / t_fast:5.1f}x (default), "
          f"{t_ee_rs / t_fast:5.1f}x (raster-sequential), "
          f"{(t_ee + t_poly) / t_fast:5.1f}x (default + polygons)   target >= 10x")
    print(f"   fast vs exactextract: mean |diff| {mae_pct:.3f} % of the range "
          f"({value_range:.0f}); cells NaN in fast only: "
          f"{int(np.sum(np.isnan(fast) & ~np.isnan(ref)))}, in exactextract only: "
          f"{int(np.sum(~np.isnan(fast) & np.isnan(ref)))}   target <= 1 %")
    print(f"   exact vs exactextract: max |diff| {exact_diff:.2e}, NaN mismatches {nan_mismatch}"
          "   target <= 1e-6", flush=True)
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raster", type=Path, default=None, help="raster to aggregate")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[6, 7])
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast mode (best kept)")
    args = parser.parse_args()
    raster = args.raster or default_raster()
    if not raster.is_file():
        parser.error(f"raster {raster} not found; pass --raster PATH")
    figures = [bench(res, raster, args.repeat) for res in args.resolutions]
    ok = all(f["speedup"] >= 10 and f["mae_pct"] <= 1 and f["exact_max_diff"] <= 1e-6
             for f in figures)
    print(f"== targets {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
