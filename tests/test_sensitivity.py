import numpy as np
import pandas as pd
import pytest

from geo_engine.scoring.profiles import Profile
from geo_engine.scoring.score import score_profile
from geo_engine.scoring.sensitivity import sensitivity


def _result(n=200, method="wlc", seed=3, weights=(3, 2, 1)):
    rng = np.random.default_rng(seed)
    m = pd.DataFrame({f"l{i}": rng.random(n) for i in range(3)})
    m.loc[0, "l0"] = np.nan
    p = Profile.model_validate({
        "id": "p", "title": {"es": "p", "en": "p"}, "description": "d",
        "aggregation": {"method": method, **({"orness": 0.6} if method == "owa" else {})},
        "missing": "exclude",
        "layers": [{"id": f"l{i}", "weight": w, "rationale": "r"} for i, w in enumerate(weights)]})
    return score_profile(m, p)


def test_huge_concentration_reproduces_the_base_ranking():
    res = _result()
    out = sensitivity(res, draws=50, concentration=1e9, seed=1)
    scored = out.dropna()
    assert out.attrs["spearman_mean"] == pytest.approx(1.0, abs=1e-5)
    # near-ties may swap under tiny weight changes: ranks within one place
    np.testing.assert_allclose(scored["rank_median"], scored["base_rank"], atol=1.01)
    assert (scored["rank_iqr"] <= 1).all()
    top = scored["base_rank"] <= np.ceil(0.1 * len(scored))
    assert (scored.loc[top, "p_top"] == 1).all()
    assert (scored.loc[~top, "p_top"] == 0).all()


def test_outputs_and_reproducibility():
    res = _result()
    a = sensitivity(res, draws=40, concentration=5, seed=7)
    b = sensitivity(res, draws=40, concentration=5, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert np.isnan(a.loc[0]).all()  # excluded cell
    scored = a.dropna()
    assert scored["p_top"].between(0, 1).all()
    assert scored["rank_median"].between(1, len(scored)).all()
    # p_top averages to the share of cells in the top group
    assert scored["p_top"].mean() == pytest.approx(np.ceil(0.1 * len(scored)) / len(scored))
    assert a.attrs["spearman_mean"] < 1
    assert a.attrs["draws"] == 40


def test_zero_weights_stay_zero_and_other_aggregations_run():
    res = _result(weights=(1, 0, 1))
    out = sensitivity(res, draws=20, concentration=2, seed=0)
    assert out["p_top"].notna().sum() == 199
    owa = sensitivity(_result(method="owa"), draws=10, seed=0)
    assert owa["p_top"].notna().sum() == 199


@pytest.mark.parametrize(("kw", "message"), [
    ({"draws": 0}, "`draws` was 0"),
    ({"concentration": 0}, "`concentration` was 0"),
    ({"quantile": 1}, "`quantile` was 1"),
])
def test_bad_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        sensitivity(_result(), **kw)


def test_gated_profile_keeps_its_gate_in_every_draw():
    m = pd.DataFrame({"ore": np.r_[np.zeros(50), np.linspace(2e7, 1e9, 50)],
                      "port_km": np.linspace(0, 500, 100)})
    p = Profile(id="engine", title={"es": "e", "en": "e"}, description="d", layers=[
        {"id": "ore", "weight": 1, "rationale": "r"},
        {"id": "port_km", "weight": 1, "rationale": "r", "direction": "cost"}],
        gate=[{"layer": "ore", "threshold": 1e7, "rationale": "r"}])
    out = sensitivity(score_profile(m, p), draws=50, seed=1)
    assert (out["p_top"].to_numpy()[:50] == 0).all()  # no resource: never in the top decile
    assert out.attrs["spearman_mean"] > 0.8
