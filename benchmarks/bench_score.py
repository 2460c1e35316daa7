"""Scoring benchmarks on the Peru indicator matrix: re-score, dual model, sensitivity, memory.

Run from the project root::

    python benchmarks/bench_score.py [--resolution 7] [--draws 1000] [--profile]

Figures to reach at resolution 7 (~218,000 cells, all default layers): re-score one profile after
the matrix is loaded < 50 ms; all families + dual model + typology < 0.5 s; 1,000-draw
sensitivity < 10 s; memory < 2 GB. Each figure is the best of a few runs. ``--profile`` also
prints where one dual-model run spends its time (cProfile, the costliest functions).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import warnings

import numpy as np
from _timing import best_of, peak_rss_gb

from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.specs import load_layers
from geo_engine.matrix.indicators import build_indicators
from geo_engine.regions.region import load_region
from geo_engine.scoring.dual import dual_model
from geo_engine.scoring.profiles import load_profiles
from geo_engine.scoring.score import prepare, score_profile
from geo_engine.scoring.sensitivity import sensitivity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=7)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--profile", action="store_true",
                        help="print where one dual-model run spends its time")
    args = parser.parse_args()
    warnings.simplefilter("ignore", GeoEngineWarning)

    specs = {s.id: s for s in load_layers()}
    matrix = build_indicators(resolution=args.resolution, layers=list(specs.values()),
                              urban_centre_weight=load_region().urban_centre_weight)
    profiles = load_profiles()
    print(f"== Peru res {args.resolution}: {len(matrix):,} cells x {len(specs)} layers "
          f"(matrix {'from cache' if matrix.attrs['cache_hit'] else 'built'})")

    engine = profiles["engine"]
    t_prep, prep = best_of(lambda: prepare(matrix, engine, specs=specs), 5)
    weights = {layer.id: float(i + 1) for i, layer in enumerate(engine.layers)}
    t_rescore, _ = best_of(lambda: score_profile(matrix, engine, weights=weights, prepared=prep), 20)
    print(f"   engine ({len(engine.layers)} layers): prepare {t_prep * 1e3:7.1f} ms, "
          f"re-score with new weights {t_rescore * 1e3:6.1f} ms   (target < 50 ms)")

    t_dual, dual = best_of(lambda: dual_model(matrix, profiles, specs=specs), 3)
    print(f"   all {len(profiles)} profiles (8 families) + dual model + typology + linkage, "
          f"from raw values: {t_dual:.3f} s   (target < 0.5 s)")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(dual_model, matrix, profiles, specs=specs)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"geo_engine", 20)
    types, counts = np.unique(dual.typology.astype(str), return_counts=True)
    print("   typology: " + ", ".join(f"{t} {c:,}" for t, c in zip(types, counts, strict=True)))

    t0 = time.perf_counter()
    sens = sensitivity(dual.results["engine"], draws=args.draws, seed=0)
    t_sens = time.perf_counter() - t0
    print(f"   sensitivity, {args.draws} draws (kappa 50): {t_sens:.2f} s   (target < 10 s); "
          f"mean Spearman with the base ranking {sens.attrs['spearman_mean']:.3f}")
    rss = peak_rss_gb()
    print(f"   peak memory of this run: {rss:.2f} GB   (target < 2 GB)")


if __name__ == "__main__":
    main()
