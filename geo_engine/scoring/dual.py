"""The dual integrated model: engine and inclusion scores, niche families, typology and linkage."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from geo_engine import settings
from geo_engine.ingest.specs import LayerSpec
from geo_engine.scoring.cache import ScoringCache, mask_digest
from geo_engine.scoring.normalize import standing, standing_at
from geo_engine.scoring.profiles import Profile
from geo_engine.scoring.score import Prepared, ScoreResult, aggregate, score_profile

__all__ = ["INCLUSION", "TYPOLOGY", "DualResult", "dual_model", "family_table", "inclusion_profile",
           "inclusion_result", "typology"]

S = TypeVar("S")
T = TypeVar("T")

TYPOLOGY = ("engine_hub", "inclusion_niche", "dual_zone", "latent")
"""The four classes of the typology, from the engine and inclusion scores."""


@dataclass(frozen=True)
class DualResult:
    """Every output of the dual model for one indicator matrix.

    Attributes
    ----------
    engine, need, access, niche, inclusion : numpy.ndarray
        Scores per cell in [0, 1] (NaN where not scored). ``niche`` is the strongest *evidence*
        of a niche over the families (0 = no evidenced niche; see :mod:`geo_engine.scoring.evidence`);
        for a family without an ``evidence`` section its percentile standing stands in.
    families : pandas.DataFrame
        Raw score of every family profile.
    family_standing : pandas.DataFrame
        Percentile standing of the cell in every family (computed when first asked for).
    best_family : numpy.ndarray of object
        Id of the best family per cell: the strongest evidence, standing breaking ties (None
        where no family has evidence).
    niche_margin : numpy.ndarray
        Evidence of the best family minus that of the second best.
    typology : numpy.ndarray of object
        One of :data:`TYPOLOGY` (None where engine or inclusion is missing).
    hub_distance_km : numpy.ndarray
        Great-circle distance from the cell centre to the nearest hub: a real engine site (the
        engine profile's ``hubs``: operating mines, smelters, ports, agro-export cores), or an
        engine-hub or dual-zone cell when the engine profile declares no hubs.
    hub_minutes : numpy.ndarray
        Travel time to the nearest hub (NaN when travel times were not computed).
    linkage : numpy.ndarray
        Supplier / SKIE potential of high-need cells within reach of a hub (0 elsewhere).
    thresholds : dict
        Score thresholds used (``engine``, ``inclusion``, ``need``) and the quantiles behind them.
    results : dict
        The :class:`~geo_engine.scoring.score.ScoreResult` of every profile, for explanations.
    missing : tuple of str
        Profile kinds the region has no profile for (``need`` …): their scores, and what depends
        on them, are NaN.
    """

    engine: np.ndarray
    need: np.ndarray
    access: np.ndarray
    niche: np.ndarray
    inclusion: np.ndarray
    families: pd.DataFrame
    best_family: np.ndarray
    niche_margin: np.ndarray
    typology: np.ndarray
    hub_distance_km: np.ndarray
    hub_minutes: np.ndarray
    linkage: np.ndarray
    thresholds: dict[str, float]
    results: dict[str, ScoreResult] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    @functools.cached_property
    def family_standing(self) -> pd.DataFrame:
        """Percentile standing of the cell in every family (computed when first asked for)."""
        return pd.DataFrame({k: self.results[k].standing for k in self.families.columns},
                            index=self.families.index)

    def frame(self) -> pd.DataFrame:
        """Return the per-cell outputs as one DataFrame (same row order as the matrix)."""
        out = pd.DataFrame({
            "engine": self.engine, "inclusion": self.inclusion, "need": self.need,
            "access": self.access, "niche": self.niche, "typology": self.typology,
            "niche_family": self.best_family, "niche_margin": self.niche_margin,
            "hub_distance_km": self.hub_distance_km, "hub_minutes": self.hub_minutes,
            "linkage": self.linkage,
        }, index=self.families.index)
        return pd.concat([out, self.families.add_prefix("family_")], axis=1)




def family_table(scores: Mapping[str, np.ndarray], index: pd.Index,
                 standings: Mapping[str, np.ndarray] | None = None,
                 evidence: Mapping[str, np.ndarray] | None = None) -> tuple[
        pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Compare niche families cell by cell.

    Families are compared on their *standing* — the cell's percentile among all cells for that
    family — rather than on raw scores, whose spread differs from one family to another (a
    family of distance layers scores high almost everywhere, one of density layers low almost
    everywhere). Without ``evidence``, the best family of a cell is the one where it stands
    highest relative to the rest of the territory: its comparative advantage.

    With ``evidence`` (strength in [0, 1] per family, see :mod:`geo_engine.scoring.evidence`), only
    families with evidence in the cell compete: the best family is the one with the strongest
    evidence (to 0.001), the standing breaking ties; a cell with no evidence in any family has
    no best family (None) and the margin is the best family's evidence minus the second's.

    Returns
    -------
    tuple
        ``(scores, standings, best, margin)``: raw family scores, standings in (0, 1], the best
        family id per cell (ties go to the family listed first; None where none scored) and the
        margin of its standing (or evidence) over the second best.
    """
    table = pd.DataFrame(dict(scores), index=index)
    known = standings or {}
    stand = pd.DataFrame({k: known[k] if k in known else standing(v.to_numpy())
                          for k, v in table.items()}, index=index)
    if table.shape[1] == 0:
        return table, stand, np.full(len(table), None, dtype=object), np.full(len(table), np.nan)
    values = stand.to_numpy(dtype=float)
    filled = np.where(np.isnan(values), -np.inf, values)
    rows = np.arange(len(table))
    names = np.array(table.columns, dtype=object)
    if evidence is not None:
        ev = np.column_stack([np.asarray(evidence[k], dtype=float) for k in table.columns])
        best, margin = _best_by_evidence(ev, lambda j, at: values[at, j], names)
        return table, stand, best, margin
    first, second = _top_two(filled)
    best_val = filled[rows, first]
    second_val = filled[rows, second] if values.shape[1] > 1 else np.full(len(table), -np.inf)
    best = np.where(np.isfinite(best_val), names[first], np.array(None, dtype=object))
    margin = np.where(np.isfinite(best_val),
                      best_val - np.where(np.isfinite(second_val), second_val, 0.0), np.nan)
    return table, stand, best, margin


def _top_two(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, per row, the columns of the highest and second highest ``key`` (no NaN).

    The same columns as the first two of ``np.argsort(-key, axis=1, kind="stable")`` (ties go
    to the column listed first), without sorting every row: one pass per column, keeping the
    best so far where a later column is strictly higher. A row of one column gets itself as
    second.
    """
    n, k = key.shape
    first = np.zeros(n, dtype=np.intp)
    top = key[:, 0].copy()
    for j in range(1, k):
        col = key[:, j]
        higher = col > top
        first[higher] = j
        np.copyto(top, col, where=higher)
    if k < 2:
        return first, first
    # when every other column is -inf, the lowest other column stands second
    second = np.where(first == 0, 1, 0).astype(np.intp)
    runner = np.full(n, -np.inf)
    for j in range(k):
        col = key[:, j]
        higher = (col > runner) & (first != j)
        second[higher] = j
        np.copyto(runner, col, where=higher)
    return first, second


def _best_by_evidence(ev: np.ndarray, standing_at: Callable[[int, np.ndarray], np.ndarray],
                      names: np.ndarray, *, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Best family by evidence (cells × families, in [0, 1]) and its margin over the second.

    Families with evidence are ranked by their evidence rounded to 0.001, their standing (given
    by ``standing_at(column, rows)``) breaking ties; it is asked for only in the rows where the
    first or second place is tied, since it cannot move an untied one (it adds under 0.001).
    The families' standings are found in ``threads`` threads. Columns are read one at a time: a
    table stored by column (Fortran order) is read fastest.
    """
    n = len(ev)
    rows = np.arange(n)
    ev = np.where(np.isfinite(ev), ev, 0.0)
    key = np.round(ev, 3)
    key[ev <= 0] = -np.inf
    first, second = _top_two(key)
    level = key[rows, second]
    at_level = np.zeros(n, dtype=np.intp)
    for j in range(key.shape[1]):
        at_level += key[:, j] == level
    tied = np.flatnonzero(np.isfinite(level) & (at_level >= 2))
    if tied.size:
        sub = key[tied]
        for j, st in enumerate(_in_threads(lambda j: standing_at(j, tied), range(ev.shape[1]),
                                           threads)):
            sub[:, j] += 9e-4 * np.where(np.isfinite(st), st, 0)  # below one step of the rounding
        first[tied], second[tied] = _top_two(sub)
    top = ev[rows, first]
    runner_up = ev[rows, second] if ev.shape[1] > 1 else np.zeros(n)
    best = np.where(top > 0, names[first], np.array(None, dtype=object))
    return best, top - runner_up


def _in_threads(task: Callable[[S], T], items: Iterable[S], threads: int) -> list[T]:
    """Return ``[task(i) for i in items]``, computed in ``threads`` threads when more than one."""
    if threads <= 1:
        return [task(i) for i in items]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(task, items))


def _standing_at(score: np.ndarray) -> Callable[[int, np.ndarray], np.ndarray]:
    """Return ``f(j, rows)``: :func:`standing` of column ``j`` of ``score`` at ``rows`` only."""
    def at(j: int, rows: np.ndarray) -> np.ndarray:
        return standing_at(score[:, j], rows)
    return at


def _score_profiles(matrix: pd.DataFrame, todo: list[Profile], *, specs: dict[str, LayerSpec],
                    cache: ScoringCache, weights: Mapping[str, Mapping[str, float]],
                    ) -> dict[str, ScoreResult]:
    """Score profiles, side by side in :data:`geo_engine.settings.scoring_threads` threads.

    Each profile is scored as :func:`~geo_engine.scoring.score.score_profile` alone would (the
    threads share ``cache``), so the results do not depend on the threads; they are returned in
    the order of ``todo``, and the first profile in that order that fails raises its error.
    """
    def one(p: Profile) -> ScoreResult:
        return score_profile(matrix, p, specs=specs, cache=cache,
                             weights=dict(weights.get(p.id, {})) or None)

    threads = min(settings.scoring_threads, len(todo))
    if threads <= 1:
        return {p.id: one(p) for p in todo}
    if "lat" in matrix and "lon" in matrix:
        cache.unit_vectors()  # the reach searches of every thread need them: computed once
    # the costliest first (evidence searched within a reach, then layers), so no thread idles at the end
    order = sorted(todo, key=lambda p: -(10 * sum(e.within_km is not None
                                                   for e in (*p.evidence, *p.gate))
                                         + len(p.layers)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        running = {p.id: pool.submit(one, p) for p in order}
        return {p.id: running[p.id].result() for p in todo}


def _by_column(columns: list[np.ndarray]) -> np.ndarray:
    """Return equal-length arrays side by side (cells × arrays), each column contiguous in memory.

    The Fortran order of the table is what pandas stores and what the column-by-column passes of
    :func:`_best_by_evidence` read fastest.
    """
    return np.vstack(columns).T


def _family_evidence(result: ScoreResult) -> np.ndarray:
    """Evidence of a family's niche: its ``evidence`` section, else (legacy) its standing."""
    ev = result.prepared.evidence
    return result.standing if ev is None else ev


def _threshold(score: np.ndarray, quantile: float, name: str) -> float:
    if not 0 <= quantile <= 1:
        msg = f"`{name}_quantile` was {quantile} but must be in [0, 1] (2/3 = top tercile)"
        raise ValueError(msg)
    finite = score[np.isfinite(score)]
    return float(np.quantile(finite, quantile)) if finite.size else np.nan


def typology(engine: np.ndarray, inclusion: np.ndarray, *, engine_threshold: float,
             inclusion_threshold: float) -> np.ndarray:
    """Classify cells: engine hub, inclusion niche, dual zone (both high) or latent (neither).

    A cell is high on a score when it is above 0 and at or above that score's threshold (a
    gated score is 0 for many cells: a threshold of 0 does not make them high).
    """
    with np.errstate(invalid="ignore"):
        hi_e = (engine >= engine_threshold) & (engine > 0)
        hi_i = (inclusion >= inclusion_threshold) & (inclusion > 0)
    names = np.array(["dual_zone", "engine_hub", "inclusion_niche", "latent"], dtype=object)
    out = names[np.where(hi_e, np.where(hi_i, 0, 1), np.where(hi_i, 2, 3))]
    out[~(np.isfinite(engine) & np.isfinite(inclusion))] = None
    return out


def dual_model(
    matrix: pd.DataFrame,
    profiles: Mapping[str, Profile],
    *,
    specs: Mapping[str, LayerSpec] | None = None,
    weights: Mapping[str, Mapping[str, float]] | None = None,
    engine_quantile: float = 2 / 3,
    inclusion_quantile: float = 2 / 3,
    need_quantile: float = 2 / 3,
    hub_reach_km: float | None = None,
    results: Mapping[str, ScoreResult] | None = None,
    hub_minutes: Callable[[np.ndarray], np.ndarray] | None = None,
    hub_reach_minutes: float | None = None,
    partial: bool = False,
    cache: ScoringCache | None = None,
) -> DualResult:
    r"""Score the engine, the need, the access and every niche family, then combine them.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix with ``lat`` and ``lon``.
    profiles : mapping
        Profiles by id; needs kinds ``engine``, ``need``, ``access`` and at least one ``family``.
    specs : mapping, optional
        Layer specs by id.
    weights : mapping, optional
        Weight overrides per profile id (``{"engine": {"large_mines": 3}}``).
    engine_quantile, inclusion_quantile, need_quantile : float, default 2/3
        Quantiles (in [0, 1]) of the scored cells that make a score "high" (top tercile).
    hub_reach_km : float, optional
        Distance at which linkage to a hub fades to 0; :data:`geo_engine.settings.hub_reach_km`.
    results : mapping, optional
        Score results to reuse by profile id (re-weighting one profile re-scores only it).
    hub_minutes : callable, optional
        Given the boolean mask of hub cells, returns the travel time (minutes) from every cell to
        the nearest hub (:func:`geo_engine.access.travel_time`). When given, linkage fades with
        travel time over ``hub_reach_minutes`` instead of with distance.
    hub_reach_minutes : float, optional
        :data:`geo_engine.settings.hub_reach_minutes` by default.
    partial : bool, default False
        Accept profiles lacking a kind (a region without poverty data has no ``need``): the
        missing scores are NaN, and so is everything computed from them (listed in
        ``DualResult.missing``). Otherwise a missing kind is an error.
    cache : ScoringCache, optional
        A cache of ``matrix`` (:class:`geo_engine.scoring.cache.ScoringCache`, as a
        :class:`~geo_engine.pipeline.Run` keeps): normalized layers, evidence and the distances
        and travel times to the hubs found there are reused, those computed are kept. Without
        it, the profiles of this call still share what they have in common.

    Returns
    -------
    DualResult

    Notes
    -----
    Inclusion is the evidence of a niche times a weighted geometric product of need and access:
    :math:`I = E \cdot P^{a} \cdot A^{b}` (:data:`geo_engine.settings.inclusion_need_exponent`
    :math:`a = 0.5`, :data:`~geo_engine.settings.inclusion_access_exponent` :math:`b = 0.2`:
    need leads, reach brakes), with :math:`E` the strongest evidence over the
    families (:func:`geo_engine.scoring.evidence.evidence_strength`: 0 without evidence, 0.5 at a
    family's threshold, 1 at its ``full`` level). A cell with no evidenced niche has inclusion 0
    (not NaN: it was scored, and nothing there yet fights poverty); a poor place without a niche,
    or a rich place with one, cannot score high. :math:`E` stands outside the powers so that a
    niche barely at its threshold halves inclusion instead of trimming it: relative standing
    only picks the best family, it is never evidence by itself.

    Linkage (Pérez's componentization of value chains): for high-need cells,
    :math:`L = P \cdot \max(0, 1 - d/R)` with :math:`d` the travel time (or, without
    ``hub_minutes``, the great-circle distance) to the nearest hub — a real engine site of the
    engine profile's ``hubs`` (or, without them, an engine-hub or dual-zone cell) — and
    :math:`R` the reach; 0 for other cells. A poor place far from every operation gets 0.
    """
    reach = settings.hub_reach_km if hub_reach_km is None else hub_reach_km
    if reach <= 0:
        msg = f"`hub_reach_km` was {reach} but must be positive"
        raise ValueError(msg)
    by_kind: dict[str, list[Profile]] = {}
    for p in profiles.values():
        by_kind.setdefault(p.kind, []).append(p)
    missing = tuple(k for k in ("engine", "need", "access", "family") if k not in by_kind)
    if missing and not partial:
        msg = f"the dual model needs a profile of kind {missing[0]!r}; got kinds {sorted(by_kind)}"
        raise ValueError(msg)
    specs = dict(specs or {})
    cells = cache if cache is not None else ScoringCache(matrix)
    done: dict[str, ScoreResult] = dict(results or {})
    todo = [p for p in profiles.values()
            if p.id not in done and p.kind in {"engine", "need", "access", "family"}]
    done |= _score_profiles(matrix, todo, specs=specs, cache=cells, weights=weights or {})
    def kind_score(kind: str) -> np.ndarray:
        return done[by_kind[kind][0].id].score if kind in by_kind else np.full(len(matrix), np.nan)

    engine, need, access = kind_score("engine"), kind_score("need"), kind_score("access")
    fams = by_kind.get("family", [])
    evidence = {p.id: _family_evidence(done[p.id]) for p in fams}
    families = (pd.DataFrame(_by_column([done[p.id].score for p in fams]), index=matrix.index,
                             columns=[p.id for p in fams], copy=False) if fams
                else pd.DataFrame(index=matrix.index))
    if fams:
        strengths = _by_column(list(evidence.values()))
        best, margin = _best_by_evidence(strengths, _standing_at(families.to_numpy(dtype=float)),
                                         np.array(families.columns, dtype=object),
                                         threads=settings.scoring_threads)
        niche = strengths.max(axis=1)
    else:
        best, margin = np.full(len(matrix), None, dtype=object), np.full(len(matrix), np.nan)
        niche = np.full(len(matrix), np.nan)
    with np.errstate(invalid="ignore"):
        inclusion = (niche * need ** settings.inclusion_need_exponent
                     * access ** settings.inclusion_access_exponent)
    t_e = _threshold(engine, engine_quantile, "engine")
    t_i = _threshold(inclusion, inclusion_quantile, "inclusion")
    t_n = _threshold(need, need_quantile, "need")
    types = typology(engine, inclusion, engine_threshold=t_e, inclusion_threshold=t_i)
    sites = done[by_kind["engine"][0].id].prepared.hubs if "engine" in by_kind else None
    hubs = (np.asarray(sites, dtype=bool) if sites is not None
            else np.isin(types, ["engine_hub", "dual_zone"]))
    distance = np.full(len(matrix), np.nan)
    digest = mask_digest(hubs)
    if hubs.any():
        from geo_engine.spatial.sphere import nearest_vectors

        xyz = cells.unit_vectors()
        distance = cells.get(("hub_km", digest), lambda: nearest_vectors(xyz, xyz[hubs])[0])
    minutes = np.full(len(matrix), np.nan)
    reach_min = settings.hub_reach_minutes if hub_reach_minutes is None else hub_reach_minutes
    if hub_minutes is not None and hubs.any():
        travel = hub_minutes
        minutes = cells.get(("hub_minutes", travel, digest),
                            lambda: np.asarray(travel(hubs), dtype=float))
    gap, limit = (minutes, reach_min) if hub_minutes is not None else (distance, reach)
    with np.errstate(invalid="ignore"):
        high_need = need >= t_n
        linkage = np.where(high_need, need * np.clip(1 - gap / limit, 0, 1), 0.0)
    linkage = np.where(np.isfinite(need) & np.isfinite(gap), linkage, np.nan)
    thresholds: dict[str, Any] = {
        "engine": t_e, "inclusion": t_i, "need": t_n, "engine_quantile": engine_quantile,
        "inclusion_quantile": inclusion_quantile, "need_quantile": need_quantile,
        "hub_reach_km": reach, "hub_reach_minutes": reach_min,
        "linkage_by": "travel time" if hub_minutes is not None else "distance",
        "hubs_by": "real sites" if sites is not None else "engine score",
        "hub_cells": int(hubs.sum()),
    }
    return DualResult(engine=engine, need=need, access=access, niche=niche, inclusion=inclusion,
                      families=families, best_family=best,
                      niche_margin=margin, typology=types,
                      hub_distance_km=distance, hub_minutes=minutes, linkage=linkage,
                      thresholds=thresholds,
                      results=done, missing=missing)


_PARTS = ("niche", "need", "access")

INCLUSION = "inclusion"
"""Id under which the dual model's inclusion score is scored, exported, clustered and ranked."""


def inclusion_profile() -> Profile:
    """Return the recipe of the inclusion score as a profile: a weighted geometric mean of its parts.

    The weights are the exponents of :func:`geo_engine.scoring.dual.dual_model`'s inclusion (niche 1,
    need :data:`~geo_engine.settings.inclusion_need_exponent`, access
    :data:`~geo_engine.settings.inclusion_access_exponent`), so the profile ranks cells exactly as
    inclusion does.
    """
    why = {"niche": "strength of the evidence of the cell's best niche family",
           "need": "the need profile's score (poverty and gaps in services)",
           "access": "the access profile's score (reach to markets and services)"}
    return Profile.model_validate({
        "id": INCLUSION, "kind": "custom",
        "title": {"es": "Inclusión", "en": "Inclusion"},
        "description": "Poverty-fighter potential of the dual model: niche × need × access.",
        "aggregation": {"method": "wgm"},
        "ranking": {"by": "pop_weighted_mean", "rationale": {
            "en": "Inclusion is about people: a unit is ranked by the score where its people "
                  "live, so a niche far from anyone does not lift it.",
            "es": "La inclusión es de las personas: una unidad se ordena por el puntaje donde "
                  "vive su gente, así un nicho lejos de todos no la eleva."}},
        "layers": [{"id": part, "weight": weight, "rationale": why[part]}
                   for part, weight in _exponents().items()]})


def _exponents() -> dict[str, float]:
    """Return the exponent of each part of inclusion (niche, need, access)."""
    return {"niche": 1.0, "need": settings.inclusion_need_exponent,
            "access": settings.inclusion_access_exponent}


def inclusion_result(dual: DualResult) -> ScoreResult:
    r"""Return the dual model's inclusion score as a :class:`ScoreResult` of :func:`inclusion_profile`.

    The score is ``dual.inclusion`` itself; the "layers" are its parts (niche, need, access), so
    the result can be exported, clustered, ranked and put through the sensitivity analysis like
    any profile's.

    Raises
    ------
    ValueError
        When no cell has an inclusion score (the region lacks a need, access or family profile).

    Notes
    -----
    With :math:`I = E \cdot N^{a} \cdot A^{b}`, the contributions are in log space,
    :math:`e \log x` per part with :math:`e` its exponent (each part floored at
    :data:`geo_engine.scoring.score.WGM_FLOOR`), and add up to :math:`\log I` wherever every part is
    above the floor. Re-weighting draws (sensitivity) change the parts' shares of the exponents;
    a weighted geometric mean normalises them to 1, which changes the score by a power but not
    the order of the cells.
    """
    score = np.asarray(dual.inclusion, dtype=float)
    if not np.isfinite(score).any():
        msg = (f"no cell has an inclusion score: the region has no profile of kind "
               f"{', '.join(dual.missing) or 'need, access or family'}; add one to its profiles")
        raise ValueError(msg)
    profile = inclusion_profile()
    eligible = np.isfinite(score)
    values = np.column_stack([np.asarray(getattr(dual, part), dtype=float) for part in _PARTS])
    values = np.where(eligible[:, None], values, np.nan)
    weights = profile.weights()
    _, contrib, space = aggregate(values, np.array([weights[p] for p in _PARTS]),
                                  profile.aggregation, eligible)
    contrib = contrib * sum(_exponents().values())  # normalised weights → the exponents
    return ScoreResult(
        score=score, contributions=pd.DataFrame(contrib, columns=list(_PARTS),
                                                index=dual.families.index),
        contribution_space=space, weights=weights,
        prepared=Prepared(profile=profile, layer_ids=list(_PARTS), values=values,
                          eligible=eligible, report={"cells": len(score),
                                                     "eligible": int(eligible.sum())}))
