import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geo_engine._errors import SpecError
from geo_engine.scoring.profiles import Aggregation, Profile
from geo_engine.scoring.score import WGM_FLOOR, aggregate, owa_order_weights, prepare, score_profile

TITLE = {"es": "x", "en": "x"}


def _profile(layers, **kw):
    return Profile(id="p", title=TITLE, description="test", layers=[
        {"id": i, "weight": w, "rationale": "r"} for i, w in layers], **kw)


@pytest.fixture
def matrix():
    return pd.DataFrame({
        "unit_code": ["a", "a", "b", "b"],
        "parent_code": ["p"] * 4,
        "x": [0.0, 5.0, 10.0, np.nan],
        "y": [10.0, 0.0, 5.0, 5.0],
        "z": [np.nan, np.nan, np.nan, np.nan],
    })


def test_wlc_by_hand(matrix):
    res = score_profile(matrix, _profile([("x", 1), ("y", 3)]))
    # normalized x = 0, .5, 1, missing->0 ; y = 1, 0, .5, .5 ; weights .25/.75
    np.testing.assert_allclose(res.score, [0.75, 0.125, 0.625, 0.375])
    np.testing.assert_allclose(res.contributions.sum(axis=1), res.score)
    assert res.weights == {"x": 0.25, "y": 0.75}


def test_wgm_by_hand_and_log_contributions():
    v = np.array([[0.5, 1.0], [0.0, 1.0]])
    score, contrib, space = aggregate(v, np.array([0.5, 0.5]), Aggregation(method="wgm"))
    assert space == "log"
    np.testing.assert_allclose(score, [np.sqrt(0.5), np.sqrt(WGM_FLOOR)])
    np.testing.assert_allclose(np.exp(contrib.sum(axis=1)), score)


def test_owa_extremes_and_neutral():
    v = np.array([[0.2, 0.8, 0.5]])
    w = np.full(3, 1 / 3)
    s_and, _, _ = aggregate(v, w, Aggregation(method="owa", orness=0.0))
    s_or, _, _ = aggregate(v, w, Aggregation(method="owa", orness=1.0))
    s_mid, c, _ = aggregate(v, w, Aggregation(method="owa", orness=0.5))
    assert s_and[0] == pytest.approx(0.2)
    assert s_or[0] == pytest.approx(0.8)
    assert s_mid[0] == pytest.approx(0.5)
    assert c.sum() == pytest.approx(s_mid[0])
    np.testing.assert_allclose(owa_order_weights(4, orness=0.5), [0.25] * 4)


def test_topsis_by_hand():
    v = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    score, contrib, _ = aggregate(v, np.array([0.5, 0.5]), Aggregation(method="topsis"))
    np.testing.assert_allclose(score, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(contrib.sum(axis=1), score)


def test_constraints_and_missing_policies(matrix):
    p = _profile([("x", 1), ("y", 1)],
                 constraints=[{"layer": "y", "op": ">", "value": 0, "rationale": "r"}])
    res = score_profile(matrix, p)
    assert np.isnan(res.score[1])
    assert res.prepared.report["excluded_by_constraint_y"] == 1
    # normalization only over eligible cells: y in {10, 5, 5} -> 1, 0, 0
    np.testing.assert_allclose(res.prepared.values[:, 1], [1, np.nan, 0, 0])
    excl = Profile.model_validate({**p.model_dump(), "missing": "exclude"})
    assert np.isnan(score_profile(matrix, excl).score[3])
    imp = Profile.model_validate({**p.model_dump(), "missing": "impute_admin"})
    # x missing in district b: imputed with the mean of b (10) -> normalized 1
    assert score_profile(matrix, imp).prepared.values[3, 0] == pytest.approx(1.0)


def test_cells_without_any_value_are_reported_not_zero(matrix):
    res = score_profile(matrix, _profile([("z", 1)]))
    assert np.isnan(res.score).all()
    assert res.prepared.report["excluded_no_data"] == 4


def test_weight_override_and_errors(matrix):
    p = _profile([("x", 1), ("y", 1)])
    prep = prepare(matrix, p)
    res = score_profile(matrix, p, weights={"x": 0}, prepared=prep)
    np.testing.assert_allclose(res.score, prep.values[:, 1])
    with pytest.raises(ValueError, match=r"not in profile 'p': \['nope'\]"):
        score_profile(matrix, p, weights={"nope": 1})
    with pytest.raises(ValueError, match="non-negative"):
        score_profile(matrix, p, weights={"x": -1})
    with pytest.raises(ValueError, match="all weights are zero"):
        score_profile(matrix, p, weights={"x": 0, "y": 0})
    with pytest.raises(SpecError, match=r"layers\.0\.id = 'w'"):
        score_profile(matrix, _profile([("w", 1)]))


@settings(max_examples=80, deadline=None)
@given(
    v=arrays(np.float64, (6, 3), elements=st.floats(0, 1)),
    w=arrays(np.float64, 3, elements=st.floats(0.01, 10)),
    method=st.sampled_from(["wlc", "owa", "topsis", "wgm"]),
    orness=st.floats(0, 1),
)
def test_scores_in_unit_interval_and_contributions_exact(v, w, method, orness):
    w = w / w.sum()
    agg = Aggregation(method=method, orness=orness if method == "owa" else None)
    score, contrib, space = aggregate(v, w, agg)
    assert ((score >= -1e-12) & (score <= 1 + 1e-12)).all()
    total = np.exp(contrib.sum(axis=1)) if space == "log" else contrib.sum(axis=1)
    np.testing.assert_allclose(total, score, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(v=arrays(np.float64, (5, 3), elements=st.floats(0, 1)),
       w=arrays(np.float64, 3, elements=st.floats(0.01, 10)),
       row=st.integers(0, 4), col=st.integers(0, 2), bump=st.floats(0, 1))
def test_wlc_monotone_in_a_benefit_layer(v, w, row, col, bump):
    w = w / w.sum()
    before, _, _ = aggregate(v, w, Aggregation())
    v2 = v.copy()
    v2[row, col] = min(1.0, v2[row, col] + bump)
    after, _, _ = aggregate(v2, w, Aggregation())
    assert after[row] >= before[row] - 1e-12


def test_per_layer_decay_override(matrix):
    p = Profile(id="p", title=TITLE, description="test", layers=[
        {"id": "x", "weight": 1, "rationale": "r", "direction": "cost",
         "normalization": {"method": "decay", "half": 5, "rationale": "half at 5"}},
        {"id": "y", "weight": 1, "rationale": "r"}])
    values = prepare(matrix, p).values
    # x = 0, 5, 10 km -> 1, 1/2, 1/4; the missing value gets the worst score
    np.testing.assert_allclose(values[:, 0], [1.0, 0.5, 0.25, 0.0])
    # y keeps the profile's min–max
    np.testing.assert_allclose(values[:, 1], [1.0, 0.0, 0.5, 0.5])


def test_gate_no_resource_no_score_whatever_the_proximity():
    m = pd.DataFrame({"ore": [0.0, 0.0, 5e7, 2e9], "port_km": [0.0, 1.0, 300.0, 500.0],
                      "unit_code": ["a", "b", "c", "d"]})
    p = Profile(id="engine", title=TITLE, description="t", layers=[
        {"id": "ore", "weight": 1, "rationale": "r"},
        {"id": "port_km", "weight": 5, "rationale": "r", "direction": "cost"}],
        gate=[{"layer": "ore", "threshold": 1e7, "full": 1e9, "rationale": "r"}])
    res = score_profile(m, p)
    assert res.score[:2].tolist() == [0, 0]  # next to the port, no resource
    assert res.score[2] > 0
    assert res.prepared.gate.tolist()[3] == 1
    np.testing.assert_allclose(res.contributions.sum(axis=1), res.score)
    wgm = score_profile(m, p.model_copy(update={"aggregation": Aggregation(method="wgm")}))
    np.testing.assert_allclose(np.exp(wgm.contributions.sum(axis=1)), wgm.score)


def _aggregate_eligible_rows_only(values, weights, aggregation, eligible):
    """Aggregate as first written: the eligible rows alone, scattered back into NaN arrays."""
    score = np.full(len(values), np.nan)
    contrib = np.full(values.shape, np.nan)
    s, c, _ = aggregate(values[eligible], weights, aggregation)
    score[eligible], contrib[eligible] = s, c
    return score, contrib


@pytest.mark.parametrize("method", ["wlc", "wgm", "owa", "topsis"])
def test_aggregating_all_rows_equals_aggregating_eligible_rows(method):
    rng = np.random.default_rng(7)
    values = rng.random((500, 9))
    eligible = rng.random(500) > 0.3
    values[~eligible] = np.nan  # as prepare leaves them
    w = rng.random(9)
    w /= w.sum()
    agg = Aggregation(method=method, orness=0.7 if method == "owa" else None)
    score, contrib, _ = aggregate(values, w, agg, eligible)
    want_score, want_contrib = _aggregate_eligible_rows_only(values, w, agg, eligible)
    np.testing.assert_array_equal(score, want_score)
    np.testing.assert_array_equal(contrib, want_contrib)


def test_prepare_ignores_attrs_and_leaves_them(matrix):
    profile = _profile([("x", 1), ("y", 3)], missing="impute_admin")
    plain = prepare(matrix, profile)
    matrix.attrs["report"] = {"layers": {str(i): {"rows": i} for i in range(50)}}
    with_attrs = prepare(matrix, profile)
    np.testing.assert_array_equal(with_attrs.values, plain.values)
    assert with_attrs.report == plain.report
    assert matrix.attrs["report"]["layers"]["3"] == {"rows": 3}


@pytest.mark.parametrize("k", [*range(1, 21), 40, 130])
def test_row_sum_equals_numpy_row_sums_bit_for_bit(k):
    from geo_engine.scoring.score import _row_sum

    rng = np.random.default_rng(k)
    # magnitudes over 16 orders, so that any other order of the additions rounds differently
    table = rng.random((5000, k)) * 10.0 ** rng.integers(-8, 8, (5000, k))
    want = np.ascontiguousarray(table).sum(axis=1)
    np.testing.assert_array_equal(_row_sum(table), want)
    np.testing.assert_array_equal(_row_sum(np.asfortranarray(table)), want)


@pytest.mark.parametrize("method", ["wlc", "wgm", "owa", "topsis"])
@pytest.mark.parametrize("k", [3, 9, 12])
def test_aggregate_is_the_same_whatever_the_memory_order(method, k):
    # prepare stores the layers by column (Fortran order); scores and contributions must not change
    rng = np.random.default_rng(k)
    v = rng.random((3000, k))
    w = rng.random(k)
    w /= w.sum()
    eligible = rng.random(3000) > 0.1
    agg = Aggregation(method=method, orness=0.7 if method == "owa" else None)
    for ok in (None, eligible):
        s_c, c_c, _ = aggregate(np.ascontiguousarray(v), w, agg, ok)
        s_f, c_f, _ = aggregate(np.asfortranarray(v), w, agg, ok)
        np.testing.assert_array_equal(s_f, s_c)
        np.testing.assert_array_equal(c_f, c_c)
