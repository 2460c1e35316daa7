"""Tests of the mining rebuild step: name matching, commodity groups, tonnes and aggregation."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from curation.common.context import BuildContext
from curation.peru import admin, mining
from curation.peru.mining import (
    COMMODITY_GROUPS,
    DISTRICT_ALIASES,
    MATERIAL_GROUP,
    PRODUCTION_SHEETS,
    commodity_group,
    district_lookup,
    district_production,
    load_production,
    match_districts,
    to_tonnes,
    unit_districts,
    unit_provinces,
)
from curation.sources import SOURCES
from geo_engine._errors import GeoEngineError, SourceFormatError, SpecError


@pytest.fixture
def districts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district_code": ["040101", "040102", "110301", "110304", "090106", "090707"],
            "department": ["AREQUIPA", "AREQUIPA", "ICA", "ICA", "HUANCAVELICA", "HUANCAVELICA"],
            "province": ["AREQUIPA", "AREQUIPA", "NAZCA", "NAZCA", "HUANCAVELICA", "TAYACAJA"],
            "district": ["AREQUIPA", "YURA", "NAZCA", "MARCONA", "HUACHOCOLPA", "HUACHOCOLPA"],
        },
        dtype="string",
    )


def _records(rows: list[tuple[str, str, str, str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["district_code", "commodity_group", "stage", "unit_id", "year", "value_t"],
    )


# --- matching -------------------------------------------------------------------------------


def test_match_by_name_alias_and_leave_ambiguous_missing(districts: pd.DataFrame) -> None:
    units = pd.DataFrame(
        {
            "region": ["Arequipa", "Ica", "Ica", "Huancavelica", "Arequipa"],
            "province": ["Arequipa", "Nasca", "Nasca", "Huancavelica, Tayacaja", "Arequipa"],
            "district": ["Yurá", "Marcona", "Changuillo", "Huachocolpa", "Yura, Arequipa"],
        }
    )
    aliases = {("ICA", "NASCA", "MARCONA"): "110304"}
    out = match_districts(units, districts, aliases)
    assert out["district_code"].tolist() == ["040102", "110304", pd.NA, pd.NA, pd.NA]
    assert out["match_method"].tolist() == ["name", "alias", pd.NA, pd.NA, pd.NA]
    # no alias for Changuillo and no such district here: nothing to list
    assert pd.isna(out["candidate_codes"].iloc[2])
    # Huachocolpa exists in both listed provinces: both are candidates, neither is chosen
    assert out["candidate_codes"].iloc[3] == "090106;090707"
    assert out["candidate_codes"].iloc[4] == "040101;040102"
    assert out["district_code"].dtype == "string"


def test_province_is_kept_only_when_candidates_share_it(districts: pd.DataFrame) -> None:
    units = pd.DataFrame(
        {
            "region": ["Arequipa", "Huancavelica", "Arequipa"],
            "province": ["Arequipa", "Huancavelica, Tayacaja", "Arequipa"],
            "district": ["Yura", "Huachocolpa", "Yura, Arequipa"],
        }
    )
    matched = match_districts(units, districts, {})
    assert unit_provinces(matched).tolist() == ["0401", pd.NA, "0401"]


def test_alias_to_unknown_code_is_refused(districts: pd.DataFrame) -> None:
    units = pd.DataFrame({"region": ["Ica"], "province": ["Nasca"], "district": ["Marcona"]})
    with pytest.raises(SourceFormatError, match=r"not in the districts table.*999999"):
        match_districts(units, districts, {("ICA", "NASCA", "MARCONA"): "999999"})


def test_lookup_leaves_out_name_triples_shared_by_two_codes(districts: pd.DataFrame) -> None:
    twin = pd.concat(
        [districts, pd.DataFrame({"district_code": ["040199"], "department": ["AREQUIPA"],
                                  "province": ["AREQUIPA"], "district": ["YURA"]})],
        ignore_index=True,
    )
    lookup = district_lookup(twin)
    assert ("AREQUIPA", "AREQUIPA", "YURA") not in lookup
    assert lookup[("AREQUIPA", "AREQUIPA", "AREQUIPA")] == "040101"


def test_default_aliases_point_at_six_digit_codes() -> None:
    assert DISTRICT_ALIASES
    for key, code in DISTRICT_ALIASES.items():
        assert len(key) == 3
        assert len(code) == 6
        assert code.isdigit()


def test_unit_listed_twice_gets_one_code_and_conflicts_stay_missing() -> None:
    units = pd.DataFrame(
        {
            "unit_id": ["Plant A", "Plant A", "Mine B", "Mine B", "Mine C"],
            "district_code": pd.array(["150103", "150103", "040101", "040102", None],
                                      dtype="string"),
        }
    )
    codes = unit_districts(units)
    assert codes.index.tolist() == ["Mine B", "Mine C", "Plant A"]
    assert codes.isna().tolist() == [True, True, False]
    assert codes["Plant A"] == "150103"


# --- commodity groups and units ---------------------------------------------------------------


def test_commodity_groups_of_known_and_unknown_ids() -> None:
    ids = pd.Series(["Me.Au", "Me.Ag", "Me.Cu", "M.sag", "M.lim", "Nm.PO", "F.ant", "Me.Xx"])
    assert commodity_group(ids).tolist() == [
        "precious_metals", "precious_metals", "copper", "construction_minerals",
        "industrial_minerals", "industrial_minerals", "coal", pd.NA,
    ]


def test_each_material_id_is_in_exactly_one_group() -> None:
    n_listed = sum(len(ids) for ids in COMMODITY_GROUPS.values())
    assert len(MATERIAL_GROUP) == n_listed


def test_to_tonnes_converts_mass_units_and_leaves_others_missing() -> None:
    values = pd.Series([2.0, 1500.0, 3e6, 5.0])
    units = pd.Series(["t", "kg", "g", "oz"])
    out = to_tonnes(values, units)
    np.testing.assert_allclose(out.iloc[:3].to_numpy(), [2.0, 1.5, 3.0])
    assert np.isnan(out.iloc[3])


# --- aggregation --------------------------------------------------------------------------------


def test_window_mean_counts_years_without_records_as_zero() -> None:
    records = _records(
        [
            ("040101", "copper", "mine", "u1", 2015, 10.0),
            ("040101", "copper", "mine", "u1", 2017, 15.0),
            ("040101", "copper", "mine", "u2", 2017, 5.0),
            ("040101", "copper", "mine", "u1", 2019, 30.0),
            ("040101", "copper", "mine", "u1", 2020, 99.0),  # outside the window
            ("040102", "zinc", "mine", "u3", 2010, 7.0),  # nothing in the window
        ]
    )
    out = district_production(records).set_index(["district_code", "commodity_group"])
    cu = out.loc[("040101", "copper")]
    assert cu["mean_2015_2019_t"] == pytest.approx((10 + 20 + 30) / 5)
    assert cu["n_years_2015_2019"] == 3
    assert cu["latest_year"] == 2020
    assert cu["production_latest_t"] == pytest.approx(99.0)
    assert cu["first_year"] == 2015
    assert cu["n_units"] == 2
    zn = out.loc[("040102", "zinc")]
    assert zn["mean_2015_2019_t"] == 0.0
    assert zn["n_years_2015_2019"] == 0
    assert zn["latest_year"] == 2010


def test_prices_turn_gold_ounces_and_iron_content_into_usd_per_tonne() -> None:
    ids = pd.Series(["Me.Au", "Me.Cu", "Me.Fe", "Me.Mo", "Me.Cu"])
    years = pd.Series([2019, 2015, 2019, 2019, 2020])
    price = mining.price_per_tonne(ids, years)
    assert price[0] == pytest.approx(1392.498333 * 32_150.7466)
    assert price[1] == 5510.456667
    assert price[2] == pytest.approx(93.849167 / 0.62)
    assert price[3:].isna().all()  # no molybdenum price; no 2020 price


def test_price_table_holds_the_world_bank_rows_for_every_priced_material_and_year() -> None:
    assert sorted(mining.PRICES) == ["Me.Ag", "Me.Au", "Me.Cu", "Me.Fe", "Me.Pb", "Me.Sn", "Me.Zn",
                                     "Nm.PO"]
    start, end = mining.MEAN_WINDOW
    assert all(sorted(years) == list(range(start, end + 1)) for years in mining.PRICES.values())
    # World Bank, CMO-Historical-Data-Annual.xlsx (2 June 2023), Annual Prices (Nominal)
    assert mining.PRICES["Nm.PO"][2015] == 120.314583
    assert mining.PRICES["Me.Ag"][2016] == 17.14675


def test_value_is_the_window_total_of_priced_records_over_five_years() -> None:
    records = _records(
        [
            ("040101", "precious_metals", "mine", "u1", 2015, 1.0),
            ("040101", "precious_metals", "mine", "u2", 2016, 10.0),
            ("040102", "zinc", "mine", "u3", 2010, 7.0),
        ]
    )
    records["value_usd"] = [1000.0, float("nan"), 5.0]  # the second record has no price
    out = district_production(records).set_index(["district_code", "commodity_group"])
    au = out.loc[("040101", "precious_metals")]
    assert au["mean_2015_2019_value_usd"] == pytest.approx(1000.0 / 5)
    assert au["share_priced_2015_2019"] == pytest.approx(1 / 11, abs=1e-4)
    assert out.loc[("040102", "zinc"), "mean_2015_2019_value_usd"] == 0.0


def test_mine_and_processing_output_are_never_added_together() -> None:
    records = _records(
        [
            ("150103", "zinc", "mine", "Mine", 2019, 100.0),
            ("150103", "zinc", "processing", "Refinery", 2019, 80.0),
            ("150103", "zinc", "mine", "Other mine", 2019, 50.0),
        ]
    )
    out = district_production(records).set_index("stage")
    assert out.loc["mine", "production_latest_t"] == pytest.approx(150.0)
    assert out.loc["processing", "production_latest_t"] == pytest.approx(80.0)
    assert len(out) == 2


def test_unit_listed_twice_is_not_counted_twice() -> None:
    units = pd.DataFrame(
        {
            "unit_id": ["Plant A", "Plant A"],  # refinery and smelter rows of one plant
            "district_code": pd.array(["150103", "150103"], dtype="string"),
        }
    )
    prod = pd.DataFrame(
        {"unit_id": ["Plant A"], "commodity_group": ["zinc"], "stage": ["processing"],
         "year": [2019], "value_t": [80.0]}
    )
    prod["district_code"] = prod["unit_id"].map(unit_districts(units))
    out = district_production(prod)
    assert out["production_latest_t"].tolist() == [80.0]
    assert out["n_units"].tolist() == [1]


def test_records_without_district_are_left_out() -> None:
    records = _records(
        [
            ("040101", "copper", "mine", "u1", 2019, 10.0),
            (None, "copper", "mine", "u2", 2019, 1000.0),
        ]
    )
    out = district_production(records)
    assert out["district_code"].tolist() == ["040101"]
    assert out["production_latest_t"].tolist() == [10.0]


# --- source format errors -----------------------------------------------------------------------


def _write_sheets(root: Path, *, drop: str | None = None, year: str = "2019") -> None:
    for key in PRODUCTION_SHEETS:
        path = root / SOURCES[key].file
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(
            {"temp_fac_id": ["Mina X Lima"], "material_id": ["Me.Cu"], "year": [year],
             "unit_id": ["t"], "value": [1.0]}
        )
        if drop and key == "mining_sheet_com":
            frame = frame.drop(columns=drop)
        frame.to_csv(path, index=False)


def test_load_production_stacks_sheets_with_their_stage(tmp_path: Path) -> None:
    _write_sheets(tmp_path)
    out = load_production(BuildContext(src=tmp_path, out=tmp_path / "out"))
    assert len(out) == len(PRODUCTION_SHEETS)
    assert out.groupby("stage").size().to_dict() == {"mine": 3, "processing": 1}
    assert out["year"].dtype == "int64"


def test_missing_column_names_the_file(tmp_path: Path) -> None:
    _write_sheets(tmp_path, drop="value")
    ctx = BuildContext(src=tmp_path, out=tmp_path / "out")
    with pytest.raises(SourceFormatError, match=r"mining_sheet_com\.csv: missing column.*'value'"):
        load_production(ctx)


def test_invalid_year_names_the_file(tmp_path: Path) -> None:
    _write_sheets(tmp_path, year="")
    ctx = BuildContext(src=tmp_path, out=tmp_path / "out")
    with pytest.raises(SourceFormatError, match=r"mining_sheet_com\.csv: 1 row\(s\) without a valid"):
        load_production(ctx)


def test_build_needs_the_districts(tmp_path: Path) -> None:
    ctx = BuildContext(src=tmp_path, out=tmp_path / "out")
    with pytest.raises(GeoEngineError, match=r"needs the districts"):
        mining.build(ctx)


def test_units_are_located_at_the_large_mine_of_their_name_and_department() -> None:
    units = pd.DataFrame({"name": ["Antamina N° 1", "Pierina I", "Ilo", "Antaminas"],
                          "region": ["Ancash", "Arequipa", "Moquegua", "Ancash"]})
    mines = pd.DataFrame({"name": ["Antamina", "Pierina", "ILO"],
                          "facility": ["Mine", "Mine", "Refinery, Smelter"],
                          "district_code": ["021014", "020105", "180303"],
                          "longitude": [-77.04, -77.59, -71.36], "latitude": [-9.57, -9.46, -17.5]})
    districts = pd.DataFrame({"district_code": ["021014", "020105", "180303"],
                              "department": ["ANCASH", "ANCASH", "MOQUEGUA"]})
    out = mining.locate_at_large_mines(units, mines, districts)
    assert out["site"].tolist()[0] == "Antamina"
    assert out.loc[0, "site_district_code"] == "021014"
    # another department, a processing plant, a longer word: not located
    assert out["site"].iloc[1:].isna().all()


def report_prod_copper(datasets: dict) -> float:
    return datasets["mining_production"].report["share_mine_tonnes_without_district_by_group"][
        "copper"]


# --- the real sources ---------------------------------------------------------------------------


@pytest.mark.needs_shared
def test_build_from_raw_sources(raw_dir: Path, tmp_path: Path) -> None:
    ctx = BuildContext(src=raw_dir, out=tmp_path)
    admin.build(ctx)
    datasets = {ds.id: ds for ds in mining.build(ctx)}
    assert set(datasets) == {"mining_units", "mining_production", "large_mines"}
    codes = set(ctx.frames["districts"]["district_code"])

    units = pd.read_parquet(tmp_path / datasets["mining_units"].file)
    assert len(units) == 2091
    assert units["unit_id"].is_monotonic_increasing
    matched = units["district_code"].dropna()
    assert len(matched) / len(units) >= 0.95
    assert set(matched) <= codes
    report = datasets["mining_units"].report
    assert report["match_rate"] >= 0.95
    assert report["matched_by_alias"] == int((units["match_method"] == "alias").sum()) > 0
    assert set(units["match_method"].dropna()) == {"name", "alias", "large_mine"}
    cerro_verde = units.set_index("name").loc["Cerro Verde 1,2,3"]
    assert cerro_verde["site"] == "Cerro Verde"
    assert cerro_verde["district_code"] == "040127"
    # copper output without a district fell from 23 % to 2 % once the units were located
    assert report_prod_copper(datasets) < 0.05

    prod = pd.read_parquet(tmp_path / datasets["mining_production"].file)
    assert set(prod["district_code"]) <= codes
    assert set(prod["commodity_group"]) <= set(COMMODITY_GROUPS)
    assert set(prod["stage"]) == {"mine", "processing"}
    assert (prod[["production_latest_t", "mean_2015_2019_t"]] >= 0).all().all()
    assert not prod.duplicated(["district_code", "commodity_group", "stage"]).any()
    share = datasets["mining_production"].report["share_records_without_district"]
    assert 0 <= share < 0.5

    mines = gpd.read_parquet(tmp_path / datasets["large_mines"].file)
    assert len(mines) == 43 + len(mining.MINE_ADDITIONS)
    status = mines.assign(name=mines["name"].str.strip()).set_index("name")["status_checked"]
    assert status[["Conga", "Tia Maria"]].eq("project").all()
    assert status["Pierina"] == "closed"
    assert status["ILO"] == "processing"
    assert status[["Cerro Corona", "Toromocho", "San Rafael", "Antamina"]].eq("operating").all()
    assert "Marcona" not in status.index  # no public coordinate found: left out, not guessed
    assert set(mining.MINE_STATUS) <= set(status.index)
    ilo = prod.set_index(["district_code", "commodity_group"]).loc[("180303", "copper")]
    assert ilo["stage"] == "processing"
    assert ilo["mean_2015_2019_value_usd"] > 3e9
    assert mines.crs.to_epsg() == 4326
    assert set(mines["district_code"].dropna()) <= codes
    assert datasets["large_mines"].report["in_district"] == int(mines["district_code"].notna().sum())


def test_the_shipped_mine_facts_cite_a_source_for_every_status_and_addition():
    assert set(mining.MINE_STATUS) >= {"Conga", "Tia Maria", "Pierina"}
    assert all(note for _, note in mining.MINE_STATUS.values())
    assert [m["name"] for m in mining.MINE_ADDITIONS] == ["Cerro Corona", "Toromocho", "Mina Justa",
                                                          "San Rafael"]
    assert all(m["reference"] and isinstance(m["production_start"], int)
               for m in mining.MINE_ADDITIONS)


_ADDITION = ("  - name: X\n    commodities: Tin\n    operator: Y\n    production_start: 1977\n"
             "    longitude: {lon}\n    latitude: -14.2\n    reference: a report\n")


@pytest.mark.parametrize(("text", "match"), [
    ("status: {}\nadditions:\n" + _ADDITION.format(lon="70.3"), r"additions\.0\.longitude"),
    ("status:\n  Conga:\n    status: dormant\n    note: x\nadditions: []\n", r"status\.Conga\.status"),
    ("status: {}\n", r"additions"),
])
def test_load_mine_facts_refuses_an_invalid_file_naming_the_key(tmp_path, text, match):
    path = tmp_path / "mines.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=match):
        mining.load_mine_facts(path)


def test_load_mine_facts_reads_a_valid_file(tmp_path):
    path = tmp_path / "mines.yaml"
    path.write_text("status: {}\nadditions:\n" + _ADDITION.format(lon="-70.3"), encoding="utf-8")
    facts = mining.load_mine_facts(path)
    assert facts.additions[0].longitude == -70.3
