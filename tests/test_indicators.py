import json
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo_engine._errors import GeoEngineWarning, MissingSourceError, SourceFormatError, SpecError
from geo_engine.ingest.specs import LayerSpec
from geo_engine.io.safe_read import read_vector
from geo_engine.matrix.indicators import GRID_COLUMNS, LAYER_DTYPE, build_indicators, read_table

TITLE = {"es": "x", "en": "x"}


@pytest.fixture
def region(tmp_path):
    units = gpd.GeoDataFrame(
        {"unit_code": ["010101", "010102"], "parent_code": ["0101", "0101"],
         "grandparent_code": ["01", "01"]},
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
            "params": {"column": "rate", "key": "code", "level": "unit_code"},
            "units": "%", "direction": "benefit"}
    return LayerSpec(**{**base, **kw})


def _specs():
    return [
        _spec(),
        _spec(id="people", method="extensive",
              params={"column": "people", "key": "code", "level": "unit_code",
                      "weights": "area"}),
        _spec(id="rate_b", filter="kind == 'b'", source="table.csv"),
    ]


def test_matrix_columns_and_values(region, tmp_path):
    units, data = region
    m = build_indicators(region="t", resolution=6, layers=_specs(), units=units, data_dir=data,
                         cache_dir=tmp_path / "cache")
    assert list(m.columns) == [*GRID_COLUMNS, "rate", "people", "rate_b"]
    assert m["h3"].is_monotonic_increasing
    by_unit = m.groupby("unit_code")
    assert by_unit["rate"].first().tolist() == [10.0, 30.0]
    assert by_unit["people"].sum().tolist() == pytest.approx([1000.0, 3000.0])
    assert m.loc[m["unit_code"] == "010101", "rate_b"].isna().all()
    assert (m.loc[m["unit_code"] == "010102", "rate_b"] == 30.0).all()
    assert m.attrs["cache_hit"] is False
    assert set(m.attrs["report"]["layers"]) == {"rate", "people", "rate_b"}
    # layers share one type, grid columns keep their own; the cache reads them back
    assert (m[["rate", "people", "rate_b"]].dtypes == LAYER_DTYPE).all()
    assert m["lat"].dtype == np.float64
    assert m["h3"].dtype == np.uint64
    assert m["unit_code"].dtype == units["unit_code"].dtype
    again = build_indicators(region="t", resolution=6, layers=_specs(), units=units, data_dir=data,
                             cache_dir=tmp_path / "cache")
    assert again.attrs["cache_hit"] is True
    pd.testing.assert_frame_equal(again, m)
    # a repeated id keeps one column, with the values of its last spec
    twice = build_indicators(region="t", resolution=6, use_cache=False, units=units, data_dir=data,
                             layers=[_spec(), _spec(params={"column": "people", "key": "code",
                                                            "level": "unit_code"})])
    assert list(twice.columns) == [*GRID_COLUMNS, "rate"]
    assert twice.groupby("unit_code")["rate"].first().tolist() == [1000.0, 3000.0]


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
    assert changed.groupby("unit_code")["rate"].first().tolist() == [11.0, 30.0]
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
    with pytest.raises(SpecError, match=r"layer 'rate': filter 'nope > 1' names column 'nope' that the "
                       r"data does not have; columns are \['code', 'rate'"):
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
    units[["unit_code", "geometry"]].rename(columns={"unit_code": "code"}).to_file(
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
                 params={"column": "t", "key": "code", "level": "unit_code",
                         "weights": "area", "aggregate": "sum"})
    m = build_indicators(region="t", resolution=6, layers=[spec], units=units, data_dir=data,
                         cache_dir=tmp_path / "cache")
    assert m.groupby("unit_code")["t"].sum().tolist() == pytest.approx([3.0, 5.0])
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
              params={"column": "name", "key": "code", "level": "unit_code",
                      "weights": "area", "aggregate": "count"}),
        LayerSpec(id="relief", title=TITLE, theme="environment", kind="raster", source="dem.tif",
                  method="range", units="m", direction="benefit"),
        LayerSpec(id="top", title=TITLE, theme="environment", kind="raster", source="dem.tif",
                  method="max", units="m", direction="benefit"),
    ]
    m = build_indicators(region="t", resolution=6, layers=specs, units=units, data_dir=data,
                         cache_dir=tmp_path / "cache")
    assert m.groupby("unit_code")["n_units"].sum().tolist() == pytest.approx([2.0, 1.0])
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


@pytest.mark.hostile
def test_a_source_outside_the_data_folder_is_not_read(region, tmp_path, monkeypatch):
    units, data = region
    secret = tmp_path.parent / f"{tmp_path.name}-secret.csv"
    secret.write_text("code,rate\n010101,99\n")
    read = []
    monkeypatch.setattr("geo_engine.matrix.indicators.read_table_file", lambda p: read.append(p))
    for source in (f"../{secret.name}", str(secret)):
        with pytest.raises(SpecError, match=rf"layer 'rate': source '{source}' leads outside the data "
                           r"folder"):
            build_indicators(region="t", resolution=6, units=units, data_dir=data,
                             layers=[_spec(source=source)], cache_dir=tmp_path / "cache")
    assert read == []


@pytest.mark.hostile
def test_a_filter_that_skipped_validation_is_still_refused(region, tmp_path, monkeypatch):
    """Even a spec built without validation cannot run code through its filter."""
    units, data = region
    monkeypatch.chdir(tmp_path)
    spec = _spec().model_copy(update={"filter": "@settings.os.system('touch X')"})
    with pytest.raises(SpecError, match=r"layer 'rate': filter .* uses '@'"):
        build_indicators(region="t", resolution=6, units=units, data_dir=data, layers=[spec],
                         cache_dir=tmp_path / "cache")
    assert not (tmp_path / "X").exists()


_CHILD = """
import json, sys, time
from pathlib import Path
import geopandas as gpd
from geo_engine.matrix.indicators import build_indicators
from geo_engine.ingest.specs import LayerSpec

units, specs, data, cache, out, ready, go = sys.argv[1:]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.01)
m = build_indicators(region="t", resolution=6, units=gpd.read_parquet(units), data_dir=Path(data),
                     layers=[LayerSpec(**s) for s in json.loads(Path(specs).read_text())],
                     cache_dir=Path(cache), progress=lambda *_: time.sleep(0.3))
m.to_parquet(out)
print(m.attrs["cache_hit"])
"""


@pytest.mark.hostile
def test_two_processes_building_one_matrix_both_succeed(region, tmp_path):
    units, data = region
    units.to_parquet(tmp_path / "units.parquet")
    (tmp_path / "specs.json").write_text(json.dumps([s.model_dump(mode="json") for s in _specs()]))
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "units.parquet"),
                          str(tmp_path / "specs.json"), str(data), str(tmp_path / "cache"),
                          str(tmp_path / f"out{i}.parquet"), str(tmp_path / f"ready{i}"),
                          str(tmp_path / "go")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for i in range(2)]
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert all(c.poll() is None for c in children), children[0].communicate()
        time.sleep(0.01)
    (tmp_path / "go").touch()  # both start building at once
    results = [c.communicate() for c in children]
    assert [c.returncode for c in children] == [0, 0], results
    assert sorted(out.strip() for out, _ in results) == ["False", "True"]  # built once, then read
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out0.parquet"),
                                  pd.read_parquet(tmp_path / "out1.parquet"))
    left = sorted(p.suffix for p in (tmp_path / "cache" / "indicators").iterdir())
    assert left == [".json", ".lock", ".parquet"]  # no temporary file is left


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.hostile
@pytest.mark.parametrize(("damage", "problem"), [
    (lambda p: _truncate(p), r"\.parquet is [\d,]+ bytes, the sidecar says"),
    (lambda p: _flip_a_byte(p), r"the SHA-256 of .*\.parquet differs from the sidecar's"),
    (lambda p: p.unlink(), r"\.parquet is missing"),
    (lambda p: p.with_suffix(".json").unlink(), r"its sidecar .*\.json is missing"),
    (lambda p: p.with_suffix(".json").write_text('{"format": 1, "sha2'), r"is not valid JSON"),
    (lambda p: p.with_suffix(".json").write_text("[]"), r"is not a format-1 cache record"),
    (lambda p: p.with_suffix(".json").write_bytes(b"\xff\xfe\x00"), r"is not valid JSON"),
])
def test_a_damaged_cached_matrix_is_rebuilt_with_a_warning(region, tmp_path, damage, problem):
    units, data = region
    kw = {"region": "t", "resolution": 6, "layers": _specs(), "units": units, "data_dir": data,
          "cache_dir": tmp_path / "cache"}
    first = build_indicators(**kw)
    damage(Path(first.attrs["cache_path"]))
    with pytest.warns(GeoEngineWarning, match=r"cache entry .*t-r6-\w+\.parquet is damaged \(.*" + problem):
        again = build_indicators(**kw)
    assert again.attrs["cache_hit"] is False
    pd.testing.assert_frame_equal(first, again)
    third = build_indicators(**kw)  # the rebuilt entry is whole again
    assert third.attrs["cache_hit"] is True
    assert third.attrs["report"]["layers"].keys() == first.attrs["report"]["layers"].keys()


def test_suitable_weights_place_totals_in_the_band_and_warn_on_fallback(region, tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    units, data = region
    folder = data / "t"
    folder.mkdir()
    # elevation rises eastwards from 0 m to 3,000 m: district 010101 (west) lies below 1,500 m
    elev = np.tile(np.linspace(0, 3000, 60, dtype="float32"), (40, 1))
    with rasterio.open(folder / "elevation.tif", "w", driver="GTiff", width=60, height=40, count=1,
                       dtype="float32", crs="EPSG:4326", nodata=-9999,
                       transform=from_origin(-77.3, -12.0, 0.01, 0.01)) as ds:
        ds.write(elev, 1)
    gpd.GeoDataFrame({"percent_cropland": [4.0]}, geometry=[box(-77.4, -12.4, -76.6, -11.9)],
                     crs="EPSG:4326").to_parquet(folder / "cropland_grid.parquet")
    gpd.GeoDataFrame({"urban": [False]}, geometry=gpd.points_from_xy([-76.75], [-12.15]),
                     crs="EPSG:4326").to_parquet(folder / "populated_centres.parquet")
    spec = _spec(id="crop", method="extensive",
                 params={"column": "people", "key": "code", "level": "unit_code",
                         "weights": "suitable",
                         "suitability": {"elevation_m": [1500, 2800], "cropland": True,
                                         "centres": True, "source": "a test band, 1,500-2,800 m"}})
    with pytest.warns(GeoEngineWarning, match=r"1 of 2 districts .* cropland at any elevation"):
        m = build_indicators(region="t", resolution=7, layers=[spec], units=units, data_dir=data,
                             cache_dir=tmp_path / "cache")
    sums = m.groupby("unit_code")["crop"].sum()
    assert sums.tolist() == pytest.approx([1000.0, 3000.0])
    east = m[m["unit_code"] == "010102"]
    assert (east["crop"] > 0).sum() == 1  # all of it on the one cell with a centre in the band
    west = m[m["unit_code"] == "010101"]
    assert (west["crop"] > 0).all()  # no cell in the band: over its cropland


def test_cache_key_covers_the_files_that_place_totals(tmp_path):
    from geo_engine.matrix.indicators import AUXILIARY_FILES, cache_key

    (tmp_path / "t").mkdir()
    kw = {"units_hash": "u", "resolution": 6, "specs": [_spec()], "data_dir": tmp_path, "region": "t"}
    before = cache_key(**kw)
    for name in AUXILIARY_FILES:
        (tmp_path / "t" / name).write_bytes(b"version 1")
        changed = cache_key(**kw)
        assert changed != before, name
        before = changed


PROV, DIST = "province_code", "district_code"  # Peru's names, as curated tables keep them


@pytest.mark.parametrize("level", [PROV, "parent_code"])
def test_a_table_names_its_level_by_the_slot_or_by_perus_name(region, tmp_path, level):
    units, data = region
    pd.DataFrame({PROV: ["0101"], "rate": [7.0]}).to_parquet(data / "prov.parquet")
    spec = _spec(source="prov.parquet", params={"column": "rate", "key": PROV, "level": level})
    m = build_indicators(region="t", resolution=6, layers=[spec], units=units, data_dir=data,
                         use_cache=False)
    assert (m["rate"] == 7.0).all()
    assert PROV not in m  # the grid keeps the slot's name


def test_the_default_level_is_perus_unit_code_and_keys_the_table_by_it(region, tmp_path):
    units, data = region
    pd.DataFrame({DIST: ["010101", "010102"], "rate": [1.0, 2.0]}).to_parquet(data / "d.parquet")
    spec = _spec(source="d.parquet", params={"column": "rate"})
    m = build_indicators(region="t", resolution=6, layers=[spec], units=units, data_dir=data,
                         use_cache=False)
    assert m.groupby("unit_code")["rate"].first().tolist() == [1.0, 2.0]


def test_curated_units_are_read_under_the_slots_names(tmp_path):
    from geo_engine.matrix.indicators import region_units

    (tmp_path / "t").mkdir()
    names = {DIST: ["010101"], DIST[:-5]: ["A"], PROV: ["0101"], PROV[:-5]: ["P"],
             "department": ["D"], "note": ["x"]}  # Peru's names; a name without its code
    gpd.GeoDataFrame(names, geometry=[box(0, 0, 1, 1)], crs=4326).to_parquet(
        tmp_path / "t" / "districts.parquet")
    units = region_units("t", data_dir=tmp_path)
    assert list(units.columns) == ["unit_code", "unit", "parent_code", "parent",
                                   "department", "note", "geometry"]  # Peru's names: it stays
