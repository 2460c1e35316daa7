import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from curation.common import world
from curation.common.context import BuildContext
from curation.common.frames import points_frame
from curation.sources import SOURCES
from geo_engine._errors import SourceFormatError


def _points(rows, **columns):
    frame = pd.DataFrame(rows, columns=["name", "longitude", "latitude"])
    for key, values in columns.items():
        frame[key] = values
    return points_frame(frame).drop(columns=["longitude", "latitude"])


@pytest.fixture
def ctx(tmp_path):
    """A build context whose raw folder gets the tiny world layers a test writes."""
    return BuildContext(src=tmp_path / "raw", out=tmp_path / "out", region="brazil")


def _write(ctx, key, frame):
    path = ctx.src / SOURCES[key].file
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(frame, gpd.GeoDataFrame):
        frame.to_file(path, driver="GeoJSON")
    else:
        frame.to_csv(path, index=False)


def test_port_name_key_drops_generic_words():
    assert world.port_name_key("Puerto del Callao") == "CALLAO"
    assert world.port_name_key("Bahía de Matarani") == "MATARANI"


def _wpi(rows, sizes, indexes):
    return _points(
        rows,
        alternate_name=pd.array([pd.NA] * len(rows), dtype="string"),
        harbour_size=sizes,
        harbour_type=["Coastal (Breakwater)"] * len(rows),
        wpi_index=pd.array(indexes, dtype="Int64"),
        locode=[f"PE{i:03d}" for i in indexes],
    )


def test_dedupe_ports_by_distance_and_by_name():
    ne = _points(
        [("Callao", -77.1418, -12.0453), ("Chimbote", -78.60, -9.00), ("Pisco", -76.22, -13.73)],
        scalerank=[8, 7, 7],
    )
    wpi = _wpi(
        [("Puerto Del Callao", -77.15, -12.05),  # ~1 km: same port by distance
         ("Puerto De Chimbote", -78.60, -9.10),  # ~11 km, same name key: same port by name
         ("Salaverry", -78.98, -8.23)],  # WPI only
        ["medium", "very small", "very small"],
        [14950, 15030, 15050],
    )
    out = world.dedupe_ports(ne, wpi)
    assert len(out) == 4  # 3 + 3 - 2 merged
    assert out.crs.to_epsg() == 4326
    rows = out.set_index("name")
    callao = rows.loc["Puerto Del Callao"]
    assert callao["sources"] == "natural_earth+wpi"
    assert callao["harbour_size"] == "medium"
    assert callao["ne_name"] == "Callao"
    assert callao["match_rule"] == "distance"
    assert callao["position_source"] == "natural_earth"
    assert callao.geometry.x == pytest.approx(-77.1418)
    assert rows.loc["Puerto De Chimbote", "match_rule"] == "name"
    assert rows.loc["Salaverry", "sources"] == "wpi"
    pisco = rows.loc["Pisco"]
    assert pisco["sources"] == "natural_earth"
    assert pd.isna(pisco["harbour_size"])  # not invented
    assert pd.isna(pisco["wpi_index"])


def test_dedupe_ports_far_different_names_stay_apart():
    ne = _points([("Mollendo", -72.01, -17.03)], scalerank=[7])
    wpi = _wpi([("Bahia De Matarani", -72.117, -17.0)], ["small"], [14860])  # ~11 km
    out = world.dedupe_ports(ne, wpi)
    assert len(out) == 2
    assert out["match_rule"].isna().all()


def test_dedupe_ports_missing_column_names_the_source():
    ne = _points([("Callao", -77.14, -12.05)], scalerank=[8])
    wpi = _points([("Callao", -77.15, -12.05)])
    with pytest.raises(SourceFormatError, match=r"World Port Index: missing column.*harbour_size"):
        world.dedupe_ports(ne, wpi)


def test_country_places_keeps_one_country_and_cleans_its_fields(ctx):
    _write(ctx, "ne_places", gpd.GeoDataFrame({
        "NAME": ["Manaus", "Iquitos", "Uruará"], "NAME_PT": ["Manaus", "", " "],
        "ADM0_A3": ["BRA", "PER", "BRA"], "ADM1NAME": ["Amazonas", "Loreto", "Par"],
        "FEATURECLA": ["Admin-1 capital", "Admin-1 capital", "Populated place"],
        "POP_MAX": [1753000, 437376, 10], "POP_MIN": [1598210, 370962, 10],
        "GEONAMEID": [3663517.0, 3696183.0, -1.0], "SCALERANK": [2, 3, 10],
    }, geometry=[Point(-60.0, -3.1), Point(-73.25, -3.75), Point(-53.7, -3.7)], crs="EPSG:4326"))
    found = world.country_places(ctx, "BRA", names=["NAME_PT"])
    places = found.places
    assert places["name"].tolist() == ["Manaus", "Uruará"]
    assert places["name_pt"].isna().tolist() == [False, True]  # blanks are missing, not ""
    assert places["geonameid"].tolist() == [3663517, pd.NA]  # -1 means no GeoNames id
    assert places["pop_max"].tolist() == [1753000, 10]  # as given, even when implausible
    assert places.crs.to_epsg() == 4326
    assert found.others["NAME"].tolist() == ["Iquitos"]


def test_country_places_names_the_missing_field(ctx):
    _write(ctx, "ne_places", gpd.GeoDataFrame({"NAME": ["Manaus"]}, geometry=[Point(-60, -3)],
                                              crs="EPSG:4326"))
    with pytest.raises(SourceFormatError, match=r"ne_10m_populated_places.*missing column.*ADM0_A3"):
        world.country_places(ctx, "BRA")


def test_heritage_sites_of_a_country(ctx):
    _write(ctx, "whc", pd.DataFrame({
        "unique_number": [1, 2, 3], "name_en": ["Iguaçu", "Machu Picchu", "Missions"],
        "category": ["Natural ", "Mixed", "Cultural"], "danger": [0, 0, 1],
        "latitude": [-25.6, -13.16, -28.5], "longitude": [-54.4, -72.5, -54.3],
        "states_name_en": ["Brazil", "Peru", "Argentina,Brazil"],
    }))
    raw = world.read_heritage(ctx)
    listed = world.listed_for(raw, "Brazil")
    assert listed.tolist() == [True, False, True]
    sites = world.heritage_sites(raw[listed])
    assert sites["name"].tolist() == ["Iguaçu", "Missions"]
    assert sites["category"].tolist() == ["natural", "cultural"]
    assert sites["in_danger"].tolist() == [False, True]
    assert sites["transnational"].tolist() == [False, True]
    assert sites.geometry.x.tolist() == [-54.4, -54.3]
    assert sites.index.tolist() == [0, 2]  # aligned with the rows given


def test_country_mines_reads_numbers_and_keeps_rows_without_coordinates(ctx):
    _write(ctx, "large_mines", pd.DataFrame({
        "mine_fac": ["Carajás", "Antamina", "Paracatu"], "country": ["Brazil", "Peru", "Brazil"],
        "latitude": ["-6.07", "-9.54", "n/a"], "longitude": ["-50.17", "-77.05", ""],
        "mine_or_processing": ["Mine", "Mine", "Mine"],
        "commodities_products": ["Iron ore", "Copper", "Gold"],
    }))
    mines = world.country_mines(ctx, "Brazil")
    assert mines["mine_fac"].tolist() == ["Carajás", "Paracatu"]
    assert mines.index.tolist() == [0, 1]
    assert mines["longitude"].iloc[0] == pytest.approx(-50.17)
    assert mines[["longitude", "latitude"]].iloc[1].isna().all()  # not guessed
    fields = world.mine_fields(mines, mines["longitude"], mines["latitude"],
                               text=lambda v: v.astype("string"), extra={})
    assert fields["commodities"].tolist() == ["Iron ore", "Gold"]
    assert fields["status"].isna().all()  # a column the list lacks comes out missing


def test_country_ports_keeps_natural_earth_by_distance_and_wpi_by_country(ctx):
    country = gpd.GeoDataFrame({"name": ["X"]}, geometry=[box(-50, -10, -40, 0)], crs="EPSG:4326")
    _write(ctx, "ne_ports", gpd.GeoDataFrame(
        {"name": ["Inside", "Offshore", "Far"], "scalerank": [8, 8, 8]},
        geometry=[Point(-45, -5), Point(-39.98, -5), Point(-39.8, -5)], crs="EPSG:4326"))
    _write(ctx, "wpi", pd.DataFrame({
        "World Port Index Number": [1, 2], "Main Port Name": ["Ours", "Theirs"],
        "Alternate Port Name": ["", ""], "UN/LOCODE": ["XX ABC", "YY DEF"],
        "Country Code": ["Xland", "Yland"], "Harbor Size": ["Small", "Large"],
        "Harbor Type": ["River", "Coastal"], "Latitude": [-5.0, -5.0], "Longitude": [-44.0, -39.9],
    }))
    found = world.country_ports(ctx, country, "Xland", keep_km=5, near_km=30)
    assert found.ne["name"].tolist() == ["Inside", "Offshore"]  # 2.2 km beyond the outline
    assert found.ne_near["name"].tolist() == ["Far"]  # 22 km: left out, reported
    assert found.wpi["name"].tolist() == ["Ours"]
    assert found.wpi["harbour_size"].tolist() == ["small"]
    assert found.wpi["locode"].tolist() == ["XXABC"]
    assert found.foreign_near["Main Port Name"].tolist() == ["Theirs"]


def test_lakes_touching_keeps_whole_lakes_with_their_area(ctx):
    country = gpd.GeoDataFrame({"name": ["X"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    _write(ctx, "ne_lakes", gpd.GeoDataFrame(
        {"name": ["Shared", "Away"], "featurecla": ["Lake", "Reservoir"], "extra": [1, 2]},
        geometry=[box(0.9, 0.4, 1.1, 0.6), box(5, 5, 6, 6)], crs="EPSG:4326"))
    raw = world.read_lakes(ctx, ["name", "featurecla"])
    assert list(raw.columns) == ["name", "featurecla", "geometry"]
    touching, lakes, n_repaired = world.lakes_touching(raw, country, text=["name"])
    assert touching["name"].tolist() == lakes["name"].tolist() == ["Shared"]
    assert n_repaired == 0
    assert lakes["area_km2"].iloc[0] == pytest.approx(0.2 * 0.2 * 111.3 * 110.6, rel=0.02)
