import numpy as np
import pytest
import yaml

from geo_engine._errors import SpecError
from geo_engine.scoring.profiles import Profile, load_profile, load_profiles

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
        ({"normalization": {"method": "decay"}}, "decay normalization needs `half`"),
        ({"normalization": {"method": "decay", "half": 60}}, "and a `rationale` for it"),
        ({"normalization": {"method": "decay", "half": 0, "rationale": "r"}},
         r"key `normalization.half`: Input should be greater than 0"),
        ({"normalization": {"method": "minmax", "half": 60}},
         "`half` is a parameter of method 'decay', not of 'minmax'"),
        ({"normalization": {"winsorize": [99, 1]}}, r"`winsorize` was \[99\.0, 1\.0\] but needs"),
        ({"normalization": {"winsorize": "always"}},
         r"key `normalization.winsorize.*Input should be 'auto'"),
        ({"evidence": [{"layer": "a", "threshold": 0, "rationale": "r"}]},
         r"key `evidence.0.threshold`: Input should be greater than 0"),
        ({"gate": [{"layer": "a", "threshold": 1, "per": "ha", "rationale": "r"}]},
         r"key `gate.0.per`: Input should be 'cell', 'km2' or 'district'"),
        ({"hubs": [{"layer": "a", "threshold": 1}]}, r"key `hubs.0.rationale`: Field required"),
        ({"ranking": {"by": "median", "rationale": "r"}},
         r"key `ranking.by`: .*ranking.by was 'median' but must be one of \['pop_weighted_mean'"),
        ({"ranking": {"by": "max"}}, r"key `ranking.rationale`: Field required"),
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


@pytest.mark.parametrize("region", ["peru", "brazil", "latam"])
def test_shipped_profiles_speak_spanish_and_english(region):
    from pathlib import Path

    from geo_engine.ingest.specs import Title
    from geo_engine.scoring.profiles import localized

    folder = Path(__file__).resolve().parents[1] / "layers" / region / "profiles"
    for path in sorted(folder.glob("*.yaml")):
        profile = load_profile(path)
        texts = [profile.description, *(lay.rationale for lay in profile.layers),
                 *(c.rationale for c in profile.constraints),
                 *([profile.ranking.rationale] if profile.ranking else []),
                 *(e.rationale for e in [*profile.evidence, *profile.gate, *profile.hubs])]
        both = [x for x in texts if isinstance(x, Title)]
        assert all(isinstance(x, Title | str) for x in texts), path.name
        assert all(localized(x, "es") != localized(x, "en") for x in both), path.name
        assert both, f"{path.name}: no text in Spanish at all"


def test_a_profile_text_may_be_one_english_string_or_both_languages(tmp_path):
    from geo_engine.scoring.profiles import localized

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


def test_evidence_layers_are_checked_too(tmp_path):
    doc = {**GOOD, "evidence": [{"layer": "visits", "threshold": 1, "rationale": "r"}]}
    profile = load_profile(_write(tmp_path, doc))
    with pytest.raises(SpecError, match=r"evidence\.0\.layer = 'visits'"):
        profile.check_layers({"heritage_sites", "distance_town_50k"})
    metro = {"layer": "city", "threshold": 5000, "rationale": "r"}
    doc["evidence"] = [{"layer": "heritage_sites", "threshold": 1, "unless": [metro], "rationale": "r"}]
    profile = load_profile(_write(tmp_path, doc))
    with pytest.raises(SpecError, match=r"evidence\.0\.unless\.0\.layer = 'city'"):
        profile.check_layers({"heritage_sites", "distance_town_50k"})


def test_normalization_defaults_and_per_layer_decay(tmp_path):
    decayed = {"method": "decay", "half": 60, "rationale": "An hour to market."}
    doc = {**GOOD, "normalization": {"winsorize": None},
           "layers": [GOOD["layers"][0], {**GOOD["layers"][1], "normalization": decayed}]}
    profile = load_profile(_write(tmp_path, doc))
    assert profile.normalization.winsorize is None
    assert profile.layers[0].normalization is None
    assert profile.layers[1].normalization.half == 60
    assert Profile.model_validate(GOOD).normalization.winsorize == "auto"


DISTANCE_METHODS = ("distance", "travel_time")


@pytest.mark.parametrize("region", ["peru", "brazil", "latam"])
def test_shipped_distances_decay_with_a_reason(region):
    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.region import load_region

    specs = {s.id: s for s in load_layers(load_region(region).layers)}
    seen = 0
    for profile in load_profiles(region=region).values():
        for layer in profile.layers:
            if specs[layer.id].method not in DISTANCE_METHODS:
                continue
            norm = layer.normalization
            where = f"{region}/{profile.id}/{layer.id}"
            assert norm is not None, where
            assert norm.method in ("decay", "fuzzy"), where  # absolute, never min-max
            assert norm.rationale, where
            figure = norm.half if norm.method == "decay" else (norm.fuzzy_points or [None])[-1]
            assert figure is not None, where
            assert str(int(figure)) in norm.rationale, where  # the reason names the figure
            seen += 1
    assert seen >= 10


RESERVES = {"protected_national_reserve", "protected_landscape_reserve", "protected_communal_reserve"}


def test_extraction_profiles_leave_reserves_out_and_others_keep_them():
    profiles = load_profiles(region="peru")
    for pid in ("engine", "mining_materials"):
        assert {c.layer for c in profiles[pid].constraints} >= RESERVES, pid
    for pid in ("nature_heritage_tourism", "forestry_wood", "environmental_services",
                "renewable_energy"):
        constrained = {c.layer for c in profiles[pid].constraints}
        assert not constrained & (RESERVES | {"protected_national"}), pid
    # reserves are assets of the families that use them sustainably
    assert "protected_national" in {layer.id for layer in profiles["nature_heritage_tourism"].layers}
    assert {"protected_communal_reserve", "protected_national_reserve"} <= {
        layer.id for layer in profiles["forestry_wood"].layers}


def test_ranking_defaults_to_people_and_takes_the_profile_statistic(tmp_path):
    assert load_profile(_write(tmp_path, GOOD)).rank_by == "pop_weighted_mean"
    by_site = {**GOOD, "ranking": {"by": "max", "rationale": "Visitors go to the best site."}}
    assert load_profile(_write(tmp_path, by_site)).rank_by == "max"


def test_shipped_profiles_rank_resources_by_site_or_extent_and_people_by_people():
    profiles = load_profiles(region="peru")
    people = {p.id for p in profiles.values() if p.rank_by == "pop_weighted_mean"}
    assert people == {"need", "access", "knowledge_services"}
    assert profiles["engine"].rank_by == "max"
    assert profiles["forestry_wood"].rank_by == "score_km2"
    assert all(p.ranking is not None for p in profiles.values())  # each says why


def test_no_family_scores_the_reach_that_access_scores():
    profiles = load_profiles(region="peru")
    reach = {layer.id for layer in profiles["access"].layers}
    for p in profiles.values():
        if p.kind == "family":  # inclusion multiplies the family's niche by access already
            assert not reach & {layer.id for layer in p.layers}, p.id


def test_hydro_potential_is_relief_not_altitude():
    layers = {layer.id for layer in load_profiles(region="peru")["renewable_energy"].layers}
    assert "ruggedness" in layers
    assert "elevation_max" not in layers


def test_renewable_power_and_environmental_services_are_two_families():
    profiles = load_profiles(region="peru")
    assert "energy_environment" not in profiles
    power, nature = profiles["renewable_energy"], profiles["environmental_services"]
    assert power.kind == nature.kind == "family"
    assert power.rank_by == nature.rank_by == "max"
    power_layers = {layer.id for layer in power.layers}
    nature_layers = {layer.id for layer in nature.layers}
    # power is plants and their resource; protected land and forest belong to the other family
    assert "renewable_capacity_district" in power_layers
    assert not power_layers & {"protected_national", "protected_regional_private",
                               "conservation_concessions", "forest_cover"}
    assert {"protected_national", "conservation_concessions", "forest_cover"} <= nature_layers
    assert not nature_layers & power_layers
    # Natural Earth's major rivers miss the Mantaro and the Rímac: no river layer stands for hydro
    assert "river_length" not in power_layers
    # no plant within reach, no renewable score: the gate is installed capacity
    assert [g.layer for g in power.gate] == ["renewable_power_capacity"]
    assert {e.layer for e in power.evidence} == {"renewable_capacity_district"}
    assert {e.layer for e in nature.evidence} == {"conservation_concessions", "protected_national",
                                                  "protected_regional_private"}


def _energy_cells():
    """Five cells: a hydro plant, its neighbour 16 km away, a remote canyon, a park, a solar park."""
    import pandas as pd

    nan = float("nan")
    return pd.DataFrame({
        "lat": [-12.0, -12.0, -12.0, -12.0, -17.5], "lon": [-75.0, -74.85, -72.0, -70.0, -71.0],
        "unit_code": ["090705", "090103", "040801", "170101", "180101"],
        "area_km2": [5.0] * 5,
        "renewable_capacity_district": [798.0, nan, nan, nan, 20.0],
        "renewable_power_capacity": [0.9, 0.3, 0.0, 0.0, 0.02],
        "ruggedness": [1200.0, 1200.0, 1800.0, 50.0, 100.0],
        "climate_arid": [0.0, 0.0, 1.0, 0.0, 1.0],
        "protected_national": [0.0, 0.0, 0.3, 1.0, 0.0],
        "protected_regional_private": [0.0, 0.0, 0.0, 0.2, 0.0],
        "conservation_concessions": [nan, 5.0, nan, 40.0, nan],
        "forest_cover": [0.0, 100.0, 0.0, 500.0, 0.0],
        "city_population_20km": [300.0, 300.0, 10.0, 10.0, 50.0],  # no metropolis
    })


def test_renewable_energy_needs_a_plant_within_reach():
    import numpy as np

    from geo_engine.scoring.evidence import evidence_strength
    from geo_engine.scoring.score import score_profile

    cells = _energy_cells()
    power = load_profiles(region="peru")["renewable_energy"]
    score = score_profile(cells, power).score
    # the plant's district first; the canyon with more relief and sun but no plant within 50 km: 0
    assert score[0] > score[1] > 0
    assert score[4] > 0  # a 20 MW solar park in the desert counts
    assert score[2] == score[3] == 0
    evidence = evidence_strength(cells, power.evidence)
    assert evidence[0] == 1.0  # 798 MW is beyond `full`
    assert 0 < evidence[1] < 1  # a neighbour 16 km away: faded, within reach
    assert 0.5 <= evidence[4] < evidence[0]  # 20 MW: above the threshold, below `full`
    np.testing.assert_array_equal(evidence[2:4], 0.0)


def test_environmental_services_evidence_is_areas_and_concessions():
    from geo_engine.scoring.evidence import evidence_strength
    from geo_engine.scoring.score import score_profile

    cells = _energy_cells()
    nature = load_profiles(region="peru")["environmental_services"]
    evidence = evidence_strength(cells, nature.evidence)
    assert evidence[3] == 1.0  # inside a park with 8 ha of concession per km²
    assert evidence[2] == 0  # a third of a cell in a park is not under its plan
    score = score_profile(cells, nature).score
    assert score.argmax() == 3


@pytest.mark.parametrize("region", ["peru", "brazil", "latam"])
def test_shipped_evidence_gate_and_hub_rationales_speak_both_languages(region):
    from geo_engine.ingest.specs import Title

    seen = 0
    for prof in load_profiles(region=region).values():
        for kind in ("evidence", "gate", "hubs"):
            for item in [e for top in getattr(prof, kind) for e in (top, *top.unless)]:
                # shown in the card, the briefs and the data tab
                where = (region, prof.id, kind, item.layer)
                assert isinstance(item.rationale, Title), where
                assert item.rationale.es, where
                assert item.rationale.es != item.rationale.en, where
                seen += 1
    assert seen >= (39 if region == "peru" else 0)


def test_an_evidence_rationale_may_be_one_string_or_both_languages(tmp_path):
    from geo_engine.scoring.profiles import localized

    both = {"es": "Una mina mediana", "en": "A medium mine"}
    doc = {**GOOD, "gate": [{"layer": "heritage_sites", "threshold": 1, "rationale": both}],
           "hubs": [{"layer": "heritage_sites", "threshold": 1, "rationale": "Own words"}]}
    profile = load_profile(_write(tmp_path, doc))
    assert localized(profile.gate[0].rationale, "es") == "Una mina mediana"
    assert localized(profile.gate[0].rationale, "en") == "A medium mine"
    assert localized(profile.hubs[0].rationale, "es") == "Own words"
    doc["gate"][0]["rationale"] = {"es": "Solo español"}
    with pytest.raises(SpecError, match=r"gate\.0\.rationale"):
        load_profile(_write(tmp_path, doc))


def test_shipped_weight_and_constraint_rationales_speak_both_languages():
    from pathlib import Path

    from geo_engine.ingest.specs import Title
    from geo_engine.scoring.profiles import load_profile

    folder = Path(__file__).resolve().parents[1] / "layers" / "peru" / "profiles"
    for path in sorted(folder.glob("*.yaml")):
        prof = load_profile(path)
        shown = [lay.rationale for lay in prof.layers] + [c.rationale for c in prof.constraints]
        for text in shown:  # what the app shows: slider help, the data tab's table
            assert isinstance(text, Title), (path.name, text)
            assert text.es
            assert text.es != text.en, (path.name, text.en)


def _engine_cells(**columns):
    """Three cells of three districts with every layer the shipped engine reads.

    The first two differ only in their resources; the third, with no resource, gives every
    other layer a range to scale.
    """
    import pandas as pd

    base = {"unit_code": ["040127", "150601", "990101"], "area_km2": [5.0, 5.0, 5.0],
            "mining_metals_value": [2.6e9, 1.5e5, 0.0], "operating_mines": [1.0, 0.0, 0.0],
            "hydrocarbons_value": [0.0, 0.0, 0.0],
            "mining_copper": [2.6e9, 1.0e5, 0.0], "mining_precious_metals": [0.0, 3.0e4, 0.0],
            "mining_base_metals": [0.0, 2.0e4, 0.0], "mining_processing": [0.0, 0.0, 0.0],
            "crop_value_agro_export": [0.0, 1.0e4, 0.0], "crop_value_industrial": [0.0, 0.0, 1.0],
            "distance_port_small_plus": [60.0, 60.0, 300.0],
            "distance_major_airport": [30.0, 30.0, 200.0],
            "distance_national_road": [5.0, 5.0, 40.0], "population_2020": [100.0, 100.0, 0.0],
            "urban_centres": [0.0, 0.0, 1.0]}
    base.update({c: [0.0, 0.0, 0.0] for c in ("protected_strict", "protected_national_reserve",
                                               "protected_landscape_reserve",
                                               "protected_communal_reserve")})
    return pd.DataFrame({**base, **columns})


def test_the_engine_ranks_mines_by_their_dollar_value_not_by_their_metal_count():
    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.region import load_region
    from geo_engine.scoring.score import score_profile

    peru = load_region("peru")
    specs = {s.id: s for s in load_layers(peru.layers)}
    engine = load_profiles(region="peru")["engine"]
    layer = next(layer for layer in engine.layers if layer.id == "mining_metals_value")
    assert layer.normalization is not None
    assert layer.normalization.method == "fuzzy"
    assert specs["mining_metals_value"].method == "intensive"  # the district total, not split
    # a USD 2.6 billion copper district (Cerro Verde) against a USD 0.15 M three-metal district
    # that passes the gate through its agro-export valley: the mine is the engine
    score = score_profile(_engine_cells(), engine, specs=specs).score
    assert score[0] > score[1] + 0.3
    # the metal count earns nothing: more metals of the same small value change nothing
    more = _engine_cells(mining_base_metals=[0.0, 9.0e4, 0.0],
                         mining_precious_metals=[0.0, 9.0e4, 0.0])
    assert score_profile(more, engine, specs=specs).score[1] == pytest.approx(score[1])


def test_the_engine_finds_a_remote_gas_field_that_proximity_alone_cannot_replace():
    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.region import load_region
    from geo_engine.scoring.evidence import evidence_strength
    from geo_engine.scoring.score import score_profile

    specs = {s.id: s for s in load_layers(load_region("peru").layers)}
    engine = load_profiles(region="peru")["engine"]
    assert specs["hydrocarbons_value"].method == "intensive"  # the district total, not split
    item = next(g for g in engine.gate if g.layer == "hydrocarbons_value")
    # Camisea's Echarate (USD 1.48 billion of gas, 500 km from a port) against a district with
    # USD 26 M of oil (a third of Loreto's Lote 8) and a resource-less cell beside the port
    cells = _engine_cells(hydrocarbons_value=[1.48e9, 2.6e7, 0.0],
                          mining_metals_value=[0.0, 0.0, 0.0], operating_mines=[0.0, 0.0, 0.0],
                          mining_copper=[0.0, 0.0, 0.0], mining_precious_metals=[0.0, 0.0, 0.0],
                          mining_base_metals=[0.0, 0.0, 0.0],
                          crop_value_agro_export=[0.0, 1.0, 0.0],
                          distance_port_small_plus=[500.0, 300.0, 1.0])
    gate = evidence_strength(cells, [item])
    assert gate[0] > 0.9
    assert gate[1] == 0.0
    assert gate[2] == 0.0
    score = score_profile(cells, engine, specs=specs).score
    assert score[0] > 0.3
    assert score[1] == 0.0  # no resource at scale, no engine
    assert score[2] == 0.0


def test_the_engine_counts_a_mine_once_per_cell():
    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.region import load_region
    from geo_engine.scoring.score import score_profile

    specs = {s.id: s for s in load_layers(load_region("peru").layers)}
    engine = load_profiles(region="peru")["engine"]
    one = score_profile(_engine_cells(operating_mines=[1.0, 0.0, 0.0]), engine, specs=specs).score
    # another cell holding two mine points does not halve this one's mine (min–max did)
    two = score_profile(_engine_cells(operating_mines=[1.0, 2.0, 0.0]), engine, specs=specs).score
    assert two[0] == pytest.approx(one[0])


@pytest.mark.parametrize("cells", [1, 7])
def test_the_engine_gate_on_industrial_crops_does_not_depend_on_the_cell_size(cells):
    import pandas as pd

    from geo_engine.scoring.evidence import evidence_strength

    engine = load_profiles(region="peru")["engine"]
    item = [g for g in engine.gate if g.layer == "crop_value_industrial"]
    assert item[0].per == "district"
    # a district with S/ 5 M of cotton over 36 km², in one coarse cell or seven fine ones
    matrix = pd.DataFrame({"unit_code": ["110201"] * cells,
                           "area_km2": [36.0 / cells] * cells,
                           "crop_value_industrial": [5000.0 / cells] * cells})
    gate = evidence_strength(matrix, item)
    assert gate == pytest.approx([0.5 + 0.5 * np.log(5000 / 3200) / np.log(20000 / 3200)] * cells)


def test_fisheries_density_counts_imarpe_main_landing_sites_only():
    import pandas as pd

    from geo_engine.ingest.filters import parse_filter
    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.region import load_region

    specs = {s.id: s for s in load_layers(load_region("peru").layers)}
    fisheries = load_profiles(region="peru")["fisheries_aquaculture"]
    layers = {layer.id for layer in fisheries.layers}
    assert "main_landing_site_density" in layers
    assert "landing_site_density" not in layers  # every cove equal ranked clusters of small coves
    spec = specs["main_landing_site_density"]
    assert (spec.source, spec.method) == ("peru/landing_sites.parquet", "density")
    coves = pd.DataFrame({"name": ["Paita", "Colán", "Yacila"], "important": [True, False, False]})
    assert parse_filter(spec.filter).evaluate(coves).tolist() == [True, False, False]
    # every cove still counts in the niche evidence and the distance layer
    assert {"distance_landing_site"} <= layers
    assert "distance_landing_site" in {item.layer for item in fisheries.evidence}


def _city_cells():
    """Four districts: a city's poor rim, a university district, a city centre, a sawmill town."""
    import pandas as pd

    nan = float("nan")
    return pd.DataFrame({
        "lat": [-12.10, -12.12, -12.05, -16.40], "lon": [-76.95, -77.03, -77.04, -71.54],
        "unit_code": ["150132", "150122", "150101", "040101"],
        "area_km2": [5.0] * 4,
        # a metropolis within reach of every cell
        "city_population_20km": [900.0, 1200.0, 1500.0, 400.0],
        "schooling_years": [8.9, 14.5, 12.0, 13.6],
        "forest_processing_centres": [nan, nan, 3.0, 90.0],
        "timber_nut_concessions": [nan] * 4,
        "community_forest_permits": [nan] * 4,
    })


def test_knowledge_services_evidence_is_skills_not_a_city_within_reach():
    from geo_engine.scoring.evidence import evidence_strength

    knowledge = load_profiles(region="peru")["knowledge_services"]
    assert {e.layer for e in knowledge.evidence} == {"schooling_years"}
    evidence = evidence_strength(_city_cells(), knowledge.evidence)
    assert evidence[0] == 0  # a poor district of a metropolis whose people did not finish school
    assert evidence[1] == 1.0  # a university district
    assert 0.5 <= evidence[2] < 1  # complete secondary and more: above the threshold, below `full`


def test_forestry_evidence_is_the_forest_in_use_not_an_urban_sawmill():
    from geo_engine.scoring.evidence import evidence_strength

    forestry = load_profiles(region="peru")["forestry_wood"]
    assert {e.layer for e in forestry.evidence} == {"timber_nut_concessions",
                                                    "community_forest_permits"}
    # the sawmills still raise the family's score: they stay a weighted layer
    assert "forest_processing_centres" in {layer.id for layer in forestry.layers}
    cells = _city_cells()
    np.testing.assert_array_equal(evidence_strength(cells, forestry.evidence), 0.0)
    cells.loc[3, "community_forest_permits"] = 2.0  # a native community's permit in the district
    assert evidence_strength(cells, forestry.evidence)[3] > 0.5


def test_tourism_counts_the_colca_visitors_that_sernanp_cannot_see():
    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.region import load_region

    specs = {s.id: s for s in load_layers(load_region("peru").layers)}
    tourism = load_profiles(region="peru")["nature_heritage_tourism"]
    weights = {layer.id: layer.weight for layer in tourism.layers}
    assert weights["attraction_visits"] == weights["protected_area_visits"]
    spec = specs["attraction_visits"]
    assert (spec.source, spec.method) == ("peru/attraction_visits.parquet", "density")
    assert spec.params["column"] == "visits_per_year"


def test_agro_food_evidence_is_produce_with_a_premium_not_staples():
    agro = load_profiles(region="peru")["agro_food"]
    layers = {e.layer for e in agro.evidence}
    assert {"crop_value_andean_grains", "crop_value_andean_tubers"} <= layers  # indigenous produce
    assert not layers & {"crop_value_tubers", "crop_value_pulses", "crop_value_fruit",
                         "crop_value_cereals"}  # potato, beans, plantain, maize: staples
    # staples still raise the family's score: they stay weighted layers
    assert {"crop_value_tubers", "crop_value_pulses"} <= {layer.id for layer in agro.layers}


def test_tourism_evidence_is_the_site_nearby_and_not_a_metropolis():
    import h3
    import pandas as pd

    from geo_engine.scoring.evidence import evidence_strength

    tourism = load_profiles(region="peru")["nature_heritage_tourism"]
    # a gateway with 100,000 visits a year; cells 10 and 50 km east; a metropolis cell 10 km west
    lat = np.array([-9.5, -9.5, -9.5, -9.5])
    lon = np.array([-77.5, -77.409, -77.045, -77.591])
    cells = pd.DataFrame({
        "h3": np.array([h3.str_to_int(h3.latlng_to_cell(a, b, 7))
                        for a, b in zip(lat, lon, strict=True)], dtype=np.uint64),
        "lat": lat, "lon": lon, "area_km2": 5.0,
        "protected_area_gateway_visits": [100_000.0, 0, 0, 0],
        "protected_area_gateway_visits_foreign": [0.0, 0, 0, 0],
        "heritage_sites": [0.0, 0, 0, 0],
        "city_population_20km": [300.0, 300, 300, 12_000],
    })
    s = evidence_strength(cells, tourism.evidence)
    assert s[0] == pytest.approx(0.5 + 0.5 * np.log10(5))  # the gateway: 20,000 → 0.5, 200,000 → 1
    assert 0 < s[1] < s[0]  # within reach, faded
    assert s[2] == 0  # 50 km away: the kernel of the score reaches it, the niche does not
    assert s[3] == 0  # in a metropolis of millions


def test_one_metropolis_level_for_every_unless():
    levels = {(u.layer, u.op, u.threshold, u.per)
              for prof in load_profiles(region="peru").values()
              for item in prof.evidence for u in item.unless}
    # Lima–Callao only: over two million people within about 20 km (Arequipa, Trujillo stay below)
    assert levels == {("city_population_20km", ">=", 5000, "cell")}
    uses = {prof.id for prof in load_profiles(region="peru").values()
            for item in prof.evidence if item.unless}
    assert uses == {"nature_heritage_tourism", "fisheries_aquaculture", "renewable_energy",
                    "mining_materials"}


def _latam_units(profile, units, far):
    """Score a tiny matrix of admin-1 units with a shipped Latin America profile and rank them.

    ``units`` maps a unit code to its cells (dicts of layer values overriding ``far``); every cell
    is 36 km², about a resolution-6 hexagon. Returns the rollup indexed by unit code for the
    profile's own statistic and for the best cell.
    """
    import pandas as pd

    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.region import load_region
    from geo_engine.reporting.rollup import rollup
    from geo_engine.scoring.score import score_profile

    specs = {s.id: s for s in load_layers(load_region("latam").layers)}
    rows = [{**far, **cell, "parent_code": code} for code, cells in units.items() for cell in cells]
    m = pd.DataFrame(rows).assign(area_km2=36.0, population_2020=np.nan)
    score = score_profile(m, profile, specs=specs).score
    return ({by: rollup(m, score, level="parent", rank_by=by).set_index("code")["rank"]
             for by in (profile.rank_by, "max")})


def test_latam_engine_ranks_units_by_the_extraction_they_hold_not_their_best_cell():
    # No production figures in the large-mines list: a unit with five large mines must outrank
    # a unit whose single refinery sits beside a port, an airport, a city and a town.
    profile = load_profiles(region="latam")["engine"]
    far = {"mine_density": 0.0, "distance_large_mine": 400.0, "distance_processing_plant": 400.0,
           "distance_port": 400.0, "distance_port_medium_plus": 600.0, "distance_airport": 300.0,
           "distance_city_500k": 300.0, "town_population": 0.0}
    mine = {"mine_density": 5e-5, "distance_large_mine": 0.0, "distance_processing_plant": 200.0,
            "distance_port": 300.0, "distance_airport": 150.0, "distance_city_500k": 200.0,
            "town_population": 2000.0}
    refinery = {"mine_density": 1e-6, "distance_large_mine": 120.0,
                "distance_processing_plant": 0.0, "distance_port": 0.0,
                "distance_port_medium_plus": 0.0, "distance_airport": 0.0,
                "distance_city_500k": 0.0, "town_population": 300_000.0}
    ranks = _latam_units(profile, {"mines": [mine] * 5, "refinery": [refinery], "none": [{}] * 2},
                         far)
    assert profile.rank_by == "score_km2"
    assert ranks["max"]["refinery"] == 1  # its best cell is the better cell …
    assert ranks["score_km2"]["mines"] == 1  # … but five large mines are the larger engine
    assert ranks["score_km2"]["none"] == 3  # no mine or plant within reach: no engine at all


def test_latam_mining_and_tourism_count_every_site_a_unit_holds():
    profiles = load_profiles(region="latam")
    mining = profiles["mining_materials"]
    far = {"mine_density": 0.0, "distance_large_mine": 400.0, "distance_processing_plant": 400.0,
           "distance_town_50k": 300.0}
    ranks = _latam_units(mining, {
        "mines": [{"mine_density": 5e-5, "distance_large_mine": 0.0, "distance_town_50k": 80.0}] * 5,
        "refinery": [{"distance_processing_plant": 0.0, "distance_large_mine": 5.0,
                      "distance_town_50k": 0.0, "mine_density": 1e-5}],  # one mine, its plant
        "town": [{"distance_town_50k": 0.0}] * 8}, far)
    assert ranks["max"]["refinery"] == 1
    assert ranks[mining.rank_by]["mines"] == 1
    assert ranks[mining.rank_by]["town"] == 3  # a town far from any operation buys nothing
    tourism = profiles["nature_heritage_tourism"]
    far = {"distance_heritage_site": 400.0, "distance_natural_heritage": 400.0,
           "distance_cultural_heritage": 400.0, "distance_river": 200.0, "distance_lake": 200.0,
           "distance_airport": 300.0}
    site = {"distance_heritage_site": 0.0, "distance_cultural_heritage": 0.0,
            "distance_airport": 150.0}
    parish = {"distance_heritage_site": 0.0, "distance_natural_heritage": 0.0,
              "distance_cultural_heritage": 0.0, "distance_river": 0.0, "distance_lake": 0.0,
              "distance_airport": 0.0}
    ranks = _latam_units(tourism, {"sites": [site] * 3, "parish": [parish],
                                   "riverside": [{"distance_river": 0.0, "distance_airport": 0.0}] * 9},
                         far)
    assert ranks["max"]["parish"] == 1  # one mixed site beside an airport has the best cell …
    assert ranks[tourism.rank_by]["sites"] == 1  # … three sites make the larger destination
    assert ranks[tourism.rank_by]["riverside"] == 3  # no site within a day trip: no destination
