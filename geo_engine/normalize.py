"""Normalize raw layer values to [0, 1], 1 = more favourable: direction, transform, scaling, fuzzy."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.special import ndtr

from geo_engine._errors import GeoEngineWarning

__all__ = ["FUZZY_SHAPES", "METHODS", "fuzzy_membership", "normalize", "transform"]

METHODS = ("minmax", "percentile", "zscore", "fuzzy")
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
    if kind is None:
        return x
    if kind == "log1p":
        finite = x[np.isfinite(x)]
        if finite.size and finite.min() <= -1:
            msg = f"log1p needs values > -1; the smallest is {finite.min()}"
            raise ValueError(msg)
        return np.log1p(x)
    if kind == "cap":
        if percentile is None or not 0 < percentile <= 100:
            msg = f"`percentile` was {percentile!r} but cap needs a value in (0, 100]"
            raise ValueError(msg)
        ok = _eligible(x, mask)
        if ok.any():
            limit = np.percentile(x[ok], percentile)
            x = np.where(np.isfinite(x), np.minimum(x, limit), x)
        return x
    msg = f"transform `kind` was {kind!r} but must be None, 'log1p' or 'cap'"
    raise ValueError(msg)


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


def normalize(
    values: np.ndarray,
    *,
    direction: Literal["benefit", "cost"] = "benefit",
    method: str = "minmax",
    transform_kind: str | None = None,
    transform_percentile: float | None = None,
    winsorize: tuple[float, float] | None = None,
    fuzzy_shape: str = "linear",
    fuzzy_points: Sequence[float] | None = None,
    mask: np.ndarray | None = None,
    name: str = "layer",
) -> np.ndarray:
    r"""Scale raw values to [0, 1] with 1 = more favourable.

    Parameters
    ----------
    values : numpy.ndarray
        Raw values, one per cell (NaN = no data).
    direction : {"benefit", "cost"}
        For ``cost`` layers the scaled value is inverted (:math:`1 - s`).
    method : {"minmax", "percentile", "zscore", "fuzzy"}
        ``minmax``: :math:`(x - \min)/(\max - \min)`, optionally winsorized at percentiles;
        ``percentile``: rank among eligible cells scaled to [0, 1] (ties share the mean rank);
        ``zscore``: standard score squashed by the normal CDF :math:`\Phi(z)`;
        ``fuzzy``: :func:`fuzzy_membership` with ``fuzzy_shape`` and ``fuzzy_points``.
    transform_kind, transform_percentile
        Optional :func:`transform` applied first (``log1p`` or ``cap``).
    winsorize : (float, float), optional
        Lower and upper percentiles for ``minmax`` (e.g. ``(2, 98)``).
    fuzzy_shape, fuzzy_points
        For ``method="fuzzy"``; points in the layer's units (after the transform).
    mask : numpy.ndarray of bool, optional
        Cells that remain eligible after the profile's constraints. Statistics (min, max,
        percentiles, mean, sd) are computed over them only and other cells get NaN.
    name : str
        Layer name for messages.

    Returns
    -------
    numpy.ndarray
        float64 in [0, 1]; NaN where the raw value is NaN or the cell is not eligible.

    Notes
    -----
    Order of operations, always: constraints decide ``mask`` → transform → scaling over the
    eligible cells → direction. A layer that does not vary among the eligible cells gets
    :data:`CONSTANT_VALUE` everywhere (it cannot discriminate) and a warning.
    """
    if direction not in ("benefit", "cost"):
        msg = f"`direction` was {direction!r} but must be 'benefit' or 'cost'"
        raise ValueError(msg)
    if method not in METHODS:
        msg = f"`method` was {method!r} but must be one of {METHODS}"
        raise ValueError(msg)
    x = transform(values, kind=transform_kind, percentile=transform_percentile, mask=mask)
    ok = _eligible(x, mask)
    out = np.full(x.shape, np.nan)
    if not ok.any():
        return out
    v = x[ok]
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
        if method == "minmax" and winsorize is not None:
            lo, hi = winsorize
            if not 0 <= lo < hi <= 100:
                msg = f"{name}: `winsorize` was {winsorize} but needs 0 <= low < high <= 100"
                raise ValueError(msg)
            v = np.clip(v, *np.percentile(v, [lo, hi]))
        spread = np.ptp(v) if method == "minmax" else np.std(v)
        if spread == 0:
            warnings.warn(f"{name}: constant over the eligible cells; scaled to {CONSTANT_VALUE}",
                          GeoEngineWarning, stacklevel=2)
            s = np.full(v.size, CONSTANT_VALUE)
        elif method == "minmax":
            s = (v - v.min()) / spread
        else:
            s = ndtr((v - v.mean()) / spread)
    s = np.clip(s, 0.0, 1.0)
    out[ok] = 1.0 - s if direction == "cost" else s
    return out
