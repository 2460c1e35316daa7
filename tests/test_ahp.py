import copy

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from geo_engine._errors import GeoEngineWarning, SpecError
from geo_engine.planning.ahp import (
    CR_LIMIT,
    SAATY_SCALE,
    InconsistentJudgementsError,
    ahp_weights,
    geometric_mean_matrix,
    group_result,
    group_weights,
    load_survey,
    pairwise_matrix,
    profile_with_weights,
    random_index,
    slider_weights,
    weights_yaml,
)
from geo_engine.scoring.profiles import Profile

# The 3×3 example of the AHP textbooks: weights 0.637, 0.258, 0.105; λmax 3.039; CR 0.033.
TEXTBOOK = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]


def _write(tmp_path, doc, name="survey.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


SURVEY = {
    "criteria": ["a", "b", "c"],
    "participants": [
        {"name": "planner", "judgements": {"a": {"b": 3, "c": 5}, "b": {"c": 3}}},
        {"name": "ngo", "judgements": {"a": {"b": 1, "c": 3}, "c": {"b": "1/3"}}},
    ],
}


def test_textbook_example():
    r = ahp_weights(TEXTBOOK, ["a", "b", "c"])
    assert r.weights.to_numpy() == pytest.approx([0.6370, 0.2583, 0.1047], abs=5e-4)
    assert r.lambda_max == pytest.approx(3.0385, abs=1e-3)
    assert r.ci == pytest.approx(0.0193, abs=1e-3)
    assert r.cr == pytest.approx(0.0332, abs=1e-3)
    assert r.consistent


def test_saaty_random_index_and_simulated_extension():
    assert [random_index(n) for n in (3, 4, 5, 10)] == [0.58, 0.90, 1.12, 1.49]
    # published extensions of the table give 1.51–1.52 at n = 11 and 1.58–1.59 at n = 15
    assert random_index(11) == pytest.approx(1.515, abs=0.01)
    assert random_index(15) == pytest.approx(1.585, abs=0.01)
    with pytest.raises(ValueError, match="at least one criterion"):
        random_index(0)


@given(st.lists(st.floats(0.05, 20), min_size=2, max_size=9))
def test_consistent_matrix_recovers_weights(raw):
    w = np.array(raw) / sum(raw)
    r = ahp_weights(np.outer(w, 1 / w))
    assert r.weights.to_numpy() == pytest.approx(w, rel=1e-6)
    assert r.cr == pytest.approx(0.0, abs=1e-8)
    assert r.weights.sum() == pytest.approx(1.0)


def test_most_inconsistent_pair_is_the_perturbed_one():
    w = np.array([0.4, 0.3, 0.2, 0.1])
    a = np.outer(w, 1 / w)
    a[0, 3], a[3, 0] = 1 / 4, 4  # a was 4 times d; say d is 4 times a
    r = ahp_weights(a, list("abcd"))
    assert r.cr > CR_LIMIT
    assert set(r.worst_pair) == {"a", "d"}


@pytest.mark.parametrize(("matrix", "message"), [
    ([[1, 2], [2, 1]], "not reciprocal"),
    ([[1, 2, 3]], "square"),
    ([[1, -1], [-1, 1]], "positive finite"),
])
def test_bad_matrices(matrix, message):
    with pytest.raises(ValueError, match=message):
        ahp_weights(matrix)


def test_geometric_mean_is_reciprocal():
    g = geometric_mean_matrix([TEXTBOOK, np.outer([1, 2, 3], [1, 1 / 2, 1 / 3])])
    assert g * g.T == pytest.approx(np.ones((3, 3)))


@pytest.mark.parametrize(("judgements", "message"), [
    ({"a": {"b": 3}}, r"2 pairs are not judged: a vs c, b vs c"),
    ({"a": {"b": 3, "c": 1, "z": 2}, "b": {"c": 1}}, r"'z' is not one of the criteria"),
    ({"a": {"a": 1}}, "compared with itself"),
    ({"a": {"b": 3, "c": 1}, "b": {"a": 3, "c": 1}}, r"b vs a is judged twice \(0.333 and 3"),
])
def test_pairwise_matrix_errors(judgements, message):
    with pytest.raises(ValueError, match=message):
        pairwise_matrix(["a", "b", "c"], judgements)


def test_both_directions_agreeing_are_accepted():
    a = pairwise_matrix(["a", "b"], {"a": {"b": 3}, "b": {"a": 1 / 3}})
    assert a[1, 0] == pytest.approx(1 / 3)


def test_group_weights_aggregate_judgements(tmp_path):
    result = group_weights(load_survey(_write(tmp_path, SURVEY)))
    assert list(result.table.columns) == ["planner", "ngo", "group", "min", "max", "sd"]
    assert result.table["group"].sum() == pytest.approx(1.0)
    expected = ahp_weights(geometric_mean_matrix([
        TEXTBOOK, [[1, 1, 3], [1, 1, 3], [1 / 3, 1 / 3, 1]]]), ["a", "b", "c"]).weights
    assert result.group.weights.to_numpy() == pytest.approx(expected.to_numpy())
    assert (result.table["min"] <= result.table["group"]).all()
    assert (result.table["group"] <= result.table["max"]).all()


def test_inconsistent_participant_warns_or_is_refused(tmp_path):
    doc = {"criteria": ["a", "b", "c"],
           "participants": [{"name": "p", "judgements": {"a": {"b": 9, "c": "1/9"}, "b": {"c": 9}}}]}
    with pytest.warns(GeoEngineWarning, match=r"participant 'p': consistency ratio .* above 0.1; "
                      r"the judgement least in line"):
        group_weights(load_survey(_write(tmp_path, doc)))
    with pytest.raises(InconsistentJudgementsError, match="participant 'p'"):
        group_weights(load_survey(_write(tmp_path, {**doc, "on_inconsistent": "refuse"})))


@pytest.mark.parametrize(("change", "message"), [
    ({"criteria": ["a"]}, r"key `criteria`: List should have at least 2 items"),
    ({"participants": [{"name": "p", "judgements": {"a": {"b": 10}}}]},
     r"a vs b: 10 is outside Saaty's scale"),
    ({"participants": [{"name": "p", "judgements": {"a": {"b": "x"}}}]}, r"'x' is not a number"),
    ({"participants": [{"name": "p", "judgements": {"a": {"b": 2}}}]}, "2 pairs are not judged"),
    ({"participants": [copy.deepcopy(SURVEY["participants"][0]) for _ in range(2)]},
     "participant names used twice"),
    ({"on_inconsistent": "ignore"}, r"key `on_inconsistent`"),
])
def test_survey_errors_name_the_file_and_key(tmp_path, change, message):
    path = _write(tmp_path, {**SURVEY, **change})
    with pytest.raises(SpecError, match=message) as err:
        load_survey(path)
    assert str(path) in str(err.value)


def test_profile_and_weight_file_outputs(tmp_path):
    profile = Profile.model_validate({
        "id": "p", "title": {"es": "P", "en": "P"}, "description": "d",
        "layers": [{"id": x, "weight": 1, "rationale": "r"} for x in "abc"]})
    result = group_weights(load_survey(_write(tmp_path, SURVEY)))
    text = weights_yaml(profile, result, source="survey.yaml")
    back = Profile.model_validate(yaml.safe_load(text))
    assert back.weights() == pytest.approx(result.group.weights.to_dict(), abs=1e-3)
    assert text.startswith("# weights from AHP (survey.yaml): 2 participants")
    plain = yaml.safe_load(weights_yaml(None, result))
    assert set(plain["weights"]) == {"a", "b", "c"}
    with pytest.raises(ValueError, match=r"profile 'p' has no layers \['z'\]"):
        profile_with_weights(profile, {"z": 1})
    with pytest.raises(ValueError, match=r"the survey does not weigh layers \['c'\]"):
        profile_with_weights(profile, {"a": 1, "b": 1})


def test_group_result_is_what_the_survey_gives_without_warnings():
    judgements = {p["name"]: p["judgements"] for p in SURVEY["participants"]}
    judgements["ngo"] = {"a": {"b": 1, "c": 3}, "c": {"b": 1 / 3}}
    result = group_result(SURVEY["criteria"], judgements)
    assert result.participants["planner"].weights.to_numpy() == pytest.approx(
        ahp_weights(TEXTBOOK).weights.to_numpy())
    assert result.table["sd"].ge(0).all()
    with pytest.raises(ValueError, match="no participants"):
        group_result(["a", "b"], {})


def test_saaty_scale_is_reciprocal_and_ordered():
    from fractions import Fraction

    values = [float(Fraction(v)) for v in SAATY_SCALE]
    assert values == sorted(values, reverse=True)
    assert values == pytest.approx([1 / v for v in reversed(values)])
    assert len(values) == 17


@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12))
def test_slider_weights_keep_ratios_within_rounding(raw):
    w = dict(zip([f"l{i}" for i in range(len(raw))], raw, strict=True))
    out = slider_weights(w)
    assert max(out.values()) == pytest.approx(5.0)
    assert min(out.values()) >= 0.1
    scale = 5.0 / max(raw)
    for k, v in out.items():
        assert abs(v - max(w[k] * scale, 0.1)) <= 0.05 + 1e-9 or v == pytest.approx(0.1)
        assert round(v * 10) == pytest.approx(v * 10)  # on the sliders' 0.1 step


def test_slider_weights_refuse_all_zero():
    with pytest.raises(ValueError, match="all zero"):
        slider_weights({"a": 0.0})
