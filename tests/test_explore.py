import numpy as np
import pytest

from geo_engine.explore import (
    INCLUSION,
    boundaries,
    categories,
    cell_at,
    cell_card,
    difference,
    focus_choices,
    map_frame,
    movers,
    output_options,
    parse_location,
    scenario,
    with_constraints,
)


def test_scenario_reweights_one_profile(peru):
    base = scenario(peru, profile_id="engine")
    heavier = scenario(peru, profile_id="engine", weights={"operating_mines": 10})
    assert not np.allclose(base.table["score"], heavier.table["score"], equal_nan=True)
    np.testing.assert_allclose(base.dual.need, heavier.dual.need, equal_nan=True)
    assert heavier.weights["operating_mines"] > base.weights["operating_mines"]


def test_inclusion_pseudo_profile(peru):
    sc = scenario(peru, profile_id=INCLUSION)
    np.testing.assert_allclose(sc.table["score"], sc.dual.inclusion, equal_nan=True)
    assert sc.result is None


def test_constraints_toggle(peru):
    profile = peru.profile("engine")
    n = len(profile.constraints)
    assert with_constraints(profile, [True] * n) is profile
    assert with_constraints(profile, [False] * n).constraints == []
    on = scenario(peru, profile_id="engine")
    off = scenario(peru, profile_id="engine", constraints=[False] * n)
    assert np.isnan(on.table["score"]).sum() > np.isnan(off.table["score"]).sum()


def test_outputs_frames_and_card(peru):
    sc = scenario(peru, profile_id="nature_heritage_tourism")
    options = output_options(peru, "es")
    keys = [o.key for o in options]
    assert {"score", "typology", "niche_family", "layer:poverty_2018"} <= set(keys)
    typ = next(o for o in options if o.key == "typology")
    frame, res = map_frame(peru, sc, typ)
    assert res == 5
    assert set(frame["value"].dropna()) <= {"engine_hub", "inclusion_niche", "dual_zone", "latent"}
    assert categories(typ, peru, "es").labels["dual_zone"] == "Zona dual"
    focus, _ = map_frame(peru, sc, options[0], department="08")
    assert 0 < len(focus) < len(frame)
    row = cell_at(peru, -13.52, -71.97)
    card = cell_card(peru, sc, row, "en")
    assert card["names"]["department"] == "CUSCO"
    assert "Monetary poverty 2018" in card["why"]
    assert card["contributions"]["contribution"].sum() == pytest.approx(sc.table["score"].iloc[row])
    assert set(card["raw"].columns) == {"layer", "value", "units", "source"}
    assert cell_at(peru, 40.0, 10.0) is None


def test_difference_and_movers(peru):
    a = scenario(peru, profile_id="engine")
    b = scenario(peru, profile_id="engine", weights={"population_2020": 10})
    change = difference(a, b, by="rank")
    assert np.nanmax(np.abs(change)) <= 1
    top = movers(peru, change)
    assert len(top) == 10
    assert top["change"].abs().is_monotonic_decreasing
    with pytest.raises(ValueError, match="must be 'score' or 'rank'"):
        difference(a, b, by="typology")


def test_parse_location_and_boundaries():
    assert parse_location("-13.5, -72") == (-13.5, -72.0)
    assert parse_location("-13.5 -72") == (-13.5, -72.0)
    lat, _lon = parse_location("878b61164ffffff")
    assert -14 < lat < -13
    assert parse_location("hello") is None
    assert parse_location("100, 10") is None
    assert len(boundaries()) == 25
    assert len(boundaries("08")) > 50


def test_typology_change(peru):
    from geo_engine.explore import TYPOLOGY_CHANGE, typology_change

    a = scenario(peru, profile_id="engine")
    b = scenario(peru, profile_id="engine", weights={"operating_mines": 20})
    change = typology_change(a, b)
    present = {c for c in change if c is not None}
    assert present <= set(TYPOLOGY_CHANGE)
    assert "unchanged" in present
    same = typology_change(a, a)
    assert {c for c in same if c is not None} == {"unchanged"}


def test_focus_choices_are_departments_by_name(peru):
    kind, labels = focus_choices(peru)
    assert kind == "department"
    assert len(labels) == 25
    assert labels["08"] == "CUSCO"
    assert list(labels.values()) == sorted(labels.values())
