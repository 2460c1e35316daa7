"""End to end on the shipped Peru data at a coarse resolution."""

import warnings

import numpy as np
import pytest

from geo_engine._errors import GeoEngineWarning
from geo_engine.pipeline import run


@pytest.fixture(scope="module")
def peru(tmp_path_factory):
    import geo_engine.settings as s

    old = s.cache_dir
    s.cache_dir = tmp_path_factory.mktemp("cache")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GeoEngineWarning)
            result = run(resolution=5)
    finally:
        s.cache_dir = old
    # at resolution 5 many small districts hold no cell centre: the grid says so
    assert any("smaller than one cell" in str(w.message) for w in caught)
    return result


def test_every_profile_scored(peru):
    assert {"engine", "need", "access"} <= set(peru.profiles)
    assert len([p for p in peru.profiles.values() if p.kind == "family"]) == 9
    for pid, result in peru.dual.results.items():
        finite = result.score[np.isfinite(result.score)]
        # cells left out by a profile's constraints (protected areas) are not scored, on purpose
        excluded = sum(v for k, v in result.prepared.report.items()
                       if k.startswith("excluded_by_constraint"))
        assert finite.size + excluded > 0.9 * len(peru.matrix), pid
        assert ((finite >= 0) & (finite <= 1)).all(), pid


def test_every_layer_has_values(peru):
    for layer_id in peru.specs:
        assert np.isfinite(peru.matrix[layer_id]).any(), layer_id


def test_population_preserved_and_names(peru):
    # cells hold the districts' population except districts without a cell at this resolution
    total = peru.matrix["population_2020"].sum()
    assert 3.0e7 < total < 3.45e7
    assert {"unit", "parent", "grandparent"} <= set(peru.names.columns)


def test_matrix_carries_no_build_report(peru):
    # every column read would deep-copy it (pandas copies attrs into each Series)
    assert peru.matrix.attrs == {}
    assert peru.matrix["lat"].attrs == {}


def test_unknown_profile_lists_known(peru):
    with pytest.raises(KeyError, match="known: "):
        peru.profile("nope")


def test_scored_and_resolution(peru):
    assert peru.resolution == 5
    assert peru.scored("engine") is peru.dual.results["engine"]
    with pytest.raises(KeyError, match="no profile 'nope'; known:"):
        peru.scored("nope")


def test_inclusion_scored_like_a_profile(peru):
    from geo_engine.scoring.dual import INCLUSION
    from geo_engine.scoring.score import WGM_FLOOR

    inc = peru.scored(INCLUSION)
    assert peru.profile(INCLUSION).id == INCLUSION
    np.testing.assert_array_equal(inc.score, peru.dual.inclusion)
    assert list(inc.contributions.columns) == ["niche", "need", "access"]
    assert inc.contribution_space == "log"
    d = peru.dual
    above = np.isfinite(inc.score) & (np.fmin(np.fmin(d.niche, d.need), d.access) > WGM_FLOOR)
    assert above.sum() > 0.25 * len(peru.matrix)  # access decays: many remote cells sit at the floor
    logsum = inc.contributions.to_numpy()[above].sum(axis=1)
    np.testing.assert_allclose(np.exp(logsum), inc.score[above], rtol=1e-9)


def test_poor_population_is_a_column_of_the_run(peru):
    m = peru.matrix
    np.testing.assert_allclose(m["poor_population"],
                               m["poverty_2018"] * m["population_2020"] / 100)


def test_no_unit_with_a_polygon_is_dropped_from_rankings_or_briefs(peru):
    from geo_engine.reporting.rollup import rollup

    assert peru.shared_units  # at resolution 5 (~250 km² cells) many city districts own no cell
    ranked = rollup(peru.matrix, peru.scored("need").score, level="unit",
                    shared=peru.shared_units)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # the 8 units without a polygon
        units = peru.region.units()
    with_polygon = set(units.loc[units.geometry.notna() & ~units.geometry.is_empty,
                                 "unit_code"].astype(str))
    assert with_polygon <= set(ranked["code"].astype(str))
    code = next(iter(peru.shared_units))
    rows, shares = peru.unit_rows(code)
    assert shares is not None
    assert rows.sum() == len(shares)
    assert shares.sum() == pytest.approx(1.0)
    owned, none = peru.unit_rows(str(peru.matrix["unit_code"].iloc[0]))
    assert owned.any()
    assert none is None
