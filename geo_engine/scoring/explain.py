"""Explain scores: per-layer contributions, top drivers, and what it would take to reach the top decile."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo_engine.i18n import t, unit
from geo_engine.scoring.evidence import evidence_measure, item_strengths
from geo_engine.scoring.profiles import localized
from geo_engine.scoring.score import ScoreResult, aggregate

if TYPE_CHECKING:
    from geo_engine.ingest.specs import LayerSpec
    from geo_engine.scoring.dual import DualResult
    from geo_engine.scoring.profiles import Profile

__all__ = ["Requirement", "contributions", "drivers", "gate_why", "top_threshold", "what_it_takes",
           "why"]



def contributions(result: ScoreResult, cell: int) -> pd.DataFrame:
    """Return the decomposition of one cell's score, largest contribution first.

    Parameters
    ----------
    result : ScoreResult
    cell : int
        Row position in the matrix.

    Returns
    -------
    pandas.DataFrame
        ``layer``, ``weight``, ``normalized`` and ``contribution``; the contributions add up to the
        score (or to its logarithm when ``result.contribution_space`` is ``"log"``).
    """
    prep = result.prepared
    frame = pd.DataFrame({
        "layer": prep.layer_ids,
        "weight": [result.weights[i] for i in prep.layer_ids],
        "normalized": prep.values[cell],
        "contribution": result.contributions.iloc[cell].to_numpy(),
    })
    return frame.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)


def drivers(result: ScoreResult, *, top: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Return, per cell, the layers that pull its score most above and below the average cell.

    Returns
    -------
    tuple of (up, down)
        Two frames with columns ``1..top`` holding layer ids (None when fewer layers push that way).

    Notes
    -----
    A layer's pull is :math:`c_{ij} - \bar c_j`, its contribution in the cell minus its mean
    contribution over scored cells; positive pulls lift the cell above the average score.
    """
    c = result.contributions.to_numpy(dtype=float)
    pull = c - np.nanmean(c, axis=0, keepdims=True) if np.isfinite(c).any() else c
    names = np.array(result.contributions.columns, dtype=object)
    k = min(top, len(names))
    filled = np.where(np.isnan(pull), 0.0, pull)
    up_idx = np.argsort(-filled, axis=1, kind="stable")[:, :k]
    down_idx = np.argsort(filled, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(c))[:, None]
    none = np.array(None, dtype=object)
    up = np.where(filled[rows, up_idx] > 0, names[up_idx], none)
    down = np.where(filled[rows, down_idx] < 0, names[down_idx], none)
    cols = [str(i + 1) for i in range(k)]
    index = result.contributions.index
    return pd.DataFrame(up, columns=cols, index=index), pd.DataFrame(down, columns=cols, index=index)


def top_threshold(result: ScoreResult, *, quantile: float = 0.9) -> float:
    """Return the score at the given quantile of the scored cells (0.9 = top decile)."""
    if not 0 < quantile < 1:
        msg = f"`quantile` was {quantile} but must be in (0, 1)"
        raise ValueError(msg)
    finite = result.score[np.isfinite(result.score)]
    return float(np.quantile(finite, quantile)) if finite.size else np.nan


@dataclass(frozen=True)
class Requirement:
    """The smallest change of one layer that lifts a cell to a target score.

    Attributes
    ----------
    layer : str
    normalized_from, normalized_to : float
        The layer's normalized value now and the one needed.
    raw_from : float
        The raw value now.
    raw_to : float or None
        A raw value that reaches ``normalized_to``: that of the scored cell with the lowest
        normalized value at or above it (None if no cell has it).
    """

    layer: str
    normalized_from: float
    normalized_to: float
    raw_from: float
    raw_to: float | None


def what_it_takes(
    result: ScoreResult, matrix: pd.DataFrame, cell: int, *, quantile: float = 0.9,
    tolerance: float = 1e-6,
) -> list[Requirement]:
    """Return, for each layer alone, the smallest improvement that puts a cell in the top group.

    Parameters
    ----------
    result : ScoreResult
    matrix : pandas.DataFrame
        The indicator matrix the result was computed from (for raw values).
    cell : int
        Row position.
    quantile : float, default 0.9
        Target: the score at this quantile (top decile).
    tolerance : float
        Precision of the search on the normalized value.

    Returns
    -------
    list of Requirement
        Feasible single-layer changes, smallest normalized change first; empty when the cell is
        already in the top group, is not scored, or no single layer can lift it.

    Notes
    -----
    Every aggregation is non-decreasing in each normalized value, so the needed value is found
    by bisection on that layer alone (other layers and the weights fixed). For WLC it equals
    :math:`s_i + (T - S) / w_i`. A gated profile's score is multiplied by the cell's gate
    (:func:`geo_engine.scoring.score.score_profile`): without a resource within reach, no layer helps.
    """
    score = result.score[cell]
    target = top_threshold(result, quantile=quantile)
    if not np.isfinite(score) or score >= target:
        return []
    prep = result.prepared
    row = prep.values[cell].copy()
    w = np.array([result.weights[i] for i in prep.layer_ids])
    agg = prep.profile.aggregation
    gate = 1.0 if prep.gate is None else float(prep.gate[cell])  # no layer lifts a closed gate

    def score_with(j: int, value: float) -> float:
        trial = row.copy()
        trial[j] = value
        if agg.method == "topsis":  # ideal and anti-ideal come from all scored cells
            values = prep.values[prep.eligible].copy()
            values = np.vstack([values, trial])
            return gate * float(aggregate(values, w, agg)[0][-1])
        return gate * float(aggregate(trial[None, :], w, agg)[0][0])

    out: list[Requirement] = []
    for j, layer in enumerate(prep.layer_ids):
        if w[j] <= 0 or score_with(j, 1.0) < target:
            continue
        lo, hi = row[j], 1.0
        while hi - lo > tolerance:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if score_with(j, mid) < target else (lo, mid)
        raw = matrix[layer].to_numpy(dtype=float)
        column = prep.values[:, j]
        reach = prep.eligible & (column >= hi) & np.isfinite(raw)
        raw_to = float(raw[reach][np.argmin(column[reach])]) if reach.any() else None
        out.append(Requirement(layer=layer, normalized_from=float(row[j]), normalized_to=hi,
                               raw_from=float(raw[cell]), raw_to=raw_to))
    return sorted(out, key=lambda r: r.normalized_to - r.normalized_from)


def _num(value: float, lang: str) -> str:
    """Return a number to three significant digits (whole from 100), written as ``lang`` does."""
    if not np.isfinite(value):
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    if lang == "es":  # thousands with a point, decimals with a comma
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def _units(spec: LayerSpec | None, lang: str) -> str:
    return unit(spec.units, lang) if spec is not None else ""


def _title(spec: LayerSpec | None, layer: str, lang: str) -> str:
    return getattr(spec.title, lang, spec.title.en) if spec is not None else layer


def _around(matrix: pd.DataFrame, row: int, km: float) -> tuple[pd.DataFrame, int]:
    """Return the rows that can matter to one cell's evidence, and the cell's position there.

    Those within ``km`` (a lat/lon box) and every row of their districts (district totals stay
    whole).
    """
    if "lat" not in matrix or "unit_code" not in matrix:
        return matrix, row
    lat, lon = matrix["lat"].to_numpy(dtype=float), matrix["lon"].to_numpy(dtype=float)
    dlat = km / 111.0 + 0.01
    dlon = dlat / max(np.cos(np.radians(abs(lat[row]) + dlat)), 0.05)
    box = (np.abs(lat - lat[row]) <= dlat) & (np.abs(lon - lon[row]) <= dlon)
    codes = matrix["unit_code"].to_numpy()
    keep = np.isin(codes, np.unique(codes[box])) | box
    return matrix.iloc[np.flatnonzero(keep)], int(np.count_nonzero(keep[:row]))


def why(dual: DualResult, matrix: pd.DataFrame, row: int, *, profiles: Mapping[str, Profile],
        specs: Mapping[str, LayerSpec], lang: str = "en") -> str:
    """Say in one or two plain sentences why a cell scores as it does: niche, need and reach.

    Parameters
    ----------
    dual : DualResult
    matrix : pandas.DataFrame
        The indicator matrix the dual model was computed from.
    row : int
        Row position of the cell.
    profiles, specs : mapping
        Profiles and layer specs by id (titles, evidence thresholds).
    lang : {"es", "en"}

    Returns
    -------
    str
        The evidence that gives the cell its niche (the strongest item of its best family, with
        the value and the threshold) and the profile's reason for that level in ``lang``, then
        the need (the need profile's heaviest layer), the reach (the access profile's heaviest
        layer) and the travel time to the nearest engine site. Parts whose profile is missing
        are left out.
    """
    family = dual.best_family[row]
    first = t("why_none", lang)
    reason = ""
    if family is not None and family in profiles and profiles[family].evidence:
        prof = profiles[family]
        local, at = _around(matrix, row, max(e.within_km or 0 for e in prof.evidence))
        strengths = item_strengths(local, prof.evidence)[at]
        item = prof.evidence[int(np.argmax(strengths))]
        value = float(evidence_measure(local, item)[at])
        met = value >= item.threshold if item.op == ">=" else value <= item.threshold
        spec = specs.get(item.layer)
        where = "here" if met or item.within_km is None else "there"
        fields = {"family": getattr(prof.title, lang, prof.title.en),
                  "layer": _title(spec, item.layer, lang),
                  "value": _num(value if where == "here" else item.threshold, lang),
                  "units": _units(spec, lang),
                  "per": t(f"why_{where}_{item.per}", lang),
                  "threshold": _num(item.threshold, lang), "km": _num(item.within_km or 0, lang)}
        first = t("why_niche" if where == "here" else "why_near", lang, **fields)
        reason = _sentence(localized(item.rationale, lang))
    parts = []
    for kind in ("need", "access"):
        of_kind = next((p for p in profiles.values() if p.kind == kind), None)
        if of_kind is None:
            continue
        layer = max(of_kind.layers, key=lambda lay: lay.weight).id
        if layer in matrix:
            spec = specs.get(layer)
            parts.append(f"{_title(spec, layer, lang)}: {_num(float(matrix[layer].iloc[row]), lang)} "
                          f"{_units(spec, lang)}".rstrip())
    if np.isfinite(dual.hub_minutes[row]):
        parts.append(t("why_hub", lang, minutes=_num(float(dual.hub_minutes[row]), lang)))
    return f"{first}." + (f" {reason}" if reason else "") + (f" {'; '.join(parts)}." if parts else "")


def _sentence(text: str) -> str:
    """Return ``text`` stripped and ending with a full stop."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else f"{text}."


def gate_why(profile: Profile, matrix: pd.DataFrame, row: int, *,
             specs: Mapping[str, LayerSpec], lang: str = "en") -> str:
    """Say which resource opens a gated profile's gate in one cell, and the profile's reason for it.

    Parameters
    ----------
    profile : Profile
        A profile with a ``gate`` (without one the answer is empty).
    matrix : pandas.DataFrame
        The indicator matrix.
    row : int
        Row position of the cell.
    specs : mapping
        Layer specs by id (titles).
    lang : {"es", "en"}

    Returns
    -------
    str
        The strongest gate item with the cell's gate strength (0–1) and its rationale in
        ``lang``, or a sentence saying the gate is closed; ``""`` for a profile without a gate.
    """
    if not profile.gate:
        return ""
    local, at = _around(matrix, row, max(e.within_km or 0 for e in profile.gate))
    strengths = item_strengths(local, profile.gate)[at]
    k = int(np.argmax(strengths))
    if strengths[k] <= 0:
        return t("why_gate_closed", lang)
    item = profile.gate[k]
    return t("why_gate", lang, layer=_title(specs.get(item.layer), item.layer, lang),
             strength=_num(float(strengths[k]), lang),
             reason=_sentence(localized(item.rationale, lang)))
