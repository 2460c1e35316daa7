import json
import warnings
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo_engine._errors import GeoEngineWarning, MissingSourceError, SourceFormatError, SpecError
from geo_engine.indicators import GRID_COLUMNS, build_indicators, read_table, read_vector
from geo_engine.layers import LayerSpec

TITLE = {"es": "x", "en": "x"}


@pytest.fixture
def region(tmp_path):
    units = gpd.GeoDataFrame(
        {"district_code": ["010101", "010102"], "province_code": ["0101", "0101"],
         "department_code": ["01", "01"]},
        geometry=[box(-77.3, -12.3, -77.0, -12.0), box(-77.0, -12.3, -76.7, -12.0)],
        crs="EPSG:4326",
    )
    table = pd.DataFrame({"code": ["010101", "010102"], "rate": [10.0, 30.0],
                          "people": [1000.0, 3000.0], "kind": ["a", "b"]})
    table.to_parquet(tmp_path / "table.parquet")
    table.to_csv(tmp_path / "table.csv", index=False)
    return units, tmp_path


def _spec(**kw):
    base = {"id": "rate", "title": TITLE, "theme": "social", "kind": "table",
            "source": "table.parquet", "method": "intensive",
            "params": {"column": "rate", "key": "code", "level": "district_code"},
            "units": "%", "direction": "benefit"}
    return LayerSpec(**{**base, **kw})


def _specs():
    return [
        _spec(),
        _spec(id="people", method="extensive",
              params={"column": "people", "key": "code", "level": "district_code",
                      "weights": "area"}),
        _spec(id="rate_b", filter="kind == 'b'", source="table.csv"),
    ]


def test_matrix_columns_and_values(region, tmp_path):
    units, data = region
    m = build_indicators(region="t", resolution=6, layers=_specs(), units=units, data_dir=data,
                         cache_dir=tmp_path / "cache")
    assert list(m.columns) == [*GRID_COLUMNS, "rate", "people", "rate_b"]
    assert m["h3"].is_monotonic_increasing
    by_unit = m.groupby("district_code")
    assert by_unit["rate"].first().tolist() == [10.0, 30.0]
    assert by_unit["people"].sum().tolist() == pytest.approx([1000.0, 3000.0])
    assert m.loc[m["district_code"] == "010101", "rate_b"].isna().all()
    assert (m.loc[m["district_code"] == "010102", "rate_b"] == 30.0).all()
    assert m.attrs["cache_hit"] is False
    assert set(m.attrs["report"]["layers"]) == {"rate", "people", "rate_b"}


def test_cache_reuse_and_invalidation(region, tmp_path):
    units, data = region
    kw = {"region": "t", "resolution": 6, "units": units, "data_dir": data,
          "cache_dir": tmp_path / "cache"}
    first = build_indicators(layers=_specs(), **kw)
    again = build_indicators(layers=_specs(), **kw)
    assert again.attrs["cache_hit"] is True
    pd.testing.assert_frame_equal(first, again)
    # a changed source file builds anew
    pd.DataFrame({"code": ["010101", "010102"], "rate": [11.0, 30.0], "people": [1.0, 2.0],
                  "kind": ["a", "b"]}).to_parquet(data / "table.parquet")
    changed = build_indicators(layers=_specs(), **kw)
    assert changed.attrs["cache_hit"] is False
    assert changed.groupby("district_code")["rate"].first().tolist() == [11.0, 30.0]
    # a changed spec builds anew
    other = build_indicators(layers=[_spec(units="per cent")], **kw)
    assert other.attrs["cache_hit"] is False
    assert len(list((tmp_path / "cache" / "indicators").glob("*.parquet"))) == 3
    assert not list((tmp_path / "cache" / "indicators").glob("*.tmp"))


def test_failed_build_leaves_no_cache(region, tmp_path):
    units, data = region
    with pytest.raises(MissingSourceError, match=r"nothing\.parquet"):
        build_indicators(region="t", resolution=6, units=units, data_dir=data,
                         layers=[_spec(), _spec(id="bad", source="nothing.parquet")],
                         cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.parquet"))


def test_bad_filter_names_layer(region, tmp_path):
    units, data = region
    with pytest.raises(SpecError, match=r"layer 'rate': filter 'nope > 1' failed"):
        build_indicators(region="t", resolution=6, units=units, data_dir=data,
                         layers=[_spec(filter="nope > 1")], cache_dir=tmp_path / "cache")


def test_csv_codes_keep_leading_zeros(tmp_path):
    (tmp_path / "t.csv").write_text("code,v\n010101,1.5\n")
    assert read_table(tmp_path / "t.csv")["code"].tolist() == ["010101"]


def test_read_table_non_utf8_csv_warns(tmp_path):
    (tmp_path / "t.csv").write_bytes("code,name\n010101,Cañete\n".encode("cp1252"))
    with pytest.warns(GeoEngineWarning, match=r"t\.csv is not UTF-8; read it as cp1252"):
        assert read_table(tmp_path / "t.csv")["name"].tolist() == ["Cañete"]


def test_read_vector_reads_a_zipped_shapefile_and_refuses_a_bomb(region, tmp_path):
    units, _ = region
    units[["district_code", "geometry"]].rename(columns={"district_code": "code"}).to_file(
        tmp_path / "units.shp")
    with zipfile.ZipFile(tmp_path / "units.zip", "w") as zf:
        for part in tmp_path.glob("units.*"):
            if part.suffix != ".zip":
                zf.write(part, f"units/{part.name}")
    frame = read_vector(tmp_path / "units.zip")
    assert frame["code"].tolist() == ["010101", "010102"]
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("units.geojson", bytes(4 * 2**20))
    with pytest.raises(SourceFormatError, match=r"bomb\.zip: member 'units\.geojson' expands"):
        read_vector(tmp_path / "bomb.zip")


def test_no_cache_mode_writes_nothing(region, tmp_path):
    units, data = region
    m = build_indicators(region="t", resolution=5, layers=_specs()[:1], units=units, data_dir=data,
                         cache_dir=tmp_path / "cache", use_cache=False)
    assert np.isfinite(m["rate"]).all()
    assert not (tmp_path / "cache").exists()


def test_rows_per_unit_are_aggregated_when_asked(region, tmp_path):
    units, data = region
    pd.DataFrame({"code": ["010101", "010101", "010102"], "t": [1.0, 2.0, 5.0]}).to_parquet(
        data / "long.parquet")
    spec = _spec(id="t", source="long.parquet", method="extensive",
                 params={"column": "t", "key": "code", "level": "district_code",
                         "weights": "area", "aggregate": "sum"})
    m = build_indicators(region="t", resolution=6, layers=[spec], units=units, data_dir=data,
                         cache_dir=tmp_path / "cache")
    assert m.groupby("district_code")["t"].sum().tolist() == pytest.approx([3.0, 5.0])
    with pytest.raises(ValueError, match=r"params.aggregate was 'median'"):
        _spec(params={"column": "t", "key": "code", "aggregate": "median"})


def test_count_aggregate_and_raster_range(region, tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    units, data = region
    pd.DataFrame({"code": ["010101", "010101", "010102"], "name": ["m1", "m2", "m3"]}).to_parquet(
        data / "units.parquet")
    elev = np.arange(60 * 40, dtype="float32").reshape(40, 60)
    with rasterio.open(data / "dem.tif", "w", driver="GTiff", width=60, height=40, count=1,
                       dtype="float32", crs="EPSG:4326", nodata=-9999,
                       transform=from_origin(-77.3, -12.0, 0.01, 0.01)) as ds:
        ds.write(elev, 1)
    specs = [
        _spec(id="n_units", source="units.parquet", method="extensive",
              params={"column": "name", "key": "code", "level": "district_code",
                      "weights": "area", "aggregate": "count"}),
        LayerSpec(id="relief", title=TITLE, theme="environment", kind="raster", source="dem.tif",
                  method="range", units="m", direction="benefit"),
        LayerSpec(id="top", title=TITLE, theme="environment", kind="raster", source="dem.tif",
                  method="max", units="m", direction="benefit"),
    ]
    m = build_indicators(region="t", resolution=6, layers=specs, units=units, data_dir=data,
                         cache_dir=tmp_path / "cache")
    assert m.groupby("district_code")["n_units"].sum().tolist() == pytest.approx([2.0, 1.0])
    ok = m["relief"].notna()
    assert ok.any()
    assert (m.loc[ok, "relief"] >= 0).all()
    assert (m.loc[ok, "relief"] <= m.loc[ok, "top"]).all()


def test_layer_outside_the_region_warns_and_is_nan(region, tmp_path):
    units, data = region
    gpd.GeoDataFrame({"v": [1.0]}, geometry=[box(10, 10, 11, 11)], crs="EPSG:4326").to_parquet(
        data / "far.parquet")
    spec = LayerSpec(id="far", title=TITLE, theme="environment", kind="polygons",
                     source="far.parquet", method="share", units="share", direction="benefit")
    with pytest.warns(GeoEngineWarning, match=r"far\.parquet does not overlap the region"):
        m = build_indicators(region="t", resolution=6, layers=[spec], units=units, data_dir=data,
                             cache_dir=tmp_path / "cache")
    assert m["far"].isna().all()


@pytest.mark.hostile
def test_layer_features_without_geometry_are_dropped_with_a_count(region, tmp_path):
    units, data = region
    point = {"type": "Point", "coordinates": [-77.1, -12.1, 3000.0, 7.0]}  # XYZM: read as 2D
    features = [point, point, {"type": "GeometryCollection", "geometries": []}, None]
    (data / "wells.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": i}, "geometry": g} for i, g in enumerate(features)]}))
    spec = LayerSpec(id="wells", title=TITLE, theme="infrastructure", kind="points",
                     source="wells.geojson", method="count", units="count", direction="benefit")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = build_indicators(region="t", resolution=6, layers=[spec], units=units, data_dir=data,
                             cache_dir=tmp_path / "cache")
    assert [str(w.message) for w in caught] == [
        f"layer 'wells': {data / 'wells.geojson'}: 2 of 4 features have no geometry (null or "
        "empty) and were left out; drop or fix them in the file to silence this"]
    assert m["wells"].sum() == 2


def test_points_with_latitude_and_longitude_swapped_are_read_exchanged(region, tmp_path):
    units, data = region
    inside = units.geometry.representative_point()
    lat, lon = inside.y.to_numpy(), inside.x.to_numpy()
    # the file says lat but holds longitudes, and the other way round
    swapped = "\n".join(f"p{i},{x},{y}" for i, (y, x) in enumerate(zip(lat, lon, strict=True)))
    (data / "swapped.csv").write_text("name,lat,lon\n" + swapped + "\n")
    specs = [LayerSpec(id=f"pts_{m}", title=TITLE, theme="infrastructure", kind="points",
                       source="swapped.csv", method=m, units="u", direction="benefit")
             for m in ("count", "distance")]
    with pytest.warns(GeoEngineWarning, match=r"swapped\.csv: latitude and longitude look swapped"):
        m = build_indicators(region="t", resolution=6, layers=specs, units=units, data_dir=data,
                             cache_dir=tmp_path / "cache")
    assert m["pts_count"].sum() == len(lat)
    assert m["pts_distance"].min() < 10
