import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_engine.matrix.derived import POOR_POPULATION, poor_population, with_derived


def _districts(rows):
    """Cells of districts: each district's population split among its cells by weights."""
    cells = []
    for code, (rate, people, weights) in enumerate(rows):
        w = np.asarray(weights, dtype=float) / sum(weights)
        cells += [{"unit_code": f"d{code}", "poverty_2018": rate, "population_2020": people * x}
                  for x in w]
    return pd.DataFrame(cells)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 1e6),
                          st.lists(st.floats(0.01, 10), min_size=1, max_size=6)),
                min_size=1, max_size=8))
def test_cells_add_up_to_district_rate_times_population(rows):
    m = _districts(rows)
    per_district = pd.Series(poor_population(m)).groupby(m["unit_code"].to_numpy()).sum()
    for code, (rate, people, _) in enumerate(rows):
        assert per_district[f"d{code}"] == pytest.approx(rate * people / 100, rel=1e-9, abs=1e-6)


def test_missing_inputs_give_nan():
    m = pd.DataFrame({"poverty_2018": [10.0, np.nan], "population_2020": [200.0, 5.0]})
    assert poor_population(m)[0] == pytest.approx(20.0)
    assert np.isnan(poor_population(m)[1])
    assert np.isnan(poor_population(m.drop(columns="poverty_2018"))).all()


def test_with_derived_adds_the_column_only_when_it_can():
    m = pd.DataFrame({"poverty_2018": [50.0], "population_2020": [10.0]})
    m.attrs["cache_hit"] = True
    out = with_derived(m)
    assert out[POOR_POPULATION].tolist() == [5.0]
    assert out.attrs == {"cache_hit": True}
    assert POOR_POPULATION not in m  # the input is not changed
    assert POOR_POPULATION not in with_derived(m.drop(columns="population_2020"))


def test_a_profile_can_use_the_derived_column():
    from geo_engine.scoring.profiles import Profile
    from geo_engine.scoring.score import score_profile

    m = with_derived(pd.DataFrame({"poverty_2018": [10.0, 50.0, 20.0],
                                   "population_2020": [10_000.0, 100.0, 1_000.0]}))
    profile = Profile.model_validate({
        "id": "need_count", "kind": "custom", "title": {"es": "n", "en": "n"},
        "description": "Poor people, as a count.",
        "normalization": {"method": "percentile"},
        "layers": [{"id": POOR_POPULATION, "weight": 1, "rationale": "poor people reached"}]})
    score = score_profile(m, profile).score
    assert np.argmax(score) == 0  # 1,000 poor people beat a 50 % rate among 100
