import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geo_engine._errors import GeoEngineWarning
from geo_engine.scoring.normalize import (
    decay,
    dominant_tail,
    fuzzy_membership,
    normalize,
    robust_limits,
    standing,
    standing_at,
    transform,
)

X = np.array([0.0, 5.0, 10.0, np.nan])


def test_minmax_and_cost():
    np.testing.assert_allclose(normalize(X), [0, 0.5, 1, np.nan])
    np.testing.assert_allclose(normalize(X, direction="cost"), [1, 0.5, 0, np.nan])


def test_mask_statistics_only_over_eligible_cells():
    out = normalize(np.array([0.0, 5.0, 10.0, 100.0]), mask=np.array([True, True, True, False]))
    np.testing.assert_allclose(out, [0, 0.5, 1, np.nan])


def test_winsorize():
    x = np.arange(101, dtype=float)
    out = normalize(x, winsorize=(10, 90))
    assert out[5] == 0.0
    assert out[95] == 1.0
    assert out[50] == pytest.approx(0.5)


def test_percentile_with_ties():
    out = normalize(np.array([3.0, 1.0, 1.0, 7.0, 9.0]), method="percentile")
    # ranks 3, 1.5, 1.5, 4, 5 -> (r - 1) / 4
    np.testing.assert_allclose(out, [0.5, 0.125, 0.125, 0.75, 1.0])


def test_zscore_is_normal_cdf():
    out = normalize(np.array([-1.0, 0.0, 1.0]), method="zscore")
    sd = np.std([-1.0, 0.0, 1.0])
    from scipy.stats import norm

    np.testing.assert_allclose(out, norm.cdf(np.array([-1, 0, 1]) / sd))


def test_log1p_and_cap():
    np.testing.assert_allclose(transform(np.array([0.0, np.e - 1]), kind="log1p"), [0, 1])
    np.testing.assert_allclose(transform(np.arange(11.0), kind="cap", percentile=50)[-1], 5.0)
    with pytest.raises(ValueError, match="log1p needs values > -1"):
        transform(np.array([-2.0]), kind="log1p")
    with pytest.raises(ValueError, match=r"cap needs a value in \(0, 100\]"):
        transform(np.array([1.0]), kind="cap")


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("linear", [0, 0, 0.5, 1, 1]),
        ("sigmoid", [0, 0, 0.5, 1, 1]),
        ("jshaped", [0.2, 0.5, 0.8, 1, 1]),
    ],
)
def test_fuzzy_rising(shape, expected):
    x = np.array([0.0, 10.0, 15.0, 20.0, 30.0])
    np.testing.assert_allclose(fuzzy_membership(x, shape=shape, points=[10, 20]), expected)


def test_fuzzy_symmetric():
    x = np.array([0.0, 5.0, 15.0, 25.0, 35.0])
    np.testing.assert_allclose(fuzzy_membership(x, shape="linear", points=[0, 10, 20, 40]),
                               [0, 0.5, 1, 0.75, 0.25])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape": "bell", "points": [0, 1]}, "fuzzy `shape` was 'bell'"),
        ({"shape": "linear", "points": [1, 0]}, "strictly increasing"),
        ({"shape": "linear", "points": [0, 1, 2]}, "2 or 4"),
    ],
)
def test_fuzzy_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fuzzy_membership(X, **kwargs)


def test_errors_and_constant_layer():
    with pytest.raises(ValueError, match="`method` was 'rank'"):
        normalize(X, method="rank")
    with pytest.raises(ValueError, match="`direction` was 'up'"):
        normalize(X, direction="up")
    with pytest.raises(ValueError, match="fuzzy normalization needs"):
        normalize(X, method="fuzzy")
    with pytest.warns(GeoEngineWarning, match="constant"):
        out = normalize(np.array([2.0, 2.0, np.nan]))
    np.testing.assert_allclose(out, [0.5, 0.5, np.nan])


values = arrays(np.float64, st.integers(1, 50),
                elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan)))


@given(values, st.sampled_from(["minmax", "percentile", "zscore"]),
       st.sampled_from(["benefit", "cost"]))
def test_outputs_in_unit_interval(x, method, direction):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        out = normalize(x, method=method, direction=direction)
    finite = out[np.isfinite(out)]
    assert ((finite >= 0) & (finite <= 1)).all()
    assert (np.isnan(out) == np.isnan(x)).all()


@given(values)
def test_benefit_is_monotone(x):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        out = normalize(x)
    ok = np.isfinite(x)
    order = np.argsort(x[ok], kind="stable")
    assert (np.diff(out[ok][order]) >= -1e-12).all()


# --- decay ----------------------------------------------------------------------------------------

halves = st.floats(1e-3, 1e6)
distances = arrays(np.float64, st.integers(1, 50), elements=st.floats(0, 1e7))


@given(halves)
def test_decay_is_one_at_zero_and_half_at_the_half_distance(half):
    out = normalize(np.array([0.0, half, 2 * half]), method="decay", half=half, direction="cost")
    np.testing.assert_allclose(out, [1.0, 0.5, 0.25], rtol=1e-12)
    benefit = normalize(np.array([0.0, half]), method="decay", half=half, direction="benefit")
    np.testing.assert_allclose(benefit, [0.0, 0.5], atol=1e-12)


@given(distances, halves)
def test_decay_falls_with_distance_and_stays_in_unit_interval(x, half):
    out = normalize(x, method="decay", half=half, direction="cost")
    assert ((out > 0) | (x > 700 * half)).all()
    assert (out <= 1).all()
    order = np.argsort(x, kind="stable")
    assert (np.diff(out[order]) <= 0).all()
    # strictly lower where the distance is larger and the score has not underflowed
    a, b = np.sort(x)[:-1], np.sort(x)[1:]
    strict = (b > a * (1 + 1e-9)) & (b - a > half * 1e-9) & (b < 500 * half)
    assert (np.diff(out[order])[strict] < 0).all()


@given(distances, halves, st.floats(0, 1e9))
def test_decay_of_a_cell_does_not_depend_on_the_others(x, half, outlier):
    # unlike min–max, a remote island added to the region changes no one else's score
    out = normalize(x, method="decay", half=half, direction="cost")
    more = normalize(np.append(x, outlier), method="decay", half=half, direction="cost")
    np.testing.assert_array_equal(more[:-1], out)


def test_decay_keeps_nan_mask_and_direction():
    x = np.array([0.0, 60.0, np.nan, 120.0])
    out = normalize(x, method="decay", half=60, direction="cost",
                    mask=np.array([True, True, True, False]))
    np.testing.assert_allclose(out, [1.0, 0.5, np.nan, np.nan])
    assert decay(np.array([30.0]), half=60)[0] == pytest.approx(2 ** -0.5)


def test_decay_separates_near_cells_that_min_max_squeezes():
    # a port 5 km away and one 50 km away, in a country whose farthest cell is 750 km away
    x = np.r_[5.0, 50.0, np.linspace(0, 750, 1000)]
    minmax = normalize(x, direction="cost", winsorize=None)
    decayed = normalize(x, method="decay", half=50, direction="cost")
    assert minmax[0] - minmax[1] == pytest.approx(0.06)
    assert decayed[0] - decayed[1] == pytest.approx(2 ** -0.1 - 0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"half": None}, "decay normalization needs `half`"),
        ({"half": 0.0}, r"decay `half` was 0\.0 but must be a positive number"),
        ({"half": float("nan")}, "decay `half` was nan"),
    ],
)
def test_decay_parameter_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        normalize(np.array([1.0]), method="decay", direction="cost", **kwargs)


def test_decay_refuses_negative_distances():
    with pytest.raises(ValueError, match=r"decay needs distances or travel times ≥ 0; the smallest "
                                         r"value is -3"):
        normalize(np.array([-3.0, 4.0]), method="decay", half=10, direction="cost")


# --- robust min–max -------------------------------------------------------------------------------

def test_robust_limits_clip_a_skewed_layer_at_the_percentiles():
    x = np.r_[np.linspace(0, 1, 999), 100.0]
    limits = robust_limits(x)
    assert limits == pytest.approx(tuple(np.percentile(x, [1, 99])))
    # the same spread without the outlier is not skewed: left alone
    assert robust_limits(np.linspace(0, 1, 1000)) is None


def test_robust_limits_of_a_zero_inflated_layer_keep_its_minimum():
    # 900 cells without the crop, 100 with an amount skewed by one large producer
    x = np.r_[np.zeros(900), np.linspace(1, 2, 99), 50.0]
    lo, hi = robust_limits(x)
    assert lo == 0.0
    assert hi == pytest.approx(np.percentile(x[x > 0], 99))
    # an unskewed amount among the cells that have it is left alone, however many zeros there are
    assert robust_limits(np.r_[np.zeros(9000), np.linspace(1, 2, 1000)]) is None


@pytest.mark.parametrize(
    "x",
    [
        np.r_[np.linspace(0, 1, 98), 100.0],  # too few cells for a 1 % tail to hold a cell
        np.r_[-5.0, np.ones(998), 50.0],  # skewed, but the 1st and 99th percentiles coincide
        np.ones(500),  # constant
        np.r_[np.zeros(990), 1.0, np.linspace(2, 3, 9)],  # too few cells above the minimum
    ],
)
def test_robust_limits_none(x):
    assert robust_limits(x) is None


def test_minmax_is_robust_by_default_and_plain_on_request():
    x = np.r_[np.linspace(0, 1, 999), 100.0]
    auto = normalize(x)
    assert auto[499] == pytest.approx(0.5, abs=0.01)
    assert auto[-1] == 1.0
    with pytest.warns(GeoEngineWarning, match=r"the top 0\.1% of cells \(1 of 1,000, e\.g\. one "
                                              r"island or one unit\) span 99% of its range"):
        plain = normalize(x, winsorize=None)
    assert plain[499] == pytest.approx(0.005, abs=0.001)


def test_explicit_winsorize_errors():
    with pytest.raises(ValueError, match=r"`winsorize` was 'always' but must be 'auto', None"):
        normalize(X, winsorize="always")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"needs 0 <= low < high <= 100"):
        normalize(X, winsorize=(50, 10))


# --- dominance warning ----------------------------------------------------------------------------

def test_dominant_tail_by_its_definition():
    x = np.r_[np.linspace(0, 1, 999), 3.0]  # n = 1,000, k = 1
    end, k, part = dominant_tail(x)
    assert (end, k) == ("top", 1)
    assert part == pytest.approx(2 / 3)
    assert dominant_tail(-x)[0] == "bottom"
    # exactly half of the range is allowed
    assert dominant_tail(np.r_[np.linspace(0, 1, 999), 2.0]) is None
    # k grows with n: 2,000 cells -> the top 2 cells form the tail
    two = np.r_[np.linspace(0, 1, 1998), 5.0, 5.0]
    assert dominant_tail(two)[:2] == ("top", 2)


@pytest.mark.parametrize(
    "x",
    [
        np.r_[np.linspace(0, 1, 998), 3.0],  # fewer than 1,000 cells
        np.r_[np.zeros(999), 1.0],  # a presence layer: the other cells do not vary
        np.linspace(0, 1, 5000),  # no tail
    ],
)
def test_no_dominant_tail(x):
    assert dominant_tail(x) is None


def test_no_dominance_warning_after_winsorizing_or_for_other_methods():
    x = np.r_[np.linspace(0, 1, 999), 100.0]
    for kwargs in ({"winsorize": (1, 99)}, {"method": "percentile"},
                   {"method": "decay", "half": 1.0, "direction": "cost"}):
        normalize(x, **kwargs)  # filterwarnings = error: any warning fails


def test_standing_matches_pandas_rank_max():
    rng = np.random.default_rng(5)
    s = np.round(rng.random(500), 2)
    s[::17] = np.nan
    expected = pd.Series(s).rank(method="max", pct=True).to_numpy()
    np.testing.assert_allclose(standing(s), expected)


@pytest.mark.parametrize("as_column", [False, True])
def test_dominating_tail_warning_names_its_units(as_column):
    v = np.r_[np.linspace(0.0, 1.0, 1999), 1000.0]  # one far-off cell holds the range
    units = np.array(["mainland"] * 1999 + ["Isla de Pascua"])
    if as_column:  # a matrix column (Arrow strings, another index), read only at the named cells
        units = pd.Series(units, dtype="string[pyarrow]", index=np.arange(2000) + 7)
    with pytest.warns(GeoEngineWarning, match=r"\(2 of 2,000, in units Isla de Pascua, mainland\)"):
        normalize(v, winsorize=None, name="distance_port", units=units)


@given(arrays(float, st.integers(1, 400),
              elements=st.one_of(st.sampled_from([0.0, 0.25, 1.0, -3.0, np.nan, 1e308, -1e308]),
                                 st.floats(-1e6, 1e6))),
       st.data())
def test_standing_at_equals_the_standing_of_every_cell(score, data):
    rows = np.array(data.draw(st.lists(st.integers(0, score.size - 1), max_size=50)), dtype=np.intp)
    np.testing.assert_array_equal(standing_at(score, rows), standing(score)[rows])


@pytest.mark.parametrize("n", [1, 7, 70_000])
def test_standing_at_with_many_ties_and_missing(n):
    rng = np.random.default_rng(n)
    score = np.round(rng.random(n), 2)
    score[rng.random(n) < 0.1] = np.nan
    score[: n // 3] = 0.5  # a third of the cells tied
    rows = rng.integers(0, n, size=min(n, 5000))
    np.testing.assert_array_equal(standing_at(score, rows), standing(score)[rows])

