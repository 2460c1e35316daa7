"""Cluster benchmark on the Peru grid: adjacency, Gi* with permutations, clusters, profiles, memory.

Run from the project root::

    python benchmarks/bench_clusters.py [--resolution 7] [--profile nature_heritage_tourism]

Targets at resolution 7 (~218,000 cells): clusters of one profile with 999 permutations (adjacency +
Gi* + FDR + components + profiles) < 20 s; memory < 2 GB. The peer is esda's ``G_Local(star=True)``
(binary weights, same permutations, one process) on the same score: on the full grid by default,
on the first ``--peer-cells`` cells when given, or skipped with ``--no-peer``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _timing import best_of, peak_rss_gb

from geo_engine._errors import GeoEngineWarning
from geo_engine.clusters import gi_star, h3_adjacency, hot_spots, summarize_clusters
from geo_engine.pipeline import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=7)
    parser.add_argument("--profile", default="nature_heritage_tourism")
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--peer-cells", type=int, default=0, help="time esda on this many cells (0: all)")
    parser.add_argument("--no-peer", action="store_true", help="do not time esda")
    args = parser.parse_args()
    warnings.simplefilter("ignore", GeoEngineWarning)

    t0 = time.perf_counter()
    r = run(resolution=args.resolution)
    matrix = r.matrix
    result = r.dual.results[args.profile]
    score = result.score
    print(f"== Peru res {args.resolution}: {len(matrix):,} cells, profile {args.profile} "
          f"({np.isfinite(score).sum():,} scored), run() {time.perf_counter() - t0:.1f} s; "
          f"memory before clustering {peak_rss_gb():.2f} GB")

    t_adj, adj = best_of(lambda: h3_adjacency(matrix), 3)
    degree = np.bincount(np.diff(adj.indptr), minlength=7)
    print(f"   adjacency: {t_adj:6.2f} s   ({adj.nnz:,} links; cells by degree 0-6: {degree.tolist()})")

    t_gi, _ = best_of(lambda: gi_star(score, adj, permutations=args.permutations, seed=0), 3)
    print(f"   Gi* z + {args.permutations} conditional permutations: {t_gi:6.2f} s")
    t_hot, cells = best_of(lambda: hot_spots(matrix, score, permutations=args.permutations,
                                             seed=0, adjacency=adj), 3)
    print(f"   hot spots (Gi* + BH FDR + components): {t_hot:6.2f} s   "
          f"{cells.attrs['n_significant']:,} significant hot cells, "
          f"{cells.attrs['n_clusters']} clusters of >= {cells.attrs['min_cells']} cells "
          f"({cells.attrs['n_clustered']:,} cells)")
    t_sum, clusters = best_of(lambda: summarize_clusters(
        matrix, cells, profile=args.profile, contributions=result.contributions, names=r.names), 3)
    print(f"   cluster profiles + dissolved polygons: {t_sum:6.2f} s")
    total = t_adj + t_hot + t_sum
    print(f"   total for one profile: {total:6.2f} s   (target < 20 s)")
    print(f"   peak memory: {peak_rss_gb():.2f} GB   (target < 2 GB)")
    print(f"   polygons valid: {bool(clusters.is_valid.all())}; "
          f"types: {clusters.geom_type.value_counts().to_dict()}")

    print("   top 5 clusters (rank by poor population x mean score):")
    for row in clusters.head(5).itertuples():
        districts = row.districts.split(", ")
        shown = ", ".join(districts[:4]) + (f" … (+{len(districts) - 4})" if len(districts) > 4 else "")
        print(f"   {row.rank:2d}. #{row.cluster_id:<4d} {row.n_cells:5,} cells {row.area_km2:8,.0f} km²  "
              f"pop {row.population:11,.0f}  poor {row.poor_population:10,.0f}  "
              f"score {row.mean_score:.3f}  [{row.departments}] {shown}")

    if args.no_peer:
        return
    try:
        from esda.getisord import G_Local
        from libpysal.weights import WSP
    except ImportError:
        print("   peer skipped: esda / libpysal not installed")
        return
    n_peer = args.peer_cells or len(matrix)
    sub = slice(0, n_peer)
    peer_adj = adj[sub][:, sub] if n_peer < len(matrix) else adj
    peer_score = np.nan_to_num(score[sub], nan=float(np.nanmean(score)))
    t_w = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = WSP(peer_adj.tocsr()).to_W(silence_warnings=True)
        t_w = time.perf_counter() - t_w
        t = time.perf_counter()
        peer = G_Local(peer_score, w, transform="B", star=True, permutations=args.permutations,
                       seed=0, n_jobs=1, keep_simulations=False)
        t_peer = time.perf_counter() - t
    t_ours, ours = best_of(lambda: gi_star(peer_score, peer_adj, permutations=args.permutations, seed=0),
                           3)
    same_z = float(np.max(np.abs(ours["z"].to_numpy() - peer.Zs)))
    label = "full grid" if n_peer == len(matrix) else f"first {n_peer:,} cells (subset)"
    print(f"   peer esda G_Local(star=True), {label}, {args.permutations} permutations, one process "
          f"(no numba): {t_peer:6.2f} s (+ {t_w:.2f} s building its W) vs ours {t_ours:.2f} s "
          f"-> {t_peer / t_ours:.0f}x; max |z difference| {same_z:.1e}")


if __name__ == "__main__":
    main()
