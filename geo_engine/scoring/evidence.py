"""Evidence of an activity at an absolute level: niche evidence, resource gates and real hub sites."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo_engine.scoring.profiles import Evidence

__all__ = ["evidence_measure", "evidence_met", "evidence_strength", "item_strengths"]


def evidence_measure(matrix: pd.DataFrame, item: Evidence) -> np.ndarray:
    """Return the value of an evidence item's layer per cell, in the units of its threshold.

    ``per="cell"`` is the matrix value; ``"km2"`` divides it by the cell's ``area_km2``;
    ``"district"`` sums it over the cell's ``district_code`` (the source's district total for a
    layer spread over cells). A missing value is NaN (and never meets a threshold).

    Raises
    ------
    ValueError
        If the layer, or the column ``per`` needs, is not in the matrix.
    """
    return _Cells(matrix).measure(item)


class _Cells:
    """Columns of one matrix that several evidence items share, each read once."""

    def __init__(self, matrix: pd.DataFrame) -> None:
        self.matrix = matrix
        self._districts: tuple[np.ndarray, int] | None = None
        self._bins: dict[float, tuple[np.ndarray, int]] = {}
        self._latlon: tuple[np.ndarray, np.ndarray] | None = None

    def districts(self) -> tuple[np.ndarray, int]:
        """Return the district number of every cell (-1 without one) and how many there are."""
        if self._districts is None:
            codes, uniques = pd.factorize(self.matrix["district_code"])
            self._districts = codes, len(uniques)
        return self._districts

    def latlon(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the cell centres (degrees)."""
        if self._latlon is None:
            self._latlon = (self.matrix["lat"].to_numpy(dtype=float),
                            self.matrix["lon"].to_numpy(dtype=float))
        return self._latlon

    def bins(self, km: float) -> tuple[np.ndarray, int]:
        """Return the bin of every cell on a lat/lon grid at least ``km`` wide, and a row length.

        The grid is at least ``km`` wide at the widest latitude present, so a cell within ``km``
        of another lies in its bin or one of the eight around it.
        """
        if km not in self._bins:
            lat, lon = self.latlon()
            step_lat = km / 111.0
            step_lon = step_lat / max(np.cos(np.radians(np.nanmax(np.abs(lat)))), 0.05)
            i = np.floor(lat / step_lat).astype(np.int64)
            j = np.floor(lon / step_lon).astype(np.int64)
            span = int(j.max() - j.min()) + 3
            self._bins[km] = (i - i.min() + 1) * span + (j - j.min() + 1), span
        return self._bins[km]

    def measure(self, item: Evidence) -> np.ndarray:
        """Return the value of ``item``'s layer per cell in the units of its threshold."""
        matrix = self.matrix
        need = {"cell": item.layer, "km2": "area_km2", "district": "district_code"}[item.per]
        for col in {item.layer, need}:
            if col not in matrix:
                msg = (f"evidence on {item.layer!r} (per {item.per!r}) needs column {col!r}, "
                       "which the matrix does not have; choose another `per` or add the layer")
                raise ValueError(msg)
        raw = matrix[item.layer].to_numpy(dtype=float)
        if item.per == "km2":
            with np.errstate(divide="ignore", invalid="ignore"):
                return raw / matrix["area_km2"].to_numpy(dtype=float)
        if item.per == "district":
            codes, size = self.districts()
            sums = np.bincount(codes[codes >= 0], weights=np.nan_to_num(raw[codes >= 0]),
                               minlength=size)
            seen = np.bincount(codes[codes >= 0], weights=np.isfinite(raw[codes >= 0]),
                               minlength=size) > 0
            total = np.where(seen, sums, np.nan)
            return np.where(codes >= 0, total[np.maximum(codes, 0)], np.nan)
        return raw


def _own_strength(value: np.ndarray, item: Evidence) -> np.ndarray:
    v = np.asarray(value, dtype=float)
    t = item.threshold
    with np.errstate(invalid="ignore"):
        met = np.flatnonzero((v >= t if item.op == ">=" else v <= t) & np.isfinite(v))
    out = np.zeros(v.shape)
    if item.full is None:
        out[met] = 1.0
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(v[met] / t) / np.log(item.full / t)  # +inf at v = 0 for "<=": full
    out[met] = 0.5 + 0.5 * np.clip(np.nan_to_num(ratio, nan=0.0, posinf=1.0), 0, 1)
    return out


def item_strengths(matrix: pd.DataFrame, items: Sequence[Evidence]) -> np.ndarray:
    r"""Return the strength in [0, 1] of every evidence item in every cell (cells × items).

    Notes
    -----
    With :math:`t` the threshold and :math:`f` the optional ``full`` level, a cell whose value
    :math:`v` does not meet :math:`t` has strength 0; one that meets it has strength 1 without
    ``full``, otherwise :math:`0.5 + 0.5\,\mathrm{clip}(\log(v/t) / \log(f/t), 0, 1)` — 0.5 at the
    threshold, 1 at ``full`` and beyond, log-linear between (values are skewed: a district worth
    ten times more is one step stronger, not ten).

    With ``within_km`` :math:`R`, a cell that does not meet the level itself takes the strength
    :math:`s_j` of the nearest cell :math:`j` that does, faded by distance:
    :math:`s_j \max(0, 1 - d/R)` — a resource within reach, but never more than the resource.
    """
    cells = _Cells(matrix)
    out = np.zeros((len(matrix), len(items)))
    for k, item in enumerate(items):
        own = _own_strength(cells.measure(item), item)
        if item.within_km is not None and (own > 0).any() and "lat" in matrix:
            from geo_engine.ingest.vector import nearest

            lat, lon = cells.latlon()
            src = np.flatnonzero(own > 0)
            todo = _candidates(*cells.bins(item.within_km), own > 0)
            km, idx = nearest(lat[todo], lon[todo], lat[src], lon[src], max_km=item.within_km)
            near = own[src][np.maximum(idx, 0)] * np.clip(1 - km / item.within_km, 0, 1)
            own[todo] = np.where(idx >= 0, near, 0.0)
        out[:, k] = own
    return out


def _candidates(key: np.ndarray, span: int, src: np.ndarray) -> np.ndarray:
    """Positions of the cells without evidence that may lie within reach of a source cell.

    ``key`` and ``span`` are :meth:`_Cells.bins` at the reach: only cells in a source's bin or one
    of its eight neighbours can be that close, so the nearest-neighbour search skips the rest of
    the country.
    """
    hit = np.zeros(int(key.max()) + span + 2, dtype=bool)
    sources = np.unique(key[src])
    for offset in (di * span + dj for di in (-1, 0, 1) for dj in (-1, 0, 1)):
        hit[sources + offset] = True
    return np.flatnonzero(hit[key] & ~src)


def evidence_strength(matrix: pd.DataFrame, items: Sequence[Evidence]) -> np.ndarray:
    """Return the strongest evidence per cell over the items (0 = no evidence, none listed = 0).

    Any one item suffices: a cell with a coffee harvest *or* a cacao harvest has an organic
    niche. See :func:`item_strengths`.
    """
    if not items:
        return np.zeros(len(matrix))
    return item_strengths(matrix, items).max(axis=1)


def evidence_met(matrix: pd.DataFrame, items: Sequence[Evidence]) -> np.ndarray:
    """Return the cells where at least one item's level is met in the cell itself (reach ignored).

    Used for hubs: the cells that *are* real operations.
    """
    cells = _Cells(matrix)
    met = np.zeros(len(matrix), dtype=bool)
    for item in items:
        met |= _own_strength(cells.measure(item), item) > 0
    return met
