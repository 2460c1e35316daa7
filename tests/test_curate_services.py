import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from curation.common.context import BuildContext
from curation.peru import admin, services
from curation.peru.districts import parent_2007_district
from geo_engine._errors import GeoEngineError
from geo_engine.io.manifest import describe_file, load_manifest

OPS = services.OPERATORS


def _services(codes, water, rural, rural_elec):
    frame = pd.DataFrame({"ubigeo": codes, "v34_Sin_agua": water, "v35_Sin_desagüe": water,
                          "v06_No_leer_escribir": water, "v09_Años_escolaridad": [8.0] * len(codes),
                          "v37_P_Población_rural": rural})
    for col in services.RURAL_RATES:
        frame[col] = rural_elec
    return frame


def _mobile(codes, urb, rur):
    frame = pd.DataFrame({"ubigeo": codes, "Cobertura_inter_movil_urb": [3.0] * len(codes),
                          "Cobertura_inter_movil_rur": [2.0] * len(codes)})
    for op in OPS:
        frame[f"Cobertura_inter_movil_{op}_urb"] = urb
        frame[f"Cobertura_inter_movil_{op}_rur"] = rur
    return frame


def _districts():
    return gpd.GeoDataFrame({"district_code": ["010101", "010102"]},
                            geometry=[box(-78, -7, -77, -6), box(-77, -7, -76, -6)], crs=4326)


def test_rural_rates_are_missing_without_rural_population():
    table = services.district_services(
        _services(["010101", "010102"], [0.1, 0.2], [0.0, 0.5], [0.0, 0.3]),
        _mobile(["010101", "010102"], [1.0, 0.0], [0.0, float("nan")]))
    assert pd.isna(table.loc["010101", "rural_no_electricity_share"])
    assert table.loc["010102", "rural_no_electricity_share"] == 0.3
    # an operator covering an urban or a rural centre counts; a missing rural column does not
    assert table.loc["010101", "mobile_operators_2023"] == 4
    assert table.loc["010102", "mobile_operators_2023"] == 0
    assert table.loc["010101", "mobile_centres_2023"] == 5


def test_new_districts_fold_into_their_2007_parent_population_weighted():
    capitals = pd.DataFrame({"inei": ["010101", "010102", "010199", "010198"],
                             "latitude": [-6.5, -6.5, -6.2, None],
                             "longitude": [-77.5, -76.5, -76.2, None]})
    no_centres = pd.DataFrame(columns=["inei_distrito", "ccpp", "longitude", "latitude"])
    parents = parent_2007_district(pd.Series(["010101", "010102", "010199", "010198"]),
                                   districts=_districts(), centres=no_centres,
                                   capitals=capitals.assign(distrito=["A", "B", "C", "D"]))
    assert parents["method"].to_dict() == {
        "010101": "on_map", "010102": "on_map", "010198": "unmapped", "010199": "capital_point"}
    table = services.district_services(
        _services(["010101", "010102", "010199"], [0.1, 0.2, 0.5], [0.5, 0.5, 1.0],
                  [0.2, 0.4, 0.1]),
        _mobile(["010101", "010102", "010199"], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]))
    pop = pd.Series({"010101": 100.0, "010102": 300.0, "010199": 100.0})
    out = services.fold_to_parents(table, parents, pop)
    row = out.loc["010102"]
    assert row["no_water_share"] == pytest.approx((0.2 * 300 + 0.5 * 100) / 400)
    # rural rates by rural population: 300 x 0.5 = 150 and 100 x 1.0 = 100
    assert row["rural_no_electricity_share"] == pytest.approx((0.4 * 150 + 0.1 * 100) / 250)
    assert row["mobile_operators_2023"] == 4
    assert row["mobile_centres_2023"] == 10
    assert row["n_source_codes"] == 2
    assert out.loc["010101", "no_water_share"] == 0.1


def test_build_needs_the_districts(tmp_path):
    with pytest.raises(GeoEngineError, match="needs the districts"):
        services.build(BuildContext(src=tmp_path, out=tmp_path))


@pytest.mark.needs_shared
def test_real_services_reproduce_the_committed_file(raw_dir, data_dir, tmp_path):
    ctx = BuildContext(src=raw_dir, out=tmp_path)
    admin.build(ctx)
    (ds,) = services.build(ctx)
    table = pd.read_parquet(tmp_path / ds.file)
    assert len(table) == 1834
    assert table["no_water_share"].between(0, 1).all()
    assert ds.report["codes_on_map"] + ds.report["codes_mapped_to_2007_parent"] \
        + ds.report["codes_dropped_unmapped"] == 1891
    # the road columns repeat one value per province: they are not district data
    assert set(ds.report["road_columns_max_distinct_per_province"].values()) == {1}
    lima = table.set_index("district_code").loc["150101"]
    assert lima["mobile_operators_2023"] == 4
    assert pd.isna(lima["rural_no_internet_share"])
    committed = {e["file"]: e for e in load_manifest(data_dir)["datasets"]}[ds.file]
    assert describe_file(tmp_path / ds.file)["sha256"] == committed["sha256"]
