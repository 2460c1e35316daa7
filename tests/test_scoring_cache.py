import h3
import numpy as np
import pandas as pd
import pytest

from geo_engine.ingest.specs import Transform, load_layers
from geo_engine.scoring.cache import ScoringCache, mask_digest
from geo_engine.scoring.dual import dual_model
from geo_engine.scoring.evidence import evidence_met, item_strengths
from geo_engine.scoring.profiles import Evidence, Profile
from geo_engine.scoring.score import prepare, score_profile


def _p(pid, kind, layers, **sections):
    return Profile.model_validate({
        "id": pid, "kind": kind, "title": {"es": pid, "en": pid}, "description": "d",
        "layers": [{"id": lid, "weight": 1, "rationale": "r"} for lid in layers], **sections})


def _ev(layer, threshold, **kw):
    return {"layer": layer, "threshold": threshold, "rationale": "r", **kw}


@pytest.fixture
def matrix():
    rng = np.random.default_rng(5)
    lat = np.repeat(np.linspace(-12, -11, 12), 15)
    lon = np.tile(np.linspace(-77, -76, 15), 12)
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(a, b, 7)) for a, b in zip(lat, lon, strict=True)],
                     dtype=np.uint64)
    n = len(cells)
    crops = np.where(rng.random(n) < 0.2, rng.uniform(1, 100, n), 0.0)
    crops[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "h3": cells, "lat": lat, "lon": lon, "area_km2": np.full(n, 5.0),
        "unit_code": rng.choice(["a", "b", "c", "d"], n),
        "mines": rng.random(n) ** 3, "poverty": rng.random(n), "road_km": rng.random(n) * 50,
        "crops": crops, "sites": rng.random(n), "reserve": rng.random(n),
    })


@pytest.fixture
def profiles():
    return {
        "engine": _p("engine", "engine", ["mines", "road_km"],
                     constraints=[{"layer": "reserve", "op": "<", "value": 0.8, "rationale": "r"}],
                     gate=[_ev("mines", 0.3, within_km=20)], hubs=[_ev("mines", 0.6)]),
        "need": _p("need", "need", ["poverty"]),
        "access": _p("access", "access", ["road_km"]),
        "agro": _p("agro", "family", ["crops", "poverty"],
                   evidence=[_ev("crops", 20, full=80, within_km=15), _ev("crops", 5, per="km2")]),
        "tourism": _p("tourism", "family", ["sites"], evidence=[_ev("sites", 0.9, within_km=10)]),
    }


def _same_prepared(a, b):
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.eligible, b.eligible)
    for part in ("evidence", "gate", "hubs"):
        x, y = getattr(a, part), getattr(b, part)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    assert a.report == b.report


def _same_dual(a, b):
    for key in ("engine", "need", "access", "niche", "inclusion", "niche_margin",
                "hub_distance_km", "linkage"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert (a.best_family == b.best_family).all()
    assert (a.typology == b.typology).all()
    for pid, res in a.results.items():
        np.testing.assert_array_equal(res.score, b.results[pid].score)
        np.testing.assert_array_equal(res.contributions, b.results[pid].contributions)


def test_prepare_reuses_the_cache_and_equals_a_fresh_prepare(matrix, profiles):
    cache = ScoringCache(matrix)
    for p in profiles.values():
        first = prepare(matrix, p, cache=cache)
        again = prepare(matrix, p, cache=cache)
        assert again.values is first.values  # reused, not recomputed
        assert again.profile is p
        _same_prepared(first, prepare(matrix, p))


def test_a_new_weight_gives_the_fresh_score(matrix, profiles):
    cache = ScoringCache(matrix)
    engine = profiles["engine"]
    score_profile(matrix, engine, cache=cache)
    for weights in ({"mines": 3.0}, {"mines": 0.0, "road_km": 1.0}, {"road_km": 7.5}):
        got = score_profile(matrix, engine, weights=weights, cache=cache)
        want = score_profile(matrix, engine, weights=weights)
        np.testing.assert_array_equal(got.score, want.score)
        assert got.weights == want.weights
    # the profile's own weights changed in its file: a new profile object, a fresh score
    heavier = Profile.model_validate({**engine.model_dump(), "layers": [
        {**layer.model_dump(), "weight": 4.0 if layer.id == "mines" else 1.0}
        for layer in engine.layers]})
    np.testing.assert_array_equal(score_profile(matrix, heavier, cache=cache).score,
                                  score_profile(matrix, heavier).score)


CHANGES = [
    {"evidence": [_ev("crops", 30, full=80, within_km=15), _ev("crops", 5, per="km2")]},  # threshold
    {"evidence": [_ev("crops", 20, full=60, within_km=15), _ev("crops", 5, per="km2")]},  # full
    {"evidence": [_ev("crops", 20, full=80, within_km=40), _ev("crops", 5, per="km2")]},  # reach
    {"evidence": [_ev("crops", 20, full=80, within_km=15), _ev("crops", 5, per="district")]},
    {"evidence": [_ev("crops", 5, per="km2")]},  # an item removed
    {"normalization": {"method": "percentile"}},
    {"normalization": {"method": "minmax", "winsorize": [5, 95]}},
    {"normalization": {"method": "fuzzy", "fuzzy_points": [0, 50]}},
    {"normalization": {"method": "fuzzy", "fuzzy_points": [0, 60]}},
    {"missing": "impute_admin"},
    {"missing": "exclude"},
    {"constraints": [{"layer": "sites", "op": ">", "value": 0.2, "rationale": "r"}]},
    {"layers": [{"id": "crops", "weight": 1, "rationale": "r", "direction": "cost"},
                {"id": "poverty", "weight": 1, "rationale": "r"}]},
]


@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_profile_gives_the_fresh_result(matrix, profiles, change):
    cache = ScoringCache(matrix)
    agro = profiles["agro"]
    before = prepare(matrix, agro, cache=cache)
    edited = Profile.model_validate({**agro.model_dump(), **change})
    after = prepare(matrix, edited, cache=cache)
    _same_prepared(after, prepare(matrix, edited))
    differs = [not np.array_equal(getattr(before, k), getattr(after, k), equal_nan=True)
               for k in ("values", "eligible", "evidence")]
    assert any(differs)  # the edit matters, and the cache did not hide it


def test_edits_one_after_another_in_one_cache_give_fresh_results(matrix, profiles):
    cache = ScoringCache(matrix)
    agro = profiles["agro"]
    for change in [*CHANGES, {}, *CHANGES[::-1]]:  # and back: earlier entries are found again
        edited = Profile.model_validate({**agro.model_dump(), **change})
        _same_prepared(prepare(matrix, edited, cache=cache), prepare(matrix, edited))


def test_a_changed_spec_gives_the_fresh_result(matrix, profiles):
    cache = ScoringCache(matrix)
    need = profiles["need"]
    shipped = load_layers()[0]
    plain = {"poverty": shipped.model_copy(update={"id": "poverty", "direction": "benefit",
                                                   "transform": None})}
    costly = {"poverty": plain["poverty"].model_copy(update={"direction": "cost"})}
    logged = {"poverty": plain["poverty"].model_copy(update={"transform": Transform(kind="log1p")})}
    a = prepare(matrix, need, specs=plain, cache=cache)
    b = prepare(matrix, need, specs=costly, cache=cache)
    _same_prepared(b, prepare(matrix, need, specs=costly))
    np.testing.assert_allclose(a.values + b.values, 1.0)
    c = prepare(matrix, need, specs=logged, cache=cache)
    _same_prepared(c, prepare(matrix, need, specs=logged))
    assert not np.array_equal(a.values, c.values)


def test_dual_model_with_a_cache_equals_without(matrix, profiles):
    cache = ScoringCache(matrix)
    _same_dual(dual_model(matrix, profiles, cache=cache), dual_model(matrix, profiles))
    weights = {"engine": {"mines": 5.0}, "agro": {"crops": 0.2}, "need": {"poverty": 2.0}}
    _same_dual(dual_model(matrix, profiles, weights=weights, cache=cache),
               dual_model(matrix, profiles, weights=weights))
    # another engineer raises a threshold and the hubs' level: fresh evidence, fresh hubs
    edited = {**profiles,
              "tourism": Profile.model_validate({**profiles["tourism"].model_dump(),
                                                 "evidence": [_ev("sites", 0.95, within_km=10)]}),
              "engine": Profile.model_validate({**profiles["engine"].model_dump(),
                                                "hubs": [_ev("mines", 0.9)]})}
    got, want = dual_model(matrix, edited, cache=cache), dual_model(matrix, edited)
    _same_dual(got, want)
    assert got.thresholds["hub_cells"] == want.thresholds["hub_cells"] == int((matrix["mines"] >= 0.9).sum())


def test_hub_travel_times_are_computed_once_per_hub_set(matrix, profiles):
    cache = ScoringCache(matrix)
    calls = []

    def minutes(hubs):
        calls.append(hubs.sum())
        return np.linspace(0, 300, len(hubs))

    dual_model(matrix, profiles, hub_minutes=minutes, cache=cache)
    dual_model(matrix, profiles, hub_minutes=minutes, cache=cache, weights={"engine": {"mines": 3}})
    assert len(calls) == 1  # real sites do not move with weights
    engine = Profile.model_validate({**profiles["engine"].model_dump(), "hubs": [_ev("mines", 0.3)]})
    dual_model(matrix, {**profiles, "engine": engine}, hub_minutes=minutes, cache=cache)
    assert len(calls) == 2  # other hubs: travel times again


def test_evidence_items_are_kept_by_their_parameters(matrix):
    cache = ScoringCache(matrix)
    item = Evidence.model_validate(_ev("crops", 20, full=80, within_km=15))
    first = item_strengths(matrix, [item], cache=cache)
    kept = len(cache)
    same = Evidence.model_validate(_ev("crops", 20, full=80, within_km=15, rationale="other words"))
    np.testing.assert_array_equal(item_strengths(matrix, [same], cache=cache), first)
    assert len(cache) == kept  # a new rationale is the same evidence
    lower = Evidence.model_validate(_ev("crops", 10, full=80, within_km=15))
    np.testing.assert_array_equal(item_strengths(matrix, [lower], cache=cache),
                                  item_strengths(matrix, [lower]))
    assert evidence_met(matrix, [item], cache=cache).tolist() == evidence_met(matrix, [item]).tolist()


def test_cached_arrays_are_read_only(matrix, profiles):
    cache = ScoringCache(matrix)
    prep = prepare(matrix, profiles["agro"], cache=cache)
    for array in (prep.values, prep.eligible, prep.evidence):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    res = score_profile(matrix, profiles["agro"], prepared=prep)
    res.score[0] = 0.5  # results of the aggregation are the caller's own


def test_mask_digest_tells_masks_apart():
    a = np.zeros(100, dtype=bool)
    b = a.copy()
    b[99] = True
    assert mask_digest(a) != mask_digest(b)
    assert mask_digest(a) != mask_digest(np.zeros(101, dtype=bool))
    assert mask_digest(b) == mask_digest(b.copy())


def test_the_cache_does_not_keep_attrs(matrix):
    matrix.attrs["report"] = {"big": list(range(10))}
    assert ScoringCache(matrix).matrix.attrs == {}
    assert matrix.attrs  # the caller's frame is untouched


def test_a_small_budget_drops_the_least_recently_used(matrix, profiles):
    cache = ScoringCache(matrix, max_bytes=3 * 8 * len(matrix))  # about three columns
    first = cache.get("a", lambda: np.zeros(len(matrix)))
    cache.get("b", lambda: np.ones(len(matrix)))
    assert cache.get("a", lambda: np.full(len(matrix), 9.0)) is first  # kept, now used last
    cache.get("c", lambda: np.ones(len(matrix)))
    cache.get("d", lambda: np.ones(len(matrix)))
    assert cache.peek("b") is None  # dropped: used least recently
    assert cache.peek("a") is first
    assert cache.nbytes <= cache.max_bytes


def test_results_stay_right_when_the_budget_drops_them(matrix, profiles):
    cache = ScoringCache(matrix, max_bytes=20 * 8 * len(matrix))
    weights = {"engine": {"mines": 5.0}, "agro": {"crops": 0.2}}
    for _ in range(2):
        _same_dual(dual_model(matrix, profiles, weights=weights, cache=cache),
                   dual_model(matrix, profiles, weights=weights))
    assert 0 < cache.nbytes <= cache.max_bytes


@pytest.mark.parametrize("threads", [2, 5])
def test_profiles_scored_in_threads_give_the_same_dual_model(matrix, profiles, monkeypatch, threads):
    from geo_engine import settings

    monkeypatch.setattr(settings, "scoring_threads", 1)
    alone = dual_model(matrix, profiles)
    monkeypatch.setattr(settings, "scoring_threads", threads)
    for cache in (None, ScoringCache(matrix), ScoringCache(matrix, max_bytes=20 * 8 * len(matrix))):
        side_by_side = dual_model(matrix, profiles, cache=cache)
        _same_dual(side_by_side, alone)
        assert list(side_by_side.results) == list(alone.results)  # the profiles' order


def test_the_first_failing_profile_in_order_raises_in_threads(matrix, profiles, monkeypatch):
    from geo_engine import settings
    from geo_engine._errors import SpecError

    monkeypatch.setattr(settings, "scoring_threads", 3)
    broken = {**profiles, "need": _p("need", "need", ["no_such_layer"]),
              "agro": _p("agro", "family", ["nor_this_one"])}
    with pytest.raises(SpecError, match="no_such_layer"):
        dual_model(matrix, broken)


def test_a_cache_shared_by_threads_keeps_its_accounting(matrix):
    from concurrent.futures import ThreadPoolExecutor

    cache = ScoringCache(matrix, max_bytes=10 * 8 * len(matrix))

    def work(i):
        for j in range(200):
            key = (i + j) % 25
            got = cache.get(key, lambda key=key: np.full(len(matrix), float(key)))
            assert got[0] == key  # never another key's value
        return True

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(pool.map(work, range(12)))
    assert cache.nbytes == sum(cache._sizes.values()) <= cache.max_bytes
    assert set(cache._sizes) == set(cache._store)
