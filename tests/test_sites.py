import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest

from geo_engine.access import reach_table, travel_time
from geo_engine.planning.plan import brute_force_cover, greedy_cover, solve_cover
from geo_engine.planning.sites import (
    SiteOptions,
    growth_value,
    poor_population,
    site_costs,
    site_problem,
    site_table,
)

LAT, LON = -13.5, -72.0


def grid(k: int = 6) -> pd.DataFrame:
    cells = np.unique(h3n.grid_disk(h3n.latlng_to_cell(LAT, LON, 7), k).astype(np.uint64))
    ll = np.array([h3n.cell_to_latlng(c) for c in cells])
    n = len(cells)
    return pd.DataFrame({"h3": cells, "lat": ll[:, 0], "lon": ll[:, 1],
                         "grandparent_code": np.where(ll[:, 1] < LON, "08", "03"),
                         "poverty_2018": np.full(n, 50.0),
                         "population_2020": np.arange(n, dtype=float)})


def test_poor_population_from_column_or_layers():
    g = grid(1)
    assert poor_population(g) == pytest.approx(0.5 * np.arange(7))
    g["poor_population"] = [np.nan, -1, 1, 2, 3, 4, 5]
    assert poor_population(g).tolist() == [0, 0, 1, 2, 3, 4, 5]
    with pytest.raises(KeyError, match="no 'poor' column and not both 'poverty_2018'"):
        poor_population(g[["h3"]], column="poor")


def test_growth_is_engine_in_hubs_and_linkage_elsewhere():
    out = growth_value([0.9, 0.8, np.nan], [0.1, 0.3, np.nan], ["engine_hub", "latent", None])
    assert out.tolist() == [0.9, 0.3, 0.0]


def test_reach_table_matches_travel_time():
    g = grid(5)
    speeds = np.full(len(g), 5.0)
    origins = np.array([0, len(g) // 2])
    table = reach_table(g, speeds, origins, max_minutes=60, batch=1)
    for i, row in enumerate(origins):
        mine = table[table["origin"] == i].set_index("row")["minutes"]
        full = travel_time(g, speeds, g["h3"].to_numpy()[[row]])
        within = np.flatnonzero(full <= 60)
        assert sorted(mine.index) == sorted(within)
        assert mine.loc[within].to_numpy() == pytest.approx(full[within])
    with pytest.raises(ValueError, match="`max_minutes` was 0"):
        reach_table(g, speeds, origins, max_minutes=0)
    with pytest.raises(ValueError, match="rows outside the grid"):
        reach_table(g, speeds, [len(g)], max_minutes=5)


@pytest.mark.parametrize("by_distance", [False, True])
def test_site_problem_end_to_end(by_distance):
    g = grid(6)
    n = len(g)
    rng = np.random.default_rng(3)
    score = rng.random(n)
    niche = rng.random(n) > 0.3
    opts = SiteOptions(sites=2, reach_minutes=45, candidates=12, min_km=5,
                       speed_kmh=10.0 if by_distance else None)
    sp = site_problem(g, score=score, demand=poor_population(g), niche=niche,
                      friction=None if by_distance else np.full(n, 10.0), options=opts)
    assert len(sp.site_rows) == 12
    assert set(sp.site_rows) == set(np.argsort(-score)[:12])
    p = sp.problem
    assert p.demand.sum() == pytest.approx(poor_population(g)[sp.point_rows].sum())
    assert (p.demand > 0).all()  # only cells with a niche and poor people are demand points
    assert niche[sp.point_rows].all()
    best = solve_cover(p)
    assert best.demand == pytest.approx(brute_force_cover(p).demand)
    assert greedy_cover(p).demand <= best.demand + 1e-9
    table = site_table(sp, best, g, extra=g[["grandparent_code"]])
    sites = table[table["role"] == "site"]
    assert len(sites) == len(best.sites)
    assert sites["demand_added"].sum() == pytest.approx(best.demand)
    assert table.loc[table["role"] == "covered", "demand"].sum() + sites["demand"].sum() \
        >= best.demand - 1e-6
    assert "grandparent_code" in table


def test_site_options_include_exclude_and_costs():
    g = grid(3)
    n = len(g)
    score = np.linspace(1, 0, n)
    h3 = g["h3"].to_numpy()
    opts = SiteOptions(sites=1, reach_minutes=30, candidates=3, include=[int(h3[-1])],
                       exclude=[int(h3[0])], speed_kmh=20.0)
    sp = site_problem(g, score=score, demand=poor_population(g), niche=np.ones(n, bool),
                      options=opts)
    assert 0 not in sp.site_rows
    assert n - 1 in sp.site_rows
    assert sp.site_rows[solve_cover(sp.problem).sites].tolist() == [n - 1]
    with pytest.raises(ValueError, match=r"must-include cells .* are not cells of this grid"):
        site_problem(g, score=score, demand=poor_population(g), niche=np.ones(n, bool),
                     options=SiteOptions(sites=1, include=[1], speed_kmh=20.0))
    costs = site_costs(g, pd.DataFrame({"h3": [format(int(h3[1]), "x"), int(h3[2])],
                                        "cost": [5.0, 2.0]}))
    assert np.isnan(costs[0])
    assert costs[1:3].tolist() == [5.0, 2.0]
    sp = site_problem(g, score=score, demand=poor_population(g), niche=np.ones(n, bool),
                      cost=costs, options=SiteOptions(budget=4.0, speed_kmh=20.0))
    assert sorted(sp.site_rows.tolist()) == [1, 2]
    with pytest.raises(ValueError, match=r"columns \['cost'\] are missing"):
        site_costs(g, pd.DataFrame({"h3": [1]}))
    with pytest.raises(ValueError, match="`cost` must be a number ≥ 0"):
        site_costs(g, pd.DataFrame({"h3": [1], "cost": [-1]}))


def test_sites_by_unit_are_one_per_unit_at_its_best_cell():
    g = grid(4)
    g["unit_code"] = np.where(g["lat"] < LAT, "A", "B")
    score = np.linspace(0.0, 1.0, len(g))
    niche = np.ones(len(g), bool)
    sp = site_problem(g, score=score, demand=np.ones(len(g)), niche=niche,
                      options=SiteOptions(sites=2, speed_kmh=20, site_level="district"))
    assert len(sp.site_rows) == 2  # one candidate per district
    units = g["unit_code"].to_numpy()[sp.site_rows]
    assert sorted(units) == ["A", "B"]
    for row, unit in zip(sp.site_rows, units, strict=True):
        assert score[row] == score[g["unit_code"].to_numpy() == unit].max()
    with pytest.raises(ValueError, match="`site_level` was 'village'"):
        site_problem(g, score=score, demand=np.ones(len(g)), niche=niche,
                     options=SiteOptions(sites=1, speed_kmh=20, site_level="village"))


def test_cost_by_travel_time():
    from geo_engine.planning.sites import travel_cost

    out = travel_cost(np.array([0.0, 30.0, np.nan]), base=1000, per_minute=10)
    assert out[:2].tolist() == [1000.0, 1300.0]
    assert np.isnan(out[2])  # unreachable: cannot be a site
    with pytest.raises(ValueError, match="must be finite numbers >= 0"):
        travel_cost([1.0], base=-1)


def test_sites_by_cluster_leave_out_cells_outside_every_cluster():
    g = grid(4)
    g["cluster_id"] = np.where(g["lat"] < LAT, 1.0, np.nan)  # one cluster in the south half
    score = np.linspace(0.0, 1.0, len(g))
    sp = site_problem(g, score=score, demand=np.ones(len(g)), niche=np.ones(len(g), bool),
                      options=SiteOptions(sites=3, speed_kmh=20, site_level="cluster"))
    assert len(sp.site_rows) == 1  # one cluster, one candidate
    inside = g["cluster_id"].notna().to_numpy()
    assert score[sp.site_rows[0]] == score[inside].max()
