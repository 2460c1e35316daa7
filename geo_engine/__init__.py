"""Territorial Opportunity Platform: H3 maps of engines of growth and poverty-fighting niches."""

from importlib.metadata import PackageNotFoundError, version

from geo_engine import settings
from geo_engine._errors import (
    DataIntegrityError,
    GeoEngineError,
    GeoEngineWarning,
    MissingSourceError,
)
from geo_engine.io.gdal import keep_gdal_offline

keep_gdal_offline()

try:
    __version__ = version("geo-engine")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "DataIntegrityError",
    "GeoEngineError",
    "GeoEngineWarning",
    "MissingSourceError",
    "__version__",
    "settings",
]
