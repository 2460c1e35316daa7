import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
        "district_code": ["a", "a", "b", "b", "c"],
        "v": [100.0, 0.0, 4.0, 4.0, np.nan],
    })


def test_per_cell_km2_and_district(matrix):
    np.testing.assert_allclose(evidence_measure(matrix, _e()), matrix["v"])
    np.testing.assert_allclose(evidence_measure(matrix, _e(per="km2")), [20, 0, 0.8, 0.8, np.nan])
    # a district total spread over cells: each cell sees the district's sum
    np.testing.assert_allclose(evidence_measure(matrix, _e(per="district")),
                               [100, 100, 8, 8, np.nan])


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
