"""Ingest benchmarks: the full default build, then ours against the peers on the same work.

Run from the project root::

    python benchmarks/bench_ingest.py [--resolution 7] [--skip-peers]

1. The full default Peru build (grid + every shipped layer, no cache) at the given resolution, in a
   fresh process so that its peak memory (max RSS) is its own; prints seconds per layer kind.
2. ``bench_ingest_vector.py``: district polygons to cells against tobler ``h3fy`` +
   ``area_interpolate``, and point counts against a geopandas ``sjoin``.
3. ``bench_ingest_raster.py``: a 30″ raster to cells against exactextract, fast and exact modes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL_BUILD = """
import json, resource, sys, tempfile, time
from geo_engine.matrix.indicators import build_indicators
from geo_engine.regions.region import load_region
weight = load_region().urban_centre_weight
t = time.perf_counter()
m = build_indicators(resolution={res}, use_cache=False, cache_dir=tempfile.mkdtemp(),
                     urban_centre_weight=weight)
seconds = time.perf_counter() - t
rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps({{"cells": len(m), "layers": len(m.attrs["report"]["layers"]),
                  "seconds": seconds, "grid_seconds": m.attrs["report"]["grid"]["seconds"],
                  "peak_rss_gb": rss_gb, "per_layer": m.attrs["report"]["layers"]}}))
"""


def full_build(resolution: int) -> dict:
    """Run the full default build in a fresh interpreter and return its figures."""
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", FULL_BUILD.format(res=resolution)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=7)
    parser.add_argument("--skip-peers", action="store_true", help="only the full build")
    args = parser.parse_args()

    fig = full_build(args.resolution)
    print(f"== full default build, Peru res {args.resolution}")
    print(f"   {fig['cells']:,} cells x {fig['layers']} layers in {fig['seconds']:.1f} s "
          f"(grid {fig['grid_seconds']:.1f} s); peak memory {fig['peak_rss_gb']:.2f} GB "
          "(targets: < 30 s, < 2 GB)")
    slowest = sorted(fig["per_layer"].items(), key=lambda kv: -kv[1]["seconds"])[:8]
    for layer_id, info in slowest:
        print(f"   {layer_id:<28} {info['seconds']:6.2f} s")
    if args.skip_peers:
        return
    for script in ("bench_ingest_vector.py", "bench_ingest_raster.py"):
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)


if __name__ == "__main__":
    main()
