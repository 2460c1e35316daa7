"""Where to act under a budget: maximal covering sites (exact MILP, greedy) and the growth–inclusion front.

A program placed at a site serves the people within a travel-time reach of it. Given candidate
sites and demand cells, choose up to *N* sites (or sites within a budget) that cover the most
demand — the maximal covering location problem of Church & ReVelle (1974) — solved exactly as an
integer program by HiGHS through :func:`scipy.optimize.milp`. A greedy choice is computed beside
it as the baseline planners would make by hand, with its gap to the optimum. The trade-off
between two aims over the same sites (poor people with a niche reached vs engine and linkage
potential reached) is traced by the ε-constraint method (Haimes et al. 1971), augmented so that
no point of the front is weakly dominated (Mavrotas 2009).

References
----------
Church, R. & ReVelle, C. (1974). The maximal covering location problem. *Papers of the Regional
Science Association* 32, 101–118.
Haimes, Y., Lasdon, L. & Wismer, D. (1971). On a bicriterion formulation of the problems of
integrated system identification and system optimization. *IEEE Trans. SMC* 1(3), 296–297.
Mavrotas, G. (2009). Effective implementation of the ε-constraint method in multi-objective
mathematical programming problems. *Applied Mathematics and Computation* 213(2), 455–465.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array, csc_array, csr_array, hstack, identity, vstack
from scipy.spatial import cKDTree

from geo_engine._errors import GeoEngineError
from geo_engine.spatial.sphere import EARTH_RADIUS_KM

__all__ = [
    "CoverProblem",
    "InfeasiblePlanError",
    "Plan",
    "brute_force_cover",
    "conflict_pairs",
    "coverage_by_distance",
    "coverage_from_reach",
    "greedy_cover",
    "pareto_front",
    "solve_cover",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class InfeasiblePlanError(GeoEngineError, ValueError):
    """No choice of sites meets the constraints (must-include sites in conflict, budget too small…)."""


@dataclass(frozen=True)
class CoverProblem:
    """A maximal covering problem over candidate sites and demand points.

    Attributes
    ----------
    coverage : scipy.sparse.csr_array
        Sites × demand points; non-zero where the site covers the point.
    demand : numpy.ndarray
        Value of covering each demand point (e.g. poor people with a niche), ≥ 0.
    growth : numpy.ndarray, optional
        A second value per demand point (e.g. engine or linkage potential), for the front.
    sites : int, optional
        At most this many sites.
    budget : float, optional
        At most this total ``cost``.
    cost : numpy.ndarray, optional
        Cost per site (1 each when omitted).
    conflicts : numpy.ndarray, optional
        (k, 2) pairs of sites that may not both be chosen (closer than a minimum distance).
    groups : numpy.ndarray, optional
        A label per site (e.g. a department code) …
    per_group : int, optional
        … and at most this many sites per label.
    include, exclude : sequence of int
        Sites that must / must not be chosen.
    """

    coverage: csr_array
    demand: FloatArray
    growth: FloatArray | None = None
    sites: int | None = None
    budget: float | None = None
    cost: FloatArray | None = None
    conflicts: IntArray | None = None
    groups: npt.NDArray[np.object_] | None = None
    per_group: int | None = None
    include: Sequence[int] = ()
    exclude: Sequence[int] = ()

    def __post_init__(self) -> None:
        m, k = self.coverage.shape
        if len(self.demand) != k or (self.growth is not None and len(self.growth) != k):
            msg = f"`demand`/`growth` have {len(self.demand)} values for {k} demand points"
            raise ValueError(msg)
        if not (np.isfinite(self.demand).all() and (self.demand >= 0).all()):
            msg = "`demand` must be finite and ≥ 0 (fill missing values with 0)"
            raise ValueError(msg)
        if self.sites is None and self.budget is None:
            msg = "give a number of `sites`, a `budget`, or both"
            raise ValueError(msg)
        if self.sites is not None and self.sites < 1:
            msg = f"`sites` was {self.sites} but must be at least 1"
            raise ValueError(msg)
        if self.cost is not None and (len(self.cost) != m or not (np.asarray(self.cost) >= 0).all()):
            msg = f"`cost` must hold one value ≥ 0 for each of the {m} sites"
            raise ValueError(msg)
        if (self.groups is None) != (self.per_group is None):
            msg = "`groups` and `per_group` go together (a label per site and the most per label)"
            raise ValueError(msg)
        if self.groups is not None and len(self.groups) != m:
            msg = f"`groups` has {len(self.groups)} labels for {m} sites"
            raise ValueError(msg)
        bad = [i for i in (*self.include, *self.exclude) if not 0 <= i < m]
        if bad:
            msg = f"sites {bad[:5]} in `include`/`exclude` are not among the {m} candidates"
            raise ValueError(msg)
        both = sorted(set(self.include) & set(self.exclude))
        if both:
            msg = f"sites {both[:5]} are both included and excluded; drop them from one list"
            raise ValueError(msg)

    @property
    def costs(self) -> FloatArray:
        """Cost per site (ones when no cost was given)."""
        m = self.coverage.shape[0]
        return np.ones(m) if self.cost is None else np.asarray(self.cost, dtype=float)

    def covered(self, chosen: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Return which demand points the chosen sites cover."""
        rows = np.asarray(chosen, dtype=np.int64)
        if rows.size == 0:
            return np.zeros(self.coverage.shape[1], dtype=bool)
        return np.asarray(self.coverage[rows].sum(axis=0)).ravel() > 0

    def feasible(self, chosen: npt.ArrayLike) -> bool:
        """Whether a set of sites meets every constraint."""
        s = set(np.asarray(chosen, dtype=np.int64).tolist())
        ok = (set(self.include) <= s and not (s & set(self.exclude))
              and (self.sites is None or len(s) <= self.sites)
              and (self.budget is None or self.costs[list(s)].sum() <= self.budget + 1e-9))
        if ok and self.conflicts is not None:
            ok = not any(a in s and b in s for a, b in self.conflicts.tolist())
        if ok and self.groups is not None and s:
            ok = bool(pd.Series(self.groups[list(s)]).value_counts().max() <= (self.per_group or 0))
        return ok


@dataclass(frozen=True)
class Plan:
    """A choice of sites and what it reaches.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen site indices, in the order they add coverage (largest first).
    demand : float
        Demand covered.
    growth : float
        Growth value covered (0 without a growth column).
    method : str
        ``"milp"`` or ``"greedy"`` (or ``"brute force"``).
    seconds : float
        Solve time.
    mip_gap : float
        Relative gap between the solution and HiGHS's bound (0 when proven optimal; NaN for
        greedy).
    marginal : numpy.ndarray
        Demand each site adds, in the order of ``sites``.
    """

    sites: IntArray
    demand: float
    growth: float
    method: str
    seconds: float
    mip_gap: float = math.nan
    marginal: FloatArray = field(default_factory=lambda: np.empty(0))


# -- building problems ------------------------------------------------------------------------


def coverage_from_reach(reach: pd.DataFrame, demand_rows: npt.ArrayLike, *, sites: int,
                        max_minutes: float) -> csr_array:
    """Return the sites × demand-points coverage from :func:`geo_engine.access.reach_table`.

    ``demand_rows`` are the grid rows of the demand points; a site covers a point within
    ``max_minutes``.
    """
    rows = np.asarray(demand_rows, dtype=np.int64)
    keep = reach["minutes"].to_numpy() <= max_minutes
    grid_rows = reach["row"].to_numpy()[keep]
    pos = np.searchsorted(rows, grid_rows) if rows.size else np.zeros(0, np.int64)
    if rows.size and not (np.diff(rows) > 0).all():
        msg = "`demand_rows` must be sorted and unique"
        raise ValueError(msg)
    hit = (pos < rows.size) & (rows[np.minimum(pos, max(rows.size - 1, 0))] == grid_rows) \
        if rows.size else np.zeros(0, bool)
    origin = reach["origin"].to_numpy()[keep][hit]
    return csr_array((np.ones(int(hit.sum()), dtype=np.int8), (origin, pos[hit])),
                     shape=(sites, rows.size))


def _xyz(lat: npt.ArrayLike, lon: npt.ArrayLike) -> FloatArray:
    phi, lam = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _chord(km: float) -> float:
    return float(2.0 * np.sin(min(km / EARTH_RADIUS_KM, np.pi) / 2.0))


def coverage_by_distance(site_lat: npt.ArrayLike, site_lon: npt.ArrayLike,
                         lat: npt.ArrayLike, lon: npt.ArrayLike, *, reach_km: float) -> csr_array:
    """Return the coverage of demand points within a great-circle distance of each site."""
    if not reach_km > 0:
        msg = f"`reach_km` was {reach_km} but must be positive"
        raise ValueError(msg)
    sites = cKDTree(_xyz(site_lat, site_lon))
    points = cKDTree(_xyz(lat, lon))
    mat = sites.sparse_distance_matrix(points, _chord(reach_km), output_type="coo_matrix")
    n = len(np.atleast_1d(site_lat))
    out = coo_array((np.ones(mat.nnz, dtype=np.int8), (mat.row, mat.col)), shape=(n, mat.shape[1]))
    # a site on a demand point is at distance 0, which the sparse matrix does not store
    same = sites.query_ball_tree(points, 1e-12)
    extra = [(i, j) for i, js in enumerate(same) for j in js]
    if extra:
        e = np.array(extra)
        out = coo_array((np.r_[out.data, np.ones(len(e), np.int8)],
                         (np.r_[out.row, e[:, 0]], np.r_[out.col, e[:, 1]])), shape=out.shape)
    cov = csr_array(out)
    cov.data[:] = 1
    cov.sum_duplicates()
    cov.data[:] = 1
    return cov


def conflict_pairs(lat: npt.ArrayLike, lon: npt.ArrayLike, *, min_km: float) -> IntArray:
    """Return the (k, 2) pairs of sites closer than ``min_km`` (great circle), i < j."""
    if min_km <= 0:
        return np.empty((0, 2), dtype=np.int64)
    pairs = cKDTree(_xyz(lat, lon)).query_pairs(_chord(min_km), output_type="ndarray")
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


# -- solving ----------------------------------------------------------------------------------


def _merge_points(problem: CoverProblem) -> tuple[csr_array, FloatArray, FloatArray]:
    """Drop demand points no site covers or worth nothing; merge points with the same covering sites.

    Points covered by the same set of sites are covered together, so one variable with their
    summed values stands for all of them (an exact reduction that shrinks the program many fold).
    """
    growth = problem.growth if problem.growth is not None else np.zeros(len(problem.demand))
    cov = csc_array(problem.coverage)
    cov.sum_duplicates()
    counts = np.diff(cov.indptr)
    useful = (counts > 0) & ((problem.demand > 0) | (growth > 0))
    cols = np.flatnonzero(useful)
    keys: dict[bytes, int] = {}
    label = np.empty(cols.size, dtype=np.int64)
    for n, c in enumerate(cols):
        key = np.sort(cov.indices[cov.indptr[c]:cov.indptr[c + 1]]).tobytes()
        label[n] = keys.setdefault(key, len(keys))
    k = len(keys)
    demand = np.bincount(label, weights=problem.demand[cols], minlength=k)
    grow = np.bincount(label, weights=growth[cols], minlength=k)
    first = np.unique(label, return_index=True)[1]
    merged = csr_array(cov[:, cols[first]])
    return merged, demand.astype(float), grow.astype(float)


def _undominated(problem: CoverProblem, cov: csr_array) -> IntArray:
    """Return the sites worth keeping: all of them, less those another allowed site dominates.

    Site :math:`s` is dominated by :math:`t` when :math:`t` covers every point :math:`s` covers
    and costs no more: any plan using :math:`s` does at least as well with :math:`t`. Dropping
    :math:`s` is exact when nothing else tells the two apart, so it is done only without
    minimum distances and per-group caps, and never to a must-include site.
    """
    m = cov.shape[0]
    if (problem.conflicts is not None and len(problem.conflicts)) or problem.groups is not None:
        return np.arange(m)
    c = csr_array(cov, dtype=np.int32)
    size = np.asarray(c.sum(axis=1)).ravel()
    overlap = (c @ c.T).tocoo()
    i, j = overlap.row, overlap.col
    cost = problem.costs
    usable = np.ones(m, dtype=bool)
    usable[list(problem.exclude)] = False
    covers = (overlap.data == size[i]) & (i != j) & usable[j] & (cost[j] <= cost[i])
    # of two identical sites of equal cost, the one listed first stays
    strict = (size[j] > size[i]) | (cost[j] < cost[i]) | (j < i)
    dominated = np.zeros(m, dtype=bool)
    dominated[i[covers & strict]] = True
    dominated[list(problem.include)] = False
    dominated |= size == 0
    dominated[list(problem.include)] = False
    return np.flatnonzero(~dominated)


def solve_cover(problem: CoverProblem, *, growth_floor: float | None = None,
                growth_tiebreak: float = 0.0, time_limit: float | None = None,
                mip_rel_gap: float = 1e-6, initial: npt.ArrayLike | None = None) -> Plan:
    r"""Return the sites that cover the most demand, solved exactly as an integer program.

    Parameters
    ----------
    problem : CoverProblem
    growth_floor : float, optional
        Cover at least this much ``growth`` as well (the ε of the ε-constraint method).
    growth_tiebreak : float, default 0
        Weight of growth in the objective relative to demand, per unit, to break ties between
        equal-demand solutions in favour of growth (keep it small).
    time_limit : float, optional
        Seconds HiGHS may take; the best solution found is returned with its ``mip_gap``.
    mip_rel_gap : float, default 1e-6
        Relative gap at which HiGHS stops.
    initial : array_like of int, optional
        Sites of a plan known to meet the constraints, handed to HiGHS as its first incumbent
        (through ``highspy``, which :func:`scipy.optimize.milp` does not expose): a time-limited
        solve then always has a plan, and prunes from the start.

    Returns
    -------
    Plan

    Raises
    ------
    InfeasiblePlanError
        When no choice of sites meets the constraints (the message says what to loosen).

    Notes
    -----
    With :math:`x_s \in \{0, 1\}` the choice of site :math:`s`, :math:`y_d \in [0, 1]` the
    coverage of demand point :math:`d`, :math:`N(d)` the sites covering :math:`d`:

    .. math::

        \max \sum_d v_d y_d \quad\text{s.t.}\quad y_d \le \sum_{s \in N(d)} x_s,\;
        \sum_s x_s \le N,\; \sum_s c_s x_s \le B,\; x_s + x_t \le 1 \;(s, t \text{ too close}),\;
        \sum_{s \in G} x_s \le k \;(\text{each group } G),\; \sum_d g_d y_d \ge \varepsilon.

    :math:`y` may be continuous: for integer :math:`x` the right-hand side is an integer, so an
    optimal :math:`y_d` is 1 exactly when :math:`d` is covered. Demand points covered by the same
    sites are merged and dominated sites dropped first (both exact; see :func:`_undominated`),
    which halves HiGHS's time on Peru at resolution 7.
    """
    start = time.perf_counter()
    cov, demand, grow = _merge_points(problem)
    kept = _undominated(problem, cov)
    full, cov = cov, csr_array(cov[kept])
    m, k = cov.shape
    if k == 0:  # nothing worth covering: the must-include sites are the plan
        if not problem.feasible(problem.include):
            msg = "the must-include sites break the other constraints; shorten the list"
            raise InfeasiblePlanError(msg)
        return _evaluate(problem, problem.include, method="milp", seconds=time.perf_counter() - start)
    rows: list[csr_array] = [csr_array(hstack([-cov.T, identity(k, format="csr")]))]
    lo: list[FloatArray] = [np.full(k, -np.inf)]
    hi: list[FloatArray] = [np.zeros(k)]

    def add(row: csr_array | npt.NDArray[np.float64], upper: float | FloatArray,
            lower: float | FloatArray = -np.inf) -> None:
        mat = csr_array(row if row.ndim == 2 else row[None, :])
        rows.append(mat)
        lo.append(np.broadcast_to(np.asarray(lower, float), mat.shape[0]).copy())
        hi.append(np.broadcast_to(np.asarray(upper, float), mat.shape[0]).copy())

    if problem.sites is not None:
        add(np.r_[np.ones(m), np.zeros(k)], problem.sites)
    if problem.budget is not None:
        add(np.r_[problem.costs[kept], np.zeros(k)], problem.budget)
    if problem.conflicts is not None and len(problem.conflicts):
        c = problem.conflicts
        n = len(c)
        add(csr_array((np.ones(2 * n), (np.r_[np.arange(n), np.arange(n)], np.r_[c[:, 0], c[:, 1]])),
                      shape=(n, m + k)), 1.0)
    if problem.groups is not None:
        codes, labels = np.unique(problem.groups.astype(str), return_inverse=True)
        add(csr_array((np.ones(m), (labels, np.arange(m))), shape=(len(codes), m + k)),
            float(problem.per_group or 0))
    if growth_floor is not None:
        add(np.r_[np.zeros(m), grow], np.inf, growth_floor)
    lb, ub = np.zeros(m + k), np.ones(m + k)
    lb[np.searchsorted(kept, list(problem.include))] = 1
    ub[np.flatnonzero(np.isin(kept, list(problem.exclude)))] = 0
    objective = -np.r_[np.zeros(m), demand + growth_tiebreak * grow]
    integrality = np.r_[np.ones(m), np.zeros(k)]
    a, row_lo, row_hi = csr_array(vstack(rows)), np.concatenate(lo), np.concatenate(hi)
    first = None if initial is None else _initial(kept, full, problem.costs, initial)
    if first is None:
        options: dict[str, float | bool] = {"mip_rel_gap": mip_rel_gap, "disp": False}
        if time_limit is not None:
            options["time_limit"] = float(time_limit)
        res = milp(objective, integrality=integrality, bounds=Bounds(lb, ub),
                   constraints=LinearConstraint(a, row_lo, row_hi), options=options)
        x, gap, message = res.x, float(getattr(res, "mip_gap", 0.0) or 0.0), res.message
    else:
        x, gap, message = _highs_from(objective, integrality, lb, ub, a, row_lo, row_hi, first,
                                      time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    if x is None:
        msg = (f"no choice of sites meets the constraints ({message.strip()}); loosen the "
               "minimum distance, the per-department cap, the budget or the growth floor, or "
               "shorten the must-include list")
        raise InfeasiblePlanError(msg)
    chosen = kept[np.flatnonzero(x[:m] > 0.5)]
    plan = _evaluate(problem, chosen, method="milp", seconds=time.perf_counter() - start)
    return Plan(sites=plan.sites, demand=plan.demand, growth=plan.growth, method="milp",
                seconds=plan.seconds, mip_gap=gap, marginal=plan.marginal)


def _initial(kept: IntArray, full: csr_array, cost: FloatArray, sites: npt.ArrayLike
             ) -> FloatArray | None:
    """Return the variables (x, y) of a plan over the reduced problem (``full``: merged, all sites).

    A dropped (dominated) site is replaced by a kept one covering all it covers at no more cost;
    None when there is none.
    """
    x = np.zeros(kept.size)
    for s in np.asarray(sites, dtype=np.int64).tolist():
        at = int(np.searchsorted(kept, s))
        if at < kept.size and kept[at] == s:
            x[at] = 1.0
            continue
        mine = full[[s]].toarray().ravel() > 0
        holds = np.asarray(full[kept] @ mine.astype(float)).ravel() >= mine.sum()
        ok = np.flatnonzero(holds & (cost[kept] <= cost[s]))
        if ok.size == 0:
            return None
        x[ok[0]] = 1.0
    cov = full[kept]
    y = np.minimum(cov.T @ x, 1.0)
    return np.r_[x, y]


def _highs_from(objective: FloatArray, integrality: FloatArray, lb: FloatArray, ub: FloatArray,
                a: csr_array, row_lo: FloatArray, row_hi: FloatArray, x0: FloatArray, *,
                time_limit: float | None, mip_rel_gap: float) -> tuple[FloatArray | None, float, str]:
    """Solve the program with HiGHS (highspy) from a known feasible solution; (x, gap, status)."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(objective), a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = objective, lb, ub
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_hi), row_hi, inf)
    csc = a.tocsc()
    csc.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = csc.indptr, csc.indices
    lp.a_matrix_.value_ = csc.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                       for v in integrality]
    h.passModel(lp)
    start = highspy.HighsSolution()
    start.col_value = list(x0)
    h.setSolution(start)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        return None, math.nan, h.modelStatusToString(status)
    return np.asarray(h.getSolution().col_value), float(info.mip_gap), h.modelStatusToString(status)


def _evaluate(problem: CoverProblem, chosen: npt.ArrayLike, *, method: str, seconds: float) -> Plan:
    """Return a :class:`Plan` for given sites, ordered by the demand each adds (largest first)."""
    left = list(np.asarray(chosen, dtype=np.int64))
    covered = np.zeros(problem.coverage.shape[1], dtype=bool)
    order, gains = [], []
    cov = problem.coverage
    while left:
        gain = [float(problem.demand[(cov[[s]].toarray().ravel() > 0) & ~covered].sum())
                for s in left]
        best = int(np.argmax(gain))
        s = left.pop(best)
        order.append(s)
        gains.append(gain[best])
        covered |= cov[[s]].toarray().ravel() > 0
    growth = 0.0 if problem.growth is None else float(problem.growth[covered].sum())
    return Plan(sites=np.array(order, dtype=np.int64), demand=float(problem.demand[covered].sum()),
                growth=growth, method=method, seconds=seconds, marginal=np.array(gains))


def greedy_cover(problem: CoverProblem) -> Plan:
    """Return the greedy choice: the must-include sites, then repeatedly the site adding most.

    With a budget, "most" is demand added per unit of cost. A site is skipped when it would break
    a constraint (minimum distance, per-group cap, budget); the choice stops when no site adds
    anything. Greedy is within 1 − 1/e of the optimum for the plain cardinality problem
    (Nemhauser, Wolsey & Fisher 1978), with no such guarantee under the side constraints.
    """
    start = time.perf_counter()
    cov = csr_array(problem.coverage, dtype=float)
    m = cov.shape[0]
    cost = problem.costs
    allowed = np.ones(m, dtype=bool)
    allowed[list(problem.exclude)] = False
    neighbours: list[list[int]] = [[] for _ in range(m)]
    if problem.conflicts is not None:
        for a, b in problem.conflicts.tolist():
            neighbours[a].append(b)
            neighbours[b].append(a)
    groups = problem.groups.astype(str) if problem.groups is not None else None
    per_group: dict[str, int] = {}
    chosen: list[int] = []
    spent = 0.0

    def take(s: int) -> None:
        nonlocal spent
        chosen.append(s)
        spent += cost[s]
        allowed[s] = False
        allowed[neighbours[s]] = False
        if groups is not None:
            per_group[groups[s]] = per_group.get(groups[s], 0) + 1
            if per_group[groups[s]] >= (problem.per_group or 0):
                allowed[groups == groups[s]] = False

    for s in problem.include:
        take(int(s))
    covered = problem.covered(chosen)
    while problem.sites is None or len(chosen) < problem.sites:
        ok = allowed.copy()
        if problem.budget is not None:
            ok &= spent + cost <= problem.budget + 1e-9
        if not ok.any():
            break
        gain = cov @ np.where(covered, 0.0, problem.demand)
        score = gain / np.maximum(cost, 1e-12) if problem.budget is not None else gain
        score = np.where(ok, score, -np.inf)
        s = int(np.argmax(score))
        if gain[s] <= 0:
            break
        take(s)
        covered |= cov[[s]].toarray().ravel() > 0
    return _evaluate(problem, chosen, method="greedy", seconds=time.perf_counter() - start)


def brute_force_cover(problem: CoverProblem) -> Plan:
    """Return the optimum by trying every feasible set of sites (tiny problems only: tests)."""
    from itertools import combinations

    start = time.perf_counter()
    m = problem.coverage.shape[0]
    if m > 16:
        msg = f"brute force tries 2^{m} sets; use it for at most 16 sites"
        raise ValueError(msg)
    most = m if problem.sites is None else min(problem.sites, m)
    best: tuple[float, tuple[int, ...]] = (-1.0, ())
    for size in range(most + 1):
        for combo in combinations(range(m), size):
            if problem.feasible(combo):
                value = float(problem.demand[problem.covered(combo)].sum())
                if value > best[0] + 1e-9:
                    best = (value, combo)
    if best[0] < 0:
        msg = "no choice of sites meets the constraints"
        raise InfeasiblePlanError(msg)
    return _evaluate(problem, best[1], method="brute force", seconds=time.perf_counter() - start)


def _weighted_greedy(problem: CoverProblem, scale: float, steps: int = 12) -> list[Plan]:
    """Return greedy plans of demand + λ·growth for λ from 0.01 to 100 times ``scale``."""
    assert problem.growth is not None
    out = []
    for lam in scale * np.geomspace(0.01, 100, steps):
        mixed = dataclasses.replace(problem, demand=problem.demand + lam * problem.growth)
        out.append(_evaluate(problem, greedy_cover(mixed).sites, method="greedy", seconds=0.0))
    return out


def pareto_front(problem: CoverProblem, *, points: int = 10, time_limit: float | None = 10.0,
                 mip_rel_gap: float = 1e-3) -> tuple[pd.DataFrame, list[Plan]]:
    r"""Trace the front between demand (inclusion) and growth covered, by the ε-constraint method.

    Parameters
    ----------
    problem : CoverProblem
        With ``growth`` set.
    points : int, default 10
        Points of the front (the two ends included); duplicates are dropped.
    time_limit : float or None, default 10
        Seconds per solve between the ends (None: no limit; the ends are always solved to
        ``mip_rel_gap``); a solve stopped by it reports its ``mip_gap``, and a point with no
        plan found by then is left out.
    mip_rel_gap : float, default 1e-3
        Relative gap at which each solve stops.

    Returns
    -------
    tuple
        A table with ``point``, ``growth_floor``, ``demand``, ``growth``, ``sites`` (the chosen
        site indices as text) and ``mip_gap``, and the :class:`Plan` of each row.

    Notes
    -----
    The two ends are the best-demand plan (growth as tie-break) and the best-growth plan. In
    between, :math:`\max \text{demand} + \delta\,\text{growth}` subject to
    :math:`\text{growth} \ge \varepsilon_i`, for :math:`\varepsilon_i` evenly spaced between the
    growth of the first end and the best growth; the small :math:`\delta` (the augmented
    ε-constraint, Mavrotas 2009) keeps weakly dominated solutions off the front.
    """
    if problem.growth is None:
        msg = "the front needs `growth` values on the problem"
        raise ValueError(msg)
    if points < 2:
        msg = f"`points` was {points} but a front has at least its 2 ends"
        raise ValueError(msg)
    total_d = max(float(problem.demand.sum()), 1e-12)
    total_g = max(float(problem.growth.sum()), 1e-12)
    delta = 1e-4 * total_d / total_g
    swapped = dataclasses.replace(problem, demand=problem.growth, growth=problem.demand)

    def solve(p: CoverProblem, tiebreak: float, floor: float | None = None,
              initial: IntArray | None = None) -> Plan:
        return solve_cover(p, growth_floor=floor, growth_tiebreak=tiebreak, mip_rel_gap=mip_rel_gap,
                           time_limit=None if floor is None else time_limit, initial=initial)

    best_growth = solve(swapped, 1e-4 * total_g / total_d)
    first = solve(problem, delta)
    floors = np.linspace(first.growth, best_growth.demand, points)
    plans = [first]
    used = [float(first.growth)]
    last = _evaluate(problem, best_growth.sites, method="milp", seconds=best_growth.seconds)
    last = dataclasses.replace(last, mip_gap=best_growth.mip_gap)
    # incumbents: the best-growth plan meets every floor; greedy plans of demand + λ·growth
    # cover the span between the ends
    known = [first, last, *_weighted_greedy(problem, total_d / total_g)]
    for eps in floors[1:-1]:
        floor = float(eps) * (1 - 1e-9)
        start = max((p for p in known if p.growth >= floor), key=lambda p: p.demand)
        try:
            plan = solve(problem, delta, floor, start.sites)
        except InfeasiblePlanError:  # nothing found within the time limit: the known plan stands
            plan = dataclasses.replace(start, mip_gap=math.nan)
        plans.append(plan)
        known.append(plan)
        used.append(float(eps))
    plans.append(last)
    used.append(float(floors[-1]))
    # a time-limited solve may end below a plan found later that meets its floor too: take it,
    # with the gap to the solve's bound
    for i in range(1, len(plans) - 1):
        plan, floor = plans[i], used[i] * (1 - 1e-9)
        better = max((p for p in known if p.growth >= floor), key=lambda p: p.demand)
        if better.demand > plan.demand:
            bound = (plan.demand + delta * plan.growth) * (1 + plan.mip_gap)
            gap = max(bound / (better.demand + delta * better.growth) - 1, 0.0)
            plans[i] = dataclasses.replace(better, mip_gap=gap, seconds=plan.seconds)
    table = pd.DataFrame({
        "point": np.arange(1, len(plans) + 1),
        "growth_floor": used,
        "demand": [p.demand for p in plans],
        "growth": [p.growth for p in plans],
        "sites": [" ".join(map(str, sorted(p.sites.tolist()))) for p in plans],
        "mip_gap": [p.mip_gap for p in plans],
        "seconds": [p.seconds for p in plans],
    })
    keep = ~table.duplicated(subset=["sites"])
    table = table[keep].reset_index(drop=True)
    table["point"] = np.arange(1, len(table) + 1)
    return table, [p for p, k in zip(plans, keep, strict=True) if k]
