import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo_engine.scoring import evidence
from geo_engine.scoring.cache import ScoringCache
from geo_engine.scoring.evidence import evidence_measure, evidence_met, evidence_strength, item_strengths
from geo_engine.scoring.profiles import Evidence


def _e(**kw):
    return Evidence.model_validate({"layer": "v", "threshold": 10, "rationale": "r", **kw})


@pytest.fixture
def matrix():
    lat = np.array([-12.0, -12.0, -12.0, -12.0, -13.0])
    lon = np.array([-77.0, -76.95, -76.85, -76.5, -77.0])  # 0, ~5, ~16, ~54 km east
    cells = [h3.str_to_int(h3.latlng_to_cell(a, b, 7)) for a, b in zip(lat, lon, strict=True)]
    return pd.DataFrame({
        "h3": np.array(cells, dtype=np.uint64), "lat": lat, "lon": lon,
        "area_km2": [5.0, 5.0, 5.0, 5.0, 5.0],
        "unit_code": ["a", "a", "b", "b", "c"],
        "v": [100.0, 0.0, 4.0, 4.0, np.nan],
    })


def test_per_cell_km2_and_district(matrix):
    np.testing.assert_allclose(evidence_measure(matrix, _e()), matrix["v"])
    np.testing.assert_allclose(evidence_measure(matrix, _e(per="km2")), [20, 0, 0.8, 0.8, np.nan])
    # a district total spread over cells: each cell sees the district's sum
    np.testing.assert_allclose(evidence_measure(matrix, _e(per="district")),
                               [100, 100, 8, 8, np.nan])
    # a cell without a district has no district total
    no_code = matrix.assign(unit_code=["a", None, "b", "b", "c"])
    np.testing.assert_allclose(evidence_measure(no_code, _e(per="district")),
                               [100, np.nan, 8, 8, np.nan])


def test_strength_binary_and_graded(matrix):
    assert evidence_strength(matrix, [_e()]).tolist() == [1, 0, 0, 0, 0]  # missing is no evidence
    graded = evidence_strength(matrix, [_e(threshold=1, full=100, per="km2")])
    np.testing.assert_allclose(graded, [0.5 + 0.5 * np.log(20) / np.log(100), 0, 0, 0, 0])
    # any one item suffices
    both = evidence_strength(matrix, [_e(), _e(threshold=3)])
    assert both.tolist() == [1, 0, 1, 1, 0]
    assert evidence_strength(matrix, []).tolist() == [0] * 5


def test_at_most_for_distances():
    m = pd.DataFrame({"v": [0.0, 2.0, 10.0, 11.0]})
    s = evidence_strength(m, [_e(op="<=", full=2)])
    np.testing.assert_allclose(s, [1, 1, 0.5, 0])


def test_within_reach_fades_and_never_exceeds_the_source(matrix):
    s = item_strengths(matrix, [_e(within_km=20)])[:, 0]
    assert s[0] == 1
    assert 0 < s[2] < s[1] < 1  # 5 km and 16 km from the source: faded with distance
    assert s[3] == 0
    assert s[4] == 0
    assert evidence_met(matrix, [_e(within_km=20)]).tolist() == [True, False, False, False, False]


def test_missing_column_names_the_fix(matrix):
    with pytest.raises(ValueError, match=r"needs column 'area_km2'.*choose another `per`"):
        evidence_measure(matrix.drop(columns="area_km2"), _e(per="km2"))


def test_full_must_lie_beyond_the_threshold():
    with pytest.raises(ValueError, match=r"`full` \(5.0\) must be above `threshold`"):
        _e(full=5)
    with pytest.raises(ValueError, match=r"must be below `threshold`"):
        _e(op="<=", full=20)


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=30), st.floats(0.1, 100),
       st.floats(1.5, 100))
def test_strength_in_unit_interval_and_monotone(values, t, ratio):
    m = pd.DataFrame({"v": sorted(values)})
    s = evidence_strength(m, [_e(threshold=t, full=t * ratio)])
    assert ((s == 0) | ((s >= 0.5) & (s <= 1))).all()
    assert (np.diff(s) >= -1e-12).all()


def _candidates_by_isin(lat, lon, src, km):
    """Cells near a source as first written: bins compared with ``np.isin``."""
    step_lat = km / 111.0
    step_lon = step_lat / max(np.cos(np.radians(np.nanmax(np.abs(lat)))), 0.05)
    i = np.floor(lat / step_lat).astype(np.int64)
    j = np.floor(lon / step_lon).astype(np.int64)
    span = int(j.max() - j.min()) + 3
    key = (i - i.min() + 1) * span + (j - j.min() + 1)
    near = np.unique((key[src][:, None]
                      + np.array([di * span + dj for di in (-1, 0, 1) for dj in (-1, 0, 1)])).ravel())
    return np.flatnonzero(np.isin(key, near) & ~src)


def _strength_everywhere(value, item):
    """Own strength as first written: the formula on every cell, then kept where met."""
    v = np.asarray(value, dtype=float)
    t = item.threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        met = v >= t if item.op == ">=" else v <= t
        if item.full is None:
            level = np.ones_like(v)
        else:
            ratio = np.log(v / t) / np.log(item.full / t)
            level = 0.5 + 0.5 * np.clip(np.nan_to_num(ratio, nan=0.0, posinf=1.0), 0, 1)
    return np.where(met & np.isfinite(v), level, 0.0)


@pytest.fixture
def scattered():
    rng = np.random.default_rng(11)
    n = 3000
    return pd.DataFrame({"lat": rng.uniform(-18, -3, n), "lon": rng.uniform(-81, -69, n),
                         "v": np.where(rng.random(n) < 0.03, rng.uniform(10, 1000, n), 0.0)})


@pytest.mark.parametrize("km", [10.0, 25.0, 150.0])
def test_candidate_bins_equal_isin(scattered, km):
    cells = ScoringCache(scattered)
    src = scattered["v"].to_numpy() >= 10
    lat, lon = scattered["lat"].to_numpy(), scattered["lon"].to_numpy()
    np.testing.assert_array_equal(evidence._candidates(*cells.bins(km), src),
                                  _candidates_by_isin(lat, lon, src, km))


@pytest.mark.parametrize("kw", [{}, {"full": 500.0}, {"op": "<=", "threshold": 50, "full": 1}])
def test_own_strength_equals_formula_on_every_cell(kw):
    v = np.array([np.nan, -1.0, 0.0, 0.5, 1.0, 9.99, 10.0, 50.0, 499.0, 500.0, 1e6])
    item = _e(**kw)
    np.testing.assert_array_equal(evidence._own_strength(v, item), _strength_everywhere(v, item))


def test_reach_equals_brute_force_nearest_source(scattered):
    item = _e(within_km=150.0, full=1000)
    got = item_strengths(scattered, [item])[:, 0]
    lat, lon = np.radians(scattered["lat"].to_numpy()), np.radians(scattered["lon"].to_numpy())
    own = _strength_everywhere(scattered["v"].to_numpy(), item)
    src = np.flatnonzero(own > 0)
    h = (np.sin((lat[src][None, :] - lat[:, None]) / 2) ** 2 + np.cos(lat[:, None])
         * np.cos(lat[src][None, :]) * np.sin((lon[src][None, :] - lon[:, None]) / 2) ** 2)
    km = 2 * 6371.0088 * np.arcsin(np.sqrt(h))
    near = np.argmin(km, axis=1)
    d = km[np.arange(len(km)), near]
    want = np.where(own > 0, own, own[src][near] * np.clip(1 - d / 150.0, 0, 1))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_unless_leaves_out_the_cells_meeting_its_level_even_within_reach(matrix):
    m = matrix.assign(city=[9000.0, 9000.0, 0.0, 0.0, 0.0])  # the source and its neighbour: a metropolis
    metro = _e(layer="city", threshold=5000)
    plain = item_strengths(m, [_e(within_km=20)])[:, 0]
    cut = item_strengths(m, [_e(within_km=20, unless=[metro])])[:, 0]
    assert cut[:2].tolist() == [0, 0]  # a site in the metropolis is nobody's niche there...
    assert cut[2] == plain[2] > 0  # ...but still reaches a cell outside it
    assert evidence_met(m, [_e(unless=[metro])]).tolist() == [False] * 5
    # one cache, two items differing only by `unless`: each keeps its own strengths
    cache = ScoringCache(m)
    both = item_strengths(m, [_e(within_km=20), _e(within_km=20, unless=[metro])], cache=cache)
    np.testing.assert_array_equal(both, np.column_stack([plain, cut]))


def test_strongest_item_equals_the_maximum_of_the_table(scattered):
    # evidence_strength keeps the strongest item per cell without a cells × items table
    scattered = scattered.assign(w=np.where(np.arange(len(scattered)) % 5 == 0, 40.0, 0.0))
    items = [_e(within_km=150.0, full=1000), _e(threshold=300), _e(layer="w", within_km=25.0),
             _e(layer="w", threshold=30, full=60)]
    cache = ScoringCache(scattered)
    table = item_strengths(scattered, items)
    np.testing.assert_array_equal(evidence_strength(scattered, items), table.max(axis=1))
    np.testing.assert_array_equal(evidence_strength(scattered, items, cache=cache),
                                  table.max(axis=1))
    assert cache.unit_vectors().shape == (len(scattered), 3)
