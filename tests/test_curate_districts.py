import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from curation.peru.districts import describe_parents, parent_2007_district


@pytest.fixture
def map_2007():
    """Three 2007 districts: 010101 and 010102 in province 0101, 020101 in province 0201."""
    return gpd.GeoDataFrame(
        {"district_code": ["010101", "010102", "020101"]},
        geometry=[box(-75, -10, -74, -9), box(-74, -10, -73, -9), box(-73, -10, -72, -9)],
        crs="EPSG:4326")


@pytest.fixture
def crosswalk():
    # 010103 was carved out of 010102 (capital inside it); 010104 has no coordinates but a
    # namesake populated centre; 010105's capital falls just across the border, in province
    # 0201; 010106 has populated centres in both 2007 districts, most of them in 010101
    return pd.DataFrame({
        "inei": ["010101", "010102", "010103", "010104", "010105", "010106"],
        "distrito": ["UNO", "DOS", "TRES", "CUATRO", "CINCO", "SEIS"],
        "latitude": [-9.5, -9.5, -9.5, None, -9.5, -9.5],
        "longitude": [-74.5, -73.5, -73.3, None, -72.9, -73.5]})


@pytest.fixture
def centres():
    return pd.DataFrame({
        "inei_distrito": ["010101", "010102", "020101", "010106", "010106", "010106"],
        "ccpp": ["Cuatro", "Pampa", "Cuatro", "Alto", "Bajo", "Medio"],
        "longitude": [-74.2, -73.8, -72.5, -74.6, -74.4, -73.6],
        "latitude": [-9.4, -9.4, -9.4, -9.5, -9.5, -9.5]})


def test_parent_2007_district_applies_one_rule_in_order(map_2007, crosswalk, centres):
    codes = pd.Series(["010101", "010103", "010104", "010105", "010106", "010199", "010103",
                       None])
    out = parent_2007_district(codes, districts=map_2007, centres=centres, capitals=crosswalk)
    assert out.index.name == "code"
    assert out["district_code"].fillna("-").to_dict() == {
        "010101": "010101", "010103": "010102", "010104": "010101", "010105": "010102",
        "010106": "010101", "010199": "-"}
    assert out["method"].to_dict() == {
        "010101": "on_map", "010103": "capital_point", "010104": "capital_name",
        "010105": "capital_point", "010106": "centres", "010199": "unmapped"}
    # the capital across the border goes to the nearest district of its own province
    assert out.loc["010105", "capital_km"] == pytest.approx(11.0, abs=0.3)
    assert out.loc["010103", "capital_km"] == 0.0
    assert pd.isna(out.loc["010106", "capital_km"])


def test_parent_2007_district_uses_source_names_and_skips_ambiguous_namesakes(map_2007, centres):
    capitals = pd.DataFrame({"inei": ["010101"], "distrito": ["UNO"], "latitude": [-9.5],
                             "longitude": [-74.5]})
    # a second Pampa in 010102's province lies in 010101: two parents, so none is chosen
    twice = pd.concat([centres, pd.DataFrame({"inei_distrito": ["010101"], "ccpp": ["PAMPA"],
                                              "longitude": [-74.8], "latitude": [-9.2]})])
    out = parent_2007_district(pd.Series(["010107", "010108"]), districts=map_2007,
                               centres=twice, capitals=capitals,
                               names=pd.Series({"010107": "Cuatro", "010108": "Pampa"}))
    assert (out.loc["010107", "district_code"], out.loc["010107", "method"]) == (
        "010101", "capital_name")
    assert out.loc["010108", "method"] == "unmapped"  # not guessed


def test_describe_parents_counts_each_method(map_2007, crosswalk, centres):
    out = parent_2007_district(crosswalk["inei"], districts=map_2007, centres=centres,
                               capitals=crosswalk)
    text = describe_parents(out)
    assert "2 codes are on it; of the 4 created after 2007, 1 go" in text
    assert "2 to the one holding their capital" in text
    assert "0 could not be placed" in text
