"""The validation harness on a tiny synthetic territory: two departments, four provinces."""

import numpy as np
import pandas as pd
import pytest

from geo_engine._errors import SpecError
from geo_engine.ingest.specs import slot_columns
from geo_engine.reporting.evaluate import (
    department_lift,
    district_means,
    evaluate_scores,
    inclusion_checks,
    load_reference,
    precision_at,
    resolution_stability,
)

_SOURCE = ('  study: {title: "A study", publisher: "A ministry", year: 2013, '
           'url: "https://example.org/study"}\n'
           '  stats: {title: "Statistics", publisher: "An office", year: 2020, '
           'url: "https://example.org/stats", circular_for: [mining]}\n')


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "reference.yaml"
    path.write_text(
        "sources:\n" + _SOURCE
        + "profiles:\n"
        "  mining:\n"
        "    provinces:\n"
        '      - {code: "0101", name: "North", source: stats, why: "a large mine"}\n'
        '      - {code: "0201", name: "South", source: study, why: "a cluster"}\n'
        "  tourism:\n"
        "    departments:\n"
        '      - {code: "02", name: "Sur", source: study, why: "heritage"}\n', encoding="utf-8")
    return load_reference(path)


@pytest.fixture
def matrix():
    """Eight cells: provinces 0101, 0102 (department 01) and 0201, 0202 (department 02)."""
    prov = ["0101", "0101", "0102", "0102", "0201", "0201", "0202", "0202"]
    return pd.DataFrame({
        "unit_code": [p + "01" for p in prov], "parent_code": prov,
        "grandparent_code": [p[:2] for p in prov],
        "population_2020": [100.0, 50, 10, 10, 80, 20, 5, 5],
    })


def test_load_reference_marks_circular_entries(reference):
    assert reference.profiles == ["mining", "tourism"]
    assert reference.province_codes("mining") == {"0101", "0201"}
    assert reference.province_codes("mining", independent=True) == {"0201"}
    assert reference.department_codes("mining") == {"01", "02"}
    assert reference.department_codes("tourism") == {"02"}
    assert reference.province_codes("tourism") == set()


@pytest.mark.parametrize(("profiles", "message"), [
    ('  x:\n    provinces:\n      - {code: 101, name: N, source: study, why: w}\n',
     r"profiles\.x\.provinces\.0\.code = 101 is not a 4-digit code"),
    ('  x:\n    departments:\n      - {code: "1", name: N, source: study, why: w}\n',
     r"profiles\.x\.departments\.0\.code = '1' is not a 2-digit code"),
    ('  x:\n    provinces:\n      - {code: "0101", name: N, source: blog, why: w}\n',
     r"source = 'blog' is not listed under `sources`"),
])
def test_reference_errors_name_the_key(tmp_path, profiles, message):
    path = tmp_path / "ref.yaml"
    path.write_text("sources:\n" + _SOURCE + "profiles:\n" + profiles, encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        load_reference(path)


@pytest.mark.parametrize(("source", "message"), [
    ('  s: {title: T, publisher: P, year: 2013}\n', r"sources\.s lacks url; cite title"),
    ('  s: {title: T, publisher: P, year: 2013, url: "ftp://x"}\n', r"is not a web address"),
])
def test_every_source_is_cited(tmp_path, source, message):
    path = tmp_path / "ref.yaml"
    path.write_text("sources:\n" + source + "profiles: {}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        load_reference(path)


def test_precision_counts_hits_in_the_top_k():
    assert precision_at(["a", "b", "c", "d"], {"a", "d", "z"}, k=2) == 0.5
    assert precision_at(["a", "b", "c"], {"a"}, k=10) == 1.0  # a reference of one, found
    assert np.isnan(precision_at(["a"], set()))


def test_department_lift():
    dept = np.array(["01", "01", "01", "02", "02", "02", "02", "02", "02", "02"])
    score = np.array([1.0, 0.9, 0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    # the top decile is the first cell, in department 01 (3 of 10 cells): lift 1 / 0.3
    assert department_lift(dept, score, {"01"}) == pytest.approx(1 / 0.3)
    assert department_lift(dept, score, {"02"}) == 0
    assert np.isnan(department_lift(dept, score, {"99"}))


def test_evaluate_scores_ranks_provinces_by_population_weighted_mean(matrix, reference):
    good = np.array([0.9, 0.8, 0.1, 0.1, 0.7, 0.7, 0.0, 0.0])
    table = evaluate_scores(matrix, {"mining": good, "tourism": good[::-1]}, reference, k=2)
    row = table.loc["mining"]
    assert row["precision_at_2"] == 1.0
    assert row["precision_at_2_independent"] == 1.0
    assert row["hits"] == "0101*; 0201"  # * marks the hit from a circular source
    assert table.loc["tourism", "reference_provinces"] == 0
    assert np.isnan(table.loc["tourism", "precision_at_2"])


def test_evaluate_scores_ranks_each_profile_by_its_own_statistic(matrix, reference):
    # 0102 has one strong cell where few people live: the best cell ranks it first, the
    # population-weighted mean ranks 0101 first
    score = np.array([0.6, 0.6, 0.1, 1.0, 0.2, 0.9, 0.0, 0.0])
    table = evaluate_scores(matrix, {"mining": score}, reference, k=1)
    assert table.loc["mining", "ranked_by"] == "pop_weighted_mean"
    assert table.loc["mining", "top_provinces"] == "0101"
    by_site = evaluate_scores(matrix, {"mining": score}, reference, k=1, rank_by={"mining": "max"})
    assert by_site.loc["mining", "ranked_by"] == "max"
    assert by_site.loc["mining", "top_provinces"] == "0102"
    assert by_site.loc["mining", "precision_at_1"] == 0.0


def test_district_means_take_the_statistic(matrix):
    score = np.array([0.5, 0.5, 0.1, 1.0, 0.2, 0.9, 0.0, 0.0])
    assert district_means(matrix, score, rank_by="max").loc["010201"] == 1.0
    assert district_means(matrix, score).loc["010201"] == pytest.approx(0.55)


def test_stability_of_district_ranks_between_resolutions(matrix):
    score = np.linspace(0, 1, len(matrix))
    coarse = district_means(matrix, score)
    means = {6: {"p": coarse, "only6": coarse}, 7: {"p": coarse}, 8: {"p": -coarse}}
    table = resolution_stability(means)
    assert table.loc["p", "districts_r6_r7"] == pytest.approx(1.0)
    assert table.loc["p", "districts_r7_r8"] == pytest.approx(-1.0)
    assert list(table.columns) == ["districts_r6_r7", "districts_r7_r8"]


def test_inclusion_checks(matrix):
    need = np.linspace(0.1, 1, len(matrix))
    checks = inclusion_checks(matrix, inclusion=need, need=need, access=np.ones(len(matrix)))
    assert checks["spearman_inclusion_need_provinces"] == pytest.approx(1.0)
    assert checks["spearman_inclusion_need_access_cells"] == pytest.approx(1.0)
    other = inclusion_checks(matrix, inclusion=need[::-1], need=need, access=np.ones(len(matrix)))
    assert other["spearman_inclusion_need_access_cells"] == pytest.approx(-1.0)


def test_the_shipped_reference_is_valid_and_names_real_provinces():
    import geopandas as gpd

    from geo_engine.regions.region import load_region
    from geo_engine.reporting.evaluate import REFERENCE_FILE

    peru = load_region("peru")
    ref = load_reference(peru.file.parent / REFERENCE_FILE)
    provinces = slot_columns(gpd.read_parquet(peru.data_dir / "peru" / "provinces.parquet"))
    known = set(provinces["parent_code"])
    for pid in ref.profiles:
        assert ref.province_codes(pid) <= known, pid
        assert ref.department_codes(pid) <= set(provinces["parent_code"].str[:2]), pid
    assert {"engine", "inclusion", "agro_food", "organic_origin", "forestry_wood",
            "fisheries_aquaculture", "mining_materials", "renewable_energy",
            "environmental_services",
            "nature_heritage_tourism", "knowledge_services"} <= set(ref.profiles)


def test_the_shipped_reference_names_match_their_codes():
    import unicodedata

    import geopandas as gpd

    from geo_engine.regions.region import load_region
    from geo_engine.reporting.evaluate import REFERENCE_FILE

    def plain(text):
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()

    peru = load_region("peru")
    ref = load_reference(peru.file.parent / REFERENCE_FILE)
    provinces = slot_columns(gpd.read_parquet(peru.data_dir / "peru" / "provinces.parquet"))
    name = dict(zip(provinces["parent_code"], provinces["parent"].map(plain), strict=True))
    for units in ref.provinces.values():
        for unit in units:
            assert plain(unit.name.split(" (")[0]) == name[unit.code], unit


def test_the_shipped_reference_speaks_of_shipped_profiles_only():
    from geo_engine.regions.region import load_region
    from geo_engine.reporting.evaluate import REFERENCE_FILE
    from geo_engine.scoring.dual import INCLUSION
    from geo_engine.scoring.profiles import load_profiles

    peru = load_region("peru")
    ref = load_reference(peru.file.parent / REFERENCE_FILE)
    assert set(ref.profiles) <= {*load_profiles(region="peru"), INCLUSION}
    # renewable power lists plants, not the gas field; each new family follows its own rule
    assert "0809" not in ref.province_codes("renewable_energy")  # Camisea
    assert {"0907", "0212", "1507", "1103", "1801"} <= ref.province_codes("renewable_energy")
    assert {"1701", "2208"} <= ref.province_codes("environmental_services")
    assert all(u.source == "spda_redd_2016" for u in ref.provinces["environmental_services"])


def test_evaluate_handles_the_shipped_energy_and_environment_lists():
    from geo_engine.regions.region import load_region
    from geo_engine.reporting.evaluate import REFERENCE_FILE

    ref = load_reference(load_region("peru").file.parent / REFERENCE_FILE)
    power = sorted(ref.province_codes("renewable_energy"))
    nature = sorted(ref.province_codes("environmental_services"))
    other = ["1501", "0401", "1301", "2001"]  # cities neither list names
    prov = power + nature + other
    cells = pd.DataFrame({"parent_code": prov, "unit_code": [p + "01" for p in prov],
                          "grandparent_code": [p[:2] for p in prov],
                          "population_2020": np.ones(len(prov))})
    on = {pid: np.array([1.0 if c in codes else 0.0 for c in prov])
          for pid, codes in (("renewable_energy", power), ("environmental_services", nature))}
    table = evaluate_scores(cells, on, ref, rank_by=dict.fromkeys(on, "max"))
    assert table.loc["renewable_energy", "precision_at_10"] == 1.0
    assert table.loc["environmental_services", "precision_at_10"] == 1.0
    # every entry of both lists is marked circular (plants and protected areas are layers)
    assert table.loc["renewable_energy", "independent_provinces"] == 0
    assert table.loc["environmental_services", "reference_provinces"] == len(nature)
    assert "*" in table.loc["environmental_services", "hits"]


def test_the_shipped_inclusion_reference_keeps_only_poor_provinces():
    """The header's rule: a niche province stays only at or above the national poverty rate."""
    from geo_engine.regions.region import load_region
    from geo_engine.reporting.evaluate import REFERENCE_FILE

    peru = load_region("peru")
    ref = load_reference(peru.file.parent / REFERENCE_FILE)
    table = slot_columns(pd.read_parquet(peru.data_dir / "peru" / "district_indicators.parquet"))
    poor = table["poverty_2018_pct"] * table["population_2020"]
    by_province = table.assign(poor=poor).groupby(table["unit_code"].str[:4])
    rate = by_province["poor"].sum() / by_province["population_2020"].sum()
    national = poor.sum() / table["population_2020"].sum()
    assert round(national, 1) == 20.8  # the figure the header states
    listed = ref.province_codes("inclusion")
    assert len(listed) >= 20
    assert all(rate[code] >= national for code in listed), {c: rate[c] for c in listed}
    # the screen the header names as leaving provinces out does leave them out
    assert not listed & {"1006", "2503", "2209", "2210"}
    # sources built from production statistics are circular for inclusion, as the header says
    circular = ref.province_codes("inclusion") - ref.province_codes("inclusion", independent=True)
    assert {"0609", "0608", "2102", "0102"} <= circular


def test_the_shipped_organic_reference_takes_every_cacao_zone_its_source_names():
    from geo_engine.regions.region import load_region
    from geo_engine.reporting.evaluate import REFERENCE_FILE

    peru = load_region("peru")
    ref = load_reference(peru.file.parent / REFERENCE_FILE)

    def from_source(pid, source):
        return {u.code for u in ref.provinces[pid] if u.source == source}

    organic = from_source("organic_origin", "proamazonia_cacao_2003")
    # the same zones as inclusion's before its poverty screen, and those the screen left out
    assert from_source("inclusion", "proamazonia_cacao_2003") <= organic
    assert {"1006", "2503", "2209", "2210"} <= organic
