import re

import pytest
import yaml

from geo_engine._errors import SpecError
from geo_engine.planning.scenario import (
    Scenario,
    apply_scenario,
    constraint_text,
    custom_extras,
    custom_profile,
    load_scenario,
    read_scenario_bytes,
    scenario_from_params,
    scenario_id,
    scenario_params,
    scenario_profile,
    scenario_yaml,
)
from geo_engine.scoring.profiles import Constraint, Profile

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


FULL = {**GOOD, "drop_constraints": ["slope"], "thresholds": {"engine": 0.8, "inclusion": 0.7},
        "focus": {"department": "21", "province": "2101"}}
SLOPED = PROFILE.model_copy(update={"constraints": [
    Constraint(layer="slope", op="<", value=30, rationale="r"),
    Constraint(layer="water", op="<", value=0.5, rationale="r")]})


def test_full_scenario_round_trips_through_yaml_and_bytes(tmp_path):
    scen = load_scenario(_write(tmp_path, FULL))
    text = scenario_yaml(scen)
    assert read_scenario_bytes(text.encode(), name="mine.yaml") == scen
    assert scen.thresholds.engine == pytest.approx(0.8)
    assert scen.focus.department == "21"
    out = apply_scenario(SLOPED, scen)  # the profile's slope rule is off, the added one is on
    assert [c.layer for c in out.constraints] == ["water", "protected_strict"]


def test_dropping_a_constraint_the_profile_lacks_is_refused(tmp_path):
    scen = load_scenario(_write(tmp_path, {**GOOD, "drop_constraints": ["roads"]}))
    with pytest.raises(SpecError, match=r"drops constraints on \['roads'\] but profile "
                                        r"'agro_food' constrains only \[\]"):
        apply_scenario(PROFILE, scen)


HOSTILE = [
    (b"a: &x [1, 2]\nb: *x\n", "anchor"),
    (b"- just\n- a list\n", "a scenario is a mapping"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"id: x\nprofile: [unclosed\n", "not valid YAML"),
    (b"id: x\nprofile: agro_food\nweights: {crops: .nan}\n", "finite number"),
    (b"id: x\nprofile: agro_food\nweights: {crops: 1e300}\n", "at most 1e6"),
    (b"id: x\nprofile: agro_food\nweights: {'../etc': 1}\n", "name layers by id"),
    (b"id: x\nprofile: '<script>'\n", "key `profile`"),
    (b"id: x\nprofile: agro_food\nthresholds: {engine: 2}\n", "key `thresholds.engine`"),
    (b"id: x\nprofile: agro_food\nfocus: {department: \"a\\u0007b\"}\n", "key `focus.department`"),
    (b"id: x\nprofile: agro_food\n" + b"x" * 2_000_000, "larger than"),
    (b"id: x\nprofile: agro_food\nexec: !!python/object/apply:os.system [ls]\n", "not valid YAML"),
]


@pytest.mark.parametrize(("data", "message"), HOSTILE)
def test_hostile_scenario_files_get_one_line_naming_the_file(data, message):
    with pytest.raises(SpecError, match=re.escape(message)) as err:
        read_scenario_bytes(data, name="bad.yaml")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(("bad.yaml", "invalid scenario: bad.yaml"))


def test_url_parameters_round_trip_the_view():
    scen = Scenario(id="x", profile="agro_food", weights={"crops": 2.5, "roads": 0.1},
                    drop_constraints=["slope"], thresholds={"engine": 0.8},
                    focus={"department": "21"})
    params = scenario_params(scen)
    assert params == {"profile": "agro_food", "weights": "crops:2.5,roads:0.1", "off": "slope",
                      "thresholds": "0.8,0.666667", "dep": "21"}
    back = scenario_from_params(params)
    assert back.weights == scen.weights
    assert back.drop_constraints == ["slope"]
    assert back.thresholds.engine == pytest.approx(0.8)
    assert back.thresholds.inclusion == pytest.approx(2 / 3, abs=1e-6)
    assert back.focus == scen.focus
    assert scenario_params(Scenario(id="y", profile="engine")) == {"profile": "engine"}


@pytest.mark.parametrize(("params", "message"), [
    ({"profile": "engine", "weights": "crops:abc"}, "URL parameter weights: 'crops:abc' is not"),
    ({"profile": "engine", "weights": "crops"}, "is not layer:weight"),
    ({"profile": "engine", "weights": "crops:inf"}, "is not layer:weight"),
    ({"profile": "engine", "weights": "crops:-1"}, "weights must be ≥ 0"),
    ({"profile": "engine", "thresholds": "0.7"}, "thresholds: '0.7' is not two numbers"),
    ({"profile": "engine", "thresholds": "0.7,9"}, "parameter `thresholds.inclusion`"),
    ({"profile": "<b>"}, "parameter `profile`"),
    ({"profile": "engine", "dep": "x" * 65}, "parameter `dep`"),
    ({"profile": "engine", "off": "a b"}, "drop_constraints lists layer ids"),
])
def test_bad_url_parameters_get_one_line(params, message):
    with pytest.raises(SpecError, match=re.escape(message)) as err:
        scenario_from_params(params)
    assert "\n" not in str(err.value)



@pytest.mark.parametrize(("data", "key", "field"), [
    (b"id: x\nprofile: [unclosed\n", "scenario_err_yaml", "line"),
    (b"a: &x [1, 2]\nb: *x\n", "scenario_err_anchor", "line"),
    (b"\xff\xfe\x00", "scenario_err_unreadable", "where"),
    (b"- just\n- a list\n", "scenario_err_not_mapping", "keys"),
    (b"profile: agro_food\n", "scenario_err_missing", "field"),
    (b"id: x\nprofile: agro_food\ncolour: red\n", "scenario_err_unknown_key", "keys"),
    (b"id: x\nprofile: agro_food\nweights: {crops: .nan}\n", "scenario_err_number", "limits"),
    (b"id: x\nprofile: agro_food\nthresholds: {engine: 2}\n", "scenario_err_number", "limits"),
    (b"id: x\nprofile: '<script>'\n", "scenario_err_text", "value"),
    (b"id: x\nprofile: agro_food\nweights: {crops: 1e300}\n", "scenario_err_weights", "value"),
    (b"id: x\nprofile: agro_food\nfocus: [1]\n", "scenario_err_value", "value"),
])
def test_scenario_file_problems_carry_message_ids_in_both_languages(data, key, field):
    from geo_engine._errors import ScenarioError
    from geo_engine.i18n import LANGUAGES, MESSAGES, t

    with pytest.raises(ScenarioError) as err:
        read_scenario_bytes(data, name="mío.yaml")
    problems = err.value.problems
    assert [k for k, _ in problems] == [key]
    fields = problems[0][1]
    assert fields["where"] == "mío.yaml"
    assert fields[field]
    for lang in LANGUAGES:
        text = t(key, lang, **fields)
        assert "{" not in text.replace("{crops", "").replace("{'", "")
        assert "mío.yaml" in text
    assert key in MESSAGES
    if key == "scenario_err_number" and b"engine: 2" in data:
        assert fields["limits"] == "≤ 0.95"
        assert fields["field"] == "thresholds.engine"
        assert t(key, "es", **fields).startswith("mío.yaml: «thresholds.engine» = 2 debe ser")


@pytest.mark.parametrize(("params", "key"), [
    ({"profile": "engine", "weights": "crops:abc"}, "link_err_pairs"),
    ({"profile": "engine", "thresholds": "0.7"}, "link_err_thresholds"),
    ({"profile": "engine", "thresholds": "0.7,9"}, "scenario_err_number"),
    ({"profile": "engine", "dep": "x" * 65}, "scenario_err_text"),
    ({"profile": "engine", "off": "a b"}, "scenario_err_value"),
])
def test_link_problems_carry_message_ids(params, key):
    from geo_engine._errors import ScenarioError
    from geo_engine.i18n import t

    with pytest.raises(ScenarioError) as err:
        scenario_from_params(params)
    (got, fields), = err.value.problems
    assert got == key
    assert "focus." not in t(got, "es", **fields)  # the parameter's own name (dep, off)


@pytest.mark.parametrize(("title", "expected"), [
    ("Agro sur, 12 sitios", "agro_sur_12_sitios"), ("Ñuñoa–Cusco", "nunoa_cusco"),
    ("12 sites", "scenario_12_sites"), ("!!!", "scenario")])
def test_scenario_id_from_a_title_is_valid(title, expected):
    assert scenario_id(title) == expected
    Scenario(id=scenario_id(title), profile="engine")


CUSTOM_DOC = {"id": "mix", "profile": "custom", "weights": {"crops": 2},
              "constraints": [{"layer": "slope", "op": "<=", "value": 15, "rationale": "flat"}],
              "custom": custom_profile(["crops", "roads"], aggregation="owa").model_dump(
                  mode="json", exclude_defaults=True)}


def test_a_custom_profile_scenario_carries_its_profile(tmp_path):
    scen = load_scenario(_write(tmp_path, CUSTOM_DOC))
    assert read_scenario_bytes(scenario_yaml(scen).encode(), name="mix.yaml") == scen
    out = scenario_profile(scen, {"agro_food": PROFILE}, layers=["crops", "roads", "slope"])
    assert out.aggregation.method == "owa"
    assert out.weights() == pytest.approx({"crops": 2 / 3, "roads": 1 / 3})
    assert [(c.layer, c.op, c.value) for c in out.constraints] == [("slope", "<=", 15)]
    # without its profile, the layers its weights name, combined linearly
    bare = Scenario(id="bare", profile="custom", weights={"roads": 1})
    assert [lay.id for lay in scenario_profile(bare, {}, layers=["roads"]).layers] == ["roads"]
    # a region's profile by id
    plain = scenario_profile(Scenario(id="p", profile="agro_food"), {"agro_food": PROFILE},
                             layers=["crops", "roads"])
    assert plain == PROFILE


@pytest.mark.parametrize(("change", "layers", "message"), [
    ({}, ["crops", "roads"], r"scenario 'mix': profile 'custom' names layers that the region does "
                             r"not have: constraints\.0\.layer = 'slope'"),
    ({"custom": None, "weights": {}}, ["crops"], "neither carries it"),
    ({"profile": "engine", "custom": None}, ["crops"], r"no profile 'engine' in the region"),
])
def test_a_custom_scenario_the_region_cannot_score_is_refused(change, layers, message):
    scen = Scenario.model_validate({**CUSTOM_DOC, **change})
    with pytest.raises(SpecError, match=message):
        scenario_profile(scen, {"agro_food": PROFILE}, layers=layers)


@pytest.mark.hostile
@pytest.mark.parametrize(("change", "message"), [
    ({"profile": "agro_food"}, "`custom` defines the profile 'custom'"),
    ({"custom": {**CUSTOM_DOC["custom"], "layers": [
        {"id": "/etc/passwd", "weight": 1, "rationale": "r"}]}}, "`custom` names layers by id"),
    ({"custom": {**CUSTOM_DOC["custom"], "layers": [
        {"id": f"l{i}", "weight": 1, "rationale": "r"} for i in range(201)]}}, "at most 200"),
    ({"custom": {**CUSTOM_DOC["custom"], "path": "../x.yaml"}}, "key `custom.path`"),
    ({"custom": {**CUSTOM_DOC["custom"], "aggregation": {"method": "owa"}}}, "owa needs `orness`"),
    ({"constraints": [{"layer": "a/b", "op": "<", "value": 1, "rationale": "r"}]},
     "constraints name layers by id"),
])
def test_hostile_custom_scenarios_get_one_line(tmp_path, change, message):
    path = _write(tmp_path, {**CUSTOM_DOC, **change})
    with pytest.raises(SpecError, match=re.escape(message)) as err:
        load_scenario(path)
    assert "\n" not in str(err.value)


def test_url_parameters_carry_added_constraints_and_the_custom_aggregation():
    scen = Scenario.model_validate(CUSTOM_DOC)
    params = scenario_params(scen)
    assert params == {"profile": "custom", "weights": "crops:2", "add": "slope<=15.0",
                      "agg": "owa"}
    back = scenario_from_params(params)
    assert [(c.layer, c.op, c.value) for c in back.constraints] == [("slope", "<=", 15.0)]
    assert back.custom is not None
    assert back.custom.aggregation.method == "owa"
    assert [lay.id for lay in back.custom.layers] == ["crops"]
    odd = Constraint(layer="share", op=">", value=0.1 + 0.2, rationale="r")
    assert scenario_from_params({"profile": "engine", "add": constraint_text(odd)}
                                ).constraints[0].value == odd.value  # exactly, not rounded


@pytest.mark.hostile
@pytest.mark.parametrize(("params", "message"), [
    ({"profile": "engine", "add": "slope=<15"}, "URL parameter add: 'slope=<15' is not layer"),
    ({"profile": "engine", "add": "slope<nan"}, "is not layer, operator, number"),
    ({"profile": "engine", "add": "../x<1"}, "URL parameter add: '../x<1' is not"),
    ({"profile": "engine", "agg": "owa"}, "URL parameter agg: 'owa' is the custom profile's"),
    ({"profile": "custom", "weights": "a:1", "agg": "sum"}, "one of ['wlc', 'wgm', 'owa'"),
])
def test_bad_added_constraints_or_aggregation_in_a_link_get_one_line(params, message):
    with pytest.raises(SpecError, match=re.escape(message)) as err:
        scenario_from_params(params)
    assert "\n" not in str(err.value)


def test_custom_extras_name_what_the_app_cannot_show():
    mine = custom_profile(["crops", "roads"], aggregation="owa")
    assert custom_extras(mine) == []
    doc = mine.model_dump()
    doc["layers"][1]["normalization"] = {"method": "percentile"}
    doc["aggregation"]["orness"] = 0.9
    assert custom_extras(Profile.model_validate(doc)) == ["aggregation", "layers.1.normalization"]
