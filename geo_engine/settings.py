"""Global settings: where the curated data and the cache live, and the default region.

Every path the package reads or writes by default is defined here, so a user can redirect them in one
place, either by assigning the module attributes or with environment variables:

``GEO_ENGINE_DATA``
    Folder holding the curated data (``MANIFEST.yaml`` and one sub-folder per region). Default: the
    ``data/`` folder next to the package in a source checkout.
``GEO_ENGINE_CACHE``
    Folder for derived, rebuildable files (display geometries, indicator matrices). Default:
    ``$XDG_CACHE_HOME/geo-engine`` or ``~/.cache/geo-engine``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "cache_dir",
    "data_dir",
    "default_region",
    "hub_reach_km",
    "hub_reach_minutes",
    "region_dir",
    "urban_centre_weight",
]

_PROJECT_ROOT = Path(__file__).resolve().parents[1]

data_dir: Path = Path(os.environ.get("GEO_ENGINE_DATA", _PROJECT_ROOT / "data"))
"""Folder of the curated data and its manifest."""

cache_dir: Path = Path(
    os.environ.get(
        "GEO_ENGINE_CACHE",
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "geo-engine",
    )
)
"""Folder of derived files that can always be rebuilt from ``data_dir``."""

default_region: str = "peru"
"""Region shown when none is chosen."""


def region_dir(region: str | None = None) -> Path:
    """Return the folder of one region's curated files.

    Parameters
    ----------
    region : str, optional
        Region name; :data:`default_region` when omitted.

    Returns
    -------
    pathlib.Path
        ``data_dir / region``.
    """
    return data_dir / (region or default_region)

urban_centre_weight: float = 90.0
"""Weight of an urban populated centre relative to a rural one in dasymetric splits.

The 2017 census counted 79.3 % of Peru's population as urban and 20.7 % as rural, living in 3,747
urban and 91,175 rural populated centres: the mean urban centre is (0.793 / 3,747) /
(0.207 / 91,175) ≈ 93 times as populous as the mean rural one; rounded down to 90.
"""

hub_reach_km: float = 100.0
"""Distance (km) over which the linkage of a poor place to an engine hub fades to zero.

About two hours by road in the Andes: the range within which a local supplier can serve a mine or
plant daily. Replaced by travel time once travel times are available.
"""

hub_reach_minutes: float = 120.0
"""Travel time (minutes) over which the linkage of a poor place to an engine hub fades to zero.

Two hours: a daily return trip for a supplier or a technician serving a mine or plant.
"""
