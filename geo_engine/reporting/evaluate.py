"""Check the model against what the territory already knows: a cited reference of known clusters."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo_engine._errors import SpecError
from geo_engine.io.yaml_io import load_yaml
from geo_engine.reporting.rollup import rollup, with_labels
from geo_engine.scoring.dual import INCLUSION
from geo_engine.scoring.profiles import DEFAULT_RANK_BY

if TYPE_CHECKING:
    from geo_engine.pipeline import Run

__all__ = [
    "REFERENCE_FILE",
    "Reference",
    "ReferenceUnit",
    "department_lift",
    "district_means",
    "evaluate",
    "evaluate_scores",
    "inclusion_checks",
    "load_reference",
    "precision_at",
    "reference_path",
    "resolution_stability",
]

REFERENCE_FILE = Path("reference") / "reference_clusters.yaml"
"""Where a region keeps its reference, relative to the folder of its region file."""

_CODE = {"provinces": re.compile(r"^\d{4}$"), "departments": re.compile(r"^\d{2}$")}
_SOURCE_KEYS = ("title", "publisher", "year", "url")


@dataclass(frozen=True)
class ReferenceUnit:
    """A province or department known for a profile's activity, with the source that says so."""

    code: str
    name: str
    source: str
    why: str
    circular: bool


@dataclass(frozen=True)
class Reference:
    """Provinces and departments known per profile, and the public sources behind them.

    Attributes
    ----------
    sources : dict
        Source id → ``title``, ``publisher``, ``year``, ``url`` (and optional ``note`` and
        ``circular_for``, the profiles whose layers share the source's data).
    provinces, departments : dict
        Profile id → the units listed for it.
    file : pathlib.Path, optional
    """

    sources: dict[str, dict[str, Any]]
    provinces: dict[str, tuple[ReferenceUnit, ...]]
    departments: dict[str, tuple[ReferenceUnit, ...]]
    file: Path | None = None

    @property
    def profiles(self) -> list[str]:
        """Profile ids with a reference, in the file's order."""
        return list(dict.fromkeys([*self.provinces, *self.departments]))

    def province_codes(self, profile: str, *, independent: bool = False) -> set[str]:
        """Codes of the provinces listed for a profile (only non-circular ones if ``independent``)."""
        return {u.code for u in self.provinces.get(profile, ()) if not (independent and u.circular)}

    def department_codes(self, profile: str) -> set[str]:
        """Departments listed for a profile, and those of its provinces (first two digits)."""
        return ({u.code for u in self.departments.get(profile, ())}
                | {c[:2] for c in self.province_codes(profile)})


def reference_path(run: Run) -> Path:
    """Return the default reference file of a run's region (next to its region file)."""
    if run.region.file is None:
        msg = (f"region {run.region.id!r} has no region file, so no reference file next to it; "
               "give one with --reference")
        raise SpecError(msg)
    return Path(run.region.file).parent / REFERENCE_FILE


def load_reference(path: str | Path) -> Reference:
    """Read and check a reference file (see ``layers/peru/reference/reference_clusters.yaml``).

    Raises
    ------
    SpecError
        Naming the file, the key and the fix: a source without title, publisher, year or an
        ``http(s)`` address; a unit whose code is not a 4-digit province (2-digit department)
        code, or whose source is not listed under ``sources``.
    """
    path = Path(path)
    data = load_yaml(path, what="reference")
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict) \
            or not isinstance(data.get("profiles"), dict):
        msg = f"{path}: a reference needs the mappings `sources:` and `profiles:`"
        raise SpecError(msg)
    sources: dict[str, dict[str, Any]] = data["sources"]
    for sid, src in sources.items():
        missing = [k for k in _SOURCE_KEYS if not isinstance(src, dict) or not src.get(k)]
        if missing:
            msg = f"{path}: sources.{sid} lacks {', '.join(missing)}; cite title, publisher, year, url"
            raise SpecError(msg)
        if not str(src["url"]).startswith(("http://", "https://")):
            msg = f"{path}: sources.{sid}.url = {src['url']!r} is not a web address (http/https)"
            raise SpecError(msg)
    tables: dict[str, dict[str, tuple[ReferenceUnit, ...]]] = {"provinces": {}, "departments": {}}
    for pid, entry in data["profiles"].items():
        for level in tables:
            rows = (entry or {}).get(level) or []
            tables[level][pid] = tuple(_unit(path, sources, pid, level, i, row)
                                       for i, row in enumerate(rows))
    return Reference(sources=sources, provinces={k: v for k, v in tables["provinces"].items() if v},
                     departments={k: v for k, v in tables["departments"].items() if v}, file=path)


def _unit(path: Path, sources: Mapping[str, Mapping[str, Any]], pid: str, level: str, i: int,
          row: Any) -> ReferenceUnit:
    key = f"profiles.{pid}.{level}.{i}"
    if not isinstance(row, dict):
        msg = f"{path}: {key} must be a mapping with code, name, source and why"
        raise SpecError(msg)
    code = str(row.get("code", ""))
    if not _CODE[level].match(code):
        digits = 4 if level == "provinces" else 2
        msg = (f"{path}: {key}.code = {row.get('code')!r} is not a {digits}-digit code; write it "
               f"quoted, as in data/peru/{level}.parquet (e.g. \"{'0801' if digits == 4 else '08'}\")")
        raise SpecError(msg)
    source = str(row.get("source"))
    if source not in sources:
        msg = (f"{path}: {key}.source = {row.get('source')!r} is not listed under `sources`: "
               f"{sorted(sources)}")
        raise SpecError(msg)
    return ReferenceUnit(code=code, name=str(row.get("name", code)), source=source,
                         why=str(row.get("why", "")),
                         circular=pid in (sources[source].get("circular_for") or []))


def precision_at(ranked: Sequence[str], reference: set[str], *, k: int = 10) -> float:
    """Return the share of the first ``k`` ranked units that are in the reference.

    The denominator is ``min(k, len(reference))``, so a reference of three provinces can be
    matched in full; NaN for an empty reference.
    """
    if not reference:
        return float("nan")
    hits = sum(code in reference for code in list(ranked)[:k])
    return hits / min(k, len(reference))


def department_lift(departments: np.ndarray, score: np.ndarray, reference: set[str], *,
                    quantile: float = 0.9) -> float:
    r"""Return how much more often top cells lie in the reference departments than cells at large.

    Notes
    -----
    :math:`L = P(d \in R \mid s \ge s_q) / P(d \in R)` over scored cells, with :math:`s_q` the
    ``quantile`` of the scores (top decile): 1 is no better than chance, and the largest value is
    :math:`1 / P(d \in R)`. NaN when no scored cell lies in the reference departments.
    """
    s = np.asarray(score, dtype=float)
    scored = np.isfinite(s)
    if not reference or not scored.any():
        return float("nan")
    inside = np.isin(np.asarray(departments).astype(str), sorted(reference))
    top = scored & (s >= np.quantile(s[scored], quantile))
    base = inside[scored].mean()
    return float(inside[top].mean() / base) if base > 0 else float("nan")


def _spearman(a: pd.Series, b: pd.Series) -> float:
    both = pd.concat([a, b], axis=1, join="inner").dropna()
    return float(both.iloc[:, 0].corr(both.iloc[:, 1], method="spearman")) if len(both) > 2 \
        else float("nan")


def district_means(matrix: pd.DataFrame, score: np.ndarray, *,
                   rank_by: str = DEFAULT_RANK_BY) -> pd.Series:
    """Return each district's roll-up statistic ``rank_by`` (by district code).

    The population-weighted mean by default; :func:`evaluate` passes each profile's own
    statistic (:attr:`geo_engine.scoring.profiles.Profile.rank_by`).
    """
    return rollup(matrix, score, level="unit").set_index("code")[rank_by]


def resolution_stability(means: Mapping[int, Mapping[str, pd.Series]]) -> pd.DataFrame:
    """Spearman correlation of district scores between consecutive resolutions, per profile.

    Parameters
    ----------
    means : mapping
        Resolution → profile id → :func:`district_means` (districts without a cell at a coarse
        resolution are left out of that pair).

    Returns
    -------
    pandas.DataFrame
        One row per profile, one column ``districts_r{a}_r{b}`` per pair of consecutive
        resolutions.
    """
    res = sorted(means)
    out: dict[str, dict[str, float]] = {}
    for a, b in itertools.pairwise(res):
        for pid in means[a]:
            if pid in means[b]:
                out.setdefault(pid, {})[f"districts_r{a}_r{b}"] = _spearman(means[a][pid],
                                                                             means[b][pid])
    return pd.DataFrame.from_dict(out, orient="index")


def inclusion_checks(matrix: pd.DataFrame, *, inclusion: np.ndarray, need: np.ndarray,
                     access: np.ndarray) -> dict[str, float]:
    r"""Return how far inclusion is from need alone.

    ``spearman_inclusion_need_provinces``: Spearman correlation of the provinces'
    population-weighted means of inclusion and need; ``spearman_inclusion_need_access_cells``:
    Spearman correlation across cells of inclusion and :math:`\sqrt{N A}`, the same formula
    without its niche term. Values near 1 say the niche adds nothing to the ranking.
    """
    def provinces(score: np.ndarray) -> pd.Series:
        return rollup(matrix, score, level="parent").set_index("code")["pop_weighted_mean"]

    with np.errstate(invalid="ignore"):
        reach = np.sqrt(np.asarray(need, dtype=float) * np.asarray(access, dtype=float))
    return {
        "spearman_inclusion_need_provinces": _spearman(provinces(inclusion), provinces(need)),
        "spearman_inclusion_need_access_cells": _spearman(pd.Series(inclusion), pd.Series(reach)),
    }


def evaluate_scores(
    matrix: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    reference: Reference,
    *,
    names: pd.DataFrame | None = None,
    rank_by: Mapping[str, str] | None = None,
    k: int = 10,
    quantile: float = 0.9,
) -> pd.DataFrame:
    """Score each profile against the reference: precision of its top provinces, department lift.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix with ``unit_code``, ``parent_code``, ``grandparent_code`` (and
        ``population_2020`` for population-weighted means).
    scores : mapping
        Profile id → score per cell.
    reference : Reference
    names : pandas.DataFrame, optional
        :func:`geo_engine.regions.region.admin_names`, to name the top provinces.
    rank_by : mapping, optional
        Profile id → the roll-up statistic that ranks its provinces (one of
        :data:`geo_engine.reporting.rollup.RANK_BY`); the population-weighted mean for a profile not in it.
    k : int, default 10
    quantile : float, default 0.9
        Top cells for the department lift (top decile).

    Returns
    -------
    pandas.DataFrame
        One row per profile: ``reference_provinces``, ``independent_provinces`` (not marked
        circular), ``precision_at_k``, ``precision_at_k_independent``, ``department_lift``,
        ``top_provinces``, ``hits`` (names; ``*`` marks a circular hit) and ``ranked_by``, the
        statistic of :func:`geo_engine.reporting.rollup.rollup` that ranked the provinces.
    """
    rows = []
    for pid, score in scores.items():
        by = (rank_by or {}).get(pid, DEFAULT_RANK_BY)
        ranked = rollup(matrix, score, level="parent", rank_by=by)
        if names is not None:
            ranked = with_labels(ranked, matrix, names, level="parent")
        codes = ranked["code"].astype(str).tolist()
        label = (dict(zip(codes, ranked["parent"].astype(str).str.title(), strict=True))
                 if "parent" in ranked else {c: c for c in codes})
        ref = reference.province_codes(pid)
        indep = reference.province_codes(pid, independent=True)
        circular = ref - indep
        top = codes[:k]
        rows.append({
            "profile": pid,
            "reference_provinces": len(ref),
            "independent_provinces": len(indep),
            f"precision_at_{k}": precision_at(codes, ref, k=k),
            f"precision_at_{k}_independent": precision_at(codes, indep, k=k),
            "department_lift": department_lift(matrix["grandparent_code"].to_numpy(), score,
                                               reference.department_codes(pid), quantile=quantile),
            "top_provinces": "; ".join(label[c] for c in top),
            "hits": "; ".join(label[c] + ("*" if c in circular else "") for c in top if c in ref),
            "ranked_by": by,
        })
    return pd.DataFrame(rows).set_index("profile")


def evaluate(run: Run, reference: Reference, *, other_runs: Sequence[Run] = (), k: int = 10,
             quantile: float = 0.9) -> pd.DataFrame:
    """Evaluate every scored profile of a run (and inclusion) against a reference.

    Each profile's provinces and districts are ranked by its own statistic
    (:attr:`geo_engine.scoring.profiles.Profile.rank_by`), the one ``geo-engine rank`` and the app use.

    Parameters
    ----------
    run : Run
        The resolution whose rankings are checked.
    reference : Reference
    other_runs : sequence of Run
        The same region at other resolutions: adds the district-rank stability columns of
        :func:`resolution_stability` (including ``run``).
    k, quantile : see :func:`evaluate_scores`.

    Returns
    -------
    pandas.DataFrame
        :func:`evaluate_scores` joined with the stability columns; ``attrs`` holds
        ``resolution``, the :func:`inclusion_checks` and the reference file.
    """
    ids = _profile_ids(run)
    table = evaluate_scores(run.matrix, {pid: run.scored(pid).score for pid in ids}, reference,
                            names=run.names, rank_by={pid: run.profile(pid).rank_by for pid in ids},
                            k=k, quantile=quantile)
    if other_runs:
        means = {r.resolution: {pid: district_means(r.matrix, r.scored(pid).score,
                                                    rank_by=r.profile(pid).rank_by)
                                for pid in _profile_ids(r)} for r in (run, *other_runs)}
        table = table.join(resolution_stability(means))
    d = run.dual
    table.attrs.update(resolution=run.resolution, reference=str(reference.file or ""),
                       checks=inclusion_checks(run.matrix, inclusion=d.inclusion, need=d.need,
                                               access=d.access))
    return table


def _profile_ids(run: Run) -> list[str]:
    """Engine, inclusion, need, then the families: the profiles the dual model scores."""
    order = {"engine": 0, "need": 2, "family": 3}
    ids = sorted((p.id for p in run.profiles.values() if p.kind in order),
                 key=lambda pid: order[run.profiles[pid].kind])
    if np.isfinite(run.dual.inclusion).any():
        ids.insert(1 if ids and run.profiles[ids[0]].kind == "engine" else 0, INCLUSION)
    return ids
