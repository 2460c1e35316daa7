import geopandas as gpd
import pandas as pd
import pytest

from curation.common.context import BuildContext
from curation.common.frames import points_frame
from curation.peru import admin, places
from curation.peru.districts import PERU_BOUNDS
from geo_engine._errors import SourceFormatError

# about 1.11 km per 0.01 degree of latitude


def _points(rows, **columns):
    frame = pd.DataFrame(rows, columns=["name", "longitude", "latitude"])
    for key, values in columns.items():
        frame[key] = values
    return points_frame(frame).drop(columns=["longitude", "latitude"])


# --- coordinates -----------------------------------------------------------------------------


def test_classify_coordinates_per_row():
    lat = pd.Series(["-12.05", "-77.03", "", "-70669172", "0", "abc", "-12.1"])
    lon = pd.Series(["-77.03", "-12.05", "-77.0", "-13.89", "-77.0", "-77.0", " -76.9 "])
    out = places.classify_coordinates(lat, lon)
    assert out["coord_fix"].tolist() == [
        "as_given", "swapped", pd.NA, pd.NA, pd.NA, pd.NA, "as_given",
    ]
    assert out["drop_reason"].tolist() == [
        pd.NA, pd.NA, "missing", "outside_box", "zero", "unparsable", pd.NA,
    ]
    assert out.loc[0, ["longitude", "latitude"]].tolist() == [-77.03, -12.05]
    assert out.loc[1, ["longitude", "latitude"]].tolist() == [-77.03, -12.05]
    assert out.loc[2:5, "longitude"].isna().all()
    assert out.loc[6, "longitude"] == pytest.approx(-76.9)


def test_classify_coordinates_ambiguous_in_overlapping_box():
    out = places.classify_coordinates(pd.Series([2.0]), pd.Series([1.0]), bounds=(-10, -10, 10, 10))
    assert out["drop_reason"].tolist() == ["ambiguous"]
    assert out["longitude"].isna().all()


def test_peru_box_cannot_be_ambiguous():
    west, south, east, north = PERU_BOUNDS
    assert north < west or east < south  # lon and lat ranges do not overlap


def test_tourism_category_keys_and_unknown_label():
    assert places.tourism_category("1. SITIOS NATURALES") == "natural_sites"
    assert places.tourism_category("3. FOLCLORE") == "folklore"
    assert places.tourism_category(
        "4. REALIZACIONES TÉCNICAS, CIENTÍFICAS Y ARTÍSTICAS CONTEMPORÁNEAS"
    ) == "technical_scientific_achievements"
    assert places.tourism_category("") is None
    with pytest.raises(SourceFormatError, match=r"tourism\.csv: unknown tourism category"):
        places.tourism_category("6. GASTRONOMÍA", file="tourism.csv")


# --- names and matching ------------------------------------------------------------------------


# --- ports ---------------------------------------------------------------------------------------


# --- towns ---------------------------------------------------------------------------------------


def _ne_towns(rows, gids, pops):
    n = len(rows)
    return _points(
        rows,
        geonameid=pd.array(gids, dtype="Int64"),
        pop_max=pd.array(pops, dtype="Int64"),
        pop_min=pd.array(pops, dtype="Int64"),
        featurecla=["Populated place"] * n,
        adm1name=["X"] * n,
    )


def _gn_towns(rows, gids, pops):
    return _points(
        rows,
        geonameid=pd.array(gids, dtype="Int64"),
        population=pd.array(pops, dtype="Int64"),
        admin1code=["01"] * len(rows),
    )


def test_dedupe_towns_rules_and_population():
    ne = _ne_towns(
        [("Lima", -77.05, -12.05),  # same GeoNames id
         ("Nasca", -74.94, -14.83),  # 1 km from "Nazca", similar name
         ("Casma", -78.21, -9.44),  # 11 km from "Casma", identical name
         ("Olmos", -79.75, -5.98),  # 1 km from "Motupe": different name, not merged
         ("Gueppi", -75.23, -0.12)],  # Natural Earth only
        [3936456, None, None, None, None],
        [8012000, 23556, 30000, 9800, 10],
    )
    gn = _gn_towns(
        [("Lima", -77.03, -12.04), ("Nazca", -74.94, -14.84), ("Casma", -78.30, -9.475),
         ("Motupe", -79.75, -5.99), ("Pueblo", -70.0, -15.0)],
        [3936456, 3934356, 3698680, 3694569, 1],
        [7737002, 23556, None, 13681, None],
    )
    out = places.dedupe_towns(ne, gn)
    assert len(out) == 7  # 5 + 5 - 3 merged
    rows = out.set_index("name")
    assert rows.loc["Lima", "match_rule"] == "geonameid"
    assert rows.loc["Lima", "population"] == 7737002
    assert rows.loc["Lima", "population_ne"] == 8012000
    assert rows.loc["Lima", "population_source"] == "geonames"
    assert rows.loc["Nazca", "match_rule"] == "distance_and_name"
    assert rows.loc["Nazca", "ne_name"] == "Nasca"
    casma = rows.loc["Casma"]
    assert casma["match_rule"] == "name"
    assert casma["match_distance_km"] > places.TOWN_MATCH_KM
    assert pd.isna(casma["population_geonames"])
    assert casma["population"] == 30000
    assert casma["population_source"] == "natural_earth"
    assert rows.loc["Motupe", "sources"] == "geonames"
    assert rows.loc["Olmos", "sources"] == "natural_earth"
    assert rows.loc["Gueppi", "population_source"] == "natural_earth"
    assert pd.isna(rows.loc["Pueblo", "population"])  # unknown stays unknown
    assert pd.isna(rows.loc["Pueblo", "population_source"])


def test_dedupe_towns_needs_population_column():
    ne = _ne_towns([("Lima", -77.05, -12.05)], [1], [5])
    gn = _points([("Lima", -77.05, -12.05)], geonameid=[1], admin1code=["01"])
    with pytest.raises(SourceFormatError, match=r"GeoNames cities: missing column.*population"):
        places.dedupe_towns(ne, gn)


# --- districts -----------------------------------------------------------------------------------


def test_build_needs_admin_frames(tmp_path):
    ctx = BuildContext(src=tmp_path, out=tmp_path / "out")
    with pytest.raises(SourceFormatError, match="run the admin step first"):
        places.build(ctx)


# --- real data -----------------------------------------------------------------------------------


def test_real_places(raw_dir, tmp_path):
    ctx = BuildContext(src=raw_dir, out=tmp_path)
    admin.build(ctx)
    datasets = {d.id: d for d in places.build(ctx)}
    assert set(datasets) == {"ports", "airports", "towns", "peaks", "heritage_sites",
                             "tourism_resources"}
    west, south, east, north = PERU_BOUNDS
    frames = {}
    for key, ds in datasets.items():
        frame = gpd.read_parquet(tmp_path / ds.file)
        frames[key] = frame
        assert frame.crs.to_epsg() == 4326, key
        assert len(frame) > 0, key
        x, y = frame.geometry.x, frame.geometry.y
        assert x.between(west, east).all(), key
        assert y.between(south, north).all(), key
        assert "district_code" in frame, key
        codes = frame["district_code"].dropna()
        assert codes.str.fullmatch(r"\d{6}").all(), key

    tour = datasets["tourism_resources"].report
    assert tour["rows_read"] == 6006
    assert tour["kept"] + tour["dropped"] == 6006
    assert tour["kept_as_given"] + tour["swapped"] == tour["kept"] == len(frames["tourism_resources"])
    assert tour["swapped"] >= 5000
    assert tour["dropped"] == sum(v for k, v in tour.items() if k.startswith("dropped_"))
    assert frames["tourism_resources"]["resource_code"].is_unique
    assert set(frames["tourism_resources"]["category"].dropna()) <= set(
        places.TOURISM_CATEGORIES.values())
    # survey effort: heavily surveyed regions weigh less per entry; the others weigh 1
    weight = frames["tourism_resources"].groupby("region")["effort_weight"].first()
    assert weight.between(0, 1).all()
    assert weight["Junín"] < weight["Puno"] < weight["Amazonas"] == 1.0

    ports = datasets["ports"].report
    assert ports["ports"] == ports["ne_ports_in_peru"] + ports["wpi_ports_in_peru"] - ports[
        "duplicates_merged"]
    assert ports["duplicates_merged"] >= 3
    callao = frames["ports"].set_index("locode").loc["PECLL"]
    assert callao["harbour_size"] == "medium"
    assert callao["district_code"] == "070101"

    assert len(frames["airports"]) >= 150
    assert frames["airports"]["icao"].is_unique
    lima = frames["airports"].set_index("iata").loc["LIM"]
    assert lima["ne_type"] == "major"

    towns = datasets["towns"].report
    assert towns["towns"] == (towns["ne_places_in_peru"] + towns["geonames_places_in_peru"]
                              - towns["duplicates_merged"])
    assert frames["towns"].set_index("name").loc["Lima", "population"] > 5_000_000
    assert len(frames["heritage_sites"]) >= 10
    assert "Nevado Huascarán" in set(frames["peaks"]["name"])
