"""Vector ingest benchmark: ours against tobler and a geopandas spatial join on the same Peru data.

Run from the project root::

    python benchmarks/bench_ingest_vector.py [--resolution 7] [--repeat 2]

1. District polygons to cells: ``build_grid`` + ``polygons_to_cells`` (intensive poverty rate)
   against tobler ``h3fy`` + ``area_interpolate`` (the same rate as intensive and the 2020
   population as extensive variable, ``allocate_total=False``). Both measure areas in the same
   equal-area CRS (:func:`geo_engine.spatial.crs.equal_area_crs`). Prints both times, the ratio
   (target ≥ 5×) and the largest differences on the cells both grids have (target ≤ 1e-6), against
   tobler as it is (it keeps its area table in float32) and against tobler's formulas applied to
   the same area table kept in float64.
2. Populated centres counted per cell: ``points_to_cells`` against ``geopandas.sjoin`` of the
   points with the cell hexagons (building the hexagons timed apart). Prints times, ratio and the
   cells whose counts differ.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix

from geo_engine.ingest.vector import (
    SNAP_KM,
    point_positions,
    points_to_cells,
    polygons_to_cells,
)
from geo_engine.spatial.crs import SOUTH_AMERICA_ALBERS, equal_area_crs
from geo_engine.spatial.grid import build_grid, cell_polygons

DATA = Path(__file__).resolve().parents[1] / "data" / "peru"
INTENSIVE = "poverty_2018_pct"
EXTENSIVE = "population_2020"


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Any, float, list[str]]:
    """Run ``fn`` ``repeat`` times; return its last result, the best wall time and its warnings."""
    best = np.inf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(repeat):
            start = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - start)
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return out, best, notes


def districts() -> gpd.GeoDataFrame:
    units = gpd.read_parquet(DATA / "districts.parquet")
    units = units[units.geometry.notna()]
    table = pd.read_parquet(DATA / "district_indicators.parquet", columns=["district_code", INTENSIVE,
                                                                          EXTENSIVE])
    return units.merge(table, on="district_code", how="left")


def float64_table(source: gpd.GeoDataFrame, targets: gpd.GeoDataFrame) -> csr_matrix:
    """tobler's area table (same pairs, same GEOS intersections) kept in float64."""
    ids_src, ids_tgt = targets.sindex.query(source.geometry, predicate="intersects")
    areas = source.geometry.values[ids_src].intersection(targets.geometry.values[ids_tgt]).area
    return coo_matrix((areas, (ids_src, ids_tgt)), shape=(len(source), len(targets))).tocsr()


def bench_polygons(resolution: int, repeat: int) -> None:
    from tobler.area_weighted import area_interpolate
    from tobler.util import h3fy

    units = districts()
    print(f"== districts to cells at resolution {resolution}: {len(units):,} polygons "
          f"({INTENSIVE} intensive, {EXTENSIVE} extensive), best of {repeat}")

    def ours(units: gpd.GeoDataFrame) -> tuple[pd.DataFrame, np.ndarray, float]:
        start = time.perf_counter()
        grid = build_grid(units, resolution=resolution)
        seconds = time.perf_counter() - start
        return grid, polygons_to_cells(grid, units, method="intensive", column=INTENSIVE), seconds

    def peer(units: gpd.GeoDataFrame, crs: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, float]:
        source = units.to_crs(crs)
        start = time.perf_counter()
        hexes = h3fy(source, resolution=resolution)
        seconds = time.perf_counter() - start
        est = area_interpolate(source, hexes, intensive_variables=[INTENSIVE],
                               extensive_variables=[EXTENSIVE], allocate_total=False)
        return hexes, est, seconds

    small = units.iloc[:20]
    timed(lambda: ours(small))  # warm-up runs (imports, PROJ database) are not timed
    (grid, rate, t_grid), t_ours, notes = timed(lambda: ours(units), repeat)
    people, t_ext, _ = timed(lambda: polygons_to_cells(grid, units, method="extensive", column=EXTENSIVE))
    crs = equal_area_crs(grid)  # tobler measures its areas in the same CRS as ours
    timed(lambda: peer(small, crs))
    (hexes, est, t_h3fy), t_tobler, _ = timed(lambda: peer(units, crs), repeat)

    tobler_cells = np.array([h3.str_to_int(c) for c in hexes.index], dtype=np.uint64)
    ours_cells = grid["h3"].to_numpy()
    common, i_ours, i_tob = np.intersect1d(ours_cells, tobler_cells, return_indices=True)
    d_int = np.abs(rate[i_ours] - est[INTENSIVE].to_numpy()[i_tob])
    tob_people = est[EXTENSIVE].to_numpy()[i_tob]
    d_ext = np.abs(people[i_ours] - tob_people)
    exact = area_interpolate(units.to_crs(crs), hexes, table=float64_table(units.to_crs(crs), hexes),
                             intensive_variables=[INTENSIVE], extensive_variables=[EXTENSIVE],
                             allocate_total=False)
    e_int = np.abs(rate[i_ours] - exact[INTENSIVE].to_numpy()[i_tob])
    e_ext = np.abs(people[i_ours] - exact[EXTENSIVE].to_numpy()[i_tob])

    print(f"   ours   grid {t_grid:6.2f} s + intensive {t_ours - t_grid:5.2f} s = {t_ours:6.2f} s "
          f"({len(grid):,} cells; extensive {t_ext:.2f} s more)")
    print(f"   tobler h3fy {t_h3fy:6.2f} s + area_interpolate {t_tobler - t_h3fy:5.2f} s = "
          f"{t_tobler:6.2f} s ({len(hexes):,} cells)")
    print(f"   ratio  {t_tobler / t_ours:.1f}× faster (target ≥ 5×)")
    print(f"   cells  {len(common):,} in both; {len(ours_cells) - len(common)} only ours (given to "
          f"districts too small to hold a cell centre); {len(tobler_cells) - len(common)} only tobler's")
    print(f"   max |Δ| on common cells, against tobler as it is (float32 area table): {INTENSIVE} "
          f"{d_int.max():.1e}, {EXTENSIVE} {d_ext.max():.1e} (relative "
          f"{np.max(d_ext / np.maximum(tob_people, 1e-9)):.0e})")
    print(f"   max |Δ| on common cells, against tobler's formulas on a float64 area table: {INTENSIVE} "
          f"{e_int.max():.1e} (target ≤ 1e-6), {EXTENSIVE} {e_ext.max():.1e}")
    print(f"   total {EXTENSIVE}: ours {people.sum():,.0f} ({people[i_ours].sum():,.0f} on common "
          f"cells), tobler {est[EXTENSIVE].sum():,.0f}, districts {units[EXTENSIVE].sum():,.0f} (the "
          "rest lies outside every cell, along the coast and the borders)")
    name = ("ESRI:102033's projection on the WGS 84 datum (see equal_area_crs)"
            if crs == SOUTH_AMERICA_ALBERS else crs)
    print(f"   areas in {name}, for both")
    for note in notes:
        print(f"   note: {note}")


def bench_points(resolution: int, repeat: int) -> None:
    units = districts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = build_grid(units, resolution=resolution)
    centres = gpd.read_parquet(DATA / "populated_centres.parquet")
    print(f"== populated centres counted per cell: {len(centres):,} points, {len(grid):,} cells, "
          f"best of {repeat}")
    counts, t_ours, notes = timed(lambda: points_to_cells(grid, centres), repeat)

    cells, t_polys, _ = timed(lambda: gpd.GeoDataFrame({"row": np.arange(len(grid))},
                                                       geometry=cell_polygons(grid["h3"]).values,
                                                       crs="EPSG:4326"))

    def peer() -> np.ndarray:
        joined = gpd.sjoin(centres, cells, predicate="within")
        return np.bincount(joined["row"].to_numpy(), minlength=len(grid)).astype(float)

    expected, t_join, _ = timed(peer, repeat)
    held = point_positions(grid, centres.geometry.y.to_numpy(), centres.geometry.x.to_numpy()) >= 0
    snapped = int(counts.sum() - held.sum())  # just outside every cell, given to the nearest one
    differ = np.flatnonzero(counts != expected)
    print(f"   ours   points_to_cells {t_ours:6.3f} s")
    print(f"   sjoin  {t_join:6.3f} s (+ {t_polys:.2f} s to build the hexagons)")
    print(f"   ratio  {t_join / t_ours:.1f}× faster than the join alone, "
          f"{(t_join + t_polys) / t_ours:.0f}× with the hexagons")
    print(f"   counts equal in {len(grid) - len(differ):,} of {len(grid):,} cells; total ours "
          f"{counts.sum():,.0f}, sjoin {expected.sum():,.0f}"
          + (f" (differences in {len(differ)} cells: {snapped} points up to {SNAP_KM:g} km "
             "outside every cell, which ours gives to the nearest cell and the join drops, and "
             "points within centimetres of a cell edge, which H3 draws as great-circle arcs and "
             "the hexagon polygons as straight lon/lat lines)" if len(differ) else ""))
    for note in notes:
        print(f"   note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each side (best kept)")
    args = parser.parse_args()
    bench_polygons(args.resolution, args.repeat)
    bench_points(args.resolution, args.repeat)


if __name__ == "__main__":
    main()
