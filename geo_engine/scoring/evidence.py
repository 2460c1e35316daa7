"""Evidence of an activity at an absolute level: niche evidence, resource gates and real hub sites."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from geo_engine.scoring.cache import ScoringCache
from geo_engine.scoring.profiles import Evidence

__all__ = ["evidence_measure", "evidence_met", "evidence_strength", "item_strengths"]


def evidence_measure(matrix: pd.DataFrame, item: Evidence, *,
                     cache: ScoringCache | None = None) -> np.ndarray:
    """Return the value of an evidence item's layer per cell, in the units of its threshold.

    ``per="cell"`` is the matrix value; ``"km2"`` divides it by the cell's ``area_km2``;
    ``"district"`` sums it over the cell's ``unit_code`` (the source's district total for a
    layer spread over cells). A missing value is NaN (and never meets a threshold). ``cache``
    (a :class:`~geo_engine.scoring.cache.ScoringCache` of ``matrix``) shares the columns read.

    Raises
    ------
    ValueError
        If the layer, or the column ``per`` needs, is not in the matrix.
    """
    cells = cache if cache is not None else ScoringCache(matrix)
    need = {"cell": item.layer, "km2": "area_km2", "district": "unit_code"}[item.per]
    for col in {item.layer, need}:
        if col not in cells.matrix:
            msg = (f"evidence on {item.layer!r} (per {item.per!r}) needs column {col!r}, "
                   "which the matrix does not have; choose another `per` or add the layer")
            raise ValueError(msg)
    raw = cells.column(item.layer)
    if item.per == "km2":
        with np.errstate(divide="ignore", invalid="ignore"):
            return raw / cells.column("area_km2")
    if item.per == "district":
        codes, size = cells.districts()
        inside = codes >= 0
        whole = bool(inside.all())  # the common case: every cell has a district, nothing to pick
        at, values = (codes, raw) if whole else (codes[inside], raw[inside])
        sums = np.bincount(at, weights=np.nan_to_num(values), minlength=size)
        seen = np.bincount(at, weights=np.isfinite(values), minlength=size) > 0
        total = np.where(seen, sums, np.nan)
        return total[codes] if whole else np.where(inside, total[np.maximum(codes, 0)], np.nan)
    return raw.copy()


def _key(item: Evidence, *, reach: bool = True) -> tuple[Any, ...]:
    """Return what an item's strength depends on (its rationale aside), to key the cache."""
    return (item.layer, item.op, item.threshold, item.full, item.per,
            item.within_km if reach else None, tuple(_key(u, reach=False) for u in item.unless))


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


def item_strengths(matrix: pd.DataFrame, items: Sequence[Evidence], *,
                   cache: ScoringCache | None = None) -> np.ndarray:
    r"""Return the strength in [0, 1] of every evidence item in every cell (cells × items).

    ``cache`` (a :class:`~geo_engine.scoring.cache.ScoringCache` of ``matrix``) keeps each
    item's strengths, keyed on its layer, threshold, ``full``, ``per`` and reach: an item met
    again (in another profile, or when a profile is scored again) is not searched again.

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
    A cell that meets a level of the item's ``unless`` list has strength 0.
    """
    cells = cache if cache is not None else ScoringCache(matrix)
    out = np.zeros((len(matrix), len(items)))
    for k, item in enumerate(items):
        at, strength = _kept_strength(cells, item)
        out[at, k] = strength
    return out


def _kept_strength(cells: ScoringCache, item: Evidence) -> tuple[np.ndarray, np.ndarray]:
    """Return :func:`_sparse_strength` of an item, from the cache when it was computed before."""
    return cells.get(("evidence", _key(item)), functools.partial(_sparse_strength, cells, item))


def _sparse_strength(cells: ScoringCache, item: Evidence) -> tuple[np.ndarray, np.ndarray]:
    """Return the cells where an item has strength and that strength (most cells have none)."""
    values = _item_strength(cells, item)
    at = np.flatnonzero(values)
    return at, values[at]


def _item_strength(cells: ScoringCache, item: Evidence) -> np.ndarray:
    """Return one item's strength per cell (see :func:`item_strengths`)."""
    own = _own_strength(evidence_measure(cells.matrix, item, cache=cells), item)
    if item.within_km is not None and (own > 0).any() and "lat" in cells.matrix:
        from geo_engine.spatial.sphere import nearest_vectors

        xyz = cells.unit_vectors()
        src = np.flatnonzero(own > 0)
        todo = _candidates(*cells.bins(item.within_km), own > 0)
        km, idx = nearest_vectors(xyz[todo], xyz[src], max_km=item.within_km)
        near = own[src][np.maximum(idx, 0)] * np.clip(1 - km / item.within_km, 0, 1)
        own[todo] = np.where(idx >= 0, near, 0.0)
    own[_excluded(cells, item)] = 0.0
    return own


def _excluded(cells: ScoringCache, item: Evidence) -> np.ndarray:
    """Return the cells where the item counts nowhere: those meeting a level of its ``unless``."""
    out = np.zeros(len(cells.matrix), dtype=bool)
    for cond in item.unless:
        out[cells.get(("met", _key(cond, reach=False)), functools.partial(_met_at, cells, cond))] = True
    return out


def _candidates(key: np.ndarray, span: int, src: np.ndarray) -> np.ndarray:
    """Positions of the cells without evidence that may lie within reach of a source cell.

    ``key`` and ``span`` are :meth:`ScoringCache.bins` at the reach: only cells in a source's bin or one
    of its eight neighbours can be that close, so the nearest-neighbour search skips the rest of
    the country.
    """
    hit = np.zeros(int(key.max()) + span + 2, dtype=bool)
    sources = np.unique(key[src])
    for offset in (di * span + dj for di in (-1, 0, 1) for dj in (-1, 0, 1)):
        hit[sources + offset] = True
    return np.flatnonzero(hit[key] & ~src)


def evidence_strength(matrix: pd.DataFrame, items: Sequence[Evidence], *,
                      cache: ScoringCache | None = None) -> np.ndarray:
    """Return the strongest evidence per cell over the items (0 = no evidence, none listed = 0).

    Any one item suffices: a cell with a coffee harvest *or* a cacao harvest has an organic
    niche. See :func:`item_strengths` (and its ``cache``).
    """
    out = np.zeros(len(matrix))
    cells = cache if cache is not None else ScoringCache(matrix)
    for item in items:  # the cells where an item has strength are few: no cells × items table
        at, strength = _kept_strength(cells, item)
        out[at] = np.maximum(out[at], strength)
    return out


def evidence_met(matrix: pd.DataFrame, items: Sequence[Evidence], *,
                 cache: ScoringCache | None = None) -> np.ndarray:
    """Return the cells where at least one item's level is met in the cell itself (reach ignored).

    Used for hubs: the cells that *are* real operations. ``cache`` as for :func:`item_strengths`.
    """
    cells = cache if cache is not None else ScoringCache(matrix)
    met = np.zeros(len(matrix), dtype=bool)
    for item in items:
        met[cells.get(("met", _key(item, reach=False)), functools.partial(_met_at, cells, item))] = True
    return met


def _met_at(cells: ScoringCache, item: Evidence) -> np.ndarray:
    """Return the positions of the cells that meet an item's level themselves, and no ``unless``."""
    met = _own_strength(evidence_measure(cells.matrix, item, cache=cells), item) > 0
    return np.flatnonzero(met & ~_excluded(cells, item))
