import io
import json
import socket
import struct
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box

from geo_engine._errors import GeoEngineError, GeoEngineWarning, MissingSourceError, SourceFormatError
from geo_engine.io.safe_read import (
    Limits,
    check_file,
    check_lonlat,
    check_raster,
    drop_missing_geometries,
    extract_archive,
    read_csv_file,
    read_table_file,
    read_vector_file,
)

PERU = (-81.4, -18.4, -68.6, -0.0)  # west, south, east, north


def squares(n=3, crs="EPSG:4326"):
    return gpd.GeoDataFrame({"code": [f"{i:02d}" for i in range(n)], "v": np.arange(n, dtype=float)},
                            geometry=[box(-77 + i, -12, -76.5 + i, -11.5) for i in range(n)], crs=crs)


def write_zip(path, members, *, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            if isinstance(name, zipfile.ZipInfo):
                name.compress_type = compression
            zf.writestr(name, data)
    return path


def write_tif(path, data, *, crs="EPSG:4326", tiled=False):
    profile = {"driver": "GTiff", "height": data.shape[0], "width": data.shape[1], "count": 1,
               "dtype": data.dtype, "transform": Affine(0.01, 0, -77, 0, -0.01, -12)}
    if crs is not None:
        profile["crs"] = crs
    if tiled:
        profile.update(tiled=True, blockxsize=64, blockysize=64, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def shapefile_members(tmp_path, *, prj=True):
    folder = tmp_path / "shp"
    folder.mkdir()
    squares().to_file(folder / "roads.shp")
    return {f"roads/{p.name}": p.read_bytes() for p in sorted(folder.iterdir()) if prj or p.suffix != ".prj"}


def write_vector(frame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return path


def geojson(features, **extra):
    return json.dumps({"type": "FeatureCollection", **extra, "features": [
        {"type": "Feature", "properties": {"i": i}, "geometry": shapely.geometry.mapping(g)}
        for i, g in enumerate(features)]})


# --- check_file ----------------------------------------------------------------------------------


def test_check_file_refuses_missing_folder_empty_and_large(tmp_path):
    with pytest.raises(MissingSourceError, match=r"nope\.gpkg: vector file not found"):
        check_file(tmp_path / "nope.gpkg", kind="vector")
    with pytest.raises(SourceFormatError, match=r"is a folder, not a file"):
        check_file(tmp_path, kind="table")
    (tmp_path / "empty.csv").touch()
    with pytest.raises(SourceFormatError, match=r"empty\.csv is empty \(0 bytes\).*fetch it again"):
        check_file(tmp_path / "empty.csv", kind="table")
    (tmp_path / "big.tif").write_bytes(b"x" * 100)
    with pytest.raises(SourceFormatError, match=r"big\.tif is 100 bytes, above the 50 bytes limit for "
                       r"raster files; clip it .*gdal_translate.*max_raster_bytes"):
        check_file(tmp_path / "big.tif", kind="raster", limits=Limits(max_raster_bytes=50))
    assert check_file(str(tmp_path / "big.tif"), kind="raster") == tmp_path / "big.tif"
    with pytest.raises(ValueError, match=r"`kind` was 'image'"):
        check_file(tmp_path / "big.tif", kind="image")  # type: ignore[arg-type]


def test_limits_follow_settings(monkeypatch):
    import geo_engine.settings as s

    monkeypatch.setattr(s, "max_vertices", 7)
    assert Limits().max_vertices == 7
    assert Limits(max_vertices=9).max_vertices == 9


def test_shapefile_without_its_siblings(tmp_path):
    squares().to_file(tmp_path / "a.shp")
    (tmp_path / "a.dbf").unlink()
    with pytest.raises(SourceFormatError, match=r"a\.shp: the shapefile's \.dbf file is missing"):
        read_vector_file(tmp_path / "a.shp")


# --- archives ------------------------------------------------------------------------------------


def test_zipped_shapefile_reads(tmp_path):
    path = write_zip(tmp_path / "roads.zip", shapefile_members(tmp_path))
    frame = read_vector_file(path)
    assert frame.crs.equals("EPSG:4326")
    assert frame["code"].tolist() == ["00", "01", "02"]
    assert shapely.equals(frame.geometry.to_numpy(), squares().geometry.to_numpy()).all()


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_zipped_single_files_read(tmp_path, suffix):
    src = tmp_path / f"layer{suffix}"
    write_vector(squares(), src)
    frame = read_vector_file(write_zip(tmp_path / "layer.zip", {f"data/layer{suffix}": src.read_bytes(),
                                                                "README.txt": b"about"}))
    assert len(frame) == 3


def test_extract_archive_returns_the_dataset_and_keeps_files(tmp_path):
    members = {**shapefile_members(tmp_path), "__MACOSX/roads/._roads.shp": b"x"}
    path = write_zip(tmp_path / "roads.zip", members)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert extract_archive(path, out) == (out / "roads" / "roads.shp").resolve()
    assert (out / "mine.txt").read_text() == "keep"
    with pytest.raises(SourceFormatError, match=r"member 'roads/roads.cpg' is there twice or would "
                       "overwrite an existing file"):
        extract_archive(path, out)
    assert (out / "roads" / "roads.shp").is_file()  # the files already there are not removed


@pytest.mark.parametrize(("members", "match"), [
    ({"notes.txt": b"x"}, r"holds no vector dataset .*it holds: notes\.txt"),
    ({"a.geojson": b"{}", "b/c.gpkg": b"x"}, r"holds 2 datasets \(a\.geojson, b/c\.gpkg\); unzip it"),
])
def test_archive_without_one_dataset(tmp_path, members, match):
    with pytest.raises(SourceFormatError, match=match):
        read_vector_file(write_zip(tmp_path / "x.zip", members))


@pytest.mark.parametrize("name", ["../evil.geojson", "/evil.geojson", "sub/../../evil.geojson",
                                  "..\\evil.geojson", "C:/evil.geojson"])
def test_path_traversal_is_refused(tmp_path, name):
    inner = tmp_path / "inner"
    inner.mkdir()
    path = write_zip(inner / "x.zip", {"ok.geojson": geojson([Point(-77, -12)]), name: b"evil"})
    dest = inner / "dest"
    with pytest.raises(SourceFormatError, match=r"would be written outside the extraction folder .*refused"):
        extract_archive(path, dest)
    with pytest.raises(SourceFormatError, match=r"x\.zip: member .* outside the extraction folder"):
        read_vector_file(path)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [path]  # nothing extracted, not even the harmless member


def test_symlink_member_is_refused(tmp_path):
    link = zipfile.ZipInfo("layer.geojson")
    link.external_attr = 0o120777 << 16
    path = write_zip(tmp_path / "x.zip", {link: "/etc/passwd"})
    with pytest.raises(SourceFormatError, match=r"member 'layer\.geojson' is a symbolic link; refused"):
        read_vector_file(path)


def test_zip_bomb_is_refused_by_ratio(tmp_path):
    path = write_zip(tmp_path / "bomb.zip", {"big.geojson": bytes(8 * 2**20)})  # 8 MiB of zeros
    assert path.stat().st_size < 20_000
    dest = tmp_path / "dest"
    with pytest.raises(SourceFormatError, match=r"bomb\.zip: member 'big\.geojson' expands [\d,]+ "
                       r"times \(.* to 8 MiB\), above the 200:1 limit: this is how zip bombs look"):
        extract_archive(path, dest)
    assert not dest.exists() or not any(dest.iterdir())


def test_zip_bomb_is_refused_by_total_size_and_overall_ratio(tmp_path):
    path = write_zip(tmp_path / "bomb.zip", {f"part{i}.bin": bytes(2**20 - 1) for i in range(20)})
    with pytest.raises(SourceFormatError, match=r"bomb\.zip would expand to 20 MiB, above the 10 MiB limit"):
        read_vector_file(path, limits=Limits(max_archive_bytes=10 * 2**20))
    with pytest.raises(SourceFormatError, match=r"bomb\.zip expands [\d,]+ times in all"):
        read_vector_file(path)  # each member is below 1 MiB: only the whole archive gives it away
    with pytest.raises(SourceFormatError, match=r"has 20 members, above the limit of 5"):
        read_vector_file(path, limits=Limits(max_archive_members=5))


def _understate_size(data: bytes, declared: int) -> bytes:
    """Rewrite the uncompressed size of the only member in both the local and central headers."""
    buf = bytearray(data)
    local, central = buf.find(b"PK\x03\x04"), buf.find(b"PK\x01\x02")
    struct.pack_into("<I", buf, local + 22, declared)
    struct.pack_into("<I", buf, central + 24, declared)
    return bytes(buf)


def test_header_lying_about_the_size_is_caught(tmp_path):
    honest = io.BytesIO()
    with zipfile.ZipFile(honest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("layer.geojson", b" " * (4 * 2**20))
    path = tmp_path / "liar.zip"
    path.write_bytes(_understate_size(honest.getvalue(), 1000))
    assert zipfile.ZipFile(path).infolist()[0].file_size == 1000  # passes the declared-size checks
    dest = tmp_path / "dest"
    with pytest.raises(SourceFormatError, match=r"liar\.zip: member 'layer\.geojson' (cannot be "
                       r"extracted \(Bad CRC-32|expands beyond the size its header declares)"):
        extract_archive(path, dest)
    assert not any(dest.iterdir())


def test_corrupt_archive(tmp_path):
    good = write_zip(tmp_path / "good.zip", {"layer.geojson": geojson([Point(-77, -12)]) * 50})
    data = good.read_bytes()
    (tmp_path / "cut.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match=r"cut\.zip is not a readable ZIP archive .*unzip -t"):
        read_vector_file(tmp_path / "cut.zip")
    flipped = bytearray(data)
    start = data.find(b"layer.geojson") + len("layer.geojson") + 5  # inside the compressed data
    flipped[start:start + 8] = bytes(8)
    (tmp_path / "flip.zip").write_bytes(bytes(flipped))
    with pytest.raises(SourceFormatError, match=r"flip\.zip: member 'layer\.geojson' cannot be extracted"):
        read_vector_file(tmp_path / "flip.zip")


# --- vector content ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_truncated_vector_files(tmp_path, suffix):
    full = tmp_path / f"full{suffix}"
    frame = squares(200)
    write_vector(frame, full)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(SourceFormatError, match=rf"cut\{suffix} cannot be read as a vector dataset: .*"
                       r"truncated or corrupt: (inspect it with `ogrinfo -so FILE`, and )?download"):
        read_vector_file(cut)


def test_table_without_geometry(tmp_path):
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(SourceFormatError, match=r"t\.csv has no geometry column"):
        read_vector_file(tmp_path / "t.csv")


def test_missing_crs(tmp_path):
    path = write_zip(tmp_path / "roads.zip", shapefile_members(tmp_path, prj=False))
    with pytest.raises(SourceFormatError, match=r"roads\.zip: no CRS; set one \(e\.g\. `ogr2ogr -a_srs "
                       r"EPSG:4326`\) before using it \(a shapefile keeps it in its \.prj file\)"):
        read_vector_file(path)


def test_projected_coordinates_declared_as_degrees(tmp_path):
    path = tmp_path / "utm.geojson"  # GeoJSON without a crs member is taken as WGS 84
    path.write_text(geojson([Point(280_000, 8_670_000), Point(290_000, 8_660_000)]))
    with pytest.raises(SourceFormatError, match=r"utm\.geojson: coordinates span x 280000 to 290000, y "
                       r"8\.66e\+06 to 8\.67e\+06, outside longitude .* probably projected .*"
                       r"`ogr2ogr -a_srs EPSG:32718"):
        read_vector_file(path)


def test_degrees_declared_as_projected(tmp_path):
    squares(crs="EPSG:32718").to_file(tmp_path / "deg.gpkg")
    with pytest.raises(SourceFormatError, match=r"deg\.gpkg: coordinates span .* look like degrees, but "
                       r"the declared CRS \(WGS 84 / UTM zone 18S\) is projected .*EPSG:4326"):
        read_vector_file(tmp_path / "deg.gpkg")


def test_projected_data_keeps_its_crs(tmp_path):
    squares().to_crs(32718).to_parquet(tmp_path / "utm.parquet")
    frame = read_vector_file(tmp_path / "utm.parquet")
    assert frame.crs.to_epsg() == 32718


def test_non_finite_coordinates(tmp_path):
    frame = gpd.GeoDataFrame(geometry=[Point(-77, -12), Point(np.inf, -12)], crs=4326)
    frame.to_parquet(tmp_path / "inf.parquet")
    with pytest.raises(SourceFormatError, match=r"inf\.parquet: 1 feature\(s\) have coordinates that are "
                       r"not finite numbers .* rows \[1\]"):
        read_vector_file(tmp_path / "inf.parquet")


def test_swapped_latitude_longitude_in_a_file(tmp_path):
    # points of California written (lat, lon): y = -120 is beyond ±90°
    path = tmp_path / "swapped.geojson"
    path.write_text(geojson([Point(34.0, -118.2), Point(37.8, -122.4)]))
    with pytest.warns(GeoEngineWarning, match=r"latitude and longitude look swapped in .*swapped\.geojson"
                      r" \(x 34 to 37\.8, y -122\.4 to -118\.2: y goes beyond ±90°\)"):
        frame = read_vector_file(path)
    assert frame.geometry.x.tolist() == [-118.2, -122.4]
    assert frame.geometry.y.tolist() == [34.0, 37.8]


def test_check_lonlat_with_a_region():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-80, -70, 50), rng.uniform(-17, -2, 50)
    assert check_lonlat(lon, lat, bounds=PERU, source="towns.csv") is False
    with pytest.warns(GeoEngineWarning, match=r"look swapped in towns\.csv: 100% of the points fall in "
                      r"the region once exchanged, 0% as given; swap them"):
        assert check_lonlat(lat, lon, bounds=PERU, source="towns.csv") is True
    square = (-10.0, -10.0, 10.0, 10.0)  # symmetric about the diagonal: never swapped
    assert check_lonlat(lat / 10, lon / 10, bounds=square, source="s") is False
    assert check_lonlat(np.array([np.nan]), np.array([1.0]), bounds=PERU, source="s") is False


def test_antimeridian_polygon_and_line_are_split(tmp_path):
    fiji = Polygon([(177, -18), (-179, -18), (-179, -16), (177, -16)])
    line = LineString([(170, 50), (-170, 52)])
    world = box(-180, -90, 180, 90)  # spans 360° but does not cross: left alone
    path = tmp_path / "pacific.geojson"
    path.write_text(geojson([fiji, line, world, Point(179.5, -17)]))
    with pytest.warns(GeoEngineWarning, match=r"2 feature\(s\) of .*pacific\.geojson cross the "
                      r"antimeridian \(±180°\) and were split .*-wrapdateline"):
        frame = read_vector_file(path)
    poly, split_line, kept, point = frame.geometry
    assert poly.geom_type == "MultiPolygon"
    assert len(poly.geoms) == 2
    assert poly.area == pytest.approx(8.0)  # 4° × 2°
    assert poly.bounds == pytest.approx((-180, -18, 180, -16))
    assert sorted(round(g.bounds[0]) for g in poly.geoms) == [-180, 177]
    assert split_line.geom_type == "MultiLineString"
    assert len(split_line.geoms) == 2
    assert {round(c[0]) for g in split_line.geoms for c in g.coords} == {170, 180, -180, -170}
    assert kept.equals(world)
    assert point.equals(Point(179.5, -17))


def test_antimeridian_feature_spanning_half_the_globe(tmp_path):
    line = LineString([(170, 0), (-170, 0), (-10, 0), (10, 0)])  # crosses both ±180° and 0°
    gpd.GeoDataFrame(geometry=[line], crs=4326).to_parquet(tmp_path / "long.parquet")
    with pytest.raises(SourceFormatError, match=r"long\.parquet: feature 0 crosses the antimeridian .* "
                       "cannot be split automatically"):
        read_vector_file(tmp_path / "long.parquet")


def test_vertex_limits(tmp_path):
    ring = [(-77 + 0.5 * np.cos(t), -12 + 0.5 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 300)]
    frame = gpd.GeoDataFrame({"name": ["round", "square"]}, geometry=[Polygon(ring), box(-70, -12, -69, -11)],
                             crs=4326, index=[10, 11])
    frame.to_file(tmp_path / "detailed.gpkg")
    with pytest.raises(SourceFormatError, match=r"detailed\.gpkg: feature 0 has 300 vertices, above the "
                       r"limit of 100 per feature; simplify it first"):
        read_vector_file(tmp_path / "detailed.gpkg", limits=Limits(max_feature_vertices=100))
    with pytest.raises(SourceFormatError, match=r"detailed\.gpkg has 305 vertices in all, above the limit "
                       r"of 200; clip it"):
        read_vector_file(tmp_path / "detailed.gpkg", limits=Limits(max_vertices=200))
    assert len(read_vector_file(tmp_path / "detailed.gpkg")) == 2


# --- tables --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "used"), [("cp1252", "cp1252"), ("latin-1", "cp1252")])
def test_csv_not_utf8_is_decoded_with_a_warning(tmp_path, encoding, used):
    path = tmp_path / "t.csv"
    path.write_bytes("code,name\n010101,Cañete\n010102,José María\n".encode(encoding))
    with pytest.warns(GeoEngineWarning, match=rf"t\.csv is not UTF-8; read it as {used} .*save it as "
                      "CSV UTF-8"):
        frame = read_csv_file(path)
    assert frame["name"].tolist() == ["Cañete", "José María"]
    assert frame["code"].tolist() == ["010101", "010102"]


def test_csv_latin1_beyond_cp1252(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"code,name\n1,Ca\xf1ete\x81\n")  # 0x81 is undefined in Windows-1252
    with pytest.warns(GeoEngineWarning, match=r"read it as latin-1"):
        assert read_csv_file(path)["name"].tolist() == ["Cañete\x81"]


@pytest.mark.parametrize(("data", "columns"), [
    ("\ufeffcode,v\n01,1\n".encode(), ["code", "v"]),
    ("code;v;name\n01;1,5;Ñaña\n".encode(), ["code", "v", "name"]),
    ("code\tv\n01\t1\n".encode("utf-16"), ["code", "v"]),
])
def test_csv_bom_delimiters_and_utf16(tmp_path, data, columns):
    (tmp_path / "t.csv").write_bytes(data)
    frame = read_csv_file(tmp_path / "t.csv")
    assert list(frame.columns) == columns
    assert frame["code"].tolist() == ["01"]


@pytest.mark.parametrize(("data", "match"), [
    (b"a,b\n1,2\n3,4,5\n", r"bad\.csv is not a well-formed CSV: .*Expected 2 fields in line 3, saw 3.*"
                           "Check that line"),
    (b'a,b\n1,"open\n', r"bad\.csv is not a well-formed CSV: .*EOF inside string"),
    (b"\n\n", r"bad\.csv holds no table"),
    (b"PK\x03\x04\x14\x00rest", r"bad\.csv is not a CSV text file but a ZIP archive \(an Excel \.xlsx"),
    (b"PAR1\x00\x00", r"bad\.csv is not a CSV text file but a Parquet file"),
    (b"a,b\n\x00\x01\x02\x03", r"bad\.csv is not a CSV text file \(it holds binary data"),
])
def test_bad_csv(tmp_path, data, match):
    (tmp_path / "bad.csv").write_bytes(data)
    with pytest.raises(SourceFormatError, match=match):
        read_csv_file(tmp_path / "bad.csv")


def test_read_table_file_parquet(tmp_path):
    pd.DataFrame({"code": ["01"], "v": [1.5]}).to_parquet(tmp_path / "t.parquet")
    assert read_table_file(tmp_path / "t.parquet")["v"].tolist() == [1.5]
    data = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match=r"cut\.parquet cannot be read as a Parquet table: .*"
                       "truncated or corrupt"):
        read_table_file(tmp_path / "cut.parquet")
    (tmp_path / "t.csv").write_text("code\n01\n")
    assert read_table_file(tmp_path / "t.csv")["code"].tolist() == ["01"]


# --- files that are not what their name says: refused before GDAL sees them, with no network ---


def _vrt(source: str) -> str:
    return ('<VRTDataset rasterXSize="10" rasterYSize="1"><VRTRasterBand dataType="Byte" band="1" '
            f'subClass="VRTRawRasterBand"><SourceFilename relativetoVRT="0">{source}</SourceFilename>'
            '</VRTRasterBand></VRTDataset>')


def _ogr_vrt(source: str) -> str:
    return (f'<OGRVRTDataSource><OGRVRTLayer name="a"><SrcDataSource>{source}</SrcDataSource>'
            '</OGRVRTLayer></OGRVRTDataSource>')


HOSTILE = {  # name: (content for a server at {base}, reader, what the message says the file is)
    "passwd.tif": (_vrt("/etc/passwd"), check_raster, "a GDAL VRT"),
    "remote.tif": (_vrt("/vsicurl/{base}/dem.tif"), check_raster, "a GDAL VRT"),
    "passwd.geojson": (_ogr_vrt("/etc/passwd"), read_vector_file, "an OGR VRT"),
    "remote.fgb": (_ogr_vrt("/vsicurl/{base}/roads.fgb"), read_vector_file, "an OGR VRT"),
    "remote.gpkg": (_vrt("/vsicurl/{base}/dem.tif"), read_vector_file, "a GDAL VRT"),
    "command.geojson": (json.dumps({"type": "gdal_streamed_alg", "command_line":
                                    "gdal vector pipeline ! read /vsicurl/{base}/a.geojson ! write "
                                    "--of stream streamed_dataset"}), read_vector_file, "a GDALG file"),
}


@pytest.fixture
def no_connect(monkeypatch):
    """Make any connection attempt from Python fail loudly (GDAL's own is watched by `listener`)."""
    tried = []

    def refuse(self, address):
        tried.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield tried
    assert tried == []


@pytest.mark.hostile
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_recipes_named_as_data_are_refused_without_network(tmp_path, listener, no_connect, name):
    base, hits = listener
    content, reader, what = HOSTILE[name]
    (tmp_path / name).write_text(content.replace("{base}", base))
    suffix = name.rpartition(".")[2]
    with pytest.raises(SourceFormatError, match=rf"{name} is named \.{suffix} but is {what} .*"
                       r"refused, since GDAL would follow it: point to the data itself"):
        reader(tmp_path / name)
    write_zip(tmp_path / "data.zip", {name: content.replace("{base}", base)})
    if reader is read_vector_file:
        with pytest.raises(SourceFormatError, match=rf"data\.zip \(member {name}\) is named"):
            read_vector_file(tmp_path / "data.zip")
    assert hits == []


@pytest.mark.hostile
def test_a_geojson_whose_crs_is_a_link_is_refused_without_network(tmp_path, listener, no_connect):
    base, hits = listener
    link = {"type": "link", "properties": {"href": f"{base}/crs", "type": "proj4"}}
    (tmp_path / "units.geojson").write_text(geojson([Point(-77, -12)], crs=link))
    with pytest.raises(SourceFormatError, match=r"units\.geojson: its \"crs\" is a link "
                       r"\('http://127\.0\.0\.1:\d+/crs'\) that GDAL would fetch"):
        read_vector_file(tmp_path / "units.geojson")
    assert hits == []


@pytest.mark.hostile
def test_urls_and_virtual_paths_are_not_opened(listener, no_connect):
    base, hits = listener
    with pytest.raises(SourceFormatError, match=r"a URL or a GDAL virtual path"):
        read_vector_file(f"/vsicurl/{base}/units.geojson")
    with pytest.raises(SourceFormatError, match=r"a URL or a GDAL virtual path"):
        check_raster(f"{base}/dem.tif")
    assert hits == []


@pytest.mark.parametrize("suffix", [".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet"])
def test_every_allowed_vector_format_reads(tmp_path, suffix):
    path = tmp_path / f"units{suffix}"
    if suffix == ".json":
        path.write_text("\ufeff\n" + squares().to_json())  # a byte-order mark and a blank line
    else:
        write_vector(squares(), path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(read_vector_file(path)["code"]) == ["00", "01", "02"]  # FlatGeobuf reorders


def test_a_bigtiff_reads(tmp_path):
    data = np.ones((8, 8), dtype="uint8")
    profile = {"driver": "GTiff", "height": 8, "width": 8, "count": 1, "dtype": "uint8",
               "crs": "EPSG:4326", "transform": Affine(0.01, 0, -77, 0, -0.01, -12), "BIGTIFF": "YES"}
    with rasterio.open(tmp_path / "big.tif", "w", **profile) as dst:
        dst.write(data, 1)
    assert (tmp_path / "big.tif").read_bytes()[:4] == b"II+\x00"
    check_raster(tmp_path / "big.tif")


@pytest.mark.hostile
@pytest.mark.parametrize("suffix", [".kml", ".gml"])
def test_kml_and_gml_are_refused_with_the_conversion(tmp_path, suffix):
    path = tmp_path / f"places{suffix}"
    path.write_text("<kml/>")
    with pytest.raises(SourceFormatError, match=rf"type \{suffix} is not read; .*`ogr2ogr out\.gpkg "
                       rf"places\{suffix}`"):
        read_vector_file(path)
    write_zip(tmp_path / "places.zip", {f"places{suffix}": "<kml/>"})
    with pytest.raises(SourceFormatError, match=r"holds no vector dataset .*convert KML or GML"):
        read_vector_file(tmp_path / "places.zip")


# --- layers and dimensions -----------------------------------------------------------------------


@pytest.mark.hostile
def test_a_geopackage_with_several_layers_asks_which(tmp_path):
    path = tmp_path / "gadm.gpkg"
    for layer in ("ADM_0", "ADM_1", "ADM_2"):
        squares().to_file(path, layer=layer)
    with pytest.raises(SourceFormatError, match=r"gadm\.gpkg holds 3 layers \(ADM_0, ADM_1, ADM_2\); "
                       r"which one\? Export it to a file of its own .*`ogr2ogr out\.gpkg gadm\.gpkg "
                       r"ADM_0`"):
        read_vector_file(path)


def test_a_geopackage_with_one_layer_and_a_table_reads_the_layer(tmp_path):
    import pyogrio

    path = tmp_path / "units.gpkg"
    squares().to_file(path, layer="units")
    pyogrio.write_dataframe(pd.DataFrame({"x": [1, 2]}), path, layer="notes")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "more than one layer" warning either
        assert len(read_vector_file(path)) == 3


def _features(*geometries):
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"i": i}, "geometry": g} for i, g in enumerate(geometries)]})


@pytest.mark.hostile
def test_z_and_m_coordinates_are_dropped(tmp_path):
    ring = [[-77, -12, 1, 2], [-76, -12, 1, 2], [-76, -11, 1, 2], [-77, -12, 1, 2]]
    (tmp_path / "xyzm.geojson").write_text(_features({"type": "Point", "coordinates": [-77, -12, 5, 7]},
                                                     {"type": "Polygon", "coordinates": [ring]}))
    (tmp_path / "xyz.geojson").write_text(_features({"type": "Point", "coordinates": [-77, -12, 5]}))
    gpd.GeoDataFrame(geometry=[shapely.from_wkt("POINT ZM (-77 -12 3 4)")], crs=4979).to_parquet(
        tmp_path / "xyzm.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor GDAL's note on the coordinates it ignores
        frames = [read_vector_file(tmp_path / n) for n in ("xyzm.geojson", "xyz.geojson", "xyzm.parquet")]
    for frame in frames:
        assert not frame.has_z.any()
        assert (shapely.get_coordinate_dimension(frame.geometry.to_numpy()) == 2).all()
        assert frame.crs.to_epsg() == 4326  # WGS 84 3D (EPSG:4979) loses its height axis too
    assert frames[0].geometry.iloc[1].equals(Polygon([(-77, -12), (-76, -12), (-76, -11)]))


@pytest.mark.hostile
def test_empty_geometries_are_missing_and_dropped_with_a_count(tmp_path):
    (tmp_path / "mixed.geojson").write_text(_features(
        {"type": "GeometryCollection", "geometries": []}, {"type": "Point", "coordinates": [-77, -12]},
        None, {"type": "Polygon", "coordinates": []}))
    frame = read_vector_file(tmp_path / "mixed.geojson")
    assert frame.geometry.isna().tolist() == [True, False, True, True]
    with pytest.warns(GeoEngineWarning, match=r"mixed\.geojson: 3 of 4 features have no geometry "
                      r"\(null or empty\) and were left out"):
        kept = drop_missing_geometries(frame, source="mixed.geojson")
    assert kept["i"].tolist() == [1]
    assert drop_missing_geometries(kept, source="x") is kept


# --- rasters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("tiled", [False, True])
def test_truncated_raster(tmp_path, tiled):
    rng = np.random.default_rng(1)
    full = write_tif(tmp_path / "full.tif", rng.random((256, 256)).astype("float32"), tiled=tiled)
    check_raster(full)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    with pytest.raises(SourceFormatError, match=r"raster .*cut\.tif: its pixels cannot be read .*probably "
                       r"truncated"):
        check_raster(cut)


def test_raster_errors(tmp_path):
    data = np.ones((20, 30), dtype="uint8")
    with pytest.raises(SourceFormatError, match=r"nocrs\.tif has no CRS; assign .*gdal_edit\.py -a_srs"):
        check_raster(write_tif(tmp_path / "nocrs.tif", data, crs=None))
    with pytest.raises(SourceFormatError, match=r"raster .*big\.tif is 30 × 20 pixels, above the limit of "
                       "500; clip it"):
        check_raster(write_tif(tmp_path / "big.tif", data), limits=Limits(max_raster_pixels=500))
    (tmp_path / "text.tif").write_text("not a raster")
    with pytest.raises(SourceFormatError, match=r"text\.tif is not a raster GDAL can read: .*gdalinfo"):
        check_raster(tmp_path / "text.tif")
    with pytest.raises(MissingSourceError, match=r"none\.tif: raster file not found"):
        check_raster(tmp_path / "none.tif")


# --- fuzzing: malformed input gives a result or a GeoEngineError, never anything else -----------


def _seed_files() -> dict[str, dict[str, bytes]]:
    """Small valid files of every format, as {name: bytes} (a shapefile has several)."""
    frame = squares(4)
    frame["name"] = ["Cañete", "Ñaña", "a,b", ""]
    out: dict[str, dict[str, bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for suffix in (".geojson", ".gpkg", ".parquet", ".shp"):
            folder = root / suffix[1:]
            folder.mkdir()
            path = folder / f"seed{suffix}"
            write_vector(frame, path)
            out[suffix] = {p.name: p.read_bytes() for p in folder.iterdir()}
        shp = out[".shp"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in shp.items():
                zf.writestr(name, data)
        out[".zip"] = {"seed.zip": buf.getvalue()}
        frame.drop(columns="geometry").to_csv(root / "seed.csv", index=False, encoding="cp1252")
        out[".csv"] = {"seed.csv": (root / "seed.csv").read_bytes()}
        write_tif(root / "seed.tif", np.arange(64 * 64, dtype="float32").reshape(64, 64))
        out[".tif"] = {"seed.tif": (root / "seed.tif").read_bytes()}
    return out


SEEDS = _seed_files()


@st.composite
def mutated(draw, data: bytes) -> bytes:
    how = draw(st.sampled_from(["truncate", "flip", "random", "splice"]))
    if how == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if how == "random":
        return draw(st.binary(max_size=2048))
    if how == "splice":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    buf = bytearray(data)
    for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
        buf[at] ^= draw(st.integers(1, 255))
    return bytes(buf)


def _fuzz(suffix: str, reader, draw) -> None:
    files = SEEDS[suffix]
    target = draw(st.sampled_from(sorted(files)))  # for a shapefile: mutate one of its files
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = Path(tmp)
        for name, data in files.items():
            (root / name).write_bytes(draw(mutated(data)) if name == target else data)
        path = root / f"seed{suffix}"
        message = ""
        try:
            result = reader(path)
        except GeoEngineError as exc:
            result, message = None, str(exc)
        assert path.name in message or isinstance(result, pd.DataFrame | type(None))
        assert not message or path.name in message  # every error names the file
        assert sorted(p.name for p in root.iterdir()) == sorted(files)  # nothing extracted next to it


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet", ".shp", ".zip"])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_fuzz_read_vector_file(suffix, data):
    _fuzz(suffix, read_vector_file, data.draw)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fuzz_read_csv_file(data):
    _fuzz(".csv", read_csv_file, data.draw)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fuzz_check_raster(data):
    _fuzz(".tif", check_raster, data.draw)


def test_fuzz_seeds_are_valid():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for files in SEEDS.values():
            for name, payload in files.items():
                (root / name).write_bytes(payload)
        for suffix in (".geojson", ".gpkg", ".parquet", ".shp", ".zip"):
            assert len(read_vector_file(root / f"seed{suffix}")) == 4
        with pytest.warns(GeoEngineWarning, match="not UTF-8"):
            assert read_csv_file(root / "seed.csv")["name"].tolist()[:2] == ["Cañete", "Ñaña"]
        check_raster(root / "seed.tif")
