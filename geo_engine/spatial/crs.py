"""The one equal-area rule: the CRS in which the platform measures areas, and cached transformers to it.

Every area (cell areas, polygon overlaps, region sizes, display geometry) is measured in the CRS of
:func:`equal_area_crs`: :data:`SOUTH_AMERICA_ALBERS` for a region inside South and Central America,
else :data:`GLOBAL_EQUAL_AREA`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

__all__ = ["GLOBAL_EQUAL_AREA", "SOUTH_AMERICA_ALBERS", "Projection", "equal_area_crs", "equal_area_crs_for",
           "grid_projection",
           "projection"]

SOUTH_AMERICA_ALBERS = ("+proj=aea +lat_0=-32 +lon_0=-60 +lat_1=-5 +lat_2=-42 +x_0=0 +y_0=0 "
                        "+datum=WGS84 +units=m +no_defs +type=crs")
"""South America Albers Equal Area Conic (the parameters of ESRI:102033) on the WGS 84 datum."""

GLOBAL_EQUAL_AREA = "EPSG:6933"
"""WGS 84 / NSIDC EASE-Grid 2.0 Global (cylindrical equal-area), used outside South America."""


def equal_area_crs(grid: pd.DataFrame) -> str:
    """Return the equal-area CRS in which areas are measured for a grid.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid with ``lat`` and ``lon`` columns (cell centres, degrees).

    Returns
    -------
    str
        :data:`SOUTH_AMERICA_ALBERS` when every cell centre lies within longitudes -120 to -30 and
        latitudes -60 to 35 (the rule of :func:`geo_engine.spatial.grid.estimate_cells`), else EPSG:6933
        (WGS 84 / NSIDC EASE-Grid 2.0 Global, cylindrical equal-area).

    Notes
    -----
    :data:`SOUTH_AMERICA_ALBERS` has the projection parameters of ESRI:102033 but the WGS 84 datum.
    ESRI:102033 is defined on SAD69, so projecting WGS 84 data to it makes PROJ apply, point by
    point, whichever SAD69 datum shift's area of use holds the point: neighbouring points can
    jump by ten metres or more where those areas meet (for instance near 74.0° W in southern
    Peru), which distorts cell areas there by up to half a per cent. Keeping the WGS 84 datum
    avoids the shift (and is about five times faster to compute); the projection stays equal-area.
    """
    lat = grid["lat"].to_numpy(dtype=float)
    lon = grid["lon"].to_numpy(dtype=float)
    if not len(lat):
        return GLOBAL_EQUAL_AREA
    return equal_area_crs_for(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))


def equal_area_crs_for(west: float, south: float, east: float, north: float) -> str:
    """Return the equal-area CRS for a bounding box in degrees (the rule of :func:`equal_area_crs`)."""
    if west > -120 and east < -30 and south > -60 and north < 35:
        return SOUTH_AMERICA_ALBERS
    return GLOBAL_EQUAL_AREA


@dataclass(frozen=True)
class Projection:
    """Transformers between EPSG:4326 and one projected CRS."""

    crs: str
    fwd: Transformer
    inv: Transformer

    def forward(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project longitudes and latitudes to x, y."""
        x, y = self.fwd.transform(lon, lat)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def inverse(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the longitudes and latitudes of projected x, y."""
        lon, lat = self.inv.transform(x, y)
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)

    def geometries(self, geoms: np.ndarray) -> np.ndarray:
        """Project shapely geometries from EPSG:4326 to this CRS."""
        def fn(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(self.forward(xy[:, 0], xy[:, 1]))
        return np.asarray(shapely.transform(geoms, fn))


@functools.lru_cache(maxsize=8)
def projection(crs: str) -> Projection:
    """Return the (cached) :class:`Projection` of a CRS."""
    return Projection(crs, Transformer.from_crs("EPSG:4326", crs, always_xy=True),
                       Transformer.from_crs(crs, "EPSG:4326", always_xy=True))


def grid_projection(grid: pd.DataFrame) -> Projection:
    """Return the :class:`Projection` to the equal-area CRS of a grid (:func:`equal_area_crs`)."""
    return projection(equal_area_crs(grid))
