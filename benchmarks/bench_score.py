"""Scoring benchmarks on the Peru indicator matrix: re-score, dual model, sensitivity, memory.

Run from the project root::

    python benchmarks/bench_score.py [--resolution 7] [--draws 1000] [--profile]
                                     [--save FILE.npz | --check FILE.npz]

Figures to reach at resolution 7 (~218,000 cells, all default layers): re-score one profile after
the matrix is loaded < 50 ms; all families + dual model + typology < 0.5 s (timed from raw
values, and with new weights as a run re-scores them, its cache holding the normalized layers,
the evidence and the hub distances); 1,000-draw sensitivity < 10 s; memory < 2 GB. Each figure
is the best of a few runs; the dual model scores its profiles in ``settings.scoring_threads``
threads (the usable cores), and its line also prints the CPU time of a run and the load
average, since other jobs on a shared machine inflate wall times. ``--profile`` also
prints where one dual-model run spends its time (cProfile, the costliest functions).
``--save`` writes every output of the dual model (scores, contributions, normalized layers,
evidence, typology…) to a file, and ``--check`` compares this code's outputs with such a file
(another commit's): the figures are only worth reporting when the outputs agree to 1e-12.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of, peak_rss_gb

from geo_engine import settings
from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.specs import LayerSpec, load_layers
from geo_engine.matrix.indicators import build_indicators
from geo_engine.regions.region import load_region
from geo_engine.scoring.cache import ScoringCache
from geo_engine.scoring.dual import DualResult, dual_model
from geo_engine.scoring.profiles import Profile, load_profiles
from geo_engine.scoring.score import prepare, score_profile
from geo_engine.scoring.sensitivity import sensitivity

TOLERANCE = 1e-12
"""Largest absolute difference allowed between two commits' outputs by ``--check``."""


def outputs(dual: DualResult) -> dict[str, np.ndarray]:
    """Return every per-cell output of a dual-model run, by name (for ``--save`` and ``--check``)."""
    out = {f"dual.{k}": v.to_numpy() for k, v in dual.frame().items()}
    for pid, res in dual.results.items():
        prep = res.prepared
        out[f"{pid}.score"] = res.score
        out[f"{pid}.contributions"] = res.contributions.to_numpy()
        out[f"{pid}.values"] = prep.values
        out[f"{pid}.eligible"] = prep.eligible
        for part in ("evidence", "gate", "hubs"):
            if getattr(prep, part) is not None:
                out[f"{pid}.{part}"] = getattr(prep, part)
    return out


def scores(dual: DualResult) -> dict[str, np.ndarray]:
    """Return the scores of a dual-model run: every profile's and the dual model's own."""
    return ({f"{pid}.score": res.score for pid, res in dual.results.items()}
            | {k: getattr(dual, k) for k in ("engine", "inclusion", "niche", "best_family",
                                             "niche_margin", "typology", "linkage")})


def differences(now: dict[str, np.ndarray], before: dict[str, np.ndarray]) -> list[str]:
    """Return the outputs that differ by more than :data:`TOLERANCE` (or in shape, or in labels)."""
    bad = [f"{k}: only in the reference" for k in sorted(set(before) - set(now))]
    bad += [f"{k}: not in the reference" for k in sorted(set(now) - set(before))]
    for k in sorted(set(now) & set(before)):
        a, b = now[k], before[k]
        if a.shape != b.shape:
            bad.append(f"{k}: shape {a.shape} against {b.shape}")
        elif a.dtype.kind in "fb" and b.dtype.kind in "fb":
            x, y = a.astype(float), b.astype(float)
            same_nan = np.array_equal(np.isnan(x), np.isnan(y))
            diff = float(np.nanmax(np.abs(x - y), initial=0.0))
            if not same_nan or diff > TOLERANCE:
                bad.append(f"{k}: max difference {diff:.3g}, NaN {'same' if same_nan else 'differ'}")
        elif not np.array_equal(a.astype(str), b.astype(str)):
            bad.append(f"{k}: {int((a.astype(str) != b.astype(str)).sum()):,} labels differ")
    return bad


def shuffled(profiles: dict[str, Profile], seed: int) -> dict[str, dict[str, float]]:
    """Return other weights for every profile's layers (a random draw in [0.1, 1))."""
    rng = np.random.default_rng(seed)
    return {pid: {layer.id: float(rng.uniform(0.1, 1.0)) for layer in p.layers}
            for pid, p in profiles.items()}


def with_cache(matrix: pd.DataFrame, profiles: dict[str, Profile],
               specs: dict[str, LayerSpec]) -> tuple[float, float, list[str]]:
    """Time the dual model as a run re-scores it, and check it against a fresh one.

    The first scoring fills a :class:`ScoringCache`; the next ones, each with new weights for
    every profile, reuse its normalized layers, evidence and hub distances. Returns the first
    time, the best of the next ones and the differences from scoring the last weights afresh.
    """
    cache = ScoringCache(matrix)
    t_first, _ = best_of(lambda: dual_model(matrix, profiles, specs=specs, cache=cache), 1)
    draws = iter(range(1, 100))
    t_warm, warm = best_of(lambda: dual_model(matrix, profiles, specs=specs, cache=cache,
                                              weights=shuffled(profiles, next(draws))), 3)
    found = scores(warm)
    del warm  # its contributions: not needed for the check
    fresh = scores(dual_model(matrix, profiles, specs=specs,
                              weights=shuffled(profiles, next(draws) - 1)))
    return t_first, t_warm, differences(found, fresh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=7)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--profile", action="store_true",
                        help="print where one dual-model run spends its time")
    parser.add_argument("--save", type=Path, help="write the dual model's outputs to this .npz")
    parser.add_argument("--check", type=Path,
                        help="compare the dual model's outputs with this .npz (from --save)")
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
    t_rescore, rescored = best_of(lambda: score_profile(matrix, engine, weights=weights, prepared=prep), 20)
    print(f"   engine ({len(engine.layers)} layers): prepare {t_prep * 1e3:7.1f} ms, "
          f"re-score with new weights {t_rescore * 1e3:6.1f} ms   (target < 50 ms)")

    cpu = time.process_time()
    t_dual, dual = best_of(lambda: dual_model(matrix, profiles, specs=specs), 3)
    cpu = (time.process_time() - cpu) / 3  # on a shared machine, what the wall time cannot show
    print(f"   all {len(profiles)} profiles ({sum(p.kind == 'family' for p in profiles.values())} "
          "families) + dual model + typology + linkage, "
          f"from raw values: {t_dual:.3f} s   (target < 0.5 s; {cpu:.2f} s CPU a run, "
          f"{settings.scoring_threads} threads, load {os.getloadavg()[0]:.1f})")
    t_first, t_warm, bad = with_cache(matrix, profiles, specs)
    print(f"   the same with a run's cache: first {t_first:.3f} s, then with new weights for "
          f"every profile {t_warm:.3f} s   (target < 0.5 s)")
    print("   cached and fresh scores with the same weights: "
          + ("equal" if not bad else "DIFFER\n      " + "\n      ".join(bad)))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(dual_model, matrix, profiles, specs=specs)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"geo_engine", 20)
    found = outputs(dual) | {"engine.rescored": rescored.score}
    if args.save:
        np.savez_compressed(args.save, **found)
        print(f"   outputs saved to {args.save}")
    if args.check:
        with np.load(args.check, allow_pickle=True) as ref:
            bad = differences(found, dict(ref))
        print(f"   outputs against {args.check}: "
              + ("equal within 1e-12" if not bad else "DIFFER\n      " + "\n      ".join(bad)))
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
