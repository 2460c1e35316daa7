"""Load the curated datasets of a region, and the display-ready district table the app draws."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import shapely

from geo_engine import settings
from geo_engine._errors import GeoEngineError
from geo_engine.io.cache import cached
from geo_engine.io.manifest import dataset_entry, dataset_path
from geo_engine.spatial.crs import equal_area_crs_for

if TYPE_CHECKING:
    from geo_engine.ingest.specs import LayerSpec

__all__ = [
    "accent_lexicon",
    "dataset_sources",
    "display_districts",
    "district_table",
    "layer_provenance",
    "read_dataset",
]

def read_dataset(dataset_id: str, *, data_dir: Path | None = None) -> pd.DataFrame:
    """Read one curated Parquet dataset by its manifest id.

    Parameters
    ----------
    dataset_id : str
        Id in ``MANIFEST.yaml`` (``districts``, ``district_indicators``…).
    data_dir : pathlib.Path, optional
        Defaults to :data:`geo_engine.settings.data_dir`.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        A GeoDataFrame when the file is GeoParquet.
    """
    path = dataset_path(dataset_id, data_dir=data_dir)
    if path.suffix != ".parquet":
        msg = f"dataset {dataset_id!r} is {path.name}, not a table; open it with rasterio"
        raise ValueError(msg)
    if b"geo" in (pq.read_schema(path).metadata or {}):
        return gpd.read_parquet(path)
    return pd.read_parquet(path)


def district_table(*, data_dir: Path | None = None) -> gpd.GeoDataFrame:
    """Return every district with its indicators and populations, one row per district code.

    Parameters
    ----------
    data_dir : pathlib.Path, optional
        Defaults to :data:`geo_engine.settings.data_dir`.

    Returns
    -------
    geopandas.GeoDataFrame
        The ``districts`` dataset joined (by ``district_code``, one to one) with
        ``district_indicators`` and the 2022 ID-holder count of ``population``. Districts without
        geometry are kept with a null geometry.
    """
    districts = read_dataset("districts", data_dir=data_dir)
    indicators = read_dataset("district_indicators", data_dir=data_dir)
    population = read_dataset("population", data_dir=data_dir)
    indicators = indicators.drop(columns=["area_official_km2"])
    out = districts.merge(indicators, on="district_code", how="left", validate="one_to_one")
    holders = population.set_index("district_code")["dni_holders_2022q4"]
    out["dni_holders_2022q4"] = out["district_code"].map(holders)
    return out


def display_districts(
    *, data_dir: Path | None = None, cache_dir: Path | None = None, tolerance_m: float = 250.0
) -> gpd.GeoDataFrame:
    """Return :func:`district_table` with polygons simplified for drawing, cached on disk.

    Parameters
    ----------
    data_dir : pathlib.Path, optional
        Defaults to :data:`geo_engine.settings.data_dir`.
    cache_dir : pathlib.Path, optional
        Defaults to :data:`geo_engine.settings.cache_dir`.
    tolerance_m : float, default 250
        Simplification tolerance in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        Districts with geometry (the ones without are dropped: there is nothing to draw), in
        EPSG:4326.

    Notes
    -----
    Polygons are simplified together with :func:`shapely.coverage_simplify` in the region's
    equal-area CRS (:func:`geo_engine.spatial.crs.equal_area_crs_for`), so neighbouring districts
    keep a shared border (no gaps or slivers). The cache file name carries the checksum of the
    districts file and of the indicators, so a data rebuild invalidates it; a damaged cache file is
    rebuilt with a warning.
    """
    cache_dir = Path(cache_dir or settings.cache_dir)
    keys = [dataset_entry(i, data_dir=data_dir)["sha256"][:12]
            for i in ("districts", "district_indicators", "population")]
    path = cache_dir / "display" / f"districts-v2-{'-'.join(keys)}-{int(tolerance_m)}m.parquet"

    def build() -> tuple[pd.DataFrame, dict[str, Any]]:
        table = district_table(data_dir=data_dir)
        table = table[table.geometry.notna()].reset_index(drop=True)
        crs = equal_area_crs_for(*(float(v) for v in table.to_crs(4326).total_bounds))
        metric = table.geometry.to_crs(crs)
        simple = shapely.coverage_simplify(metric.to_numpy(), tolerance_m)
        table = table.set_geometry(gpd.GeoSeries(simple, crs=crs).to_crs(4326).to_numpy())
        return table.set_crs(4326, allow_override=True), {}

    return cast(gpd.GeoDataFrame, cached(path, build, read=gpd.read_parquet).frame)


def dataset_sources(dataset_ids: list[str], *, data_dir: Path | None = None) -> list[dict[str, Any]]:
    """Return one provenance record per source of the given datasets, without repeats.

    Each record has ``title`` (the dataset), ``publisher``, ``origin``, ``licence`` and ``vintage``.
    """
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, Any]] = []
    for ds in dataset_ids:
        entry = dataset_entry(ds, data_dir=data_dir)
        for src in entry["sources"]:
            key = (src["origin"], src["origin_path"])
            if key in seen:
                continue
            seen.add(key)
            out.append({"dataset": entry["title"], **src})
    return out


def layer_provenance(specs: Sequence[LayerSpec], *, data_dir: Path | None = None) -> pd.DataFrame:
    """Return where each layer's data come from: one row per spec, in the order given.

    Columns: ``id``, ``dataset`` (the manifest id, or missing), ``publisher`` (the publishers of
    the dataset's sources, joined with "; "), ``vintage`` and ``licence`` of the dataset. A layer
    without a ``dataset``, or whose dataset the manifest lacks (your own files), shows its source
    file as the publisher and leaves vintage and licence missing: nothing is guessed.
    """
    rows = []
    for spec in specs:
        entry = None
        if spec.dataset:
            try:
                entry = dataset_entry(spec.dataset, data_dir=data_dir)
            except (GeoEngineError, KeyError):  # no manifest, or not in it: your own files
                entry = None
        if entry is None:
            rows.append({"id": spec.id, "dataset": spec.dataset, "publisher": spec.source,
                         "vintage": None, "licence": None})
            continue
        publishers = list(dict.fromkeys(str(src.get("publisher") or src.get("origin"))
                                        for src in entry["sources"]))
        rows.append({"id": spec.id, "dataset": spec.dataset, "publisher": "; ".join(publishers),
                     "vintage": str(entry["vintage"]), "licence": str(entry["licence"])})
    return pd.DataFrame(rows, columns=["id", "dataset", "publisher", "vintage", "licence"])


def accent_lexicon(*, data_dir: Path | None = None) -> dict[str, str]:
    """Return how the region's place names write their accented words: ``{"JUNIN": "Junín"}``.

    Read from the curated towns (GeoNames and Natural Earth names, written with their accents),
    for writing names the official tables give in bare capitals. Empty without a towns dataset.
    """
    import unicodedata
    from collections import Counter

    try:
        towns = read_dataset("towns", data_dir=data_dir)
    except (FileNotFoundError, KeyError, ValueError):
        return {}
    counts: Counter[tuple[str, str]] = Counter()
    for column in ("name", "ne_adm1name"):
        for name in towns.get(column, pd.Series(dtype=object)).dropna().astype(str):
            for word in name.split():
                if word.isalpha() and not word.isascii() and word[0].isupper():
                    bare = "".join(c for c in unicodedata.normalize("NFKD", word)
                                   if not unicodedata.combining(c)).upper()
                    if bare.isascii():
                        counts[bare, word] += 1
    best: dict[str, tuple[int, str]] = {}
    for (bare, word), n in counts.items():
        if n > best.get(bare, (0, ""))[0]:
            best[bare] = (n, word)
    return {bare: word for bare, (_, word) in best.items()}
