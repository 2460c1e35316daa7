"""Partitioned build on Dask against the in-process build: wall time, memory and equality.

Run from the project root::

    python benchmarks/bench_partition.py [--resolution 7] [--parts 4] [--workers 2]

Builds the default region's matrix twice without a cache: in one piece in this process
(:func:`geo_engine.matrix.indicators.build_indicators`) and by parts on a local Dask cluster
(:func:`geo_engine.matrix.partition.build_partitioned`), then reads the partitioned dataset back and
prints the wall time of each, the peak memory of each Dask task, the largest absolute difference
over every cell and layer, and the largest difference of every profile's score and of the dual
model's engine and inclusion scores computed from each matrix.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference; inf when NaN cells differ."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if (np.isnan(a) != np.isnan(b)).any():
        return float("inf")
    return float(np.nanmax(np.abs(a - b))) if np.isfinite(a).any() else 0.0


def main() -> None:
    """Run both builds and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=7)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from geo_engine._errors import GeoEngineWarning
    from geo_engine.ingest.specs import load_layers
    from geo_engine.matrix.dataset import read_dataset
    from geo_engine.matrix.derived import with_derived
    from geo_engine.matrix.indicators import build_indicators
    from geo_engine.matrix.partition import build_partitioned
    from geo_engine.regions.region import load_region
    from geo_engine.scoring.dual import dual_model
    from geo_engine.scoring.profiles import load_profiles

    warnings.simplefilter("ignore", GeoEngineWarning)
    reg = load_region()
    specs = load_layers(reg.layers)
    common = {"region": reg.id, "resolution": args.resolution, "layers": specs,
              "units": reg.units(), "data_dir": reg.data_dir,
              "urban_centre_weight": reg.urban_centre_weight,
              "access_files": dict(reg.access_files) if reg.access_files else None}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    t, cpu = time.perf_counter(), time.process_time()
    whole = build_indicators(**common, use_cache=False)
    t_whole, cpu_whole = time.perf_counter() - t, time.process_time() - cpu
    peak = whole.attrs["report"]["layers"][specs[-1].id].get("peak_rss_mb")
    print(f"in process: {len(whole):,} cells x {len(specs)} layers in {t_whole:.1f} s wall, "
          f"{cpu_whole:.1f} s CPU, peak {peak} MB")

    t = time.perf_counter()
    built = build_partitioned(**common, cache_dir=Path(tempfile.mkdtemp()), parts=args.parts,
                              workers=args.workers)
    t_parts = time.perf_counter() - t
    parts = read_dataset(built.folder)
    assert parts is not None
    print(f"partitioned: {args.parts} parts on {args.workers} Dask workers in {t_parts:.1f} s "
          f"(grid {built.report['grid']['seconds']:.1f} s, dataset {built.folder})")
    for task in [*built.report.get("global", []), *built.report["parts"]]:
        what = (f"part of {task['cells']:,} cells + {task['halo']:,} halo" if "cells" in task
                else f"global task of {len(task['layers'])} layers")
        print(f"  {what:<40} {task['seconds']:7.1f} s wall, {task['cpu_seconds']:7.1f} s CPU, "
              f"peak {task['peak_rss_mb']:,.0f} MB")
    print(f"load average after: {os.getloadavg()[0]:.1f}")

    assert list(whole.columns) == list(parts.columns)
    assert (whole["h3"].to_numpy() == parts["h3"].to_numpy()).all()
    floats = [c for c in whole.columns if whole[c].dtype.kind == "f"]
    diffs = pd.Series({c: _max_diff(whole[c], parts[c]) for c in floats})
    print(f"matrix: max abs diff {diffs.max():.3g} over {len(floats)} columns "
          f"(largest in {diffs.idxmax()})")

    profiles = load_profiles(reg.profiles)
    duals = [dual_model(with_derived(m), profiles, specs={s.id: s for s in specs},
                        hub_minutes=None, partial=True) for m in (whole, parts)]
    scores = {p: _max_diff(duals[0].results[p].score, duals[1].results[p].score)
              for p in duals[0].results}
    scores |= {"(engine)": _max_diff(duals[0].engine, duals[1].engine),
               "(inclusion)": _max_diff(duals[0].inclusion, duals[1].inclusion)}
    worst = max(scores, key=lambda k: scores[k])
    print(f"scores: max abs diff {scores[worst]:.3g} over {len(scores)} scores (largest in {worst})")


if __name__ == "__main__":
    main()
