import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo_engine._errors import SourceFormatError
from geo_engine.curate import agriculture, rebuild
from geo_engine.curate._common import map_to_2007_districts
from geo_engine.manifest import load_manifest

VBP, REAL, TONNES = "VBP_CORRIENTE 2023 (miles de S/)", "VBP_REAL (miles de S/ 2007)", "PRODUCCION (t)"


@pytest.fixture
def districts():
    """Three 2007 districts: 010101 and 010102 in province 0101, 020101 in province 0201."""
    return gpd.GeoDataFrame(
        {"district_code": ["010101", "010102", "020101"]},
        geometry=[box(-75, -10, -74, -9), box(-74, -10, -73, -9), box(-73, -10, -72, -9)],
        crs="EPSG:4326")


@pytest.fixture
def ubigeo():
    # 010103 was carved out of 010102 (capital inside it); 010104 has no coordinates;
    # 010105's capital falls just across the border, in province 0201
    return pd.DataFrame({
        "inei": ["010101", "010102", "010103", "010104", "010105"],
        "distrito": ["UNO", "DOS", "TRES", "CUATRO", "CINCO"],
        "latitude": [-9.5, -9.5, -9.5, None, -9.5],
        "longitude": [-74.5, -73.5, -73.3, None, -72.9]})


@pytest.fixture
def centres():
    return pd.DataFrame({"inei_distrito": ["010101", "010102", "020101"],
                         "ccpp": ["Cuatro", "Pampa", "Cuatro"]})


def test_new_districts_go_to_their_2007_parent(districts, ubigeo, centres):
    codes = pd.Series(["010101", "010103", "010104", "010105", "010199", "010103"])
    out = map_to_2007_districts(codes, ubigeo=ubigeo, districts=districts, centres=centres)
    assert out["district_code"].fillna("-").to_dict() == {
        "010101": "010101", "010103": "010102", "010104": "010101", "010105": "010102",
        "010199": "-"}
    assert out["method"].to_dict() == {"010101": "on_map", "010103": "capital_point",
                                       "010104": "capital_name", "010105": "capital_point",
                                       "010199": "unmapped"}
    # the capital across the border goes to the nearest district of its own province
    assert out.loc["010105", "capital_km"] == pytest.approx(11.0, abs=0.3)
    assert out.loc["010103", "capital_km"] == 0.0


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
    assert entry["report"]["crop_table"]["rows_dropped"] < 100
    coffee = table.set_index("district_code")["vbp_coffee_ksol"]
    assert coffee.get("120303", 0) > 1e5  # Pichanaqui, Chanchamayo: Peru's first coffee district
    assert coffee.get("120101", 0) == 0  # Huancayo city grows none
