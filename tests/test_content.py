"""A file's first bytes against its name: recipes GDAL would follow, other formats, CRS links."""

import json
import sqlite3
from pathlib import Path

import pytest

from geo_engine._errors import SourceFormatError
from geo_engine.io.content import check_content, check_local

VRT = ('<VRTDataset rasterXSize="10" rasterYSize="1"><VRTRasterBand dataType="Byte" band="1" '
       'subClass="VRTRawRasterBand"><SourceFilename relativetoVRT="0">/etc/passwd</SourceFilename>'
       '</VRTRasterBand></VRTDataset>')
OGR_VRT = ('<OGRVRTDataSource><OGRVRTLayer name="a"><SrcDataSource>/vsicurl/http://example.org/a.fgb'
           '</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>')
GDALG = json.dumps({"type": "gdal_streamed_alg",
                    "command_line": "gdal vector pipeline ! read /etc/passwd ! write --of stream x"})
POINT = {"type": "Feature", "properties": {"url": "https://example.org", "kind": "link"},
         "geometry": {"type": "Point", "coordinates": [-77, -12]}}


def collection(crs_text: str = "", features: int = 1) -> str:
    crs = f'"crs": {crs_text}, ' if crs_text else ""
    return '{"type": "FeatureCollection", ' + crs + '"features": [' + ", ".join(
        [json.dumps(POINT)] * features) + "]}"


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.hostile
@pytest.mark.parametrize(("name", "data", "kind", "match"), [
    ("passwd.tif", VRT, "raster", r"passwd\.tif is named \.tif but is a GDAL VRT .*refused, since "
                                  r"GDAL would follow it: .*gdal_translate passwd\.tif out\.tif"),
    ("layer.geojson", VRT, "vector", r"layer\.geojson is named \.geojson but is a GDAL VRT"),
    ("layer.geojson", OGR_VRT, "vector", r"layer\.geojson is named \.geojson but is an OGR VRT .*"
                                         r"ogr2ogr out\.gpkg layer\.geojson"),
    ("roads.fgb", OGR_VRT, "vector", r"roads\.fgb is named \.fgb but is an OGR VRT"),
    ("roads.gpkg", OGR_VRT, "vector", r"roads\.gpkg is named \.gpkg but is an OGR VRT"),
    ("layer.geojson", GDALG, "vector", r"layer\.geojson is named \.geojson but is a GDALG file "
                                       r"\(a command for GDAL to run\)"),
    ("dem.tif", "\ufeff  " + VRT, "raster", r"dem\.tif is named \.tif but is a GDAL VRT"),
    ("layer.json", "<kml><Document/></kml>", "vector", r"layer\.json is named \.json but is an XML "
                                                       r"document .*XML formats are not read"),
    ("dem.tif", "<?xml version='1.0'?><gml/>", "raster", r"dem\.tif is named \.tif but is an XML"),
    ("units.geojson", b"SQLite format 3\x00" + bytes(100), "vector",
     r"units\.geojson is named \.geojson but is an SQLite database \(GeoPackage\), not GeoJSON; "
     r"rename it to \.gpkg"),
    ("units.gpkg", collection(), "vector", r"units\.gpkg is named \.gpkg but is JSON text, not a "
                                           r"GeoPackage; rename it to \.geojson"),
    ("dem.tif", b"PAR1" + bytes(100), "raster", r"dem\.tif is named \.tif but is a Parquet file, not "
                                                r"a GeoTIFF; rename it to \.parquet"),
    ("roads.shp", b"%PDF-1.7", "vector", r"roads\.shp is named \.shp but is a PDF document, not a "
                                         r"shapefile; export the data as a shapefile"),
    ("roads.fgb", b"hello", "vector", r"roads\.fgb cannot be read as a vector dataset: its content is "
                                      r"not a FlatGeobuf file; it may be truncated"),
    ("dem.tif", b"hello", "raster", r"dem\.tif is not a raster GDAL can read: its content is not a "
                                    r"GeoTIFF"),
    ("places.kml", "<kml/>", "vector", r"places\.kml: type \.kml is not read; vector data must be "
                                       r"GeoPackage .*`ogr2ogr out\.gpkg places\.kml`"),
    ("places.gml", "<gml/>", "vector", r"places\.gml: type \.gml is not read"),
    ("dem.vrt", VRT, "raster", r"dem\.vrt: type \.vrt is not read; raster data must be GeoTIFF "
                               r"\(\.tif\): convert it first \(`gdal_translate dem\.vrt out\.tif`"),
    ("dem", b"II*\x00", "raster", r"dem: type \(none\) is not read"),
])
def test_files_that_are_not_what_their_name_says_are_refused(tmp_path, name, data, kind, match):
    path = write(tmp_path, name, data)
    with pytest.raises(SourceFormatError, match=match):
        check_content(path, kind, path.name)


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("dem.tif", b"II*\x00" + bytes(8), "raster"),
    ("dem.tiff", b"MM\x00*" + bytes(8), "raster"),
    ("big.tif", b"II+\x00" + bytes(8), "raster"),
    ("roads.shp", b"\x00\x00\x27\x0a" + bytes(96), "vector"),
    ("roads.fgb", b"fgb\x03fgb\x00", "vector"),
    ("roads.parquet", b"PAR1", "vector"),
    ("units.geojson", "\ufeff\n  " + collection(), "vector"),
    ("units.json", collection(), "vector"),
])
def test_files_whose_content_fits_their_name_pass(tmp_path, name, data, kind):
    check_content(write(tmp_path, name, data), kind, name)


def test_a_real_geopackage_passes(tmp_path):
    path = tmp_path / "units.gpkg"
    sqlite3.connect(path).execute("create table t (a)").connection.close()
    check_content(path, "vector", path.name)


@pytest.mark.hostile
@pytest.mark.parametrize("crs", [
    '{"type": "link", "properties": {"href": "http://example.org/crs", "type": "proj4"}}',
    '{"type": "url", "properties": {"url": "http://example.org/crs"}}',
    '{"TYPE": "LINK", "properties": {"href": "http://example.org/crs"}}',
    '{"type": "urlx", "properties": {"url": "http://example.org/crs"}}',  # GDAL compares a prefix
    '{"type": "name", "type": "link", "properties": {"href": "http://example.org/crs"}}',
    '{"t\\u0079pe": "\\u006Cink", "properties": {"href": "http://example.org/crs"}}',
    '{"type\\u0000": "link", "properties": {"href": "http://example.org/crs"}}',
])
@pytest.mark.parametrize("key", ['"crs"', '"CRS"', '"\\u0063rs"', '"c\\u0052s"',
                                 '"crs\\u0000"', '"crs\\u0000 \\" ignored by C"'])
def test_a_crs_link_gdal_would_fetch_is_refused(tmp_path, crs, key):
    text = collection(crs).replace('"crs"', key, 1)
    path = write(tmp_path, "units.geojson", text)
    with pytest.raises(SourceFormatError, match=r"units\.geojson: its \"crs\" is a link .*that GDAL "
                       r"would fetch from the network; refused: remove the member"):
        check_content(path, "vector", path.name)


@pytest.mark.hostile
def test_a_crs_link_inside_a_geometry_is_refused(tmp_path):
    point = {**POINT, "geometry": {"type": "Point", "coordinates": [-77, -12], "crs": {
        "type": "link", "properties": {"href": "http://example.org/crs"}}}}
    text = json.dumps({"type": "FeatureCollection", "features": [POINT, point]})
    with pytest.raises(SourceFormatError, match=r"its \"crs\" is a link \('http://example\.org/crs'\)"):
        check_content(write(tmp_path, "units.geojson", text), "vector", "units.geojson")


@pytest.mark.hostile
@pytest.mark.parametrize("after", [' /* x */ : {"type": "link"}', ': {"type": "link", "properties": ',
                                   ": {'type': 'link'}", " " * 70_000 + ': {"type": "link"}'])
def test_a_crs_member_that_cannot_be_checked_is_refused(tmp_path, after):
    text = '{"type": "FeatureCollection", "crs"' + after
    path = write(tmp_path, "units.geojson", text)
    with pytest.raises(SourceFormatError, match=rf"units\.geojson: the \"crs\" member at byte "
                       rf"{text.index('crs') - 1} cannot be checked .*refused: remove it"):
        check_content(path, "vector", path.name)


@pytest.mark.parametrize("key", ['"crs"', '"\\u0063\\u0072\\u0073"', '"crs' + "\\u0000" * 500 + '"'])
def test_a_crs_link_beyond_the_first_chunk_is_found(tmp_path, key):
    link = '{"type": "link", "properties": {"href": "http://example.org/crs"}}'
    for pad in range(2**20 - 60, 2**20 + 5, 4):  # the name straddles the 1 MiB chunk boundary
        text = '{"type": "FeatureCollection", "pad": "' + "x" * pad + '", ' + key + ": " + link + "}"
        path = write(tmp_path, "units.geojson", text)
        with pytest.raises(SourceFormatError, match="is a link"):
            check_content(path, "vector", path.name)


@pytest.mark.parametrize("crs", [
    '{"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}',
    '{"type": "name", "properties": {"name": "http://www.opengis.net/def/crs/EPSG/0/4326"}}',
    '{"type": "EPSG", "properties": {"code": 4326}}',
    "null",
])
def test_named_crs_and_link_words_in_the_data_pass(tmp_path, crs):
    note = '"note": "crs", "text": "the \'crs\' and \\"CRS\\" words", '
    text = collection(crs, features=3).replace('"Point", ', '"Point", ' + note, 1)
    check_content(write(tmp_path, "units.geojson", text), "vector", "units.geojson")


@pytest.mark.hostile
@pytest.mark.parametrize("path", ["/vsicurl/http://example.org/a.tif", "/vsizip/a.zip/b.shp",
                                  "http://example.org/a.geojson", "https://example.org/a.gpkg",
                                  "ftp://example.org/a.shp", "zip://a.zip!b.shp", "s3://bucket/a.tif",
                                  "data//vsicurl/a.tif"])
def test_urls_and_virtual_paths_are_refused(path):
    with pytest.raises(SourceFormatError, match=r"a URL or a GDAL virtual path .*only local files "
                       r"are read: download the file"):
        check_local(Path(path), path)


@pytest.mark.parametrize("path", ["/data/peru/elevation.tif", "units.geojson", "C:/data/a.tif",
                                  "/home/vsidata/a.tif"])
def test_local_paths_pass(path):
    check_local(Path(path), path)
