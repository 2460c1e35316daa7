import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_engine.reporting.rollup import rollup


@pytest.fixture
def matrix():
    return pd.DataFrame({
        "unit_code": ["a", "a", "b", "b", "c"],
        "parent_code": ["p", "p", "p", "p", "q"],
        "grandparent_code": ["d"] * 5,
        "population_2020": [100.0, 300.0, 50.0, np.nan, 10.0],
    })


def test_district_rollup_by_hand(matrix):
    score = np.array([0.2, 0.6, 1.0, np.nan, 0.1])
    out = rollup(matrix, score, level="unit").set_index("code")
    assert out.loc["a", "mean"] == pytest.approx(0.4)
    assert out.loc["a", "pop_weighted_mean"] == pytest.approx((20 + 180) / 400)
    assert out.loc["b", "cells_scored"] == 1
    assert out.loc["b", "share_pop_top"] == 1.0  # its only scored cell is the top one
    assert out.loc["b", "rank"] == 1
    assert out["population"].sum() == pytest.approx(460.0)


def test_other_levels_and_rank_by(matrix):
    score = np.array([0.2, 0.6, 1.0, 0.5, 0.1])
    prov = rollup(matrix, score, level="parent", rank_by="max")
    assert prov["code"].tolist() == ["p", "q"]
    dep = rollup(matrix, score, level="grandparent")
    assert dep.loc[0, "cells"] == 5


def test_score_km2_is_score_times_area_and_ranks_extent(matrix):
    score = np.array([0.5, 0.5, 0.2, 0.8, 0.9])
    m = matrix.assign(area_km2=[10.0, 10.0, 5.0, 5.0, 1.0])
    prov = rollup(m, score, level="parent", rank_by="score_km2").set_index("code")
    assert prov.loc["p", "score_km2"] == pytest.approx(5 + 5 + 1 + 4)
    assert prov.loc["q", "score_km2"] == pytest.approx(0.9)
    assert prov.loc["p", "rank"] == 1  # a large weak unit outweighs a small strong one
    assert rollup(m, score, level="parent", rank_by="max").set_index("code").loc["q", "rank"] == 1


def test_score_km2_is_missing_without_cell_areas(matrix):
    out = rollup(matrix, np.ones(5), level="parent", rank_by="score_km2")
    assert out["score_km2"].isna().all()
    assert out["rank"].tolist() == [1, 1]


@pytest.mark.parametrize(("kw", "message"), [
    ({"level": "region"}, "`level` was 'region'"),
    ({"rank_by": "median"}, "`rank_by` was 'median'"),
    ({"quantile": 0}, "`quantile` was 0"),
])
def test_errors(matrix, kw, message):
    with pytest.raises(ValueError, match=message):
        rollup(matrix, np.zeros(5), **kw)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 1e5), st.floats(0, 1)),
                min_size=1, max_size=30))
def test_population_totals_preserved(rows):
    m = pd.DataFrame({"unit_code": [r[0] for r in rows],
                      "population_2020": [r[1] for r in rows]})
    out = rollup(m, np.array([r[2] for r in rows]))
    assert out["population"].sum() == pytest.approx(m["population_2020"].sum())
    assert out["population_top"].sum() <= out["population"].sum() + 1e-6
    assert out["share_pop_top"].dropna().between(0, 1).all()


def test_with_labels(matrix):
    from geo_engine.reporting.rollup import with_labels

    names = pd.DataFrame({"unit_code": ["a", "b", "c"], "unit": ["A", "B", "C"],
                          "parent": ["P", "P", "Q"], "grandparent": ["D", "D", "D"]})
    ranked = rollup(matrix, np.array([0.2, 0.6, 1.0, 0.5, 0.1]), level="parent")
    out = with_labels(ranked, matrix, names, level="parent")
    assert out.set_index("code")["parent"].to_dict() == {"p": "P", "q": "Q"}
    assert "unit" not in out
    assert with_labels(ranked, matrix, names[["unit_code"]], level="parent") is ranked


def test_without_population_layer_counts_stay_missing(matrix):
    out = rollup(matrix.drop(columns="population_2020"), np.array([0.2, 0.8, 0.5, np.nan, 0.1]),
                 level="unit")
    assert out["population"].isna().all()
    assert out["population_top"].isna().all()
    assert out["share_pop_top"].isna().all()
    assert np.allclose(out["pop_weighted_mean"], out["mean"], equal_nan=True)


def test_poor_population_in_the_unit_and_in_its_top_cells(matrix):
    m = matrix.assign(poverty_2018=[10.0, 20.0, 50.0, 50.0, np.nan])
    score = np.array([0.2, 0.6, 1.0, np.nan, 0.1])
    out = rollup(m, score, level="unit", quantile=0.5).set_index("code")
    assert out.loc["a", "poor_population"] == pytest.approx(10 + 60)
    assert out.loc["b", "poor_population"] == pytest.approx(25)  # the NaN cell adds nobody
    assert out.loc["a", "poor_population_top"] == pytest.approx(60)  # its 0.6 cell is top
    assert out.loc["b", "poor_population_top"] == pytest.approx(25)
    assert out.loc["c", "poor_population"] == 0
    assert out["poor_population"].sum() == pytest.approx(95)
    assert rollup(matrix, score)["poor_population"].isna().all()  # no poverty layer: unknown


def test_shared_units_are_ranked_through_the_cells_they_overlap():
    matrix = pd.DataFrame({"h3": np.array([0x871, 0x872, 0x873], dtype=np.uint64),
                           "unit_code": ["a", "b", "b"], "parent_code": ["p"] * 3,
                           "grandparent_code": ["d"] * 3, "population_2020": [10.0, 20.0, 30.0]})
    score = np.array([0.2, 0.6, 1.0])
    shared = {"tiny": {"871": 0.25, "872": 0.75}, "a": {"871": 1.0}}  # "a" owns a cell: ignored
    out = rollup(matrix, score, level="unit", shared=shared).set_index("code")
    assert out.loc["tiny", "mean"] == pytest.approx(0.25 * 0.2 + 0.75 * 0.6)
    assert out.loc["tiny", "max"] == pytest.approx(0.6)
    assert out.loc["tiny", "via_overlap"]
    assert out.loc["tiny", "cells"] == 0
    assert np.isnan(out.loc["tiny", "population"])
    assert out["population"].sum() == pytest.approx(60.0)  # nobody counted twice
    assert not out.loc["a", "via_overlap"]
    assert out.loc["a", "mean"] == pytest.approx(0.2)
    prov = rollup(matrix, score, level="parent", shared=shared)
    assert len(prov) == 1  # only the unit level has shared rows


def _levels(*pairs):
    from geo_engine.regions.region import Level

    return tuple(Level(slot=slot, id=ident, code=ident.upper(), name=None, label_es=ident,
                       label_en=ident) for slot, ident in pairs)


def test_cluster_lists_and_the_units_layer_take_the_regions_own_level_names():
    from geo_engine.reporting.rollup import cluster_levels, unit_layer

    table = pd.DataFrame({"cluster_id": [1], "units": ["Ñuñoa, Providencia"],
                          "parents": ["Santiago"], "grandparents": [""]})
    two = _levels(("unit", "comuna"), ("parent", "provincia"))
    own = cluster_levels(table, two)
    assert list(own.columns) == ["cluster_id", "comunas", "provincias"]  # no empty top list
    assert own["comunas"].tolist() == ["Ñuñoa, Providencia"]
    assert list(table.columns) == ["cluster_id", "units", "parents", "grandparents"]
    assert unit_layer(two) == "comunas"
    peru = _levels(*zip(("unit", "parent", "grandparent"),
                        ("district", "province", "department"), strict=True))  # Peru's names
    assert list(cluster_levels(table, peru).columns) == [
        "cluster_id", "districts", "provinces", "departments"]  # Peru's names
    assert unit_layer(peru) == "districts"  # Peru's names
    assert unit_layer(_levels(("unit", "state"))) == "states"
    upload = _levels(("unit", "unit"), ("parent", "parent"))
    assert list(cluster_levels(table, upload).columns) == ["cluster_id", "units", "parents"]
    assert unit_layer(upload) == "units"
    assert cluster_levels(table, ()).equals(table)  # no levels declared: the platform's names
    assert unit_layer(()) == "units"


def test_level_columns_give_peru_its_own_column_names_and_leave_an_upload_as_it_is():
    from geo_engine.reporting.rollup import level_columns

    peru = _levels(*zip(("unit", "parent", "grandparent"),
                        ("district", "province", "department"), strict=True))  # Peru's names
    assert level_columns(peru) == {
        "unit": "district", "parent": "province", "grandparent": "department",  # Peru's names
        "unit_code": "district_code", "parent_code": "province_code",  # Peru's names
        "grandparent_code": "department_code"}  # Peru's names
    assert level_columns(_levels(("unit", "unit"), ("parent", "parent"))) == {}
    assert level_columns(_levels(("unit", "state"))) == {"unit": "state",
                                                         "unit_code": "state_code"}


@pytest.mark.parametrize(("word", "expected"), [("state", "states"), ("comuna", "comunas"),
                                                ("county", "counties"), ("parish", "parishes"),
                                                ("key", "keys"), ("municipio", "municipios")])
def test_plural_of_level_ids(word, expected):
    from geo_engine.reporting.rollup import plural

    assert plural(word) == expected
