"""Tests of geo_engine.clusters: H3 adjacency, Gi* hot spots, FDR, clusters and their profiles."""

from __future__ import annotations

import warnings

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse, stats

from geo_engine._errors import GeoEngineWarning
from geo_engine.clusters import (
    CELL_COLUMNS,
    CLUSTER_COLUMNS,
    benjamini_hochberg,
    find_clusters,
    gi_star,
    h3_adjacency,
    hot_spots,
    summarize_clusters,
)
from geo_engine.clusters.statistic import _exceedances

CENTRE = h3.latlng_to_cell(-9.5, -75.0, 7)
RADIUS = 25  # 1,951 cells
PLANT_CENTRE = h3.grid_ring(CENTRE, 10)[0]
PLANT_RADIUS = 5  # 91 cells


def _ids(cells: list[str]) -> np.ndarray:
    return np.array(sorted(h3.str_to_int(c) for c in cells), dtype=np.uint64)


def _matrix(ids: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """A grid-like indicator matrix with admin codes by quadrant, population and poverty."""
    rng = np.random.default_rng(seed)
    centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in ids])
    lat, lon = centres[:, 0], centres[:, 1]
    dept = np.where(lon < -75.0, "01", "02")
    prov = dept + np.where(lat < -9.5, "01", "02")
    dist = prov + np.where((lat * 100).astype(int) % 2 == 0, "01", "02")
    return pd.DataFrame({
        "h3": ids, "lat": lat, "lon": lon,
        "area_km2": [h3.cell_area(h3.int_to_str(int(c)), unit="km^2") for c in ids],
        "unit_code": dist, "parent_code": prov, "grandparent_code": dept,
        "population_2020": rng.gamma(2.0, 500.0, len(ids)),
        "poverty_2018": rng.uniform(5, 80, len(ids)),
    })


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    return _matrix(_ids(h3.grid_disk(CENTRE, RADIUS)))


@pytest.fixture(scope="module")
def planted(grid: pd.DataFrame) -> np.ndarray:
    return np.isin(grid["h3"].to_numpy(), _ids(h3.grid_disk(PLANT_CENTRE, PLANT_RADIUS)))


@pytest.fixture(scope="module")
def planted_score(planted: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=len(planted)) + 3.5 * planted


@pytest.fixture(scope="module")
def planted_cells(grid: pd.DataFrame, planted_score: np.ndarray) -> pd.DataFrame:
    return hot_spots(grid, planted_score, seed=0)


@pytest.fixture(scope="module")
def contributions(grid: pd.DataFrame, planted_score: np.ndarray) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    parts = rng.dirichlet([5, 4, 3, 2, 1], size=len(grid)) * planted_score[:, None]
    return pd.DataFrame(parts, columns=["soil", "water", "roads", "heritage", "markets"])


def _small_grid() -> np.ndarray:
    return _ids(h3.grid_disk(h3.latlng_to_cell(-12.0, -75.0, 6), 12))  # 469 cells


# ------------------------------------------------------------------------------------------
# adjacency
# ------------------------------------------------------------------------------------------


def test_adjacency_interior_and_edge(grid: pd.DataFrame) -> None:
    adj = h3_adjacency(grid)
    ids = grid["h3"].to_numpy()
    degree = np.diff(adj.indptr)
    assert adj.shape == (len(ids), len(ids))
    assert (adj != adj.T).nnz == 0
    assert adj.diagonal().sum() == 0
    centre = int(np.searchsorted(ids, h3.str_to_int(CENTRE)))
    assert degree[centre] == 6
    edge = np.isin(ids, _ids(h3.grid_ring(CENTRE, RADIUS)))
    assert (degree[~edge] == 6).all()
    assert (degree[edge] < 6).all()
    assert set(degree[edge].tolist()) == {3, 4}  # corners 3, sides 4
    # every listed neighbour shares an edge with the cell
    rows, cols = adj.nonzero()
    for r, c in zip(rows[:500], cols[:500], strict=True):
        assert h3.are_neighbor_cells(h3.int_to_str(int(ids[r])), h3.int_to_str(int(ids[c])))


def test_adjacency_pentagon_has_five_neighbours() -> None:
    pentagon = h3.get_pentagons(5)[0]
    ids = _ids(h3.grid_disk(pentagon, 2))
    adj = h3_adjacency(ids)
    pos = int(np.searchsorted(ids, h3.str_to_int(pentagon)))
    assert adj[pos].sum() == 5
    assert (adj != adj.T).nnz == 0


def test_adjacency_follows_input_order(grid: pd.DataFrame) -> None:
    ids = grid["h3"].to_numpy()
    perm = np.random.default_rng(3).permutation(len(ids))
    shuffled = h3_adjacency(ids[perm])
    direct = h3_adjacency(ids)
    assert (shuffled != direct[perm][:, perm]).nnz == 0


@pytest.mark.parametrize(
    ("cells", "match"),
    [
        (np.array([1, 2, 3], dtype=np.uint64), "not valid H3 cells"),
        (np.array([h3.str_to_int(CENTRE)] * 2, dtype=np.uint64), "repeats cell ids"),
        (np.array([h3.str_to_int(CENTRE), h3.str_to_int(h3.cell_to_parent(CENTRE, 6))], dtype=np.uint64),
         "mixes H3 resolutions"),
        (pd.DataFrame({"cell": [1]}), "no column 'h3'"),
    ],
)
def test_adjacency_bad_input(cells: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        h3_adjacency(cells)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# Gi* and FDR
# ------------------------------------------------------------------------------------------


def _esda_local(values: np.ndarray, adj: sparse.csr_matrix, permutations: int, seed: int) -> object:
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.WSP(adj).to_W(silence_warnings=True)
        return esda.G_Local(values, w, transform="B", star=True, permutations=permutations, seed=seed,
                            n_jobs=1)


def test_gi_star_z_equals_esda_and_p_consistent() -> None:
    ids = _small_grid()
    adj = h3_adjacency(ids)
    x = np.random.default_rng(5).gamma(2.0, 1.0, len(ids))
    perms = 999
    ours = gi_star(x, adj, permutations=perms, seed=0)
    ref = _esda_local(x, adj, perms, 0)
    np.testing.assert_allclose(ours["z"], ref.Zs, rtol=1e-10, atol=1e-12)
    # esda's upper-tail p from its own draws (one set shared by all cells, so averaged over seeds)
    runs = [ref, *(_esda_local(x, adj, perms, seed) for seed in (1, 2, 3, 4))]
    uppers = [((r.rGs >= r.Gs[:, None]).sum(axis=1) + 1) / (perms + 1) for r in runs]
    mean_upper = np.mean(uppers, axis=0)
    diff = ours["p_value"].to_numpy() - mean_upper
    sd = np.sqrt(mean_upper * (1 - mean_upper) / perms * (1 + 1 / len(runs))) + 1 / perms
    assert abs(diff.mean()) < 0.01
    assert (np.abs(diff) < 5 * sd).all()
    assert np.corrcoef(ours["p_value"], mean_upper)[0, 1] > 0.99
    upper = uppers[0]
    hot = upper < 0.5  # there esda's folded p_sim is the upper tail
    np.testing.assert_allclose(upper[hot], ref.p_sim[hot], rtol=1e-6)
    assert (ours["neighbours"].to_numpy() == np.diff(adj.indptr)).all()


def test_exceedances_match_esda_with_the_same_draws() -> None:
    """One block holding every cell is esda's scheme: the counts must give its p_sim exactly."""
    ids = _small_grid()
    adj = h3_adjacency(ids)
    n, perms = len(ids), 199
    x = np.random.default_rng(6).random(n)
    legacy = np.random.RandomState(7)  # esda draws with the legacy global generator
    draws = np.array([legacy.choice(n - 1, 6, replace=False) for _ in range(perms)])
    counts = _exceedances(x, adj @ x, np.diff(adj.indptr), permutations=perms, block=n,
                          draw=lambda blocks: draws.T[None])
    larger = np.where(perms - counts < counts, perms - counts, counts)  # esda's "directed" folding
    ref = _esda_local(x, adj, perms, 7)
    np.testing.assert_allclose((larger + 1) / (perms + 1), ref.p_sim, rtol=1e-6)


def test_exceedances_blocks_match_brute_force() -> None:
    ids = _small_grid()
    adj = h3_adjacency(ids)
    n, perms, block = len(ids), 50, 7
    x = np.random.default_rng(8).random(n)
    card, local = np.diff(adj.indptr), adj @ x
    rng = np.random.default_rng(9)
    made: list[np.ndarray] = []

    def draw(blocks: int) -> np.ndarray:
        out = np.stack([np.stack([rng.choice(n - 1, 6, replace=False) for _ in range(perms)]).T
                        for _ in range(blocks)])
        made.append(out)
        return out

    counts = _exceedances(x, local, card, permutations=perms, block=block, draw=draw)
    draws = np.concatenate(made)
    brute = np.array([(np.delete(x, i)[draws[i // block][: card[i]].T].sum(axis=1) >= local[i]).sum()
                      for i in range(n)])
    assert (counts == brute).all()


def test_gi_star_leaves_nan_cells_out_of_the_graph() -> None:
    ids = _small_grid()
    adj = h3_adjacency(ids)
    x = np.random.default_rng(2).random(len(ids))
    x[::7] = np.nan
    ours = gi_star(x, adj, permutations=9, seed=0)
    keep = ~np.isnan(x)
    sub = gi_star(x[keep], h3_adjacency(ids[keep]), permutations=9, seed=0)
    assert ours.loc[~keep, ["z", "p_value"]].isna().all().all()
    np.testing.assert_allclose(ours.loc[keep, "z"], sub["z"], rtol=1e-12)
    np.testing.assert_array_equal(ours.loc[keep, "neighbours"], sub["neighbours"])


def test_gi_star_is_seeded_and_bounded(planted_score: np.ndarray, grid: pd.DataFrame) -> None:
    adj = h3_adjacency(grid)
    a = gi_star(planted_score, adj, permutations=99, seed=4)
    b = gi_star(planted_score, adj, permutations=99, seed=4)
    c = gi_star(planted_score, adj, permutations=99, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(a["p_value"], c["p_value"])
    assert a["p_value"].between(1 / 100, 1).all()


def test_constant_score_has_no_hot_spot(grid: pd.DataFrame) -> None:
    out = gi_star(np.full(len(grid), 0.4), h3_adjacency(grid), permutations=19)
    assert (out["z"] == 0).all()
    assert (out["p_value"] == 1).all()


def test_benjamini_hochberg_matches_scipy() -> None:
    p = np.random.default_rng(0).beta(0.3, 2.0, 500)
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"))
    with_nan = np.append(p, np.nan)
    q = benjamini_hochberg(with_nan)
    assert np.isnan(q[-1])
    np.testing.assert_allclose(q[:-1], benjamini_hochberg(p))


# ------------------------------------------------------------------------------------------
# hot spots and clusters
# ------------------------------------------------------------------------------------------


def test_planted_hot_region_is_found(planted_cells: pd.DataFrame, planted: np.ndarray) -> None:
    cells = planted_cells
    assert list(cells.columns) == list(CELL_COLUMNS)
    assert cells.attrs["n_clusters"] == 1
    in_cluster = cells["cluster_id"].eq(1).fillna(False).to_numpy(dtype=bool)
    assert (in_cluster & planted).sum() >= 0.75 * planted.sum()
    assert (in_cluster & ~planted).sum() <= 5
    assert (cells.loc[cells["significant"], "z"] > 0).all()
    assert (cells.loc[cells["significant"], "q_value"] <= 0.05).all()


def test_pure_noise_yields_no_cluster(grid: pd.DataFrame) -> None:
    noise = np.random.default_rng(11).normal(size=len(grid))
    cells = hot_spots(grid, noise, seed=0)
    assert cells.attrs["n_significant"] == 0
    assert cells["cluster_id"].isna().all()
    with pytest.warns(GeoEngineWarning, match="no cluster for profile 'noise': no cell is a significant"):
        out = find_clusters(grid, noise, profile="noise", seed=0)
    _assert_empty(out)


def test_small_groups_only_give_an_empty_result(grid: pd.DataFrame, planted_score: np.ndarray) -> None:
    with pytest.warns(GeoEngineWarning, match=r"no connected group has min_cells=500"):
        out = find_clusters(grid, planted_score, profile="p", min_cells=500)
    _assert_empty(out)


def _assert_empty(out: gpd.GeoDataFrame) -> None:
    assert isinstance(out, gpd.GeoDataFrame)
    assert len(out) == 0
    assert list(out.columns) == list(CLUSTER_COLUMNS)
    assert out.crs == "EPSG:4326"
    assert out.geometry.name == "geometry"
    assert out["n_cells"].dtype == np.int64


def test_cluster_statistics_add_up(
    grid: pd.DataFrame, planted_score: np.ndarray, planted_cells: pd.DataFrame,
    contributions: pd.DataFrame,
) -> None:
    minutes = np.linspace(10, 400, len(grid))
    minutes[::3] = np.nan
    out = summarize_clusters(grid, planted_cells, profile="agro_food", contributions=contributions,
                             minutes_to_town50k=minutes)
    assert list(out.columns) == list(CLUSTER_COLUMNS)
    assert len(out) == planted_cells.attrs["n_clusters"]
    for row in out.itertuples():
        mask = planted_cells["cluster_id"].eq(row.cluster_id).fillna(False).to_numpy(dtype=bool)
        cells = grid[mask]
        assert row.n_cells == mask.sum()
        assert row.area_km2 == pytest.approx(cells["area_km2"].sum())
        assert row.population == pytest.approx(cells["population_2020"].sum())
        assert row.poor_population == pytest.approx(
            (cells["population_2020"] * cells["poverty_2018"] / 100).sum())
        assert row.mean_score == pytest.approx(planted_score[mask].mean())
        assert row.median_minutes_town50k == pytest.approx(np.nanmedian(minutes[mask]))
        assert np.isnan(row.median_minutes_port)
        top = contributions[mask].sum().sort_values(ascending=False).index[:3]
        assert row.top_layers == ", ".join(top)
        assert row.units == ", ".join(sorted(cells["unit_code"].unique()))
        assert row.grandparents == ", ".join(sorted(cells["grandparent_code"].unique()))
        assert row.profile == "agro_food"
        assert row.fdr == 0.05
        assert row.permutations == 999
        assert cells["lat"].min() <= row.centroid_lat <= cells["lat"].max()
        assert cells["lon"].min() <= row.centroid_lon <= cells["lon"].max()


def test_clusters_are_ranked_by_poor_reach(grid: pd.DataFrame) -> None:
    ids = grid["h3"].to_numpy()
    score = np.random.default_rng(12).normal(size=len(grid))
    for k, ring_cell in enumerate(h3.grid_ring(CENTRE, 14)[::15]):  # six separate hot regions
        score[np.isin(ids, _ids(h3.grid_disk(ring_cell, 4)))] += 3.0 + 0.2 * k
    out = find_clusters(grid, score, profile="p", seed=1)
    assert len(out) >= 4
    key = (out["poor_population"] * out["mean_score"]).to_numpy()
    assert (np.diff(key) <= 0).all()
    assert out["rank"].tolist() == list(range(1, len(out) + 1))
    by_size = find_clusters(grid, score, profile="p", seed=1, rank_by="n_cells")
    assert (np.diff(by_size["n_cells"].to_numpy()) <= 0).all()
    assert sorted(by_size["cluster_id"]) == sorted(out["cluster_id"])


def test_names_replace_codes(grid: pd.DataFrame, planted_cells: pd.DataFrame) -> None:
    codes = sorted(grid["unit_code"].unique())
    names = pd.DataFrame({
        "unit_code": codes, "unit": [f"District {c}" for c in codes],
        "parent": [f"Province {c[:4]}" for c in codes], "grandparent": [f"Dept {c[:2]}" for c in codes],
    })
    out = summarize_clusters(grid, planted_cells, profile="p", names=names)
    row = out.iloc[0]
    mask = planted_cells["cluster_id"].eq(row["cluster_id"]).fillna(False).to_numpy(dtype=bool)
    expected = sorted({f"District {c}" for c in grid.loc[mask, "unit_code"]})
    assert row["units"] == ", ".join(expected)
    assert row["parents"].startswith("Province ")
    assert row["grandparents"].startswith("Dept ")


def test_dissolved_polygons_are_valid(grid: pd.DataFrame, planted_cells: pd.DataFrame) -> None:
    out = summarize_clusters(grid, planted_cells, profile="p")
    assert out.crs == "EPSG:4326"
    assert out.is_valid.all()
    assert (out.geom_type == "Polygon").all()
    equal_area = out.to_crs("EPSG:6933").area.to_numpy() / 1e6
    np.testing.assert_allclose(equal_area, out["area_km2"], rtol=0.01)
    assert all(shapely.is_ccw(g.exterior) for g in out.geometry)


def test_cluster_with_a_hole_keeps_it(grid: pd.DataFrame) -> None:
    ids = grid["h3"].to_numpy()
    annulus = np.isin(ids, _ids(h3.grid_disk(CENTRE, 4))) & ~np.isin(ids, _ids(h3.grid_disk(CENTRE, 1)))
    cells = pd.DataFrame({
        "h3": ids, "score": np.where(annulus, 1.0, 0.0), "z": 0.0, "p_value": 1.0, "q_value": 1.0,
        "significant": annulus, "cluster_id": pd.array(np.where(annulus, 1, None), dtype="Int64"),
    }, index=grid.index)
    cells.attrs = {"permutations": 99, "fdr": 0.1, "min_cells": 5}
    out = summarize_clusters(grid, cells, profile="ring")
    geom = out.geometry.iloc[0]
    assert geom.is_valid
    assert geom.geom_type == "Polygon"
    assert len(geom.interiors) == 1
    assert not shapely.is_ccw(geom.interiors[0])
    assert out["n_cells"].iloc[0] == annulus.sum() == 61 - 7
    assert out["permutations"].iloc[0] == 99


# ------------------------------------------------------------------------------------------
# argument errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"permutations": 0}, r"`permutations` was 0 but must be an integer of at least 1"),
        ({"permutations": 9.5}, r"`permutations` was 9.5"),
        ({"fdr": 0.0}, r"`fdr` was 0.0 but must be a number in \(0, 1\)"),
        ({"fdr": 1.5}, r"`fdr` was 1.5"),
        ({"min_cells": 0}, r"`min_cells` was 0 but must be an integer of at least 1"),
        ({"seed": -1}, r"`seed` was -1"),
        ({"rank_by": "wealth"}, r"`rank_by` was 'wealth' but must be one of"),
        ({"profile": ""}, r"`profile` was '' but must be a non-empty"),
        ({"adjacency": sparse.eye(3, format="csr")}, r"`adjacency` has shape \(3, 3\)"),
        ({"minutes_to_port": np.ones(3)}, r"`minutes_to_port` has shape \(3,\)"),
        ({"names": pd.DataFrame({"code": ["1"]})}, r"`names` must be a DataFrame with a 'unit_code'"),
        ({"contributions": pd.DataFrame({"a": [1.0]})}, r"`contributions` must be a DataFrame with one row"),
    ],
)
def test_bad_arguments(grid: pd.DataFrame, planted_score: np.ndarray, kwargs: dict, match: str) -> None:
    args = {"profile": "p", "permutations": 9, **kwargs}
    with pytest.raises(ValueError, match=match):
        find_clusters(grid, planted_score, **args)


@pytest.mark.parametrize(
    ("score", "match"),
    [
        (np.ones(10), r"`score` has shape \(10,\) but must hold one value per row of the matrix \(1951 rows"),
        (np.full(1951, np.inf), r"`score` has 1951 infinite values"),
        (["a"] * 1951, r"`score` must be numeric"),
    ],
)
def test_bad_score(grid: pd.DataFrame, score: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hot_spots(grid, score, permutations=9)  # type: ignore[arg-type]


def test_summarize_rejects_foreign_cells(grid: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"`cells` must be the hot_spots\(\) result"):
        summarize_clusters(grid, grid, profile="p")


def test_all_nan_score_gives_empty_result(grid: pd.DataFrame) -> None:
    with pytest.warns(GeoEngineWarning, match=r"0 cells tested"):
        out = find_clusters(grid, np.full(len(grid), np.nan), profile="p", permutations=9)
    _assert_empty(out)


def test_nan_cells_are_not_tested(grid: pd.DataFrame, planted_score: np.ndarray, planted: np.ndarray) -> None:
    score = pd.Series(planted_score, dtype="Float64")
    score[~planted & (np.arange(len(grid)) % 4 == 0)] = pd.NA
    cells = hot_spots(grid, score, seed=0)
    missing = score.isna().to_numpy()
    assert cells.attrs["n_tested"] == (~missing).sum()
    assert cells.loc[missing, ["z", "p_value", "q_value"]].isna().all().all()
    assert not cells.loc[missing, "significant"].any()
    assert cells.loc[missing, "cluster_id"].isna().all()
    assert cells.attrs["n_clusters"] == 1


def test_summary_without_population_columns(grid: pd.DataFrame, planted_cells: pd.DataFrame) -> None:
    bare = grid[["h3", "lat", "lon", "area_km2"]]
    some = planted_cells.copy()
    some["cluster_id"] = some["cluster_id"].where(some["cluster_id"] == 1) * 7  # ids need not start at 1
    out = summarize_clusters(bare, some, profile="p")
    assert out["cluster_id"].tolist() == [7]
    assert out["population"].isna().all()
    assert out["poor_population"].isna().all()
    assert out["units"].tolist() == [""]
    assert out["top_layers"].tolist() == [""]
