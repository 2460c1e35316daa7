"""What scoring one indicator matrix computes that no weight changes, kept for the next scoring."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from geo_engine import settings

__all__ = ["ScoringCache", "bare_matrix", "mask_digest"]

T = TypeVar("T")


def bare_matrix(matrix: pd.DataFrame) -> pd.DataFrame:
    """Return the matrix without its ``attrs`` (same data, not copied).

    pandas deep-copies ``attrs`` into every column it hands out; the build report there makes
    each column read cost milliseconds, and scoring reads hundreds of columns.
    """
    if not matrix.attrs:
        return matrix
    bare = pd.DataFrame(matrix, copy=False)  # unlike .copy(), does not deep-copy attrs either
    bare.attrs = {}
    return bare


def mask_digest(mask: np.ndarray) -> bytes:
    """Return a short digest of a boolean mask (its length and its bits), to key a cache on it."""
    bits = np.packbits(np.asarray(mask, dtype=bool))
    return len(mask).to_bytes(8, "little") + hashlib.blake2b(bits.tobytes(), digest_size=16).digest()


def _nbytes(value: Any) -> int:
    """Return the bytes of the arrays in a value (a tuple, a dataclass or an array)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple):
        return sum(_nbytes(part) for part in value)
    if dataclasses.is_dataclass(value):
        return sum(_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 0


def _frozen(value: T) -> T:
    """Make the arrays of a cached value read-only, so that no caller can change the cache."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, tuple):
        for part in value:
            _frozen(part)
    return value


class ScoringCache:
    """Columns and results of scoring one indicator matrix, each computed once and reused.

    Everything kept here depends on the matrix and on the inputs named in its key — a layer's
    normalization and the eligible cells, an evidence item's layer, threshold, ``full`` level,
    ``per`` and reach, the hub cells — and never on weights: re-weighting a profile, scoring
    another profile with the same layers or evidence, or the dual model after a weight change
    reuse them, while a changed threshold, normalization or constraint has another key and is
    computed afresh.

    Parameters
    ----------
    matrix : pandas.DataFrame
        The indicator matrix. It must not be changed in place while the cache is used (a
        :class:`geo_engine.pipeline.Run` never changes its matrix); a new matrix needs a new cache.

    max_bytes : int, optional
        Most bytes of results kept (:data:`geo_engine.settings.scoring_cache_bytes` by default);
        beyond it the results used least recently are dropped, to be computed again if needed.

    Notes
    -----
    Cached arrays are read-only: a caller that needs to change one copies it first. Threads may
    share a cache (:func:`geo_engine.scoring.dual.dual_model` scores profiles side by side): what
    is kept and dropped changes under a lock, and two threads needing the same missing result at
    once may both compute it (the same value).
    """

    def __init__(self, matrix: pd.DataFrame, *, max_bytes: int | None = None) -> None:
        self.matrix = bare_matrix(matrix)
        self.max_bytes = settings.scoring_cache_bytes if max_bytes is None else max_bytes
        self._store: OrderedDict[Hashable, Any] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()
        self.nbytes = 0
        """Bytes of the arrays kept (a view of another kept array counts again)."""

    def __len__(self) -> int:
        """Return how many results are kept."""
        return len(self._store)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the value kept under ``key``, computing (and keeping) it the first time."""
        kept = self.peek(key)
        return kept if kept is not None else self.put(key, compute())

    def put(self, key: Hashable, value: T, *, size: int | None = None) -> T:
        """Keep ``value`` under ``key`` (read-only from now on) and return it.

        ``size`` is what it costs in bytes (its arrays' by default); beyond :attr:`max_bytes`,
        the values used least recently are dropped.
        """
        cost = _nbytes(value) if size is None else size
        with self._lock:
            self._drop(key)
            self._store[key] = _frozen(value)
            self._sizes[key] = cost
            self.nbytes += cost
            while self.nbytes > self.max_bytes and len(self._store) > 1:
                self._drop(next(iter(self._store)))
        return value

    def peek(self, key: Hashable) -> Any:
        """Return the value kept under ``key`` (now the most recently used), or None."""
        with self._lock:
            if key not in self._store:
                return None
            self._store.move_to_end(key)
            return self._store[key]

    def _drop(self, key: Hashable) -> None:
        if key in self._store:
            del self._store[key]
            self.nbytes -= self._sizes.pop(key)

    def column(self, name: str) -> np.ndarray:
        """Return a column of the matrix as float64 (read once; free when the matrix holds it)."""
        kept = self.peek(("column", name))
        if kept is None:
            kept = self.matrix[name].to_numpy(dtype=float)
            self.put(("column", name), kept, size=0 if kept.base is not None else kept.nbytes)
        return kept  # type: ignore[no-any-return]

    def districts(self) -> tuple[np.ndarray, int]:
        """Return the district number of every cell (-1 without one) and how many there are."""
        def factorize() -> tuple[np.ndarray, int]:
            codes, uniques = pd.factorize(self.matrix["unit_code"])
            return codes, len(uniques)
        return self.get("districts", factorize)

    def latlon(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the cell centres (degrees)."""
        return self.column("lat"), self.column("lon")

    def unit_vectors(self) -> np.ndarray:
        """Return the cell centres as unit vectors (cells × 3), for nearest-neighbour searches."""
        from geo_engine.spatial.sphere import unit_vectors

        return self.get("unit_vectors", lambda: unit_vectors(*self.latlon()))

    def bins(self, km: float) -> tuple[np.ndarray, int]:
        """Return the bin of every cell on a lat/lon grid at least ``km`` wide, and a row length.

        The grid is at least ``km`` wide at the widest latitude present, so a cell within ``km``
        of another lies in its bin or one of the eight around it.
        """
        def grid() -> tuple[np.ndarray, int]:
            lat, lon = self.latlon()
            step_lat = km / 111.0
            step_lon = step_lat / max(np.cos(np.radians(np.nanmax(np.abs(lat)))), 0.05)
            i = np.floor(lat / step_lat).astype(np.int64)
            j = np.floor(lon / step_lon).astype(np.int64)
            span = int(j.max() - j.min()) + 3
            return (i - i.min() + 1) * span + (j - j.min() + 1), span
        return self.get(("bins", km), grid)
