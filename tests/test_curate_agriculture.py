import pandas as pd
import pytest

from curation import rebuild
from curation.peru import agriculture
from geo_engine._errors import SourceFormatError
from geo_engine.io.manifest import load_manifest

VBP, REAL, TONNES = "VBP_CORRIENTE 2023 (miles de S/)", "VBP_REAL (miles de S/ 2007)", "PRODUCCION (t)"


def _crops():
    rows = [("010101", "CAFE", 10.0, 100.0, 40.0), ("010101", "PAPA", 50.0, 30.0, 20.0),
            ("010103", "CAFE", 5.0, 60.0, 25.0), ("010102", "QUINUA", 2.0, 8.0, 3.0),
            ("010199", "CAFE", 1.0, 9.0, 4.0)]
    frame = pd.DataFrame(rows, columns=["UBIGEO", "CULTIVO", TONNES, VBP, REAL])
    parents = {"010101": "010101", "010102": "010102", "010103": "010102"}
    return frame.assign(district_code=frame["UBIGEO"].map(parents).astype("string"))


def test_district_table_sums_successors_and_keeps_missing_missing():
    area = pd.DataFrame({"UBIGEO": ["010101", "010103"], "district_code": ["010101", "010102"],
                         agriculture._AREA: [7.0, 3.0], agriculture._TERRITORY: [70.0, 30.0]})
    producers = pd.DataFrame({"UBIGEO": ["010101"], "district_code": ["010101"],
                              agriculture._PRODUCERS: [12.0]})
    table = agriculture.district_table(_crops(), area, producers,
                                       pd.Series(["020101", "010102", "010101"]))
    t = table.set_index("district_code")
    assert list(t.index) == ["010101", "010102", "020101"]
    assert t.loc["010102", "vbp_coffee_ksol"] == 60.0  # 010103 folded into its parent
    assert t.loc["010102", "vbp_andean_grains_ksol"] == 8.0
    assert t.loc["010102", "source_codes"] == "010102+010103"
    assert pd.isna(t.loc["010101", "source_codes"])
    assert t.loc["010101", "vbp_total_ksol"] == 130.0
    assert t.loc["010101", "vbp_total_ksol_2007_prices"] == 60.0
    assert t.loc["010101", "vbp_tubers_ksol"] == 30.0
    assert t.loc["010101", "vbp_cacao_ksol"] == 0.0  # listed district, crop not grown
    assert t.loc["010101", "production_coffee_t"] == 10.0
    assert pd.isna(t.loc["020101", "vbp_coffee_ksol"])  # not in the crop table at all
    assert t.loc["010102", "agricultural_area_2018_ha"] == 3.0
    assert pd.isna(t.loc["010102", "producers_2024"])
    assert t.loc["010101", "producers_2024"] == 12


def test_every_crop_needs_a_group():
    assert agriculture.crop_groups_for(pd.Series(["Café", "QUINUA"])).tolist() == [
        "coffee_cacao", "cereals"]
    with pytest.raises(SourceFormatError, match=r"without a crop group: \['NONI'\]"):
        agriculture.crop_groups_for(pd.Series(["CAFE", "NONI"]))


def test_niche_crops_all_have_a_group():
    names = {n for crops in agriculture.NICHE_CROPS.values() for n in crops}
    assert agriculture.crop_groups_for(pd.Series(sorted(names))).notna().all()


@pytest.mark.needs_shared
def test_rebuild_reproduces_committed_crops_district(raw_dir, data_dir, tmp_path):
    """The committed crops_district.parquet is what the agriculture step makes from the raw files."""
    target = tmp_path / "data"
    rebuild(raw_dir, data_dir=target, steps=["agriculture"], log=lambda _: None)
    built = {e["file"]: e for e in load_manifest(target)["datasets"]}
    committed = {e["file"]: e for e in load_manifest(data_dir)["datasets"]}
    entry = built["peru/crops_district.parquet"]
    assert entry["sha256"] == committed["peru/crops_district.parquet"]["sha256"]
    assert entry["report"] == committed["peru/crops_district.parquet"]["report"]
    table = pd.read_parquet(target / "peru" / "crops_district.parquet")
    assert len(table) == 1834
    # 101 of 30,879 rows: 11 codes cannot be placed, among them Ninabamba (050514) and Lambras
    # (090724), whose namesake populated centres lie in two different 2007 districts
    assert entry["report"]["crop_table"]["rows_dropped"] <= 101
    coffee = table.set_index("district_code")["vbp_coffee_ksol"]
    assert coffee.get("120303", 0) > 1e5  # Pichanaqui, Chanchamayo: Peru's first coffee district
    assert coffee.get("120101", 0) == 0  # Huancayo city grows none
