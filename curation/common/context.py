"""The build context handed from step to step, the dataset records it returns, and its writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from curation.sources import SOURCES, SourceRef
from geo_engine._errors import MissingSourceError, SourceFormatError

__all__ = ["PARQUET_OPTIONS", "BuildContext", "Dataset"]

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "index": False}
"""Options for every Parquet file the rebuild writes (compact and deterministic)."""


@dataclass
class Dataset:
    """One curated file and what the manifest says about it.

    Attributes
    ----------
    id : str
        Short identifier (``districts``, ``mining_production``…), unique in the manifest.
    title : str
        Human title.
    file : str
        Path relative to the data folder, e.g. ``peru/districts.parquet``.
    sources : list of SourceRef
        Raw inputs.
    licence : str
        Licence of the curated file (the most restrictive of its inputs).
    vintage : str
        Period the values describe.
    processing : list of str
        What was done to the sources, one sentence per step.
    report : dict
        Figures of the build (counts repaired, match rates…), recorded in the manifest.
    """

    id: str
    title: str
    file: str
    sources: list[SourceRef]
    licence: str
    vintage: str
    processing: list[str]
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildContext:
    """State handed from one rebuild step to the next.

    Attributes
    ----------
    src : Path
        Raw-data folder (with ``peru/`` and ``latam/``).
    out : Path
        Folder the curated files are written to (a temporary folder during a rebuild).
    region : str
        Region sub-folder written by this build.
    frames : dict
        Curated frames later steps may reuse (``districts`` is set by the admin step).
    """

    src: Path
    out: Path
    region: str = "peru"
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def source(self, key: str) -> Path:
        """Return the path of a raw source by its :data:`~curation.sources.SOURCES` key.

        Raises
        ------
        MissingSourceError
            If the file does not exist, naming it and the folder searched.
        """
        ref = SOURCES[key]
        path = self.src / ref.file
        if not path.is_file():
            msg = (
                f"raw source {ref.file!r} ({key}) not found under {self.src}. "
                f"Point --from at the raw-data folder that holds it (origin: {ref.origin})."
            )
            raise MissingSourceError(msg)
        return path

    def target(self, name: str) -> tuple[Path, str]:
        """Return the absolute output path of ``name`` and its path relative to the data folder."""
        rel = f"{self.region}/{name}"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, rel

    def write_table(self, frame: pd.DataFrame, name: str) -> str:
        """Write a table as zstd-compressed Parquet (GeoParquet for a GeoDataFrame).

        Parameters
        ----------
        frame : pandas.DataFrame or geopandas.GeoDataFrame
            What to write; the row order is kept as given (callers sort first).
        name : str
            File name inside the region folder, ending in ``.parquet``.

        Returns
        -------
        str
            Path relative to the data folder, for :attr:`Dataset.file`.
        """
        path, rel = self.target(name)
        frame = frame.reset_index(drop=True)
        if isinstance(frame, gpd.GeoDataFrame):
            if frame.crs is None or frame.crs.to_epsg() != 4326:
                msg = f"{name}: curated layers are stored in EPSG:4326, got {frame.crs}"
                raise SourceFormatError(msg)
            frame.to_parquet(path, schema_version="1.0.0", **PARQUET_OPTIONS)
        else:
            frame.to_parquet(path, **PARQUET_OPTIONS)
        return rel
