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
    "dominance_share",
    "dominance_tail",
    "hub_reach_km",
    "hub_reach_minutes",
    "inclusion_access_exponent",
    "inclusion_need_exponent",
    "max_archive_bytes",
    "max_archive_members",
    "max_compression_ratio",
    "max_feature_vertices",
    "max_filter_chars",
    "max_raster_bytes",
    "max_raster_pixels",
    "max_spec_bytes",
    "max_table_bytes",
    "max_upload_bytes_per_session",
    "max_uploads_per_session",
    "max_vector_bytes",
    "max_vertices",
    "region_dir",
    "region_or_default",
    "robust_percentiles",
    "robust_skewness",
    "scoring_cache_bytes",
    "scoring_threads",
    "upload_max_age_hours",
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

default_region: str = os.environ.get("GEO_ENGINE_REGION", "peru")
"""Region used when none is chosen (environment variable ``GEO_ENGINE_REGION``; Peru by default)."""


def region_or_default(region: str | None) -> str:
    """Return ``region``, or :data:`default_region` when it is None or empty."""
    return region or default_region


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

urban_centre_weight: float = 1.0
"""Weight of an urban populated centre relative to a rural one in dasymetric splits, for a region
whose file gives none (``urban_centre_weight`` in ``region.yaml``): 1 counts every centre alike.
A region calibrates it from its census (Peru's file sets 90: see ``layers/peru/region.yaml``).
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

inclusion_need_exponent: float = 0.5
"""Exponent of need in inclusion: :math:`I = E \\cdot P^{a} \\cdot A^{b}` (see ``dual_model``).

Need counts more than reach: a poverty fighter is for poor people first. With ``a = 0.5`` and
``b = 0.2`` (Peru, resolution 7, niche evidence of produce with a market premium and of visited
sites nearby) inclusion correlates 0.49 with :math:`\\sqrt{P A}` across cells and 0.07 with need
across provinces (population-weighted means; 0.65 and 0.27 when potato, pulses, fruit and an
80 km visitor kernel were evidence): the evidence of a niche decides which places rank, and need
orders the places that have one.
"""

inclusion_access_exponent: float = 0.2
"""Exponent of access (reach to markets) in inclusion; see :data:`inclusion_need_exponent`.

Access scores travel times by decay (half at an hour to a town of 50,000), so most remote cells
score near 0; with the square root of that, remoteness alone would decide inclusion (the poorest
provinces fell below Trujillo). A fifth power keeps reach as a brake — a cell 4 h from a town
keeps about 0.6 of its inclusion, one 8 h away about 0.4 — without letting it outweigh need.
"""

# --- normalization (checked by geo_engine.scoring.normalize) -------------------------------------------

robust_percentiles: tuple[float, float] = (1.0, 99.0)
"""Percentiles at which a skewed layer is winsorized before min–max scaling (``winsorize: auto``).

The 1st and 99th: the extreme 1 % of cells at each end share the end value, so that one remote
island, one city or one large district no longer squeezes the other 99 % into a corner of [0, 1].
"""

robust_skewness: float = 2.0
"""Sample skewness (absolute) above which ``winsorize: auto`` winsorizes a layer before min–max.

A skewness beyond 2 is the usual mark of a substantial departure from normality (West, Finch and
Curran 1995, "Structural equation models with nonnormal variables", in R. H. Hoyle (ed.),
*Structural Equation Modeling*, Sage, pp. 56–75). It is measured after the layer's transform, so
a count already taken to ``log1p`` is judged on its logarithm.
"""

dominance_tail: float = 0.001
"""Share of cells (0.1 %) whose hold on a min–max range is checked (see ``dominance_share``)."""

dominance_share: float = 0.5
"""Share of a min–max range that the top or bottom ``dominance_tail`` of cells may span without a warning.

When the top 0.1 % of cells (one island, one unit copied to a few hundred cells) span more than
half of the range, min–max squeezes the other 99.9 % into less than half of [0, 1].
"""

# --- limits on user-supplied files (checked by geo_engine.io.safe_read) -------------------------------

max_vector_bytes: int = 2 * 2**30
"""Largest vector file read (2 GiB): GeoPackage, GeoJSON, shapefile (.shp), GeoParquet, or a ZIP of one.

A file is loaded whole, taking a few times its size in memory: the limit keeps that within an
ordinary computer while leaving room for a country's full road network. Clip a larger file to the
region first, or raise the limit.
"""

max_table_bytes: int = 2**30
"""Largest admin table read (1 GiB of CSV or Parquet); every CSV cell is held as text in memory."""

max_raster_bytes: int = 4 * 2**30
"""Largest raster file read (4 GiB); rasters are read window by window, so size costs time, not memory.

A 1″ (30 m) grid over Peru's extent holds about 3·10⁹ pixels (6 GB as 16-bit integers before
compression), which a compressed GeoTIFF brings under this limit.
"""

max_raster_pixels: int = 10**11
"""Largest raster (width × height) opened: a global 100 m grid (~7·10¹⁰ pixels) passes.

Mostly a guard against a corrupt header announcing absurd dimensions.
"""

max_archive_members: int = 1_000
"""Most members a ZIP may hold; a zipped dataset (a shapefile and its siblings) has a handful."""

max_archive_bytes: int = 4 * 2**30
"""Largest total size a ZIP may expand to (4 GiB: a shapefile's .shp and .dbf of up to 2 GiB each)."""

max_compression_ratio: float = 200.0
"""Largest expansion (uncompressed / compressed size) allowed for a ZIP member above 1 MiB, and overall.

Deflate cannot exceed about 1,030:1, which zip bombs approach; real data compresses far less
(GeoJSON 5–20:1; a shapefile's .dbf of blank-padded text fields up to about 100:1).
"""

max_feature_vertices: int = 10_000_000
"""Most vertices one feature may have: the most detailed national outlines have a few million."""

max_vertices: int = 100_000_000
"""Most vertices a vector file may have in all (about 1.6 GB of coordinates once loaded)."""

# --- limits on user-supplied specs (layer specs, profiles, region files) -----------------------------

max_spec_bytes: int = 2**20
"""Largest YAML file read as a layer spec, profile, region file or manifest (1 MiB).

The largest shipped spec file is about 11 KB and the manifest about 60 KB; the limit keeps a
hostile or mistaken file (a data dump saved as .yaml) from being parsed at all.
"""

max_filter_chars: int = 1_000
"""Longest layer ``filter`` accepted (characters); the shipped filters have at most about 110."""

scoring_cache_bytes: int = 2**30
"""Most bytes of results a :class:`geo_engine.scoring.cache.ScoringCache` keeps (1 GiB).

A run's first scoring of Peru at resolution 7 keeps about 0.3 GB; constraints switched and custom
profiles tried in the app add more, and the results used least recently are dropped beyond this.
"""

scoring_threads: int = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                   else os.cpu_count() or 1))
"""Threads that score the profiles of a dual model side by side (1: one after another).

Scoring is numpy work that mostly runs outside Python's global lock, so profiles scored in
threads share the cores; the results are the same whatever the number. At most 4 by default.
"""

# --- uploads to the app (checked by geo_engine.regions.uploads) --------------------------------------------

max_uploads_per_session: int = 50
"""Most files one browser session of the app may upload in all (a region needs a handful)."""

max_upload_bytes_per_session: int = 2**30
"""Most bytes one browser session of the app may upload in all (1 GiB; one file is at most 200 MiB).

With :data:`max_uploads_per_session`, this bounds the disk one visitor can fill; a file uploaded
again (same name and content) is not counted twice.
"""

upload_max_age_hours: float = 24.0
"""Age after which uploaded files are removed from the cache folder (checked when a session starts).

A region built from uploads stays usable for that long after its files were last uploaded.
"""
