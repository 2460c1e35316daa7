"""Scale benchmark: the full Peru build at resolutions 6, 7 and 8 side by side, and how it grows.

Run from the project root::

    python benchmarks/bench_scale.py [--skip-8] [--resolutions 6 7 8] [--top 8] [--json out.json]
                                     [--out-dir DIR] [--within department=Cusco [--within-resolution 9]]

Each resolution is built in a fresh interpreter with a fresh cache folder (nothing is reused
between them, and each peak memory is that build's own). For each it prints the cells, the wall
and CPU seconds of the build, the peak resident memory, and the layers that cost most (seconds
and peak memory after them, from the build report). Then the log–log slope of build time against
cells: between the smallest and the largest resolution, and the least-squares fit over all of them
(1.0 means time grows like the cells; the target is ≤ 1.1 between resolution 6 and 8).

Resolution 8 (1.5 M cells) takes minutes and gigabytes: ``--skip-8`` leaves it out. Run it
with ``nice`` on a shared machine, one at a time. ``--out-dir`` also writes each matrix there
(``peru-r{res}.parquet``, after the timing) to compare builds of two versions.

``--within department=Cusco`` adds one row: the build of that unit alone (``geo-engine build
--within``) at ``--within-resolution`` (default 9), also in a fresh cache, so its time includes the
whole grid's travel times at resolution 7 that start the unit's. It is left out by default (minutes).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_SLOPE = 1.1
"""Largest acceptable log–log slope of build time against cells."""

BUILD = """
import json, resource, sys, time, warnings
from geo_engine.matrix.indicators import build_indicators
from geo_engine.regions.region import load_region
warnings.simplefilter("ignore")
weight = load_region().urban_centre_weight
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage.ru_utime + usage.ru_stime
t = time.perf_counter()
if {within!r}:
    from geo_engine.matrix.within import build_within
    from geo_engine.regions.focus import parse_focus
    reg = load_region()
    units = reg.units()
    m = build_within(within=parse_focus({within!r}, reg, units).within, resolution={res},
                     units=units, use_cache=False, cache_dir={cache!r}, force=True,
                     urban_centre_weight=weight)
else:
    m = build_indicators(resolution={res}, use_cache=False, cache_dir={cache!r}, force=True,
                         urban_centre_weight=weight)
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
report = m.attrs["report"]
if {out!r}:
    m.attrs = {{}}
    m.to_parquet({out!r}, index=False)
print(json.dumps({{"resolution": {res}, "within": {within!r}, "cells": len(m),
                  "layers": len(report["layers"]),
                  "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime - cpu0,
                  "peak_rss_gb": usage.ru_maxrss / 1024 / 1024,
                  "matrix_gb": float(m.memory_usage(deep=True).sum()) / 1024**3,
                  "grid_s": report["grid"]["seconds"], "per_layer": report["layers"]}}))
"""


def build(resolution: int, out_dir: Path | None = None, within: str = "") -> dict:
    """Build Peru (or one unit of it) at ``resolution`` in a fresh interpreter and cache folder."""
    name = f"peru-{within.replace('=', '-').lower()}" if within else "peru"
    matrix = str(out_dir / f"{name}-r{resolution}.parquet") if out_dir else ""
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-r{resolution}-") as cache:
        code = BUILD.format(res=resolution, cache=cache, out=matrix, within=within)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=False)
    if out.returncode != 0:
        sys.exit(f"resolution {resolution}: the build failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(seconds) against log(cells)."""
    xs = [math.log(c) for c, _ in points]
    ys = [math.log(s) for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else math.nan


def report(figures: list[dict], top: int) -> None:
    """Print the side-by-side table, the top layers of each build and the slopes."""
    print(f"{'res':>3} {'cells':>11} {'layers':>6} {'wall s':>8} {'CPU s':>8} {'peak GB':>8} "
          f"{'matrix GB':>9} {'grid s':>7}")
    for f in figures:
        print(f"{f['resolution']:>3} {f['cells']:>11,} {f['layers']:>6} {f['wall_s']:>8.1f} "
              f"{f['cpu_s']:>8.1f} {f['peak_rss_gb']:>8.2f} {f['matrix_gb']:>9.2f} "
              f"{f['grid_s']:>7.1f}  {f.get('within') or ''}")
    for f in figures:
        print(f"\nresolution {f['resolution']} {f.get('within') or ''}: the {top} costliest layers "
              "(seconds, peak MB after)")
        slowest = sorted(f["per_layer"].items(), key=lambda kv: -kv[1]["seconds"])[:top]
        for layer_id, info in slowest:
            print(f"   {layer_id:<32} {info['seconds']:8.2f} s {info.get('peak_rss_mb') or 0:>9,.0f}")
    figures = [f for f in figures if not f.get("within")]  # the slope is the whole region's
    if len(figures) < 2:
        return
    first, last = figures[0], figures[-1]
    for what in ("wall_s", "cpu_s"):
        ends = math.log(last[what] / first[what]) / math.log(last["cells"] / first["cells"])
        fit = slope([(f["cells"], f[what]) for f in figures])
        print(f"\nlog-log slope of {what.split('_')[0]} time vs cells, res {first['resolution']}"
              f"->{last['resolution']}: {ends:.2f} (fit over all: {fit:.2f}; target <= "
              f"{TARGET_SLOPE})", end="")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[6, 7, 8])
    parser.add_argument("--skip-8", action="store_true", help="leave resolution 8 out")
    parser.add_argument("--top", type=int, default=8, help="costliest layers shown per build")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--out-dir", type=Path, help="also write each matrix to this folder")
    parser.add_argument("--within", default="", help="also build this unit alone (LEVEL=VALUE, "
                        "e.g. department=Cusco); left out by default")
    parser.add_argument("--within-resolution", type=int, default=9,
                        help="resolution of the --within build")
    args = parser.parse_args()
    resolutions = sorted({r for r in args.resolutions if not (args.skip_8 and r == 8)})
    figures = []
    for res in resolutions:
        print(f"building resolution {res}…", file=sys.stderr, flush=True)
        figures.append(build(res, args.out_dir))
    if args.within:
        print(f"building {args.within} at resolution {args.within_resolution}…", file=sys.stderr,
              flush=True)
        figures.append(build(args.within_resolution, args.out_dir, within=args.within))
    report(figures, args.top)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
