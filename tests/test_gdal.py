"""GDAL kept off the network, and without the drivers that follow references, for the whole process."""

import json
import os

import pyogrio
import pytest
import rasterio

import geo_engine.io.safe_read  # noqa: F401  (importing the package and the reader sets it all)
from geo_engine.io.gdal import OFFLINE_OPTIONS, SKIPPED_DRIVERS, skip_reference_drivers


@pytest.fixture
def no_proxy_bypass(monkeypatch):
    """libcurl sends hosts listed in no_proxy directly, past the refusing proxy: not here."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_importing_the_reader_sets_the_options_and_skips_the_drivers():
    for key, value in OFFLINE_OPTIONS.items():
        assert os.environ[key] == value
    drivers = pyogrio.list_drivers()
    assert {"GeoJSON", "GPKG", "ESRI Shapefile", "FlatGeobuf"} <= set(drivers)
    assert not set(SKIPPED_DRIVERS) & set(drivers)


def test_drivers_the_environment_skips_stay_skipped(monkeypatch):
    monkeypatch.setenv("GDAL_SKIP", "PCIDSK,S57")
    skip_reference_drivers()
    drivers = pyogrio.list_drivers()
    assert not {"PCIDSK", "S57", "OGR_VRT", "GDALG"} & set(drivers)
    assert os.environ["GDAL_SKIP"] == "PCIDSK,S57"  # the environment itself is left alone
    monkeypatch.undo()
    skip_reference_drivers()
    assert "S57" in pyogrio.list_drivers()


@pytest.mark.hostile
def test_gdal_itself_fetches_no_crs_link(tmp_path, listener, no_proxy_bypass):
    """The second line: a CRS link that reached GDAL would not be fetched."""
    base, hits = listener
    (tmp_path / "link.geojson").write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "link", "properties": {"href": f"{base}/crs", "type": "proj4"}},
        "features": [{"type": "Feature", "properties": {},
                      "geometry": {"type": "Point", "coordinates": [-77, -12]}}]}))
    pyogrio.read_dataframe(tmp_path / "link.geojson")  # the link fails; GDAL falls back to WGS 84
    assert hits == []


@pytest.mark.hostile
def test_gdal_opens_no_vsicurl_path(listener, no_proxy_bypass):
    base, hits = listener
    with pytest.raises(pyogrio.errors.DataSourceError):
        pyogrio.read_dataframe(f"/vsicurl/{base}/roads.fgb")
    with pytest.raises(rasterio.errors.RasterioIOError):
        rasterio.open(f"/vsicurl/{base}/dem.tif")
    assert hits == []
