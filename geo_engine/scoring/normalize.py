"""Normalize raw layer values to [0, 1], 1 = more favourable: direction, transform, scaling, fuzzy."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import ndtr

from geo_engine import settings
from geo_engine._errors import GeoEngineWarning

__all__ = [
    "FUZZY_SHAPES",
    "METHODS",
    "decay",
    "dominant_tail",
    "fuzzy_membership",
    "normalize",
    "robust_limits",
    "standing",
    "standing_at",
    "transform",
]

METHODS = ("minmax", "percentile", "zscore", "fuzzy", "decay")
"""Scaling methods of :func:`normalize`."""

FUZZY_SHAPES = ("linear", "sigmoid", "jshaped")
"""Fuzzy membership shapes of :func:`fuzzy_membership`."""

CONSTANT_VALUE = 0.5
"""Normalized value given to every eligible cell when a layer does not vary among them."""


def _eligible(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    ok = np.isfinite(values)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != values.shape:
            msg = f"`mask` has shape {mask.shape} but values have {values.shape}"
            raise ValueError(msg)
        ok &= mask
    return ok


def _smallest(values: np.ndarray) -> float:
    """Return the smallest finite value (+inf when there is none), without copying the values."""
    low = float(np.fmin.reduce(values, initial=np.inf))  # fmin skips NaN
    if low == -np.inf:  # rare: look at the finite values only
        finite = values[np.isfinite(values)]
        return float(finite.min()) if finite.size else np.inf
    return low


def transform(
    values: np.ndarray, *, kind: str | None, percentile: float | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    r"""Apply an optional transform before scaling.

    Parameters
    ----------
    values : numpy.ndarray
        Raw values (NaN = no data).
    kind : {None, "log1p", "cap"}
        ``log1p``: :math:`\log(1 + x)`, for skewed counts and amounts (values must be > -1).
        ``cap``: values above the ``percentile``-th percentile of the eligible cells are set to it.
    percentile : float, optional
        For ``cap``, in (0, 100].
    mask : numpy.ndarray of bool, optional
        Eligible cells; the percentile is computed over them only.

    Returns
    -------
    numpy.ndarray
        A new float64 array.
    """
    x = np.array(values, dtype=float)
    _check_transform(x, kind, percentile)
    if kind == "log1p":
        return np.log1p(x)
    if kind == "cap":
        ok = _eligible(x, mask)
        if ok.any():
            x = np.where(np.isfinite(x), _capped(x[ok], x, percentile), x)
    return x


def _check_transform(x: np.ndarray, kind: str | None, percentile: float | None) -> None:
    """Raise when a transform cannot apply to the values (see :func:`transform`)."""
    if kind == "log1p":
        low = _smallest(x)
        if low <= -1:
            msg = f"log1p needs values > -1; the smallest is {low}"
            raise ValueError(msg)
    elif kind == "cap":
        if percentile is None or not 0 < percentile <= 100:
            msg = f"`percentile` was {percentile!r} but cap needs a value in (0, 100]"
            raise ValueError(msg)
    elif kind is not None:
        msg = f"transform `kind` was {kind!r} but must be None, 'log1p' or 'cap'"
        raise ValueError(msg)


def _capped(eligible: np.ndarray, x: np.ndarray, percentile: float | None) -> np.ndarray:
    """Return ``x`` capped at the ``percentile``-th percentile of the ``eligible`` values."""
    return np.minimum(x, np.percentile(eligible, float(percentile or 100)))


def _transformed(values: np.ndarray, ok: np.ndarray, kind: str | None,
                 percentile: float | None) -> np.ndarray:
    """Return ``transform(values, ...)[ok]`` (``ok``: eligible finite cells) in a new array.

    Only the eligible cells are transformed: the same values, without a pass over the others.
    """
    v = values[ok]
    if kind == "log1p":
        return np.log1p(v, out=v)
    if kind == "cap" and v.size:
        return _capped(v, v, percentile)
    return v


def fuzzy_membership(values: np.ndarray, *, shape: str, points: Sequence[float]) -> np.ndarray:
    r"""Return fuzzy membership in [0, 1] of values in the layer's own units.

    Parameters
    ----------
    values : numpy.ndarray
        Raw values.
    shape : {"linear", "sigmoid", "jshaped"}
    points : sequence of float
        Control points in increasing order: ``[a, b]`` for an increasing function (0 at ``a`` or
        below, 1 at ``b`` or above), or ``[a, b, c, d]`` for a symmetric one (rising from ``a`` to
        ``b``, 1 between ``b`` and ``c``, falling to ``d``).

    Returns
    -------
    numpy.ndarray
        Membership; NaN where the value is NaN.

    Notes
    -----
    For the rising part, with :math:`t = (x - a)/(b - a)`:

    - linear: :math:`m = t` clipped to [0, 1];
    - sigmoid (cosine-squared, as in Eastman's TerrSet FUZZY): :math:`m = \sin^2(t\,\pi/2)`;
    - J-shaped: :math:`m = 1 / (1 + ((x - b)/(b - a))^2)` for :math:`x < b`, 1 beyond, so that
      :math:`m(a) = 0.5` and the curve approaches 0 only far below ``a``.

    The falling part mirrors the rising one between ``c`` and ``d``.
    """
    if shape not in FUZZY_SHAPES:
        msg = f"fuzzy `shape` was {shape!r} but must be one of {FUZZY_SHAPES}"
        raise ValueError(msg)
    pts = [float(p) for p in points]
    if len(pts) not in (2, 4) or any(b <= a for a, b in itertools.pairwise(pts)):
        msg = (f"fuzzy `points` were {list(points)} but must be 2 or 4 strictly increasing values "
               "in the layer's units")
        raise ValueError(msg)
    x = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        out = _shape(np.asarray((x - pts[0]) / (pts[1] - pts[0])), shape)
        if len(pts) == 4:
            falling = _shape(np.asarray((pts[3] - x) / (pts[3] - pts[2])), shape)
            out = np.where(x > pts[2], falling, out)
    return np.where(np.isfinite(x), out, np.nan)


def _shape(t: np.ndarray, shape: str) -> np.ndarray:
    """Membership as a function of the position ``t`` (0 at the first point, 1 at the second)."""
    if shape == "jshaped":
        return np.where(t >= 1, 1.0, 1.0 / (1.0 + (t - 1.0) ** 2))
    t = np.clip(t, 0.0, 1.0)
    return t if shape == "linear" else np.sin(t * np.pi / 2) ** 2


def decay(values: np.ndarray, *, half: float) -> np.ndarray:
    r"""Return the exponential decay score of distances or travel times: 1 at 0, 0.5 at ``half``.

    Parameters
    ----------
    values : numpy.ndarray
        Distances or travel times, ≥ 0, in the layer's units (km, minutes); NaN = no data.
    half : float
        Half-distance: the value at which the score is 0.5, in the same units (> 0).

    Returns
    -------
    numpy.ndarray
        Scores in (0, 1], strictly decreasing in the value; NaN where the value is NaN.

    Notes
    -----
    :math:`s(x) = 2^{-x/h} = e^{-x \ln 2 / h}` with :math:`h` the half-distance: :math:`s(0) = 1`,
    :math:`s(h) = 1/2`, :math:`s(2h) = 1/4`, :math:`s(3h) = 1/8`. Exponential rather than logistic
    decay: one parameter, the steepest loss close to the facility (the first kilometres of a new road
    or the first hour of travel cost the most, relative to what is reached), and a score that never
    reaches 0, so that remote cells still differ. Unlike min–max it does not depend on the farthest
    cell of the region: a cell 5 km from a port scores 0.93 and one 50 km away 0.50 with
    :math:`h` = 50 km, wherever the most remote island lies.

    The score halves with every further :math:`h`, however far the cell already is: in a sum
    (``wlc``) remote cells all add about 0, but in a product (``wgm``, the inclusion score) two
    remote cells 8 and 10 hours from a town differ by a factor of 4 at :math:`h` = 1 hour, so a
    decayed access term ranks remote cells more than a min–max one did.

    Examples
    --------
    >>> decay(np.array([0.0, 60.0, 120.0]), half=60).tolist()
    [1.0, 0.5, 0.25]
    """
    if not (np.isfinite(half) and half > 0):
        msg = f"decay `half` was {half!r} but must be a positive number in the layer's units"
        raise ValueError(msg)
    x = np.asarray(values, dtype=float)
    low = _smallest(x)
    if low < 0:
        msg = (f"decay needs distances or travel times ≥ 0; the smallest value is {low:g}"
               "; use minmax or fuzzy for a layer that can be negative")
        raise ValueError(msg)
    return np.exp2(-x / half)


def robust_limits(values: np.ndarray, *, percentiles: tuple[float, float] | None = None,
                  skewness: float | None = None) -> tuple[float, float] | None:
    r"""Return the winsorizing limits of a skewed layer, or None when it needs none.

    Parameters
    ----------
    values : numpy.ndarray
        Finite values of the eligible cells (after the transform).
    percentiles : (float, float), optional
        Low and high percentiles; :data:`geo_engine.settings.robust_percentiles` by default.
    skewness : float, optional
        Absolute sample skewness above which the layer is winsorized;
        :data:`geo_engine.settings.robust_skewness` by default.

    Returns
    -------
    (float, float) or None
        The values to clip at, or None when the layer is not skewed, when there are too few
        cells for each clipped tail to hold a whole cell, or when the two limits coincide.

    Notes
    -----
    The rule of ``winsorize: auto``. With :math:`g = m_3 / m_2^{3/2}` the sample skewness
    (:math:`m_k` the central moments), a layer with :math:`|g| >` ``skewness`` is clipped to its
    percentiles :math:`[P_{lo}, P_{hi}]` before min–max scaling.

    A *zero-inflated* layer — more than half of the cells at its minimum, as a crop value, a
    count of settlements or a share of protected land is — is judged on the cells above the
    minimum only: their skewness decides, only the upper end is clipped (at :math:`P_{hi}` of
    those cells), and the minimum stays. Otherwise the 99th percentile of all cells would fall
    inside the few cells that have the thing and turn an amount into mere presence (a district
    with a few vines would equal Ica's vineyards).

    The percentiles need at least :math:`100 / \min(lo, 100 - hi)` cells (100 for the 1st–99th)
    so that each clipped tail holds a whole cell.
    """
    lo, hi = settings.robust_percentiles if percentiles is None else percentiles
    limit = settings.robust_skewness if skewness is None else skewness
    v = np.asarray(values, dtype=float)
    tail = min(lo, 100 - hi)
    if tail <= 0 or v.size == 0:
        return None
    floor = v.min()
    above = v > floor
    inflated = np.count_nonzero(above) < v.size / 2
    judged = v[above] if inflated else v
    if judged.size < 100 / tail:
        return None
    d = judged - judged.mean()
    sq = d * d
    m2 = float(sq.mean())
    if m2 == 0 or abs(float(np.mean(sq * d))) / m2**1.5 <= limit:
        return None
    if inflated:
        return float(floor), float(np.percentile(judged, hi))
    p_lo, p_hi = np.percentile(v, [lo, hi])
    return (float(p_lo), float(p_hi)) if p_hi > p_lo else None


def dominant_tail(values: np.ndarray, *, tail: float | None = None,
                  share: float | None = None) -> tuple[str, int, float] | None:
    r"""Say whether a few extreme cells hold most of a min–max range.

    Parameters
    ----------
    values : numpy.ndarray
        Finite values that are about to be min–max scaled.
    tail : float, optional
        Share of cells in each tail; :data:`geo_engine.settings.dominance_tail` (0.1 %) by default.
    share : float, optional
        Largest share of the range the tail may span; :data:`geo_engine.settings.dominance_share`.

    Returns
    -------
    (str, int, float) or None
        ``("top" or "bottom", cells in the tail, share of the range it spans)``, or None.

    Notes
    -----
    With the :math:`n` values sorted, :math:`v_{(1)} \le \dots \le v_{(n)}`, range
    :math:`R = v_{(n)} - v_{(1)}` and :math:`k = \lceil \text{tail} \cdot n \rceil`, the top tail
    spans :math:`U = v_{(n)} - v_{(n-k)}` and the bottom tail :math:`B = v_{(k+1)} - v_{(1)}`. A
    tail dominates when it spans more than ``share`` of :math:`R` while the other cells still
    vary (:math:`v_{(n-k)} > v_{(k+1)}`: a layer that is 0 but for a few cells is a presence
    layer, not a squeezed one). Checked only with at least :math:`1/\text{tail}` cells (1,000),
    so that the tail is a small share of the cells and not one cell of a small sample.
    """
    tail = settings.dominance_tail if tail is None else tail
    share = settings.dominance_share if share is None else share
    v = np.asarray(values, dtype=float)
    n = v.size
    if n < 1 / tail:
        return None
    k = int(np.ceil(tail * n))
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo
    # a tail can only dominate if at most k cells lie beyond `share` of the range from its end:
    # two counts settle the common case without sorting
    if span <= 0 or (np.count_nonzero(v >= hi - share * span) > k
                     and np.count_nonzero(v <= lo + share * span) > k):
        return None
    kth = [k, n - 1 - k]
    lo_in, hi_in = np.partition(v, kth)[kth]
    if hi_in <= lo_in:
        return None
    top, bottom = (hi - hi_in) / span, (lo_in - lo) / span
    if max(top, bottom) <= share:
        return None
    return ("top", k, float(top)) if top >= bottom else ("bottom", k, float(bottom))


def normalize(
    values: np.ndarray,
    *,
    direction: Literal["benefit", "cost"] = "benefit",
    method: str = "minmax",
    transform_kind: str | None = None,
    transform_percentile: float | None = None,
    winsorize: tuple[float, float] | Literal["auto"] | None = "auto",
    fuzzy_shape: str = "linear",
    fuzzy_points: Sequence[float] | None = None,
    half: float | None = None,
    mask: np.ndarray | None = None,
    name: str = "layer",
    units: np.ndarray | pd.Series | None = None,
) -> np.ndarray:
    r"""Scale raw values to [0, 1] with 1 = more favourable.

    Parameters
    ----------
    values : numpy.ndarray
        Raw values, one per cell (NaN = no data).
    direction : {"benefit", "cost"}
        For ``cost`` layers the scaled value is inverted (:math:`1 - s`).
    method : {"minmax", "percentile", "zscore", "fuzzy", "decay"}
        ``minmax``: :math:`(x - \min)/(\max - \min)`, winsorized as ``winsorize`` says;
        ``percentile``: rank among eligible cells scaled to [0, 1] (ties share the mean rank);
        ``zscore``: standard score squashed by the normal CDF :math:`\Phi(z)`;
        ``fuzzy``: :func:`fuzzy_membership` with ``fuzzy_shape`` and ``fuzzy_points``;
        ``decay``: :func:`decay` with half-distance ``half`` — for a ``cost`` layer (a distance or
        a travel time) the score is :math:`2^{-x/h}`; for a ``benefit`` layer it is the
        saturating :math:`1 - 2^{-x/h}` (half of the benefit at ``half``).
    transform_kind, transform_percentile
        Optional :func:`transform` applied first (``log1p`` or ``cap``).
    winsorize : (float, float), "auto" or None, default "auto"
        For ``minmax``: lower and upper percentiles to clip at (e.g. ``(2, 98)``); ``"auto"``
        clips skewed layers at :data:`geo_engine.settings.robust_percentiles` (the rule is
        :func:`robust_limits`); None scales the plain range.
    fuzzy_shape, fuzzy_points
        For ``method="fuzzy"``; points in the layer's units (after the transform).
    half : float, optional
        For ``method="decay"``: the half-distance in the layer's units (after the transform).
    mask : numpy.ndarray of bool, optional
        Cells that remain eligible after the profile's constraints. Statistics (min, max,
        percentiles, mean, sd) are computed over them only and other cells get NaN.
    name : str
        Layer name for messages.
    units : numpy.ndarray or pandas.Series, optional
        Admin unit code of each cell (a matrix column is read only for the cells a warning
        names): a warning about a dominating tail then names the units
        that hold it (an island, a city).

    Returns
    -------
    numpy.ndarray
        float64 in [0, 1]; NaN where the raw value is NaN or the cell is not eligible.

    Warns
    -----
    GeoEngineWarning
        When a layer is constant over the eligible cells, and when min–max is left with a range
        that the top or bottom 0.1 % of the cells dominate (:func:`dominant_tail`).

    Notes
    -----
    Order of operations, always: constraints decide ``mask`` → transform → scaling over the
    eligible cells → direction. A layer that does not vary among the eligible cells gets
    :data:`CONSTANT_VALUE` everywhere (it cannot discriminate) and a warning. ``decay`` and
    ``fuzzy`` use no statistic of the cells: a cell's score depends on its own value only.
    """
    if direction not in ("benefit", "cost"):
        msg = f"`direction` was {direction!r} but must be 'benefit' or 'cost'"
        raise ValueError(msg)
    if method not in METHODS:
        msg = f"`method` was {method!r} but must be one of {METHODS}"
        raise ValueError(msg)
    x = np.asarray(values, dtype=float)
    _check_transform(x, transform_kind, transform_percentile)
    # a transform keeps finite values finite: the eligible cells are found on the raw values
    ok = _eligible(x, mask)
    v = _transformed(x, ok, transform_kind, transform_percentile)
    out = np.full(x.shape, np.nan)
    if method == "decay":
        if half is None:
            msg = f"{name}: decay normalization needs `half`, the half-distance in the layer's units"
            raise ValueError(msg)
        d = decay(v, half=half)
        out[ok] = d if direction == "cost" else 1.0 - d
        return out
    if not v.size:
        return out
    if method == "fuzzy":
        if fuzzy_points is None:
            msg = f"{name}: fuzzy normalization needs `fuzzy_points` in the layer's units"
            raise ValueError(msg)
        s = fuzzy_membership(v, shape=fuzzy_shape, points=fuzzy_points)
    elif method == "percentile":
        from scipy.stats import rankdata

        s = (rankdata(v, method="average") - 1) / max(v.size - 1, 1) if v.size > 1 \
            else np.full(1, CONSTANT_VALUE)
        if np.ptp(v) == 0:
            s = np.full(v.size, CONSTANT_VALUE)
    else:
        if method == "minmax":
            v = _winsorized(v, winsorize, name=name, units=units, rows=ok)
        low = v.min() if method == "minmax" else 0.0
        spread = v.max() - low if method == "minmax" else np.std(v)
        if spread == 0:
            warnings.warn(f"{name}: constant over the eligible cells; scaled to {CONSTANT_VALUE}",
                          GeoEngineWarning, stacklevel=2)
            s = np.full(v.size, CONSTANT_VALUE)
        elif method == "minmax":
            # in [0, 1] as computed: rounding keeps the order (v is this call's own copy)
            s = np.divide(np.subtract(v, low, out=v), spread, out=v)
        else:
            s = ndtr((v - v.mean()) / spread)
    if method != "minmax":
        s = np.clip(s, 0.0, 1.0)
    out[ok] = np.subtract(1.0, s, out=s) if direction == "cost" else s
    return out


def _winsorized(v: np.ndarray, winsorize: tuple[float, float] | str | None, *,
                name: str, units: np.ndarray | pd.Series | None = None,
                rows: np.ndarray | None = None) -> np.ndarray:
    """Clip values before min–max as ``winsorize`` asks, and warn if a tail still dominates.

    ``units`` are the unit codes of all cells and ``rows`` the cells ``v`` holds (a mask): they
    are matched only to name the units of a warning.
    """
    if winsorize == "auto":
        limits = robust_limits(v)
        if limits is not None:
            v = np.clip(v, *limits)
    elif winsorize is not None:
        if isinstance(winsorize, str) or len(winsorize) != 2:
            msg = f"{name}: `winsorize` was {winsorize!r} but must be 'auto', None or (low, high)"
            raise ValueError(msg)
        lo, hi = winsorize
        if not 0 <= lo < hi <= 100:
            msg = f"{name}: `winsorize` was {winsorize} but needs 0 <= low < high <= 100"
            raise ValueError(msg)
        v = np.clip(v, *np.percentile(v, [lo, hi]))
    dominated = dominant_tail(v)
    if dominated is not None:
        end, k, part = dominated
        where = "e.g. one island or one unit"
        if units is not None:  # name the units holding the tail cells, the most extreme first
            order = np.argsort(v, kind="stable")
            tail = order[::-1][:k] if end == "top" else order[:k]
            at = tail if rows is None else np.flatnonzero(rows)[tail]
            codes = units.iloc[at] if isinstance(units, pd.Series) else np.asarray(units)[at]
            named = list(dict.fromkeys(str(u) for u in codes))
            where = "in units " + ", ".join(named[:5]) + (", …" if len(named) > 5 else "")
        warnings.warn(
            f"{name}: the {end} {settings.dominance_tail:.1%} of cells ({k:,} of {v.size:,}, "
            f"{where}) span {part:.0%} of its range, so min–max squeezes the "
            f"other cells into {1 - part:.0%} of [0, 1]; clip it with `winsorize: [low, high]` "
            "percentiles, score it with `fuzzy` points in its own units, or use `decay` for a "
            "distance",
            GeoEngineWarning, stacklevel=3)
    return v

def standing(score: np.ndarray) -> np.ndarray:
    """Return each cell's percentile standing in (0, 1] among scored cells (1 = the highest).

    The standing is the share of scored cells with a score at or below the cell's (ties share
    the highest standing of their group); NaN stays NaN.
    """
    s = np.asarray(score, dtype=float)
    ok = np.flatnonzero(np.isfinite(s))
    out = np.full(s.shape, np.nan)
    if ok.size:
        order = np.argsort(s[ok], kind="stable")
        ordered = s[ok][order]
        # end position (1-based) of each run of equal values, repeated over the run
        ends = np.r_[np.flatnonzero(np.diff(ordered) != 0), ordered.size - 1] + 1
        runs = np.diff(np.r_[0, ends])
        out[ok[order]] = np.repeat(ends, runs) / ordered.size
    return out


def standing_at(score: np.ndarray, rows: np.ndarray) -> np.ndarray:
    r"""Return :func:`standing` at ``rows`` only: the same values, without ranking every cell.

    Notes
    -----
    The standing of a value :math:`a` is :math:`\#\{s \le a\} / n` over the :math:`n` scored
    cells. The cells are counted in :math:`B` equal buckets between the lowest and the highest
    score (one pass; a bucket index is a non-decreasing function of the score, so every score in
    a lower bucket is below :math:`a` and every score in a higher one above it); only the scores
    that share a bucket with a value asked for are sorted, to count those at or below it. The
    counts are exact: the same as sorting every cell, at a fraction of the cost.
    """
    s = np.asarray(score, dtype=float)
    finite = s[np.isfinite(s)]
    asked = s[rows]
    out = np.full(asked.shape, np.nan)
    known = np.isfinite(asked)
    if finite.size:
        out[known] = _count_at_or_below(finite, asked[known]) / finite.size
    return out


def _count_at_or_below(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Return how many ``values`` are at or below each of ``levels`` (all finite), exactly."""
    lo, hi = float(values.min()), float(values.max())
    buckets = max(1, values.size)  # one value per bucket on average: few values to sort
    scale = buckets / (hi - lo) if hi > lo else 0.0  # 0 also when the range overflows

    def bucket(x: np.ndarray) -> np.ndarray:
        if scale == 0:
            return np.zeros(x.shape, dtype=np.intp)
        return np.clip((x - lo) * scale, 0, buckets - 1).astype(np.intp)

    of_value, of_level = bucket(values), bucket(levels)
    per = np.bincount(of_value, minlength=buckets)
    below = np.cumsum(per) - per  # values in lower buckets, all below the level
    wanted = np.zeros(buckets, dtype=bool)
    wanted[of_level] = True
    shared = np.sort(values[wanted[of_value]])  # the values in the levels' buckets
    shared_below = np.cumsum(np.where(wanted, per, 0)) - np.where(wanted, per, 0)
    return below[of_level] + np.searchsorted(shared, levels, side="right") - shared_below[of_level]

