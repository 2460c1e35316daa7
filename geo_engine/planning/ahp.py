"""Weights agreed by a group: AHP pairwise comparisons, consistency, and aggregated judgements.

A participant compares criteria two at a time on Saaty's 1–9 scale ("``a`` is 3 times as
important as ``b``"); the weights are the principal eigenvector of the matrix of judgements and
its consistency ratio tells whether the judgements hang together. Several participants are
combined by the geometric mean of their judgements (aggregation of individual judgements, AIJ),
which is the only mean that keeps the combined matrix reciprocal (Aczél & Saaty 1983).

References
----------
Saaty, T. L. (1977). A scaling method for priorities in hierarchical structures. *Journal of
Mathematical Psychology* 15(3), 234–281.
Saaty, T. L. (1980). *The Analytic Hierarchy Process*. McGraw-Hill (random indices, table 1.7).
Aczél, J. & Saaty, T. L. (1983). Procedures for synthesizing ratio judgements. *Journal of
Mathematical Psychology* 27(1), 93–102.
Forman, E. & Peniwati, K. (1998). Aggregating individual judgments and priorities with the
analytic hierarchy process. *European Journal of Operational Research* 108(1), 165–169.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from geo_engine._errors import GeoEngineWarning, SpecError
from geo_engine.io.yaml_io import dump_yaml, load_model
from geo_engine.scoring.profiles import Profile

__all__ = [
    "CR_LIMIT",
    "SAATY_RANDOM_INDEX",
    "SAATY_SCALE",
    "AHPResult",
    "AHPSurvey",
    "GroupResult",
    "InconsistentJudgementsError",
    "ahp_weights",
    "geometric_mean_matrix",
    "group_result",
    "group_weights",
    "load_survey",
    "pairwise_matrix",
    "profile_with_weights",
    "random_index",
    "slider_weights",
    "weights_yaml",
]

CR_LIMIT = 0.1
"""Saaty's limit on the consistency ratio: above it the judgements should be revised."""

SAATY_RANDOM_INDEX: Mapping[int, float] = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24,
                                           7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49}
"""Saaty's (1980) random index: mean consistency index of random reciprocal matrices of order n."""

SAATY_SCALE: tuple[str, ...] = ("9", "8", "7", "6", "5", "4", "3", "2", "1",
                                 "1/2", "1/3", "1/4", "1/5", "1/6", "1/7", "1/8", "1/9")
"""Saaty's 17 judgements of ``a`` against ``b``, from ``a`` extremely more important to ``b``."""

FloatArray = npt.NDArray[np.float64]


class InconsistentJudgementsError(SpecError):
    """A participant's (or the group's) consistency ratio is above the limit and refusal was asked."""


@dataclass(frozen=True)
class AHPResult:
    """Weights and consistency of one pairwise comparison matrix.

    Attributes
    ----------
    weights : pandas.Series
        Principal-eigenvector weights by criterion, summing to 1.
    lambda_max : float
        Principal eigenvalue (≥ n; n exactly when the matrix is consistent).
    ci, cr : float
        Consistency index (λmax − n)/(n − 1) and ratio CI / RI (0 for n ≤ 2).
    worst_pair : tuple of str, optional
        The judgement ``(a, b)`` farthest from the weights, by |log(a_ab · w_b / w_a)|.
    worst_ratio : float
        a_ab · w_b / w_a of that judgement (> 1: ``a`` was judged more important than the rest
        of the judgements imply).
    """

    weights: pd.Series
    lambda_max: float
    ci: float
    cr: float
    worst_pair: tuple[str, str] | None
    worst_ratio: float

    @property
    def consistent(self) -> bool:
        """Whether the consistency ratio is at most :data:`CR_LIMIT`."""
        return self.cr <= CR_LIMIT


@dataclass(frozen=True)
class GroupResult:
    """A group's weights: each participant's, the aggregated ones and the spread between them.

    Attributes
    ----------
    group : AHPResult
        Weights of the geometric mean of the participants' judgements.
    participants : dict
        Each participant's :class:`AHPResult`, by name.
    table : pandas.DataFrame
        Criteria × (each participant, ``group``, ``min``, ``max``, ``sd``) of weights.
    """

    group: AHPResult
    participants: dict[str, AHPResult]
    table: pd.DataFrame


# -- input ------------------------------------------------------------------------------------


def _judgement(value: object) -> float:
    """Read a judgement: a number or a ``"1/3"`` text, within Saaty's scale [1/9, 9]."""
    if isinstance(value, bool):
        msg = f"{value!r} is not a judgement; write a number from 1/9 to 9"
        raise ValueError(msg)
    if isinstance(value, str):
        try:
            value = float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            msg = f"{value!r} is not a number; write e.g. 3 or 1/3"
            raise ValueError(msg) from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{value!r} is not a number; write e.g. 3 or 1/3"
        raise ValueError(msg)
    if not 1 / 9 - 1e-9 <= value <= 9 + 1e-9:
        msg = f"{value} is outside Saaty's scale; use 1 (equal) to 9 (extreme), or 1/9 to 1"
        raise ValueError(msg)
    return float(value)


class Participant(BaseModel):
    """One participant's judgements: ``{a: {b: 3}}`` means a is 3 times as important as b."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    judgements: dict[str, dict[str, float]]

    @field_validator("judgements", mode="before")
    @classmethod
    def _values(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        out: dict[object, object] = {}
        for a, row in value.items():
            if not isinstance(row, dict):
                msg = f"judgements of {a!r} must be a mapping such as {{other: 3}}, not {row!r}"
                raise ValueError(msg)
            out[a] = {}
            for b, v in row.items():
                try:
                    out[a][b] = _judgement(v)  # type: ignore[index]
                except ValueError as exc:
                    msg = f"{a} vs {b}: {exc}"
                    raise ValueError(msg) from None
        return out


class AHPSurvey(BaseModel):
    """A pairwise comparison survey file: the criteria, the participants and their judgements."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    criteria: list[str] = Field(min_length=2)
    participants: list[Participant] = Field(min_length=1)
    cr_limit: float = Field(default=CR_LIMIT, gt=0)
    on_inconsistent: Literal["warn", "refuse"] = "warn"

    @model_validator(mode="after")
    def _complete(self) -> AHPSurvey:
        if len(set(self.criteria)) != len(self.criteria):
            msg = f"criteria listed twice: {sorted({c for c in self.criteria if self.criteria.count(c) > 1})}"
            raise ValueError(msg)
        names = [p.name for p in self.participants]
        if len(set(names)) != len(names):
            msg = f"participant names used twice: {sorted({n for n in names if names.count(n) > 1})}"
            raise ValueError(msg)
        for p in self.participants:
            pairwise_matrix(self.criteria, p.judgements, who=f"participant {p.name!r}")
        return self


def load_survey(path: str | Path) -> AHPSurvey:
    """Load and validate a survey YAML; errors name the file, the key and the fix.

    The file reads::

        criteria: [mining_copper, distance_port_small_plus, population_2020]
        participants:
          - name: Regional government
            judgements:
              mining_copper: {distance_port_small_plus: 3, population_2020: 5}
              distance_port_small_plus: {population_2020: 2}

    Each unordered pair is judged once, in either direction (``b: {a: 1/3}`` says the same as
    ``a: {b: 3}``).
    """
    return load_model(path, AHPSurvey, what="AHP survey", keys="`criteria` and `participants`")


def pairwise_matrix(criteria: Sequence[str], judgements: Mapping[str, Mapping[str, float]], *,
                    who: str = "judgements") -> FloatArray:
    """Return the reciprocal matrix of a complete set of pairwise judgements.

    Parameters
    ----------
    criteria : sequence of str
        The criteria, in the order of the rows.
    judgements : mapping
        ``{a: {b: x}}``: ``a`` is ``x`` times as important as ``b``. Every unordered pair once
        (or twice if both directions agree).
    who : str
        Whose judgements, for messages.

    Raises
    ------
    ValueError
        Naming an unknown criterion, a criterion compared with itself, a pair judged twice in
        disagreement, or the pairs that are missing.
    """
    index = {c: i for i, c in enumerate(criteria)}
    n = len(criteria)
    a = np.full((n, n), np.nan)
    np.fill_diagonal(a, 1.0)
    for x, row in judgements.items():
        for y, value in row.items():
            for c in (x, y):
                if c not in index:
                    msg = f"{who}: {c!r} is not one of the criteria {list(criteria)}"
                    raise ValueError(msg)
            i, j = index[x], index[y]
            if i == j:
                msg = f"{who}: {x!r} is compared with itself; leave that pair out"
                raise ValueError(msg)
            if not np.isnan(a[i, j]) and not math.isclose(a[i, j], value, rel_tol=1e-6):
                msg = (f"{who}: {x} vs {y} is judged twice ({a[i, j]:.3g} and {value:.3g} "
                       "counting both directions); keep one")
                raise ValueError(msg)
            a[i, j], a[j, i] = value, 1.0 / value
    missing = [f"{criteria[i]} vs {criteria[j]}" for i in range(n) for j in range(i + 1, n)
               if np.isnan(a[i, j])]
    if missing:
        msg = f"{who}: {len(missing)} pairs are not judged: {', '.join(missing[:5])}" + (
            " …" if len(missing) > 5 else "")
        raise ValueError(msg)
    return a


# -- computation ------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def random_index(n: int) -> float:
    """Return the random index of order ``n``: Saaty's table up to 10, else a simulation.

    Notes
    -----
    For n > 10 the index is estimated as Saaty did it: the mean consistency index of 5,000
    reciprocal matrices whose upper entries are drawn uniformly from the 17 values of the scale
    {1/9, …, 1/2, 1, 2, …, 9} (fixed seed; about 1.51 for n = 11, 1.58 for n = 15, in line
    with published extensions of the table).
    """
    if n < 1:
        msg = f"`n` was {n} but a comparison matrix has at least one criterion"
        raise ValueError(msg)
    if n in SAATY_RANDOM_INDEX:
        return SAATY_RANDOM_INDEX[n]
    rng = np.random.default_rng(1980)
    scale = np.array([1 / k for k in range(9, 1, -1)] + [float(k) for k in range(1, 10)])
    upper = np.triu_indices(n, 1)
    draws = 5000
    mats = np.ones((draws, n, n))
    values = scale[rng.integers(0, len(scale), size=(draws, len(upper[0])))]
    mats[:, upper[0], upper[1]] = values
    mats[:, upper[1], upper[0]] = 1.0 / values
    lam = np.linalg.eigvals(mats).real.max(axis=1)
    return float(np.mean((lam - n) / (n - 1)))


def ahp_weights(matrix: npt.ArrayLike, criteria: Sequence[str] | None = None) -> AHPResult:
    r"""Return the principal-eigenvector weights and the consistency of a comparison matrix.

    Parameters
    ----------
    matrix : array_like
        Square, positive, reciprocal (:math:`a_{ji} = 1/a_{ij}`) matrix of judgements.
    criteria : sequence of str, optional
        Row names (``c0, c1, …`` when omitted).

    Returns
    -------
    AHPResult

    Raises
    ------
    ValueError
        If the matrix is not square, not positive or not reciprocal.

    Notes
    -----
    The weights :math:`w` solve :math:`A w = \lambda_{max} w`, :math:`\sum w = 1` (Saaty 1977;
    Perron's theorem makes :math:`w` positive and unique). With :math:`n` criteria,

    .. math::

        CI = \frac{\lambda_{max} - n}{n - 1}, \qquad CR = \frac{CI}{RI_n},

    :math:`RI_n` from :func:`random_index`. A consistent matrix (:math:`a_{ij} = w_i / w_j`) has
    :math:`\lambda_{max} = n` and :math:`CR = 0`. The most inconsistent judgement is the
    :math:`(i, j)` maximising :math:`|\log(a_{ij} w_j / w_i)|`: the one the weights reproduce
    worst.

    Examples
    --------
    >>> r = ahp_weights([[1, 3, 5], [1/3, 1, 3], [1/5, 1/3, 1]], ["a", "b", "c"])
    >>> r.weights.round(3).tolist(), round(r.cr, 3)
    ([0.637, 0.258, 0.105], 0.033)
    """
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0] if a.ndim == 2 else 0
    if a.ndim != 2 or a.shape != (n, n) or n == 0:
        msg = f"a comparison matrix is square; this one has shape {a.shape}"
        raise ValueError(msg)
    names = list(criteria) if criteria is not None else [f"c{i}" for i in range(n)]
    if len(names) != n:
        msg = f"{len(names)} criteria named for a {n}×{n} matrix"
        raise ValueError(msg)
    if not (np.isfinite(a).all() and (a > 0).all()):
        msg = "a comparison matrix holds positive finite numbers only"
        raise ValueError(msg)
    if not np.allclose(a * a.T, 1.0, rtol=1e-6):
        i, j = np.unravel_index(np.argmax(np.abs(a * a.T - 1.0)), a.shape)
        msg = (f"the matrix is not reciprocal: a[{names[i]}, {names[j]}] = {a[i, j]:.4g} but "
               f"a[{names[j]}, {names[i]}] = {a[j, i]:.4g}, not its inverse")
        raise ValueError(msg)
    values, vectors = np.linalg.eig(a)
    k = int(np.argmax(values.real))
    lam = float(values[k].real)
    w = np.abs(vectors[:, k].real)
    w = w / w.sum()
    ci = max(lam - n, 0.0) / (n - 1) if n > 2 else 0.0
    ri = random_index(n)
    cr = ci / ri if ri > 0 else 0.0
    worst: tuple[str, str] | None = None
    ratio = 1.0
    if n > 2:
        dev = a * w[None, :] / w[:, None]
        i, j = np.unravel_index(np.argmax(np.abs(np.log(dev))), a.shape)
        if dev[i, j] < 1:
            i, j = j, i
        worst, ratio = (names[i], names[j]), float(dev[i, j])
    return AHPResult(weights=pd.Series(w, index=names, name="weight"), lambda_max=lam, ci=ci,
                     cr=cr, worst_pair=worst, worst_ratio=ratio)


def geometric_mean_matrix(matrices: Sequence[npt.ArrayLike]) -> FloatArray:
    """Return the element-wise geometric mean of reciprocal matrices (itself reciprocal)."""
    if not matrices:
        msg = "no matrices to aggregate"
        raise ValueError(msg)
    logs = np.stack([np.log(np.asarray(m, dtype=float)) for m in matrices])
    return np.exp(logs.mean(axis=0))


def _describe(result: AHPResult, who: str, limit: float) -> str:
    pair = result.worst_pair
    hint = (f"; the judgement least in line with the others is {pair[0]} vs {pair[1]} "
            f"({result.worst_ratio:.2f} times what the other judgements imply): revise it"
            if pair else "")
    return f"{who}: consistency ratio {result.cr:.3f} is above {limit:g}{hint}"


def group_weights(survey: AHPSurvey) -> GroupResult:
    """Return each participant's weights and the group's (geometric mean of judgements, AIJ).

    Raises
    ------
    InconsistentJudgementsError
        With ``on_inconsistent: refuse``, when a participant's or the group's consistency ratio
        is above ``cr_limit`` (the message names the most inconsistent pair).

    Warns
    -----
    GeoEngineWarning
        With ``on_inconsistent: warn`` (the default), for each such participant and the group.
    """
    result = group_result(survey.criteria, {p.name: p.judgements for p in survey.participants})
    each, group = result.participants, result.group
    bad = [_describe(r, f"participant {name!r}", survey.cr_limit)
           for name, r in each.items() if r.cr > survey.cr_limit]
    if group.cr > survey.cr_limit and len(each) > 1:
        bad.append(_describe(group, "the group", survey.cr_limit))
    if bad and survey.on_inconsistent == "refuse":
        raise InconsistentJudgementsError("; ".join(bad))
    for line in bad:
        warnings.warn(line, GeoEngineWarning, stacklevel=2)
    return result


def group_result(criteria: Sequence[str],
                 judgements: Mapping[str, Mapping[str, Mapping[str, float]]]) -> GroupResult:
    """Return each participant's weights and the group's, without judging their consistency.

    Parameters
    ----------
    criteria : sequence of str
        The criteria compared.
    judgements : mapping
        Participant name → ``{a: {b: x}}`` (see :func:`pairwise_matrix`); at least one.

    Notes
    -----
    The group's matrix is the element-wise geometric mean of the participants' (AIJ); the
    table's ``min``, ``max`` and ``sd`` (population standard deviation) are over participants.
    """
    if not judgements:
        msg = "no participants: give at least one participant's judgements"
        raise ValueError(msg)
    mats = {name: pairwise_matrix(criteria, j, who=name) for name, j in judgements.items()}
    each = {name: ahp_weights(m, criteria) for name, m in mats.items()}
    group = ahp_weights(geometric_mean_matrix(list(mats.values())), criteria)
    table = pd.DataFrame({name: r.weights for name, r in each.items()})
    spread = table.agg(["min", "max"], axis=1)
    table["group"] = group.weights
    table["min"], table["max"] = spread["min"], spread["max"]
    table["sd"] = table[list(each)].std(axis=1, ddof=0)
    return GroupResult(group=group, participants=each, table=table)


def slider_weights(weights: Mapping[str, float], *, top: float = 5.0,
                   step: float = 0.1) -> dict[str, float]:
    """Return weights scaled so the largest is ``top`` and rounded to ``step`` (the app's sliders).

    A positive weight never rounds to 0 (it stays ``step``): AHP weights are all positive and
    a zero would drop the layer. Only ratios matter to a score, so scaling changes nothing;
    rounding moves a weight by at most ``step / 2``.

    Examples
    --------
    >>> slider_weights({"a": 0.6, "b": 0.3, "c": 0.1})
    {'a': 5.0, 'b': 2.5, 'c': 0.8}
    """
    largest = max(weights.values(), default=0.0)
    if not largest > 0:
        msg = "the weights are all zero (or none): nothing to scale"
        raise ValueError(msg)
    out = {}
    for key, w in weights.items():
        value = round(round(w / largest * top / step) * step, 6)
        out[key] = max(value, step) if w > 0 else 0.0
    return out


# -- output -----------------------------------------------------------------------------------


def profile_with_weights(profile: Profile, weights: Mapping[str, float]) -> Profile:
    """Return a copy of a profile whose layer weights are ``weights``.

    Raises
    ------
    ValueError
        If ``weights`` names a layer the profile does not have (the message lists its layers), or
        leaves one of its layers out.
    """
    ids = [layer.id for layer in profile.layers]
    unknown = sorted(set(weights) - set(ids))
    if unknown:
        msg = f"profile {profile.id!r} has no layers {unknown}; its layers are {ids}"
        raise ValueError(msg)
    left = [i for i in ids if i not in weights]
    if left:
        msg = (f"the survey does not weigh layers {left} of profile {profile.id!r}; compare every "
               "layer of the profile (or drop these layers from it first)")
        raise ValueError(msg)
    layers = [layer.model_copy(update={"weight": round(float(weights[layer.id]), 4)})
              for layer in profile.layers]
    return profile.model_copy(update={"layers": layers}, deep=True)


def weights_yaml(profile: Profile | None, result: GroupResult, *, source: str = "") -> str:
    """Return the YAML of a profile with the group's weights, or a plain weight file without one.

    The comment at the top records the consistency ratio and the participants' spread.
    """
    g = result.group
    head = [f"# weights from AHP{f' ({source})' if source else ''}: {len(result.participants)} "
            f"participants, group CR {g.cr:.3f}"]
    head += [f"#   {c}: {result.table.loc[c, 'group']:.3f} (participants "
             f"{result.table.loc[c, 'min']:.3f}–{result.table.loc[c, 'max']:.3f})"
             for c in result.table.index]
    weights = {c: round(float(w), 4) for c, w in g.weights.items()}
    if profile is None:
        return "\n".join(head) + "\n" + dump_yaml({"weights": weights})
    doc = profile_with_weights(profile, weights).model_dump(mode="json", exclude_defaults=True)
    return "\n".join(head) + "\n" + dump_yaml(doc, width=100)
