import pytest
import yaml

from geo_engine._errors import SpecError
from geo_engine.profiles import Profile, load_profile, load_profiles

GOOD = {
    "id": "tourism",
    "title": {"es": "Turismo", "en": "Tourism"},
    "description": "Nature and heritage tourism.",
    "layers": [
        {"id": "heritage_sites", "weight": 2, "rationale": "Heritage draws visitors."},
        {"id": "distance_town_50k", "weight": 1, "rationale": "Visitors arrive through towns."},
    ],
}


def _write(tmp_path, doc, name="p.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_weights_are_normalized(tmp_path):
    profile = load_profile(_write(tmp_path, GOOD))
    assert profile.weights() == pytest.approx({"heritage_sites": 2 / 3, "distance_town_50k": 1 / 3})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layers": [{"id": "a", "weight": -1, "rationale": "r"}]},
         r"key `layers.0.weight`: .*layer 'a': weight -1.0 is not a finite number ≥ 0; write a plain "
         r"number such as 1"),
        ({"layers": [{"id": "a", "weight": 0, "rationale": "r"}]}, "all weights are zero"),
        ({"aggregation": {"method": "mean"}},
         r"key `aggregation.method`: Input should be 'wlc', 'wgm', 'owa' or 'topsis'"),
        ({"aggregation": {"method": "owa"}}, "owa needs `orness`"),
        ({"missing": "zero"}, r"key `missing`: Input should be 'exclude', 'worst' or 'impute_admin'"),
        ({"layers": [{"id": "a", "weight": 1}]}, r"key `layers.0.rationale`: Field required"),
        ({"constraints": [{"layer": "a", "op": "~", "value": 1, "rationale": "r"}]},
         r"key `constraints.0.op`"),
        ({"normalization": {"method": "fuzzy"}}, "needs `fuzzy_points`"),
    ],
)
def test_bad_profiles_name_file_and_key(tmp_path, change, message):
    path = _write(tmp_path, {**GOOD, **change})
    with pytest.raises(SpecError, match=message) as info:
        load_profile(path)
    assert str(path) in str(info.value)


def test_unknown_layer_names_file_and_key(tmp_path):
    path = _write(tmp_path, {**GOOD, "constraints": [
        {"layer": "nope", "op": ">", "value": 0, "rationale": "r"}]})
    profile = load_profile(path)
    with pytest.raises(SpecError, match=r"p\.yaml: profile 'tourism'.*layers\.0\.id = 'heritage_sites'"
                       r".*constraints\.0\.layer = 'nope'") as info:
        profile.check_layers({"distance_town_50k"})
    assert "available: ['distance_town_50k']" in str(info.value)
    with pytest.raises(SpecError, match="profile 'tourism'"):
        Profile.model_validate(GOOD).check_layers(set())


def test_folder_and_duplicates(tmp_path):
    _write(tmp_path, GOOD, "a.yaml")
    assert list(load_profiles(tmp_path)) == ["tourism"]
    _write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(SpecError, match="used twice"):
        load_profiles(tmp_path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_profile(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="a profile is a mapping"):
        load_profile(bad)


@pytest.mark.hostile
@pytest.mark.parametrize("weight", [".inf", ".nan", "-.inf", "-0.5", "'inf'"])
def test_weights_must_be_finite_and_not_negative(tmp_path, weight):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(GOOD, allow_unicode=True).replace("weight: 2", f"weight: {weight}"),
                    encoding="utf-8")
    with pytest.raises(SpecError, match=rf"{path}: key `layers\.0\.weight`: .*layer 'heritage_sites': "
                       r"weight -?(inf|nan|0\.5) is not a finite number ≥ 0; write a plain number such "
                       r"as 1 or 0\.5 \(0 leaves the layer out\)"):
        load_profile(path)


@pytest.mark.hostile
@pytest.mark.parametrize(("change", "key"), [
    ({"constraints": [{"layer": "heritage_sites", "op": ">", "value": float("nan"), "rationale": "r"}]},
     "constraints.0.value"),
    ({"aggregation": {"method": "owa", "orness": float("nan")}}, "aggregation.orness"),
    ({"aggregation": {"method": "owa", "order_weights": [1.0, float("inf")]}},
     "aggregation.order_weights.1"),
    ({"normalization": {"method": "fuzzy", "fuzzy_points": [0.0, float("inf")]}},
     "normalization.fuzzy_points.1"),
])
def test_other_numbers_must_be_finite(tmp_path, change, key):
    path = _write(tmp_path, {**GOOD, **change})
    with pytest.raises(SpecError, match=rf"key `{key}`: Input should be a finite number"):
        load_profile(path)


@pytest.mark.parametrize("region", ["peru", "brazil"])
def test_shipped_profiles_speak_spanish_and_english(region):
    from pathlib import Path

    from geo_engine.layers import Title
    from geo_engine.profiles import localized

    folder = Path(__file__).resolve().parents[1] / "layers" / region / "profiles"
    for path in sorted(folder.glob("*.yaml")):
        profile = load_profile(path)
        texts = [profile.description, *(lay.rationale for lay in profile.layers),
                 *(c.rationale for c in profile.constraints)]
        assert all(isinstance(x, Title) for x in texts), path.name
        assert all(localized(x, "es") != localized(x, "en") for x in texts), path.name


def test_a_profile_text_may_be_one_english_string_or_both_languages(tmp_path):
    from geo_engine.profiles import localized

    doc = {"id": "p", "title": {"es": "P", "en": "P"}, "description": "English only",
           "layers": [{"id": "a", "weight": 1, "rationale": {"es": "Porque sí", "en": "Because"}}]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    profile = load_profile(path)
    assert localized(profile.description, "es") == "English only"
    assert localized(profile.layers[0].rationale, "es") == "Porque sí"
    assert localized(profile.layers[0].rationale, "fr") == "Because"
    doc["layers"][0]["rationale"] = {"es": "Solo español"}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(SpecError, match="rationale"):
        load_profile(path)
