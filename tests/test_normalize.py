import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geo_engine._errors import GeoEngineWarning
from geo_engine.normalize import fuzzy_membership, normalize, transform

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
