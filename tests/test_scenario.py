import pytest
import yaml

from geo_engine._errors import SpecError
from geo_engine.planning.scenario import apply_scenario, load_scenario, scenario_yaml
from geo_engine.scoring.profiles import Profile

PROFILE = Profile.model_validate({
    "id": "agro_food", "title": {"es": "A", "en": "A"}, "description": "d",
    "layers": [{"id": x, "weight": 1, "rationale": "r"} for x in ("crops", "roads")]})

GOOD = {"id": "south", "title": "Agro-food in the south", "profile": "agro_food",
        "weights": {"crops": 3},
        "constraints": [{"layer": "protected_strict", "op": "<", "value": 0.5, "rationale": "parks"}],
        "plan": {"sites": 12, "reach_minutes": 90, "min_km": 30, "per_department": 3}}


def _write(tmp_path, doc):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_scenario_reweights_and_constrains_the_profile(tmp_path):
    scen = load_scenario(_write(tmp_path, GOOD))
    assert scen.plan.sites == 12
    assert scen.plan.niche_min == pytest.approx(2 / 3)
    out = apply_scenario(PROFILE, scen)
    assert out.weights() == pytest.approx({"crops": 0.75, "roads": 0.25})
    assert [c.layer for c in out.constraints] == ["protected_strict"]
    assert PROFILE.weights() == pytest.approx({"crops": 0.5, "roads": 0.5})  # not changed
    assert load_scenario(_write(tmp_path, yaml.safe_load(scenario_yaml(scen)))) == scen


@pytest.mark.parametrize(("change", "message"), [
    ({"plan": {"sites": 0}}, r"key `plan.sites`: Input should be greater than or equal to 1"),
    ({"weights": {"crops": -1}}, r"weights must be ≥ 0"),
    ({"id": "South"}, r"key `id`: String should match pattern"),
    ({"plan": {"sitez": 3}}, r"key `plan.sitez`: Extra inputs are not permitted"),
])
def test_scenario_errors_name_file_and_key(tmp_path, change, message):
    path = _write(tmp_path, {**GOOD, **change})
    with pytest.raises(SpecError, match=message) as err:
        load_scenario(path)
    assert str(path) in str(err.value)


def test_scenario_for_another_profile_or_layer_is_refused(tmp_path):
    scen = load_scenario(_write(tmp_path, {**GOOD, "profile": "engine"}))
    with pytest.raises(SpecError, match="is for profile 'engine', not 'agro_food'"):
        apply_scenario(PROFILE, scen)
    scen = load_scenario(_write(tmp_path, {**GOOD, "weights": {"ports": 1}}))
    with pytest.raises(SpecError, match=r"weighs layers \['ports'\] that profile 'agro_food' lacks"):
        apply_scenario(PROFILE, scen)
