import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box

from curation.common.context import BuildContext
from curation.peru import admin


def _districts():
    geoms = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), None]
    return gpd.GeoDataFrame(
        {
            "district_code": ["010101", "010102", "010201", "010202"],
            "province_code": ["0101", "0101", "0102", "0102"],
            "province": ["A", "A", "B", "B"],
            "department_code": ["01"] * 4,
            "department": ["D"] * 4,
            "area_km2": [1.0, 1.0, 1.0, 5.0],
            "has_geometry": [True, True, True, False],
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def test_dissolve_keeps_units_without_geometry():
    out = admin.dissolve_units(_districts(), code="province_code",
                               name_columns=["province", "department_code"])
    assert out["province_code"].tolist() == ["0101", "0102"]
    assert out["n_districts"].tolist() == [2, 2]
    assert out["n_districts_without_geometry"].tolist() == [0, 1]
    assert out["area_km2"].tolist() == [2.0, 6.0]
    assert shapely.equals(out.geometry.iloc[0], box(0, 0, 2, 1))
    assert out.is_valid.all()


def test_missing_source_names_the_file(tmp_path):
    ctx = BuildContext(src=tmp_path, out=tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"peru_distrital_simple\.geojson.*--from"):
        admin.build(ctx)


def test_official_names_fix_typos_and_keep_accents_and_exceptions():
    import pandas as pd

    frame = pd.DataFrame({
        "district_code": ["200110", "080907", "150101"], "district": ["LA UNION", "KIMBIRI", "LIMA"],
        "province_code": ["2001", "0809", "1501"], "province": ["PUIRA", "LA MAR", "LIMA"],
        "department_code": ["20", "08", "15"], "department": ["PIURA", "CUSCO", "LIMA"],
    })
    refs = {"district": pd.Series({"200110": "LA UNIÓN", "080907": "QUIMBIRI", "150101": "LIMA"}),
            "province": pd.Series({"2001": "PIURA", "0809": "LA MAR", "1501": "LIMA"}),
            "department": pd.Series({"20": "PIURA", "08": "CUSCO"})}
    out, fixes = admin.official_names(frame, refs)
    assert fixes == [{"level": "province", "code": "2001", "layer": "PUIRA", "ubigeo": "PIURA"}]
    assert out["province"].tolist() == ["PIURA", "LA MAR", "LIMA"]
    assert out["district"].tolist() == ["LA UNION", "KIMBIRI", "LIMA"]  # accents only: kept
    assert frame["province"].iloc[0] == "PUIRA"  # the input is not changed


def test_real_admin_units(raw_dir, tmp_path):
    ctx = BuildContext(src=raw_dir, out=tmp_path)
    datasets = {d.id: d for d in admin.build(ctx)}
    districts = ctx.frames["districts"]
    assert len(districts) == 1834
    assert districts["district_code"].is_unique
    assert (~districts["has_geometry"]).sum() == 8
    assert {"070105", "150137"} <= set(districts.loc[~districts["has_geometry"], "district_code"])
    assert districts.loc[districts["has_geometry"]].is_valid.all()
    assert datasets["districts"].report["invalid_repaired"] >= 0
    # Peru is about 1.285 million km²
    assert 1.2e6 < districts["area_km2"].sum() < 1.35e6
    assert len(ctx.frames["country"]) == 1
    assert not districts["province"].isin(["PUIRA", "VICTOR FAFARDO"]).any()
    assert {f["layer"] for f in datasets["districts"].report["name_fixes"]} >= {
        "PUIRA", "VICTOR FAFARDO", "SANTA CRUZ DE TOLED"}
    assert len(gpd.read_parquet(tmp_path / "peru" / "departments.parquet")) == 25
