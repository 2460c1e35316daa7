"""Score cells with a profile: constraints, missing data, normalization, then one of four aggregations."""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geo_engine.ingest.specs import LayerSpec
from geo_engine.scoring.cache import ScoringCache, mask_digest
from geo_engine.scoring.evidence import evidence_met, evidence_strength
from geo_engine.scoring.normalize import normalize, standing
from geo_engine.scoring.profiles import Aggregation, Profile, ProfileLayer

__all__ = [
    "WGM_FLOOR",
    "Prepared",
    "ScoreResult",
    "aggregate",
    "owa_order_weights",
    "prepare",
    "score_profile",
]

WGM_FLOOR = 0.01
"""Lowest normalized value entering a weighted geometric mean (a 0 would veto the cell outright)."""

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}


@dataclass(frozen=True)
class Prepared:
    """Normalized layers of one profile, ready to be aggregated with any weights.

    Attributes
    ----------
    profile : Profile
    layer_ids : list of str
        Column order of ``values``.
    values : numpy.ndarray
        cells × layers, in [0, 1]; NaN only in rows that are not eligible.
    eligible : numpy.ndarray of bool
        Cells that pass every constraint and missing-data rule.
    report : dict
        Cells excluded per reason.
    evidence : numpy.ndarray, optional
        Strength of the profile's ``evidence`` per cell in [0, 1] (None without that section).
    gate : numpy.ndarray, optional
        Strength of the profile's ``gate`` per cell, multiplying its score (None: no gate).
    hubs : numpy.ndarray of bool, optional
        Cells that are real operations by the profile's ``hubs`` (None without that section).
    """

    profile: Profile
    layer_ids: list[str]
    values: np.ndarray
    eligible: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)
    evidence: np.ndarray | None = None
    gate: np.ndarray | None = None
    hubs: np.ndarray | None = None


@dataclass(frozen=True)
class ScoreResult:
    r"""Scores of one profile and their exact decomposition.

    Attributes
    ----------
    score : numpy.ndarray
        Per cell in [0, 1]; NaN where the cell is not eligible.
    contributions : pandas.DataFrame
        Per cell and layer. For ``wlc``, ``owa`` and ``topsis`` they add up to the score; for
        ``wgm`` they are in log space (:math:`w_i \log s_i`) and add up to :math:`\log S`.
    contribution_space : {"score", "log"}
    weights : dict
        Weights used, normalized to sum to 1.
    prepared : Prepared
    """

    score: np.ndarray
    contributions: pd.DataFrame
    contribution_space: str
    weights: dict[str, float]
    prepared: Prepared

    @functools.cached_property
    def standing(self) -> np.ndarray:
        """Percentile standing of each cell among scored cells (computed once)."""
        return standing(self.score)


def _impute_admin(raw: np.ndarray, matrix: pd.DataFrame) -> np.ndarray:
    out = raw.copy()
    for level in ("unit_code", "parent_code", "grandparent_code"):
        missing = np.isnan(out)
        if not missing.any() or level not in matrix:
            break
        means = pd.Series(raw).groupby(matrix[level].to_numpy()).transform("mean").to_numpy()
        out = np.where(missing, means, out)
    return out


def prepare(
    matrix: pd.DataFrame, profile: Profile, *, specs: dict[str, LayerSpec] | None = None,
    cache: ScoringCache | None = None,
) -> Prepared:
    """Apply constraints and missing-data policies, then normalize every layer of a profile.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix (:func:`geo_engine.matrix.indicators.build_indicators`).
    profile : Profile
    specs : dict, optional
        Layer specs by id, for each layer's default direction and transform.
    cache : ScoringCache, optional
        A cache of ``matrix`` (:class:`geo_engine.scoring.cache.ScoringCache`): a profile
        prepared before with the same recipe — every field but the weights, and its layers'
        specs — is reused whole; otherwise normalized layers and evidence found there are
        reused, and what is computed is kept. A layer is reused only
        with the same missing-data policy, direction, transform and normalization over the same
        eligible cells; an evidence item only with the same layer, threshold, ``full``, ``per``
        and reach.

    Returns
    -------
    Prepared
        Its arrays are read-only (they may be shared with the cache and other profiles).

    Notes
    -----
    Order: (1) cells failing a constraint are excluded (a missing value fails); (2) cells with no
    value in any profile layer are excluded (they are reported, never scored 0); (3) for layers
    with policy ``exclude``, cells missing that layer are excluded; (4) ``impute_admin`` fills a
    missing raw value with the mean of its district, else province, else department; (5) every
    layer is normalized over the eligible cells; (6) remaining gaps (policy ``worst``) get 0, the
    least favourable value. The ``evidence``, ``gate`` and ``hubs`` sections are measured on the
    raw values (:mod:`geo_engine.scoring.evidence`), once, so that re-weighting does not repeat them.
    """
    specs = specs or {}
    profile.check_layers(set(matrix.columns))
    cells = cache if cache is not None else ScoringCache(matrix)
    recipe = ("prepared", _recipe(profile, specs))
    kept = cells.peek(recipe)
    if kept is None:
        kept = cells.put(recipe, _prepare(cells, profile, specs))
    return dataclasses.replace(kept, profile=profile, report=dict(kept.report))


def _recipe(profile: Profile, specs: dict[str, LayerSpec]) -> str:
    """Return all that :func:`prepare` reads of a profile and the specs of its layers (no weight)."""
    parts = profile.model_dump(mode="json", include={
        "normalization", "missing", "layers", "constraints", "evidence", "gate", "hubs"})
    for layer in parts["layers"]:
        del layer["weight"]
    parts["specs"] = [specs[layer.id].model_dump(mode="json", include={"direction", "transform"})
                      if layer.id in specs else None for layer in profile.layers]
    return json.dumps(parts, sort_keys=True)


def _prepare(cells: ScoringCache, profile: Profile, specs: dict[str, LayerSpec]) -> Prepared:
    """Compute :func:`prepare` (its arrays read-only, as the cache keeps them)."""
    matrix = cells.matrix
    n = len(matrix)
    eligible = np.ones(n, dtype=bool)
    report: dict[str, Any] = {"cells": n}
    for c in profile.constraints:
        raw = cells.column(c.layer)
        with np.errstate(invalid="ignore"):
            ok = _OPS[c.op](raw, c.value) & np.isfinite(raw)
        report[f"excluded_by_constraint_{c.layer}"] = int((eligible & ~ok).sum())
        eligible &= ok
    ids = [layer.id for layer in profile.layers]
    raw_all = [cells.column(i) for i in ids]
    no_data = np.ones(n, dtype=bool)
    for raw in raw_all:
        no_data &= ~np.isfinite(raw)
    report["excluded_no_data"] = int((eligible & no_data).sum())
    eligible &= ~no_data
    for j, layer in enumerate(profile.layers):
        if (layer.missing or profile.missing) == "exclude":
            ok = np.isfinite(raw_all[j])
            report[f"excluded_missing_{layer.id}"] = int((eligible & ~ok).sum())
            eligible &= ok
    digest = mask_digest(eligible)
    keys = [_layer_key(layer, profile, specs.get(layer.id), digest) for layer in profile.layers]
    kept = [cells.peek(key) for key in keys]
    values = np.empty((n, len(keys)), order="F")  # by column: each layer's values contiguous
    for j, (col, layer) in enumerate(zip(kept, profile.layers, strict=True)):
        values[:, j] = col if col is not None else _normalized(
            raw_all[j], layer, profile, specs.get(layer.id), eligible, cells)
    values.flags.writeable = False
    for j, col in enumerate(kept):  # the cache keeps views of the profile's own values: no copy
        if col is None:
            cells.put(keys[j], values[:, j])
    report["eligible"] = int(eligible.sum())
    prep = Prepared(
        profile=profile, layer_ids=ids, values=values, eligible=eligible, report=report,
        evidence=evidence_strength(matrix, profile.evidence, cache=cells) if profile.evidence
        else None,
        gate=evidence_strength(matrix, profile.gate, cache=cells) if profile.gate else None,
        hubs=evidence_met(matrix, profile.hubs, cache=cells) if profile.hubs else None)
    for array in (prep.eligible, prep.evidence, prep.gate, prep.hubs):
        if array is not None:
            array.flags.writeable = False
    return prep


def _layer_key(layer: ProfileLayer, profile: Profile, spec: LayerSpec | None,
               eligible: bytes) -> tuple[Any, ...]:
    """Return what a layer's normalized values depend on, to key the cache."""
    norm = layer.normalization or profile.normalization
    t = spec.transform if spec else None
    winsorize = norm.winsorize if isinstance(norm.winsorize, str | None) else tuple(norm.winsorize)
    return ("normalized", layer.id, layer.missing or profile.missing,
            layer.direction or (spec.direction if spec else "benefit"),
            t.kind if t else None, t.percentile if t else None,
            norm.method, winsorize, norm.fuzzy_shape,
            tuple(norm.fuzzy_points) if norm.fuzzy_points is not None else None, norm.half,
            eligible)


def _normalized(raw: np.ndarray, layer: ProfileLayer, profile: Profile, spec: LayerSpec | None,
                eligible: np.ndarray, cells: ScoringCache) -> np.ndarray:
    """Return one layer normalized over the eligible cells, missing values given their policy."""
    if (layer.missing or profile.missing) == "impute_admin":
        raw = _impute_admin(raw, cells.matrix)
    norm = layer.normalization or profile.normalization
    t = spec.transform if spec else None
    s = normalize(
        raw, direction=layer.direction or (spec.direction if spec else "benefit"),
        method=norm.method,
        transform_kind=t.kind if t else None, transform_percentile=t.percentile if t else None,
        winsorize=norm.winsorize, fuzzy_shape=norm.fuzzy_shape, fuzzy_points=norm.fuzzy_points,
        half=norm.half, mask=eligible, name=layer.id,
        units=cells.matrix.get("unit_code"),
    )
    s[eligible & np.isnan(s)] = 0.0
    return s


def owa_order_weights(n: int, *, orness: float) -> np.ndarray:
    r"""Return OWA order weights for ``n`` criteria from an orness in [0, 1].

    Notes
    -----
    Uses the regular increasing monotone quantifier :math:`Q(r) = r^{a}` with
    :math:`a = (1 - \omega)/\omega`, whose orness is :math:`\omega`:
    :math:`v_j = Q(j/n) - Q((j-1)/n)`. :math:`\omega = 0.5` gives equal weights (WLC),
    :math:`\omega \to 1` all weight on the best value, :math:`\omega \to 0` on the worst.
    """
    if not 0 <= orness <= 1:
        msg = f"`orness` was {orness} but must be in [0, 1]"
        raise ValueError(msg)
    r = np.arange(n + 1) / n
    if orness == 0:
        q = (r >= 1).astype(float)
    elif orness == 1:
        q = (r > 0).astype(float)
    else:
        q = r ** ((1 - orness) / orness)
    return np.diff(q)


def aggregate(
    values: np.ndarray, weights: np.ndarray, aggregation: Aggregation,
    eligible: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    r"""Combine normalized layers into scores with exact per-layer contributions.

    Parameters
    ----------
    values : numpy.ndarray
        cells × layers in [0, 1].
    weights : numpy.ndarray
        Non-negative, summing to 1.
    aggregation : Aggregation
    eligible : numpy.ndarray of bool, optional
        Rows to score (others get NaN); all by default.

    Returns
    -------
    tuple of (score, contributions, space)
        ``score`` per cell; ``contributions`` cells × layers; ``space`` is ``"score"`` (they add up
        to the score) or ``"log"`` (they add up to its logarithm).

    Notes
    -----
    With :math:`s_i` the normalized values and :math:`w_i` the weights:

    - ``wlc``: :math:`S = \sum_i w_i s_i`, contribution :math:`w_i s_i`.
    - ``wgm``: :math:`S = \prod_i \max(s_i, f)^{w_i}` with floor :math:`f` = :data:`WGM_FLOOR`;
      contribution :math:`w_i \log \max(s_i, f)`, summing to :math:`\log S`.
    - ``owa`` (weighted OWA as in TerrSet): values sorted from best to worst,
      :math:`u_j = w_{(j)} v_j / \sum_k w_{(k)} v_k`, :math:`S = \sum_j u_j s_{(j)}`; a layer's
      contribution is :math:`u_j s_{(j)}` at its rank.
    - ``topsis``: :math:`x_i = w_i s_i`; ideal and anti-ideal are the best and worst :math:`x_i`
      among eligible cells; :math:`S = D^- / (D^+ + D^-)`. Documented decomposition: :math:`S` is
      split in proportion to :math:`g_i = w_i (d^-_i)^2 / ((d^-_i)^2 + (d^+_i)^2)`, each layer's
      weighted closeness to the ideal.
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    n, k = v.shape
    ok = np.ones(n, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    method = aggregation.method
    # every method but TOPSIS scores a row from that row alone: score all rows, blank the others
    whole = method != "topsis" or bool(ok.all())
    x = v if whole else v[ok]
    space = "score"
    if method == "wlc":
        c = x * w
        s = _row_sum(c)
    elif method == "wgm":
        c = w * np.log(np.maximum(x, WGM_FLOOR))
        s = np.exp(_row_sum(c))
        space = "log"
    elif method == "owa":
        order_w = (np.asarray(aggregation.order_weights, dtype=float)
                   if aggregation.order_weights is not None
                   else owa_order_weights(k, orness=0.5 if aggregation.orness is None
                                             else float(aggregation.orness)))
        order_w = order_w / order_w.sum()
        order = np.argsort(-x, axis=1, kind="stable")
        rows = np.arange(len(x))[:, None]
        u = w[order] * order_w[None, :]
        total = _row_sum(u)[:, None]
        u = np.divide(u, total, out=np.zeros_like(u), where=total > 0)
        c = np.empty_like(x)
        c[rows, order] = u * x[rows, order]
        s = _row_sum(c)
    elif method == "topsis":
        xw = x * w
        best, worst = xw.max(axis=0) if len(xw) else w, xw.min(axis=0) if len(xw) else 0 * w
        d_plus2 = (xw - best) ** 2
        d_minus2 = (xw - worst) ** 2
        dp, dm = np.sqrt(_row_sum(d_plus2)), np.sqrt(_row_sum(d_minus2))
        denom = dp + dm
        s = np.divide(dm, denom, out=np.full(len(x), 0.5), where=denom > 0)
        both = d_plus2 + d_minus2
        g = w * np.divide(d_minus2, both, out=np.zeros_like(both), where=both > 0)
        gsum = _row_sum(g)[:, None]
        share = np.divide(g, gsum, out=np.full_like(g, 1.0 / k), where=gsum > 0)
        c = share * s[:, None]
    else:  # pragma: no cover - prevented by the Aggregation model
        msg = f"unknown aggregation {method!r}"
        raise ValueError(msg)
    if whole:
        score, contrib = s, c
        score[~ok] = np.nan
        contrib[~ok] = np.nan
    else:
        score, contrib = np.full(n, np.nan), np.full((n, k), np.nan)
        score[ok] = s
        contrib[ok] = c
    return score, contrib, space


_PAIRWISE_BLOCK = 128
"""Rows longer than this are summed by numpy in halves (its pairwise summation)."""


def _row_sum(table: np.ndarray) -> np.ndarray:
    """Return ``table.sum(axis=1)`` as numpy computes it on a C-ordered table, column by column.

    numpy sums a row of fewer than eight values from left to right, and a longer one (up to
    :data:`_PAIRWISE_BLOCK`) in eight running sums combined pairwise, then the remainder from
    left to right. Doing the same over whole columns gives the very same rounding, whatever the
    table's memory order, without reducing hundreds of thousands of short rows one by one.
    """
    k = table.shape[1]
    if k == 0 or k > _PAIRWISE_BLOCK:
        return np.ascontiguousarray(table).sum(axis=1)
    if k < 8:
        total = table[:, 0].copy()
        for j in range(1, k):
            total += table[:, j]
        return total
    runs = [table[:, j].copy() for j in range(8)]
    done = 8
    while done + 8 <= k:
        for j in range(8):
            runs[j] += table[:, done + j]
        done += 8
    total = ((runs[0] + runs[1]) + (runs[2] + runs[3])) + ((runs[4] + runs[5]) + (runs[6] + runs[7]))
    for j in range(done, k):
        total += table[:, j]
    return total


def score_profile(
    matrix: pd.DataFrame,
    profile: Profile,
    *,
    specs: dict[str, LayerSpec] | None = None,
    weights: dict[str, float] | None = None,
    prepared: Prepared | None = None,
    cache: ScoringCache | None = None,
) -> ScoreResult:
    r"""Score every cell of an indicator matrix with a profile.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix.
    profile : Profile
    specs : dict, optional
        Layer specs by id (default directions and transforms).
    weights : dict, optional
        Weights by layer id overriding the profile's (e.g. from the app's sliders); normalized
        to sum to 1. Layers left out keep their profile weight.
    prepared : Prepared, optional
        Reuse a :func:`prepare` result: re-scoring with new weights then costs only the
        aggregation.
    cache : ScoringCache, optional
        Without ``prepared``, the cache :func:`prepare` reuses and fills.

    Returns
    -------
    ScoreResult

    Notes
    -----
    A profile with a ``gate`` multiplies its aggregated score by the gate's strength
    :math:`g \in [0, 1]` (no resource within reach: score 0, whatever the other layers), and the
    contributions with it: they still add up to the score (in log space each layer gets
    :math:`w_i \log g`, adding up to :math:`\log S`).
    """
    prep = prepared if prepared is not None else prepare(matrix, profile, specs=specs, cache=cache)
    raw_w = {layer.id: layer.weight for layer in profile.layers}
    if weights:
        unknown = sorted(set(weights) - set(raw_w))
        if unknown:
            msg = f"weights for layers not in profile {profile.id!r}: {unknown}"
            raise ValueError(msg)
        negative = {k: v for k, v in weights.items() if v < 0 or not np.isfinite(v)}
        if negative:
            msg = f"weights must be finite and non-negative, got {negative}"
            raise ValueError(msg)
        raw_w.update(weights)
    total = sum(raw_w.values())
    if total <= 0:
        msg = f"profile {profile.id!r}: all weights are zero; give a layer a positive weight"
        raise ValueError(msg)
    w = np.array([raw_w[i] / total for i in prep.layer_ids])
    score, contrib, space = aggregate(prep.values, w, profile.aggregation, prep.eligible)
    if prep.gate is not None:
        score = score * prep.gate
        with np.errstate(divide="ignore"):
            contrib = (contrib * prep.gate[:, None] if space == "score"
                       else contrib + w[None, :] * np.log(prep.gate)[:, None])
    return ScoreResult(
        score=score,
        contributions=pd.DataFrame(contrib, columns=prep.layer_ids, index=matrix.index,
                                   copy=False),
        contribution_space=space,
        weights=dict(zip(prep.layer_ids, w.tolist(), strict=True)),
        prepared=prep,
    )
