"""Process-wide GDAL options: no network access, and no driver that follows references to other data.

GDAL opens a file by its content, and some formats are recipes rather than data: a VRT or an
OGR VRT names other files or URLs to read, a GDALG file is a command GDAL runs, a GeoJSON may
name its CRS by a URL that GDAL fetches. :mod:`geo_engine.io.safe_read` refuses such files before
GDAL sees them; the options set here are the second line: GDAL (the copies bundled with pyogrio
and rasterio alike, which read these options from the environment) cannot reach the network, and
pyogrio's GDAL has no driver that only reads other sources, runs programs or talks to servers.

Nothing in the platform reads data over the network, so these options cost nothing; they change
GDAL only, not Python's own HTTP clients. They are not a wall: libcurl still connects directly to
hosts that the ``no_proxy`` environment variable lists, which is why the content checks come first.
"""

from __future__ import annotations

import os

__all__ = ["OFFLINE_OPTIONS", "SKIPPED_DRIVERS", "keep_gdal_offline", "skip_reference_drivers"]

OFFLINE_OPTIONS = {
    # every HTTP(S) request of GDAL goes to a proxy whose scheme libcurl refuses before connecting
    "GDAL_HTTP_PROXY": "geo-engine-offline://no-network",
    "GDAL_HTTPS_PROXY": "geo-engine-offline://no-network",
    # /vsicurl/, /vsis3/… open only files with this extension, which no data has
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".geo-engine-offline",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
}
"""GDAL configuration options set for the whole process when :mod:`geo_engine` is imported."""

SKIPPED_DRIVERS = (
    "OGR_VRT", "GDALG", "GPSBabel",  # read other sources, run a GDAL command or a program
    "HTTP", "WFS", "OAPIF", "OGCAPI", "CSW", "Carto", "AmigoCloud", "Elasticsearch", "NGW",
    "EEDA", "PLSCENES",  # web services
)
"""Vector drivers deregistered from pyogrio's GDAL; raster files are opened with GTiff only."""


def keep_gdal_offline() -> None:
    """Set :data:`OFFLINE_OPTIONS` in the environment, for every GDAL of the process.

    GDAL reads configuration options from the environment when it needs them, so the options
    hold for pyogrio and rasterio whenever they are imported. Run on importing :mod:`geo_engine`.
    """
    os.environ.update(OFFLINE_OPTIONS)


def skip_reference_drivers() -> None:
    """Deregister :data:`SKIPPED_DRIVERS` (and those ``GDAL_SKIP`` names) from pyogrio's GDAL.

    Run on importing :mod:`geo_engine.io.safe_read`, which reads every user file (and imports
    geopandas, hence pyogrio, anyway). The drivers are skipped through pyogrio's own
    ``GDAL_SKIP`` option, not the environment's: rasterio's GDAL, which has none of them, would
    log a warning for each.
    """
    import pyogrio
    from pyogrio import core

    pyogrio.set_gdal_config_options({"GDAL_SKIP": ""})
    core._register_drivers()  # every driver (again, if an earlier call skipped some)
    present = set(pyogrio.list_drivers())  # skipping a driver that is not there warns
    wanted = [*os.environ.get("GDAL_SKIP", "").replace(",", " ").split(), *SKIPPED_DRIVERS]
    skip = [d for d in dict.fromkeys(wanted) if d in present]
    pyogrio.set_gdal_config_options({"GDAL_SKIP": " ".join(skip)})
    core._register_drivers()  # GDALAllRegister() ends by deregistering the GDAL_SKIP drivers
