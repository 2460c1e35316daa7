import h3
import numpy as np
import pandas as pd
import pytest

from geo_engine.scoring import dual
from geo_engine.scoring.dual import TYPOLOGY, dual_model, family_table, typology
from geo_engine.scoring.normalize import standing
from geo_engine.scoring.profiles import Profile


def _p(pid, kind, layers):
    return Profile.model_validate({
        "id": pid, "kind": kind, "title": {"es": pid, "en": pid}, "description": "d",
        "layers": [{"id": lid, "weight": 1, "rationale": "r"} for lid in layers]})


@pytest.fixture
def matrix():
    rng = np.random.default_rng(0)
    n = 60
    lat = np.repeat(np.linspace(-12, -11, 6), 10)
    lon = np.tile(np.linspace(-77, -76, 10), 6)
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(a, b, 7)) for a, b in zip(lat, lon, strict=True)],
                     dtype=np.uint64)
    lat, lon = zip(*(h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells), strict=True)
    return pd.DataFrame({
        "h3": cells, "lat": lat, "lon": lon,
        "unit_code": ["d"] * n,
        "mines": rng.random(n), "poverty": rng.random(n), "road_km": rng.random(n) * 50,
        "crops": rng.random(n), "sites": rng.random(n),
    }).sort_values("h3", ignore_index=True)


@pytest.fixture
def profiles():
    return {
        "engine": _p("engine", "engine", ["mines"]),
        "need": _p("need", "need", ["poverty"]),
        "access": Profile.model_validate({
            **_p("access", "access", ["road_km"]).model_dump(),
            "layers": [{"id": "road_km", "weight": 1, "rationale": "r", "direction": "cost"}]}),
        "agro": _p("agro", "family", ["crops"]),
        "tourism": _p("tourism", "family", ["sites"]),
    }


def test_inclusion_is_geometric_mean_and_typology_thresholds(matrix, profiles):
    res = dual_model(matrix, profiles)
    np.testing.assert_allclose(res.inclusion, res.niche * res.need ** 0.5 * res.access ** 0.2)
    t = res.thresholds
    hi_e, hi_i = res.engine >= t["engine"], res.inclusion >= t["inclusion"]
    expected = np.where(hi_e & hi_i, "dual_zone", np.where(hi_e, "engine_hub",
                        np.where(hi_i, "inclusion_niche", "latent")))
    assert (res.typology == expected).all()
    assert set(res.typology) <= set(TYPOLOGY)
    # top tercile by default
    assert hi_e.mean() == pytest.approx(1 / 3, abs=0.02)


def test_no_niche_or_no_need_cannot_score_high(matrix, profiles):
    matrix.loc[0, ["crops", "sites"]] = 0.0  # no niche asset at all
    matrix.loc[0, "poverty"] = 1.0
    matrix.loc[1, "poverty"] = 0.0  # rich place with the best assets
    matrix.loc[1, ["crops", "sites"]] = 1.0
    res = dual_model(matrix, profiles)
    high = np.quantile(res.inclusion, 2 / 3)
    assert res.inclusion[1] == 0.0
    assert res.inclusion[0] < high


def test_best_family_and_margin(matrix, profiles):
    res = dual_model(matrix, profiles)
    st = res.family_standing
    best = st.idxmax(axis=1).to_numpy()
    assert (res.best_family == best).all()
    second = np.sort(st.to_numpy(), axis=1)[:, -2]
    np.testing.assert_allclose(res.niche_margin, st.max(axis=1) - second)
    assert (res.niche_margin >= 0).all()


def test_linkage_only_for_high_need_near_hubs(matrix, profiles):
    res = dual_model(matrix, profiles, hub_reach_km=50)
    high_need = res.need >= res.thresholds["need"]
    assert (res.linkage[~high_need] == 0).all()
    hubs = np.isin(res.typology, ["engine_hub", "dual_zone"])
    assert (res.hub_distance_km[hubs] == pytest.approx(0.0, abs=1e-6))
    assert (res.linkage <= res.need + 1e-12).all()
    far = high_need & (res.hub_distance_km >= 50)
    assert (res.linkage[far] == 0).all()


def test_family_table_ties_and_missing():
    scores = {"a": np.array([0.1, np.nan, 0.5]), "b": np.array([0.2, np.nan, 0.5])}
    _, _standings, best, margin = family_table(scores, pd.RangeIndex(3))
    assert best[1] is None
    assert np.isnan(margin[1])
    np.testing.assert_allclose(standing(np.array([1.0, 3.0, 2.0])), [1 / 3, 1, 2 / 3])


def test_typology_missing_and_errors(matrix, profiles):
    t = typology(np.array([np.nan, 0.9]), np.array([0.5, 0.1]), engine_threshold=0.5,
                 inclusion_threshold=0.5)
    assert t[0] is None
    assert t[1] == "engine_hub"
    with pytest.raises(ValueError, match=r"`engine_quantile` was 1.5"):
        dual_model(matrix, profiles, engine_quantile=1.5)
    with pytest.raises(ValueError, match="needs a profile of kind 'family'"):
        dual_model(matrix, {k: v for k, v in profiles.items() if v.kind != "family"})
    with pytest.raises(ValueError, match="`hub_reach_km` was 0"):
        dual_model(matrix, profiles, hub_reach_km=0)


def test_linkage_by_travel_time_when_given(matrix, profiles):
    minutes = np.linspace(0, 300, len(matrix))
    res = dual_model(matrix, profiles, hub_minutes=lambda hubs: minutes, hub_reach_minutes=120)
    assert res.thresholds["linkage_by"] == "travel time"
    np.testing.assert_allclose(res.hub_minutes, minutes)
    high = res.need >= res.thresholds["need"]
    expected = np.where(high, res.need * np.clip(1 - minutes / 120, 0, 1), 0.0)
    np.testing.assert_allclose(res.linkage, expected)


def _with(profile, **sections):
    return Profile.model_validate({**profile.model_dump(), **sections})


def _ev(layer, threshold, **kw):
    return {"layer": layer, "threshold": threshold, "rationale": "r", **kw}


def test_no_evidence_no_inclusion_whatever_the_need(matrix, profiles):
    profiles = {**profiles,
                "agro": _with(profiles["agro"], evidence=[_ev("crops", 0.5)]),
                "tourism": _with(profiles["tourism"], evidence=[_ev("sites", 0.9)])}
    matrix.loc[0, ["crops", "sites", "poverty"]] = [0.1, 0.1, 1.0]  # the poorest, no evidence
    res = dual_model(matrix, profiles)
    none = (matrix["crops"] < 0.5) & (matrix["sites"] < 0.9)
    assert (res.inclusion[none] == 0).all()
    assert (res.niche[none] == 0).all()
    assert all(f is None for f in res.best_family[none])
    assert (res.inclusion[~none] > 0).all()
    assert res.typology[0] != "inclusion_niche"
    # the best family is the evidenced one, even when the other stands higher
    only_agro = (matrix["crops"] >= 0.5) & (matrix["sites"] < 0.9)
    assert (res.best_family[only_agro] == "agro").all()
    np.testing.assert_allclose(res.niche_margin[only_agro], 1.0)


def test_linkage_needs_a_real_site_within_reach(matrix, profiles):
    matrix["mine_here"] = 0.0
    matrix.loc[0, "mine_here"] = 1.0
    engine = _with(profiles["engine"], hubs=[_ev("mine_here", 1)])
    res = dual_model(matrix, {**profiles, "engine": engine}, hub_reach_km=30)
    assert res.thresholds["hub_cells"] == 1
    assert res.hub_distance_km[0] == pytest.approx(0.0, abs=1e-6)
    high_need = res.need >= res.thresholds["need"]
    far = res.hub_distance_km >= 30
    assert (high_need & far).any()
    assert (res.linkage[far] == 0).all()  # poor but far from every operation: no linkage
    near = high_need & (res.hub_distance_km < 15)
    assert (res.linkage[near] > 0).all()


def _best_by_sorting(ev, stand, names):
    """The best family and margin as first written: every row fully sorted by its key."""
    ev = np.where(np.isfinite(ev), ev, 0.0)
    filled = np.where(np.isnan(stand), -np.inf, stand)
    tie = 9e-4 * np.where(np.isfinite(filled), filled, 0)
    key = np.where(ev > 0, np.round(ev, 3) + tie, -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")
    rows = np.arange(len(ev))
    top = ev[rows, order[:, 0]]
    second = ev[rows, order[:, 1]] if ev.shape[1] > 1 else np.zeros(len(ev))
    return np.where(top > 0, names[order[:, 0]], np.array(None, dtype=object)), top - second


@pytest.mark.parametrize("families", [1, 2, 5])
def test_top_two_equals_a_stable_sort(families):
    rng = np.random.default_rng(families)
    key = rng.choice([-np.inf, 0.2, 0.5, 0.5000001, 1.0], size=(2000, families))
    first, second = dual._top_two(key)
    order = np.argsort(-key, axis=1, kind="stable")
    np.testing.assert_array_equal(first, order[:, 0])
    if families > 1:
        np.testing.assert_array_equal(second, order[:, 1])


@pytest.mark.parametrize("seed", range(4))
def test_best_family_equals_sorting_every_row(seed):
    # many ties: evidence on a coarse grid (full strength, the threshold's 0.5, or none), some
    # values a hair apart that round alike, missing scores and missing evidence
    rng = np.random.default_rng(seed)
    n, k = 3000, 6
    ev = rng.choice([0.0, 0.0, 0.5, 0.75, 1.0, 0.7501, 0.7499], size=(n, k))
    ev[rng.random((n, k)) < 0.02] = np.nan
    scores = np.round(rng.random((n, k)), 2)
    scores[rng.random((n, k)) < 0.05] = np.nan
    stand = np.column_stack([standing(scores[:, j]) for j in range(k)])
    names = np.array(list("abcdef"), dtype=object)
    want_best, want_margin = _best_by_sorting(ev, stand, names)
    for threads in (1, 3):  # the standings found in threads: the same answer
        best, margin = dual._best_by_evidence(ev, dual._standing_at(scores), names, threads=threads)
        assert (best == want_best).all()
        np.testing.assert_array_equal(margin, want_margin)


def test_standing_at_rows_equals_standing():
    rng = np.random.default_rng(3)
    s = np.round(rng.random((400, 2)), 2)
    s[::7, 0] = np.nan
    rows = np.array([0, 5, 7, 399])
    for j in range(2):
        np.testing.assert_array_equal(dual._standing_at(s)(j, rows), standing(s[:, j])[rows])


def test_family_standing_is_the_standing_of_each_family(matrix, profiles):
    res = dual_model(matrix, profiles)
    for fid in ("agro", "tourism"):
        np.testing.assert_array_equal(res.family_standing[fid], standing(res.families[fid]))
