import numpy as np
import pandas as pd

from geo_engine.regions.region import admin_names
from geo_engine.reporting.outputs import cell_table, score_rank
from geo_engine.scoring.profiles import Profile


def test_score_rank_ties_and_nan():
    np.testing.assert_array_equal(score_rank(np.array([0.5, 0.9, 0.5, np.nan])), [2, 1, 2, np.nan])


def test_cell_table_columns_and_contributions():
    m = pd.DataFrame({"h3": np.array([1, 2, 3], dtype=np.uint64), "lat": [0.0] * 3,
                      "lon": [0.0] * 3, "unit_code": ["a", "a", "b"],
                      "x": [1.0, 2.0, 3.0], "population_2020": [10.0, 20.0, 30.0],
                      "poverty_2018": [50.0, 50.0, 10.0]})
    p = Profile.model_validate({"id": "p", "title": {"es": "p", "en": "p"}, "description": "d",
                                "layers": [{"id": "x", "weight": 1, "rationale": "r"}]})
    names = admin_names(pd.DataFrame({"unit_code": ["a", "b"], "unit": ["A", "B"],
                                      "parent": ["P", "P"], "grandparent": ["D", "D"]}))
    t = cell_table(m, profile=p, names=names)
    assert t["unit"].tolist() == ["A", "A", "B"]
    assert t["rank"].tolist() == [3, 2, 1]
    np.testing.assert_allclose(t["contrib_x"], t["score"])
    assert t["population"].sum() == 60
    assert t["poverty_rate"].tolist() == [50.0, 50.0, 10.0]
    assert t.attrs["profile"] == "p"
