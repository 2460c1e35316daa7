import numpy as np
import pandas as pd
import pytest

from geo_engine.scoring.explain import contributions, drivers, top_threshold, what_it_takes
from geo_engine.scoring.profiles import Evidence, Profile
from geo_engine.scoring.score import score_profile


def _matrix(n=20, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.uniform(0, 10, n), "b": rng.uniform(0, 1, n),
                         "c": rng.uniform(5, 6, n)})


def _profile(method="wlc", **agg):
    return Profile.model_validate({
        "id": "p", "title": {"es": "p", "en": "p"}, "description": "d",
        "aggregation": {"method": method, **agg},
        "layers": [{"id": "a", "weight": 2, "rationale": "r"},
                   {"id": "b", "weight": 1, "rationale": "r"},
                   {"id": "c", "weight": 1, "rationale": "r"}]})


def test_contributions_sum_to_score():
    m = _matrix()
    res = score_profile(m, _profile())
    for cell in range(len(m)):
        table = contributions(res, cell)
        assert table["contribution"].sum() == pytest.approx(res.score[cell])
        assert table["contribution"].is_monotonic_decreasing


def test_drivers_up_and_down():
    m = pd.DataFrame({"a": [0.0, 10.0, 5.0], "b": [1.0, 0.0, 0.5], "c": [0.0, 1.0, 0.5]})
    up, down = drivers(score_profile(m, _profile()), top=2)
    assert up.loc[1, "1"] == "a"
    assert down.loc[0, "1"] == "a"
    assert up.loc[2].isna().all()  # the average cell is pulled neither way


@pytest.mark.parametrize(("method", "agg"), [("wlc", {}), ("wgm", {}), ("owa", {"orness": 0.7}),
                                             ("topsis", {})])
def test_what_it_takes_reaches_the_top_decile(method, agg):
    m = _matrix(50)
    res = score_profile(m, _profile(method, **agg))
    target = top_threshold(res)
    below = np.where(res.score < target, res.score, -np.inf)
    cell = int(np.argmax(below))  # the best cell still outside the top decile
    reqs = what_it_takes(res, m, cell)
    assert reqs
    for r in reqs:
        assert r.normalized_to >= r.normalized_from
        assert r.normalized_to <= 1.0
    if method == "wlc":
        a = reqs[[r.layer for r in reqs].index("a")] if "a" in [r.layer for r in reqs] else None
        if a is not None:
            expected = a.normalized_from + (target - res.score[cell]) / res.weights["a"]
            assert a.normalized_to == pytest.approx(expected, abs=1e-5)


def test_no_single_layer_can_lift_the_worst_cell():
    m = _matrix(50)
    res = score_profile(m, _profile())
    assert what_it_takes(res, m, int(np.nanargmin(res.score))) == []


def test_what_it_takes_is_empty_at_the_top():
    m = _matrix()
    res = score_profile(m, _profile())
    assert what_it_takes(res, m, int(np.nanargmax(res.score))) == []
    with pytest.raises(ValueError, match=r"must be in \(0, 1\)"):
        top_threshold(res, quantile=1.5)


def test_what_it_takes_cannot_open_a_closed_gate():
    m = pd.DataFrame({"ore": [0.0, 5e7, 1e8, 2e8, 3e8] * 4, "port_km": np.linspace(0, 100, 20)})
    p = Profile(id="engine", title={"es": "e", "en": "e"}, description="d", layers=[
        {"id": "ore", "weight": 1, "rationale": "r"},
        {"id": "port_km", "weight": 1, "rationale": "r", "direction": "cost"}],
        gate=[{"layer": "ore", "threshold": 1e7, "rationale": "r"}])
    res = score_profile(m, p)
    assert what_it_takes(res, m, 0) == []  # next to the port, no ore: no single layer helps


def _why_case():
    from geo_engine.scoring.dual import dual_model

    n = 12
    m = pd.DataFrame({
        "lat": np.linspace(-12, -11.5, n), "lon": np.full(n, -77.0), "area_km2": 5.0,
        "unit_code": ["a"] * 6 + ["b"] * 6,
        "coffee": [0, 0, 0, 500, 1000, 0, 0, 0, 0, 0, 0, 0], "poverty": np.linspace(10, 70, n),
        "minutes": np.linspace(30, 300, n), "ore": np.arange(n, dtype=float)})

    def prof(pid, kind, layer, **kw):
        return Profile.model_validate({
            "id": pid, "kind": kind, "title": {"es": f"{pid} es", "en": f"{pid} en"},
            "description": "d", "layers": [{"id": layer, "weight": 1, "rationale": "r", **kw}]})

    coffee = prof("coffee", "family", "coffee").model_copy(update={"evidence": [Evidence(
        layer="coffee", per="km2", threshold=40, full=200,
        rationale={"es": "Café de mercado", "en": "Market coffee"})]})
    profiles = {"engine": prof("engine", "engine", "ore"), "need": prof("need", "need", "poverty"),
                "access": prof("access", "access", "minutes", direction="cost"), "coffee": coffee}
    return m, profiles, dual_model(m, profiles)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_why_names_the_evidence_the_need_and_the_reach(lang):
    from geo_engine.scoring.explain import why

    m, profiles, dual = _why_case()
    text = why(dual, m, 4, profiles=profiles, specs={}, lang=lang)
    assert f"coffee {lang}" in text  # the family
    assert "200" in text  # 1,000 over 5 km²
    assert "40" in text  # the threshold
    assert "poverty" in text
    assert "minutes" in text
    none = why(dual, m, 0, profiles=profiles, specs={}, lang=lang)
    assert none.startswith("No evidence" if lang == "en" else "Aún no hay evidencia")


def test_why_writes_units_and_numbers_in_spanish():
    from geo_engine.ingest.specs import LayerSpec
    from geo_engine.scoring.explain import why

    m, profiles, dual = _why_case()
    specs = {"minutes": LayerSpec.model_validate({
        "id": "minutes", "title": {"en": "Travel time", "es": "Tiempo de viaje"},
        "theme": "infrastructure",
        "kind": "table", "source": "x.csv", "method": "intensive", "units": "minutes",
        "direction": "cost", "params": {"column": "minutes"}})}
    m = m.assign(minutes=m["minutes"] / 10 + 0.25)  # under 100: written with decimals
    es = why(dual, m, 4, profiles=profiles, specs=specs, lang="es")
    en = why(dual, m, 4, profiles=profiles, specs=specs, lang="en")
    assert "minutos" in es
    assert "minutes" not in es
    assert "minutes" in en
    value = float(m["minutes"].iloc[4])
    assert f"{value:.3g}".replace(".", ",") in es
    assert f"{value:.3g}" in en


@pytest.mark.parametrize(("lang", "reason", "other"), [("es", "Café de mercado.", "Market coffee"),
                                                       ("en", "Market coffee.", "Café de mercado")])
def test_why_gives_the_evidence_reason_in_the_users_language(lang, reason, other):
    from geo_engine.scoring.explain import why

    m, profiles, dual = _why_case()
    text = why(dual, m, 4, profiles=profiles, specs={}, lang=lang)
    assert reason in text
    assert other not in text
    assert reason not in why(dual, m, 0, profiles=profiles, specs={}, lang=lang)  # no niche


def test_a_plain_string_reason_is_shown_in_every_language():
    from geo_engine.scoring.explain import why

    m, profiles, dual = _why_case()
    coffee = profiles["coffee"]
    plain = coffee.model_copy(update={"evidence": [
        coffee.evidence[0].model_copy(update={"rationale": "Own reason"})]})
    assert "Own reason." in why(dual, m, 4, profiles={**profiles, "coffee": plain}, specs={},
                               lang="es")


@pytest.mark.parametrize("lang", ["es", "en"])
def test_gate_why_names_the_resource_that_opens_the_gate_and_its_reason(lang):
    from geo_engine.scoring.explain import gate_why

    m = pd.DataFrame({"ore": [0.0, 2e7, 1e9], "port_km": [1.0, 5.0, 9.0]})
    p = _profile().model_copy(update={"gate": [Evidence(
        layer="ore", threshold=1e7, full=1e9,
        rationale={"es": "Una mina mediana", "en": "A medium mine"})]})
    opened = gate_why(p, m, 2, specs={}, lang=lang)
    assert ("Una mina mediana." if lang == "es" else "A medium mine.") in opened
    assert "ore" in opened
    assert ("1 de 1" if lang == "es" else "1 of 1") in opened  # full strength
    closed = gate_why(p, m, 0, specs={}, lang=lang)
    assert closed.startswith("Compuerta de recurso cerrada" if lang == "es"
                             else "Resource gate closed")
    assert gate_why(_profile(), m, 2, specs={}, lang=lang) == ""  # no gate, nothing to say
