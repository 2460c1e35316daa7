"""Travel-time benchmark on the Peru indicator matrix: neighbour graph, friction surface, one destination set.

Run from the project root::

    python benchmarks/bench_access.py [--resolution 7] [--no-peer]

Times, each from cold (caches emptied), the H3 neighbour graph (:func:`geo_engine.access.cell_graph`),
the friction surface of the shipped data (:func:`geo_engine.access.region_friction`: DEM slopes,
roads, rivers, lakes, towns, links), the ``towns50k`` destination set and its travel time, then the
total. Target at resolution 7 (~218,700 cells): one destination set in < 5 s from cold, peak memory
< 2 GB. A sanity summary follows (minutes to a town of 50,000+ over the populated cells), and a peer:
networkx's ``multi_source_dijkstra_path_length`` on the same weighted graph, rebuilt from the public
graph and friction with the edge-cost formula, with the largest difference from ours.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
from _timing import best_of, peak_rss_gb

from geo_engine import access
from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.vector import point_positions
from geo_engine.matrix.indicators import build_indicators
from geo_engine.regions.region import load_region


def networkx_minutes(graph_km: Any, friction: access.Friction, sources: np.ndarray) -> tuple[float, float,
                                                                                               np.ndarray]:
    """Build the weighted graph in networkx and run its multi-source Dijkstra; return both times."""
    import networkx as nx

    coo = graph_km.tocoo()
    upper = coo.row < coo.col
    i, j, km = coo.row[upper], coo.col[upper], coo.data[upper]
    v = friction.speed_kmh
    ok = (v[i] > 0) & (v[j] > 0)
    minutes = 30.0 * km[ok] * (1.0 / v[i[ok]] + 1.0 / v[j[ok]])
    t0 = time.perf_counter()
    g = nx.Graph()
    g.add_nodes_from(range(len(v)))
    g.add_weighted_edges_from(zip(i[ok].tolist(), j[ok].tolist(), minutes.tolist(), strict=True))
    link_minutes = 60.0 * friction.link_km / friction.link_kmh
    for (a, b), m in zip(friction.link_rows.tolist(), link_minutes.tolist(), strict=True):
        if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > m):
            g.add_edge(a, b, weight=m)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    lengths = nx.multi_source_dijkstra_path_length(g, {int(s) for s in sources})
    t_run = time.perf_counter() - t0
    out = np.full(len(v), np.nan)
    out[list(lengths)] = list(lengths.values())
    return t_build, t_run, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=7)
    parser.add_argument("--no-peer", action="store_true", help="skip the networkx comparison")
    args = parser.parse_args()
    warnings.simplefilter("ignore", GeoEngineWarning)

    matrix = build_indicators(resolution=args.resolution,
                              urban_centre_weight=load_region().urban_centre_weight)
    print(f"== Peru res {args.resolution}: {len(matrix):,} cells "
          f"(matrix {'from cache' if matrix.attrs.get('cache_hit') else 'built'}; not timed)")

    access.clear_caches()  # from cold: no cached graph or friction
    t_graph, graph_km = best_of(lambda: access.cell_graph(matrix))
    t_speed, friction = best_of(lambda: access.region_friction(matrix))
    t_dest, towns = best_of(lambda: access.destinations("towns50k"))
    t_time, minutes = best_of(lambda: access.travel_time(matrix, friction, towns))
    total = t_graph + t_speed + t_dest + t_time
    t_again, _ = best_of(lambda: access.travel_time(matrix, friction, towns), 3)
    rss = peak_rss_gb()
    degree = np.bincount(np.diff(graph_km.indptr))
    print(f"   neighbour graph ({graph_km.nnz // 2:,} edges; cells by neighbour count "
          f"{dict(enumerate(degree.tolist()))}): {t_graph:6.2f} s")
    print(f"   friction surface (DEM slopes, roads, rivers, lakes, towns; {len(friction.link_rows)} links):"
          f" {t_speed:6.2f} s")
    print(f"   destination set towns50k ({len(towns)} towns): {t_dest:6.2f} s")
    print(f"   travel time (multi-source Dijkstra): {t_time:6.2f} s   "
          f"(again, graph and friction cached: {t_again:.2f} s)")
    verdict = "met" if total < 5 and rss < 2 else "NOT met"
    print(f"   total from cold: {total:.2f} s   (target < 5 s)   peak memory {rss:.2f} GB "
          f"(target < 2 GB): {verdict}")

    speeds = friction.speed_kmh
    modes = {"walk (< 6 km/h)": speeds < 6, "boat (10 km/h)": speeds == access.RIVER_BOAT_KMH,
             "town (25 km/h)": speeds == access.TOWN_KMH, "road (>= 30 km/h)": speeds >= 30}
    print("   cells by speed: " + ", ".join(f"{k} {int(v.sum()):,}" for k, v in modes.items()))
    populated = matrix["population_2020"].to_numpy() > 0
    pop = matrix["population_2020"].to_numpy()
    m = minutes[populated]
    reach = np.isfinite(minutes)
    shares = ", ".join(f"<= {h} h {np.nansum(pop[minutes <= 60 * h]) / pop.sum():.1%}" for h in (1, 2, 4, 24))
    print(f"   sanity, minutes to a town of 50,000+ over the {populated.sum():,} populated cells: "
          f"median {np.nanmedian(m):.0f}, 90th percentile {np.nanpercentile(m, 90):.0f}, "
          f"max {np.nanmax(m):.0f} ({np.nanmax(m) / 60:.1f} h); unreachable cells {int((~reach).sum())} "
          f"({int((~reach & populated).sum())} populated)")
    print(f"   share of the population within: {shares}")
    rows = point_positions(matrix, towns.geometry.y.to_numpy(), towns.geometry.x.to_numpy())
    print(f"   destination cells at 0 min: {int((minutes[rows[rows >= 0]] == 0).sum())} "
          f"of {int((rows >= 0).sum())} towns inside the grid")

    if args.no_peer:
        return
    sources = np.flatnonzero(minutes == 0)
    t_build, t_run, peer = networkx_minutes(graph_km, friction, sources)
    same = np.isnan(peer) == np.isnan(minutes)
    diff = np.nanmax(np.abs(peer - minutes))
    print(f"   peer networkx multi_source_dijkstra_path_length: graph {t_build:.2f} s + search "
          f"{t_run:.2f} s = {t_build + t_run:.2f} s vs ours {t_time:.2f} s "
          f"({(t_build + t_run) / t_time:.0f}x); same reachable cells: {bool(same.all())}, "
          f"largest difference {diff:.2e} min")


if __name__ == "__main__":
    main()
