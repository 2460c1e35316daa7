import geopandas as gpd
import pandas as pd
import pytest

from curation.common.context import BuildContext
from curation.peru import admin, tourism
from geo_engine._errors import GeoEngineError
from geo_engine.io.manifest import describe_file, load_manifest


@pytest.mark.parametrize(("anp", "sector", "key"), [
    ("SH Machupicchu", "Ruta 01", ("Santuario Histórico", "MACHUPICCHU")),
    ("RN de Paracas", None, ("Reserva Nacional", "PARACAS")),
    ("RVS Los Pantanos de Villa", None, ("Refugio de Vida Silvestre", "PANTANOS DE VILLA")),
    ("PN del Río Abiseo", None, ("Parque Nacional", "RIO ABISEO")),
    (tourism.GUANO_SYSTEM, "Islas Ballestas", ("Reserva Nacional",
                                              "ISLA BALLESTAS NORTE CENTRO Y SUR")),
    (tourism.GUANO_SYSTEM, "HOTEL PARACAS", ("Reserva Nacional",
                                            "ISLA BALLESTAS NORTE CENTRO Y SUR")),
])
def test_area_key_folds_prefix_article_and_island_sectors(anp, sector, key):
    assert tourism.area_key(anp, sector) == key


def _rows():
    return pd.DataFrame({
        "ANP": ["SH Machupicchu"] * 3 + ["RN de Paracas"],
        "anp_codi": ["SH03"] * 3 + ["RN03"],
        "SECTOR": ["Ruta 01", "Ruta 02", "Ruta 01", None],
        "UBIGEO": ["81304", "81304", "81304", None],
        "PROCEDENCIA": ["EXTRANJERO", "NACIONAL", "EXTRANJERO", "LOCAL"],
        "FECHA": [20220131, 20220228, 20230131, 20230131],
        "VISITAS_E1": [10, 5, 20, 7],
        "VISITAS_E2A3": [1, 0, 0, 0],
        "VISITAS_E3A30": [0, 0, 4, 0],
    })


def test_visits_are_summed_per_area_origin_and_year():
    out = tourism.visits_by_area(_rows()).set_index("name_key")
    mp = out.loc["MACHUPICCHU"]
    assert mp["visits_total"] == 40
    assert mp["visits_foreign"] == 35
    assert mp["visits_national"] == 5
    assert mp["visits_2022"] == 16
    assert mp["visits_2023_jan_nov"] == 24
    assert mp["foreign_share"] == pytest.approx(0.875)
    assert mp["ubigeo"] == "081304"  # the lost leading zero is restored
    assert mp["visits_per_year"] == round(40 / 23 * 12)
    assert pd.isna(out.loc["PARACAS", "ubigeo"])
    assert out["visits_total"].sum() == _rows()[["VISITAS_E1", "VISITAS_E2A3",
                                                 "VISITAS_E3A30"]].sum().sum()


def test_build_needs_the_districts(tmp_path):
    with pytest.raises(GeoEngineError, match="needs the districts"):
        tourism.build(BuildContext(src=tmp_path, out=tmp_path))


@pytest.mark.needs_shared
def test_real_visits_reproduce_the_committed_file(raw_dir, data_dir, tmp_path):
    ctx = BuildContext(src=raw_dir, out=tmp_path)
    admin.build(ctx)
    ds, colca = tourism.build(ctx)
    points = gpd.read_parquet(tmp_path / ds.file).set_index("name_key")
    assert ds.report["polygon_match_rate"] == 1.0
    assert points.loc["MACHUPICCHU", "district_code"] == "081304"
    assert points.loc["MACHUPICCHU", "foreign_share"] > 0.9
    assert points.loc["PARACAS", "placed_at"] == "area_point"
    assert ds.report["visits_total"] == 4_231_325
    committed = {e["file"]: e for e in load_manifest(data_dir)["datasets"]}
    assert describe_file(tmp_path / ds.file)["sha256"] == committed[ds.file]["sha256"]
    assert colca.id == "attraction_visits"
    assert describe_file(tmp_path / colca.file)["sha256"] == committed[colca.file]["sha256"]
