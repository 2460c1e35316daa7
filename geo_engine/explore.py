"""Interactive exploration: re-score scenarios, shape results for the map, and build cell cards."""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd

from geo_engine import settings
from geo_engine.i18n import number, t, unit
from geo_engine.io.yaml_io import load_yaml
from geo_engine.pipeline import Run
from geo_engine.planning.scenario import CUSTOM, custom_profile
from geo_engine.reporting.maps import (
    MAX_POLYGONS,
    CategoricalLegend,
    display_resolution,
    in_view,
    to_parent,
    view_resolution,
)
from geo_engine.reporting.outputs import POPULATION_LAYER, POVERTY_LAYER, cell_table
from geo_engine.scoring.dual import INCLUSION, TYPOLOGY, DualResult, dual_model
from geo_engine.scoring.explain import Requirement, contributions, gate_why, what_it_takes, why
from geo_engine.scoring.normalize import standing
from geo_engine.scoring.profiles import Profile
from geo_engine.scoring.score import Prepared, ScoreResult, prepare, score_profile

__all__ = [
    "CUSTOM",
    "INCLUSION",
    "RANK_CHOICES",
    "Clusters",
    "Output",
    "Place",
    "Scenario",
    "Units",
    "card_summary",
    "categories",
    "cell_at",
    "cell_card",
    "clusters_in_focus",
    "comparison_table",
    "custom_profile",
    "default_layers",
    "difference",
    "district_names",
    "drawn_resolution",
    "find_place",
    "focus_choices",
    "focus_label",
    "focus_mask",
    "hexagon_note",
    "in_focus",
    "map_frame",
    "movers",
    "output_options",
    "parse_location",
    "place_index",
    "province_choices",
    "ranking",
    "region_title",
    "scenario",
    "scenario_clusters",
    "top_units",
    "typology_change",
    "typology_matrix",
    "unavailable",
    "unit_groups",
    "with_constraints",
]

NEEDS = {
    "engine": ("engine",),
    "need": ("need",),
    "access": ("access",),
    "niche_family": ("family",),
    "inclusion": ("need", "access", "family"),
    "typology": ("engine", "need", "access", "family"),
    "linkage": ("engine", "need", "access", "family"),
}
"""Dual-model outputs and the profile kinds each is computed from."""


def unavailable(run: Run) -> frozenset[str]:
    """Return the dual-model outputs the run cannot compute (a profile kind they need is missing).

    Examples: a region without poverty data has no ``need`` profile, so ``need``, ``inclusion``,
    ``typology`` and ``linkage`` are unavailable.
    """
    missing = set(run.dual.missing)
    return frozenset(k for k, kinds in NEEDS.items() if missing.intersection(kinds))


def with_constraints(profile: Profile, enabled: Sequence[bool]) -> Profile:
    """Return a copy of ``profile`` keeping only the constraints whose flag is true."""
    kept = [c for c, on in zip(profile.constraints, enabled, strict=True) if on]
    if len(kept) == len(profile.constraints):
        return profile
    return profile.model_copy(update={"constraints": kept})


@dataclass
class Scenario:
    """One scoring scenario: a profile with weights and constraints, and the dual model around it.

    The profile's own score is computed at once; the dual model (engine, inclusion, typology,
    families, linkage) and the full per-cell table only when first asked for, so re-weighting a
    profile while its score is on the map costs milliseconds.
    """

    run: Run
    profile_id: str
    result: ScoreResult | None
    results: dict[str, ScoreResult]
    engine_quantile: float = 2 / 3
    inclusion_quantile: float = 2 / 3
    weights: dict[str, float] = field(default_factory=dict)
    profile: Profile | None = None

    @functools.cached_property
    def dual(self) -> DualResult:
        """The dual model with this scenario's score in place of the profile's default one."""
        return dual_model(self.run.matrix, self.run.profiles, specs=self.run.specs,
                          results=self.results, engine_quantile=self.engine_quantile,
                          inclusion_quantile=self.inclusion_quantile,
                          hub_minutes=self.run.hub_minutes, partial=True, cache=self.run.cache)

    @property
    def score(self) -> np.ndarray:
        """The scenario's score per cell (the inclusion score for :data:`INCLUSION`)."""
        return self.dual.inclusion if self.result is None else self.result.score

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        """Per-cell outputs (:func:`geo_engine.reporting.outputs.cell_table`) of this scenario."""
        run = self.run
        base = (next(p for p in run.profiles.values() if p.kind == "engine") if self.result is None
                else self.profile or run.profile(self.profile_id))
        table = cell_table(run.matrix, profile=base, dual=self.dual, names=run.names,
                           result=self.results.get(base.id) if self.result is None else self.result)
        if self.result is None:
            table["score"] = self.dual.inclusion
            table["rank"] = pd.Series(self.dual.inclusion).rank(ascending=False,
                                                                method="min").to_numpy()
            table = table.drop(columns=[c for c in table.columns if c.startswith("contrib_")])
        return table


def scenario(
    run: Run,
    *,
    profile_id: str,
    weights: Mapping[str, float] | None = None,
    constraints: Sequence[bool] | None = None,
    engine_quantile: float = 2 / 3,
    inclusion_quantile: float = 2 / 3,
    prepared: Prepared | None = None,
    profile: Profile | None = None,
) -> Scenario:
    """Re-score one profile with new weights/constraints; the dual model follows on demand.

    The other profiles keep their scores from ``run``; only the chosen profile is re-aggregated
    (and re-normalized only when its constraints change).

    Parameters
    ----------
    run : Run
    profile_id : str
        A profile id of ``run`` or :data:`INCLUSION`.
    weights : mapping, optional
        Weights of the profile's layers (unnormalized).
    constraints : sequence of bool, optional
        Which of the profile's constraints stay on (all by default).
    engine_quantile, inclusion_quantile : float
        Typology thresholds as quantiles.
    prepared : Prepared, optional
        Reuse normalization for this profile and these constraints.
    profile : Profile, optional
        A profile built on the fly (a custom one); ``profile_id`` then only names it.

    Returns
    -------
    Scenario
    """
    results = dict(run.dual.results)
    result = None
    if profile_id != INCLUSION:
        profile = profile or run.profile(profile_id)
        if constraints is not None:
            profile = with_constraints(profile, constraints)
        prep = prepared or prepare(run.matrix, profile, specs=run.specs, cache=run.cache)
        result = score_profile(run.matrix, profile, weights=dict(weights or {}), prepared=prep)
        results[profile_id] = result
    return Scenario(run=run, profile_id=profile_id, result=result, results=results,
                    engine_quantile=engine_quantile, inclusion_quantile=inclusion_quantile,
                    weights=dict(result.weights) if result is not None else {},
                    profile=profile if profile_id != INCLUSION else None)


def default_layers(run: Run, *, most: int = 3) -> list[str]:
    """Return the layers a custom profile starts from: the first layer of each theme, up to ``most``.

    Themes are taken social first, then infrastructure, resource and environment, so the start
    mixes need, access and assets whatever region is shown.
    """
    first: dict[str, str] = {}
    for spec in run.specs.values():
        first.setdefault(spec.theme, spec.id)
    order = ["social", "infrastructure", "resource", "environment"]
    themes = sorted(first, key=lambda th: order.index(th) if th in order else len(order))
    return [first[th] for th in themes][:most]


@dataclass(frozen=True)
class Output:
    """Something the map can be coloured by."""

    key: str
    label: str
    kind: str  # "score", "categorical", "layer", "minutes", "probability", "difference"
    units: str = ""


def output_options(run: Run, lang: str, *, extra: Sequence[Output] = ()) -> list[Output]:
    """Return every output the map offers: scores, typology, family, family scores, raw layers.

    Dual-model outputs the run cannot compute (:func:`unavailable`) are left out.
    """
    out = [
        Output("score", t("score", lang), "score", "0–1"),
        Output("engine", t("engine", lang), "score", "0–1"),
        Output("inclusion", t("inclusion", lang), "score", "0–1"),
        Output("need", t("need", lang), "score", "0–1"),
        Output("access", t("access", lang), "score", "0–1"),
        Output("typology", t("typology", lang), "categorical"),
        Output("niche_family", t("niche_family", lang), "categorical"),
        Output("linkage", t("linkage", lang), "score", "0–1"),
    ]
    skip = unavailable(run)
    out = [o for o in out if o.key not in skip]
    for p in run.profiles.values():
        if p.kind == "family":
            name = getattr(p.title, lang, p.title.en)
            out.append(Output(f"family_{p.id}", t("family_score", lang, name=name), "score", "0–1"))
    out.extend(extra)
    for spec in run.specs.values():
        name = getattr(spec.title, lang, spec.title.en)
        out.append(Output(f"layer:{spec.id}", t("layer_raw", lang, name=name, units=unit(spec.units, lang)),
                          "layer", spec.units))
    return out


_DUAL_OUTPUTS = {"engine": "engine", "inclusion": "inclusion", "need": "need", "access": "access",
                 "typology": "typology", "niche_family": "best_family", "linkage": "linkage"}
"""Outputs read from the dual model itself, without building the scenario's whole cell table."""


def _values(sc: Scenario, run: Run, output: Output) -> np.ndarray:
    if output.key.startswith("layer:"):
        return run.matrix[output.key.split(":", 1)[1]].to_numpy()
    if output.key.startswith("family_"):
        return sc.dual.families[output.key.removeprefix("family_")].to_numpy()
    if output.key == "score":
        return sc.score
    if output.key in _DUAL_OUTPUTS:
        values = np.asarray(getattr(sc.dual, _DUAL_OUTPUTS[output.key]))
        # missing labels as NaN, as in the cell table
        return np.where(pd.isna(values), np.nan, values) if values.dtype == object else values
    return sc.table[output.key].to_numpy()


def map_frame(
    run: Run,
    sc: Scenario,
    output: Output,
    *,
    department: str | None = None,
    province: str | None = None,
    unit: str | None = None,
    values: np.ndarray | None = None,
    names: np.ndarray | None = None,
    view: tuple[float, float, float, float] | None = None,
    max_polygons: int = MAX_POLYGONS,
) -> tuple[pd.DataFrame, int]:
    """Return the hexagons to draw for an output, aggregated to a resolution the map can hold.

    Parameters
    ----------
    run, sc : Run, Scenario
    output : Output
    department : str, optional
        Department code to focus on (its cells only, at the finest resolution that fits).
    province : str, optional
        Province code to focus on, likewise.
    unit : str, optional
        Unit (``unit_code``) to focus on, likewise.
    values : numpy.ndarray, optional
        Per-cell values overriding the output's own (sensitivity, differences).
    names : numpy.ndarray, optional
        :func:`district_names` of ``run``, when the caller keeps them (they do not change
        between redraws); computed otherwise.
    view : tuple, optional
        (west, south, east, north) the map shows. When the whole focus is drawn coarser than the
        cells and the hexagons of a finer resolution touching this view (with a margin, see
        :func:`~geo_engine.reporting.maps.in_view`) number ≤ ``max_polygons``, only those are
        returned, at the finest such resolution (each still the mean of all its cells).
    max_polygons : int, default :data:`~geo_engine.reporting.maps.MAX_POLYGONS`
        Most hexagons returned.

    Returns
    -------
    tuple of (pandas.DataFrame, int)
        Hexagons with ``h3``, ``value``, ``population``, ``poverty``, ``unit`` and the display
        resolution.
    """
    cells = pd.DataFrame({
        "h3": run.matrix["h3"].to_numpy(),
        "area_km2": run.matrix["area_km2"].to_numpy(),
        "value": np.asarray(values) if values is not None else _values(sc, run, output),
        "population": _column(run, POPULATION_LAYER),
        "poverty": _column(run, POVERTY_LAYER),
    })
    focus = focus_mask(run, department=department, province=province, unit=unit)
    cells = cells[focus]
    ids = run.matrix["h3"].to_numpy(dtype=np.uint64)
    grid_res = run.resolution
    coarse = res = display_resolution(len(cells), grid_res, max_polygons=max_polygons)
    inside = None
    if view is not None and coarse < grid_res:  # zoomed in: finer hexagons for the view alone
        res, inside = _view_cells(run, focus, view, coarse, max_polygons)
    categorical = output.kind == "categorical"
    frame = to_parent(cells, resolution=res, numeric=["poverty"] if categorical else ["value", "poverty"],
                      categorical=["value"] if categorical else [], sums=["population"],
                      within=inside if res > coarse else None)
    # label each hexagon with the district at its centre
    centre = _centre_children(np.ascontiguousarray(frame["h3"].to_numpy(dtype=np.uint64)).tobytes(),
                              grid_res)
    pos = np.clip(np.searchsorted(ids, centre), 0, len(ids) - 1)
    found = ids[pos] == centre
    names = district_names(run) if names is None else names
    frame["unit"] = np.where(found, names[pos], np.array(None, dtype=object))
    return frame, res


def _view_cells(run: Run, focus: np.ndarray, view: tuple[float, float, float, float],
                coarse: int, max_polygons: int) -> tuple[int, np.ndarray]:
    """Return the resolution to draw a view at and which cells in focus lie in it."""
    inside = in_view(run.matrix["lat"].to_numpy()[focus], run.matrix["lon"].to_numpy()[focus], view)
    ids = run.matrix["h3"].to_numpy(dtype=np.uint64)[focus]
    return view_resolution(ids, inside, coarsest=coarse, max_polygons=max_polygons), inside


def drawn_resolution(run: Run, *, view: tuple[float, float, float, float] | None = None,
                     department: str | None = None, province: str | None = None,
                     unit: str | None = None, max_polygons: int = MAX_POLYGONS) -> int:
    """Return the resolution :func:`map_frame` draws the focus at for ``view``, without drawing.

    When it is the resolution of the whole focus (the view is too large for finer hexagons),
    ``map_frame(..., view=view)`` returns the same hexagons as without a view, so a map panned
    or zoomed within it keeps the hexagons it drew.
    """
    focus = focus_mask(run, department=department, province=province, unit=unit)
    coarse = display_resolution(int(focus.sum()), run.resolution, max_polygons=max_polygons)
    if view is None or coarse >= run.resolution:
        return coarse
    return _view_cells(run, focus, view, coarse, max_polygons)[0]


@functools.lru_cache(maxsize=16)
def _centre_children(key: bytes, resolution: int) -> np.ndarray:
    """Centre child at ``resolution`` of each hexagon (ids as bytes): the same map redraws them."""
    return np.array([h3.str_to_int(h3.cell_to_center_child(format(int(c), "x"), resolution))
                     for c in np.frombuffer(key, dtype=np.uint64)], dtype=np.uint64)


@dataclass(frozen=True)
class Clusters:
    """Hot-spot clusters of a scenario: per-cell tests and one profiled polygon per cluster."""

    cells: pd.DataFrame
    table: gpd.GeoDataFrame


def scenario_clusters(run: Run, sc: Scenario, *, permutations: int = 999, fdr: float = 0.05,
                      min_cells: int = 5, seed: int = 0) -> Clusters:
    """Find the significant hot-spot clusters of a scenario's score (Gi*, FDR-controlled).

    An empty result (no significant cluster) is valid: ``table`` then has no rows.
    """
    from geo_engine.clusters import hot_spots, summarize_clusters, travel_minutes

    m = run.matrix
    score = np.asarray(sc.score, dtype=float)
    cells = hot_spots(m, score, permutations=permutations, fdr=fdr, min_cells=min_cells, seed=seed)
    table = summarize_clusters(
        m, cells, profile=sc.profile_id,
        contributions=sc.result.contributions if sc.result is not None else None,
        names=run.names, **travel_minutes(m))
    return Clusters(cells=cells, table=table)


def clusters_in_focus(found: Clusters, mask: np.ndarray) -> Clusters:
    """Keep the clusters with at least one cell in ``mask`` (:func:`focus_mask`), ranks kept.

    A cluster that crosses the focus border is kept whole: it is one place on the ground.
    """
    if bool(mask.all()):
        return found
    ids = found.cells["cluster_id"].to_numpy()[mask]
    kept = {int(i) for i in pd.unique(ids) if not pd.isna(i)}
    table = found.table[found.table["cluster_id"].astype(int).isin(kept)]
    return Clusters(cells=found.cells, table=table.reset_index(drop=True))


MAX_FOCUS_UNITS = 200
"""A region without departments offers to focus on one of its units when it has at most this many."""


def focus_choices(run: Run) -> tuple[str | None, dict[str, str]]:
    """Return what a map can focus on: ``("department" | "unit" | None, {code: label})``.

    Departments when the grid has them (labelled by name, else code), otherwise the units of a
    region with at most :data:`MAX_FOCUS_UNITS` of them; labels sorted alphabetically.
    """
    m = run.matrix
    if "grandparent_code" in m:
        deps = (m[["unit_code", "grandparent_code"]].drop_duplicates("unit_code")
                .merge(run.names, on="unit_code", how="left").drop_duplicates("grandparent_code"))
        shown = (deps["grandparent"] if "grandparent" in deps
                 else deps["grandparent_code"]).fillna(deps["grandparent_code"])
        pairs = zip(deps["grandparent_code"].astype(str), shown.astype(str), strict=True)
        return "department", dict(sorted(pairs, key=lambda kv: kv[1]))
    if m["unit_code"].nunique() <= MAX_FOCUS_UNITS:
        codes = sorted(m["unit_code"].astype(str).unique())
        named = (run.names.set_index(run.names["unit_code"].astype(str))["unit"].to_dict()
                 if "unit" in run.names else {})
        return "unit", dict(sorted(((c, str(named.get(c, c))) for c in codes),
                                   key=lambda kv: kv[1]))
    return None, {}


def province_choices(run: Run, department: str) -> dict[str, str]:
    """Return the provinces of one department, ``{code: name}`` sorted by name (empty without any)."""
    m = run.matrix
    if not department or "parent_code" not in m or "grandparent_code" not in m:
        return {}
    rows = m.loc[m["grandparent_code"].astype(str) == department, ["unit_code", "parent_code"]]
    rows = rows.drop_duplicates("parent_code").merge(run.names, on="unit_code", how="left")
    shown = (rows["parent"] if "parent" in rows else rows["parent_code"]).fillna(
        rows["parent_code"])
    pairs = zip(rows["parent_code"].astype(str), shown.astype(str), strict=True)
    return dict(sorted(pairs, key=lambda kv: kv[1]))


def focus_mask(run: Run, *, department: str | None = None, province: str | None = None,
               unit: str | None = None) -> np.ndarray:
    """Return which cells of the run are in focus (all of them when nothing is focused).

    A province narrows its department; a unit (``unit_code``) narrows both.
    """
    m = run.matrix
    mask = np.ones(len(m), dtype=bool)
    for column, code in (("grandparent_code", department), ("parent_code", province),
                         ("unit_code", unit)):
        if code:
            if column not in m:
                msg = f"the grid has no {column!r} column to focus on {code!r}"
                raise KeyError(msg)
            mask &= m[column].astype(str).to_numpy() == str(code)
    return mask


def in_focus(table: pd.DataFrame, run: Run, mask: np.ndarray, *, level: str) -> pd.DataFrame:
    """Keep the rows of a roll-up (:func:`geo_engine.reporting.rollup.rollup`) whose unit is in focus.

    Units are kept when any of their cells is in ``mask``; ranks are renumbered within the focus
    (ties share the best rank), so rank 1 is the first unit of the department in view.
    """
    from geo_engine.reporting.rollup import LEVELS

    if bool(mask.all()):
        return table
    codes = set(run.matrix.loc[mask, LEVELS[level]].astype(str))
    kept = table[table["code"].astype(str).isin(codes)].copy()
    if "rank" in kept:
        kept["rank"] = kept["rank"].rank(method="min").astype(int)
    return kept.reset_index(drop=True)


RANK_CHOICES = ("poor_population_top", "poor_population", "pop_weighted_mean", "mean", "max",
                "share_pop_top", "score_km2")
"""What a targeting ranking can sort by: poor people in top cells first (see :func:`ranking`)."""


def ranking(run: Run, score: np.ndarray, *, level: str, rank_by: str = "poor_population_top",
            mask: np.ndarray | None = None, quantile: float = 0.9) -> pd.DataFrame:
    """Rank admin units for targeting: poor people, poor people in top cells, mean and best score.

    Parameters
    ----------
    run : Run
    score : numpy.ndarray
        One score per cell.
    level : {"unit", "parent", "grandparent"}
    rank_by : str, default "poor_population_top"
        One of :data:`RANK_CHOICES`; rank 1 is the highest.
    mask : numpy.ndarray, optional
        Cells in focus (:func:`focus_mask`): only units with a cell in it are kept.
    quantile : float, default 0.9
        Top cells are at or above this quantile of all scored cells of the region (so a
        department's "top cells" are the country's top decile inside it).

    Returns
    -------
    pandas.DataFrame
        Names of the unit and its parents, ``code``, ``rank``, ``tie`` (the value equals the
        next or previous unit's), ``poor_population``, ``poor_population_top``, ``population``,
        ``mean``, ``max``, ``pop_weighted_mean``, ``share_pop_top``, ``score_km2``, ``cells``;
        populations as whole people.

    Notes
    -----
    Poor people in a cell are its poverty rate (percent) × its population / 100, summed over the
    unit (``poor_population``) and over its top cells (``poor_population_top``). Ranks are unique:
    equal values are ordered by poor population, then population, then code, and flagged in
    ``tie``.
    """
    from geo_engine.reporting.rollup import rollup, with_labels

    if rank_by not in RANK_CHOICES:
        msg = f"`rank_by` was {rank_by!r} but must be one of {list(RANK_CHOICES)}"
        raise ValueError(msg)
    s = np.asarray(score, dtype=float)
    table = rollup(run.matrix, s, level=level, quantile=quantile).drop(columns="rank")
    table = in_focus(table, run, np.ones(len(s), dtype=bool) if mask is None else mask,
                     level=level)
    order = table.sort_values([rank_by, "poor_population", "population", "code"],
                              ascending=[False, False, False, True], na_position="last",
                              kind="stable")
    values = order[rank_by].to_numpy(dtype=float)
    same = np.zeros(len(values), dtype=bool)
    if len(values) > 1:
        equal = np.isclose(values[1:], values[:-1], rtol=0, atol=1e-12)
        same[1:] |= equal
        same[:-1] |= equal
    order = order.assign(rank=np.arange(1, len(order) + 1), tie=same)
    for column in ("population", "poor_population", "poor_population_top", "population_top"):
        order[column] = order[column].round(0).astype("Int64")
    order = with_labels(order.reset_index(drop=True), run.matrix, run.names, level=level)
    names = [c for c in ("unit", "parent", "grandparent") if c in order]
    first = [*names, "code", "rank", "tie", "poor_population_top", "poor_population",
             "population", "mean", "max", "pop_weighted_mean", "share_pop_top", "score_km2",
             "cells"]
    return order[[c for c in first if c in order]]


@dataclass(frozen=True)
class Units:
    """The cells of a run grouped by admin unit once, so that a new score ranks in milliseconds.

    Built by :func:`unit_groups`; :func:`top_units` uses it.

    Attributes
    ----------
    level : str
        ``"district"``, ``"province"`` or ``"department"``.
    codes : numpy.ndarray
        The units' codes, sorted (as :func:`~geo_engine.reporting.rollup.rollup` orders them).
    order, starts : numpy.ndarray
        The cells with a code sorted by unit, and where each unit's run of cells starts in that
        order.
    population, poor, area : numpy.ndarray
        People, poor people and km² of the cells in ``order``, missing values as the roll-up
        counts them.
    known_population : bool
        Whether the run has any population figure.
    labels : pandas.DataFrame
        The names of each unit and of the units above it, in the order of ``codes`` (no columns
        when the run has no names).
    """

    level: str
    codes: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    population: np.ndarray
    poor: np.ndarray
    area: np.ndarray
    known_population: bool
    labels: pd.DataFrame


def unit_groups(run: Run, *, level: str = "unit") -> Units:
    """Return the cells of ``run`` grouped by the units of ``level`` (see :class:`Units`)."""
    from geo_engine.matrix.derived import poor_population
    from geo_engine.reporting.rollup import LEVELS, with_labels

    m = run.matrix
    group, codes = pd.factorize(m[LEVELS[level]].to_numpy(), sort=True)
    pop = (m[POPULATION_LAYER].to_numpy(dtype=float) if POPULATION_LAYER in m
           else np.full(len(m), np.nan))
    known = bool(np.isfinite(pop).any())
    poor = poor_population(m)
    order = np.argsort(group, kind="stable")
    order = order[group[order] >= 0]
    starts = np.searchsorted(group[order], np.arange(len(codes)))
    columns = [c for c in LEVELS.values() if c in m]
    named = with_labels(pd.DataFrame({"code": codes}), m[columns].drop_duplicates("unit_code"),
                        run.names, level=level)
    area = m["area_km2"].to_numpy(dtype=float) if "area_km2" in m else np.full(len(m), np.nan)
    return Units(
        level=level, codes=np.asarray(codes, dtype=object), order=order, starts=starts,
        population=np.where(np.isfinite(pop), pop, 0.0 if known else np.nan)[order],
        poor=np.where(np.isfinite(poor), poor, 0.0 if np.isfinite(poor).any() else np.nan)[order],
        area=area[order], known_population=known,
        labels=named.drop(columns="code").reset_index(drop=True))


def _unit_sum(units: Units, values: np.ndarray) -> np.ndarray:
    """Sum cell values (in unit order) per unit, skipping NaN; NaN for a unit with none (``min_count=1``)."""
    finite = np.isfinite(values)
    totals = np.add.reduceat(np.where(finite, values, 0.0), units.starts)
    counts = np.add.reduceat(finite, units.starts, dtype=np.int64)
    return np.where(counts > 0, totals, np.nan)


def top_units(units: Units, score: np.ndarray, *, rank_by: str,
              mask: np.ndarray | None = None, n: int = 5, quantile: float = 0.9) -> pd.DataFrame:
    """Return the first ``n`` rows of :func:`ranking`, computed with array sums instead of tables.

    Parameters
    ----------
    units : Units
        :func:`unit_groups` of the run, at the level to rank.
    score : numpy.ndarray
        One score per cell.
    rank_by : str
        One of :data:`RANK_CHOICES`.
    mask : numpy.ndarray, optional
        Cells in focus: only units with a cell in it are ranked.
    n : int, default 5
    quantile : float, default 0.9
        As in :func:`ranking`.

    Returns
    -------
    pandas.DataFrame
        The same rows and columns as ``ranking(run, score, ...).head(n)`` for the run of ``units``.

    Notes
    -----
    The unit figures follow :func:`~geo_engine.reporting.rollup.rollup` (per-unit sums by
    ``numpy.bincount``, maxima by ``numpy.fmax.reduceat``) and the order follows :func:`ranking`
    (``rank_by``, then poor people, then people, descending, then code), so the app's top table
    redraws in milliseconds when a weight moves. Only the ``n`` rows shown are named.
    """
    if rank_by not in RANK_CHOICES:
        msg = f"`rank_by` was {rank_by!r} but must be one of {list(RANK_CHOICES)}"
        raise ValueError(msg)
    every = np.asarray(score, dtype=float)
    ok = np.isfinite(every)
    threshold = np.quantile(every[ok], quantile) if ok.any() else np.inf
    s = every[units.order]  # the cells in unit order from here on
    scored = np.isfinite(s)
    top = scored & (s >= threshold)
    pop, poor = units.population, units.poor
    values = np.where(scored, s, 0.0)
    stats = {
        "population": _unit_sum(units, pop), "poor_population": _unit_sum(units, poor),
        "population_top": _unit_sum(units, np.where(top, pop, 0.0 if units.known_population
                                                    else np.nan)),
        "poor_population_top": _unit_sum(units, np.where(top, poor, poor * 0.0)),
        "score_km2": _unit_sum(units, np.where(scored, units.area * values, 0.0)),
        "cells": np.diff(np.append(units.starts, len(units.order))),
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        stats["mean"] = (_unit_sum(units, np.where(scored, s, np.nan))
                         / np.add.reduceat(scored, units.starts, dtype=np.int64))
        ps = _unit_sum(units, np.where(scored, pop * values, 0.0))
        p_scored = _unit_sum(units, np.where(scored, pop, 0.0))
        stats["pop_weighted_mean"] = np.where(p_scored > 0, ps / p_scored, stats["mean"])
        stats["share_pop_top"] = np.where(stats["population"] > 0,
                                          stats["population_top"] / stats["population"], np.nan)
    best = np.fmax.reduceat(np.where(scored, s, -np.inf), units.starts)
    stats["max"] = np.where(np.isfinite(best), best, np.nan)
    kept = np.arange(len(units.codes))
    if mask is not None:
        kept = np.flatnonzero(np.add.reduceat(np.asarray(mask, dtype=bool)[units.order],
                                              units.starts, dtype=np.int64) > 0)

    def down(column: str) -> np.ndarray:  # descending, missing last
        v = stats[column][kept]
        return np.where(np.isnan(v), np.inf, -v)

    order = kept[np.lexsort((kept, down("population"), down("poor_population"), down(rank_by)))]
    ranked = stats[rank_by][order]
    same = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        equal = np.isclose(ranked[1:], ranked[:-1], rtol=0, atol=1e-12)
        same[1:] |= equal
        same[:-1] |= equal
    first = order[:n]
    people = ("population", "poor_population", "poor_population_top", "population_top")
    table = pd.DataFrame({
        **{c: units.labels[c].iloc[first].reset_index(drop=True) for c in units.labels},
        "code": pd.Series(units.codes[first], dtype=object),
        "rank": np.arange(1, len(first) + 1), "tie": same[:n],
        **{k: pd.array(np.round(v[first]), dtype="Int64") if k in people else v[first]
           for k, v in stats.items()}})
    names = [c for c in ("unit", "parent", "grandparent") if c in table]
    columns = [*names, "code", "rank", "tie", "poor_population_top", "poor_population",
               "population", "mean", "max", "pop_weighted_mean", "share_pop_top", "score_km2",
               "cells"]
    return table[[c for c in columns if c in table]]


def focus_label(run: Run, lang: str, *, department: str | None = None,
                province: str | None = None, unit: str | None = None) -> str:
    """Return what is in focus in words: ``"Cusco (departamento) · Urubamba (provincia)"``.

    The whole region's name (:func:`t` ``all_country``/``all_region``) when nothing is focused.
    """
    _, labels = focus_choices(run)
    parts = []
    if department:
        parts.append(t("focus_department_is", lang, name=labels.get(department, department)))
    if province:
        name = province_choices(run, department or "").get(province, province)
        parts.append(t("focus_province_is", lang, name=name))
    if unit:
        parts.append(t("focus_unit_is", lang, name=labels.get(unit, unit)))
    if not parts:
        return t("all_country" if "grandparent_code" in run.matrix else "all_region", lang)
    return " · ".join(parts)


def region_title(region: str | Path, lang: str) -> str:
    """Return the title of a region (shipped id or region file) in ``lang``, from its region file."""
    from geo_engine.regions.region import load_region

    reg = load_region(region)
    doc = load_yaml(reg.file, what="region file") if reg.file else None
    title = doc.get("title") if isinstance(doc, dict) else None
    if isinstance(title, dict):
        return str(title.get(lang) or title.get("en") or reg.title)
    return str(title or reg.title)


def _column(run: Run, layer: str) -> np.ndarray:
    return (run.matrix[layer].to_numpy(dtype=float) if layer in run.matrix
            else np.full(len(run.matrix), np.nan))


def district_names(run: Run) -> np.ndarray:
    """Return the district name of every cell of the run (its code where no name is known)."""
    codes = run.matrix["unit_code"].astype("string")
    if "unit" not in run.names:
        return codes.to_numpy(dtype=object)
    lookup = run.names.set_index("unit_code")["unit"]
    return codes.map(lookup).fillna(codes).to_numpy(dtype=object)


def categories(output: Output, run: Run, lang: str) -> CategoricalLegend | None:
    """Return the legend of a categorical output (typology or niche family)."""
    if output.key == "typology":
        return CategoricalLegend.build(list(TYPOLOGY), {k: t(k, lang) for k in TYPOLOGY})
    if output.key == "typology_change":
        labels = {"unchanged": t("unchanged", lang),
                  **{f"to_{k}": "→ " + t(k, lang) for k in TYPOLOGY}}
        return CategoricalLegend.build(list(TYPOLOGY_CHANGE), labels)
    if output.key == "niche_family":
        fams = [p for p in run.profiles.values() if p.kind == "family"]
        return CategoricalLegend.build([p.id for p in fams],
                                       {p.id: getattr(p.title, lang, p.title.en) for p in fams})
    return None


def parse_location(text: str) -> tuple[float, float] | None:
    """Return (lat, lon) from ``"lat, lon"`` or an H3 cell id; None when the text is neither.

    Examples
    --------
    >>> parse_location("-13.52, -71.97")
    (-13.52, -71.97)
    """
    text = (text or "").strip()
    if not text:
        return None
    if h3.is_valid_cell(text):
        return h3.cell_to_latlng(text)
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    if len(parts) == 2:
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except ValueError:
            return None
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return lat, lon
    return None


_PLACE_KINDS = {"grandparent": "department", "parent": "province", "unit": "district"}  # Peru's names
"""Kind of place each admin slot gives, coarsest first (catalogue keys of the app)."""


@dataclass(frozen=True)
class Place:
    """A place found by :func:`find_place`: a unit (with its codes) or a point, and where to look."""

    kind: str  # "department", "province", "district", "point"
    name: str
    lat: float
    lon: float
    department: str | None = None
    province: str | None = None
    district: str | None = None


def _plain(text: str) -> str:
    """Lowercase without accents or extra spaces: ``"  Apurímac "`` → ``"apurimac"``."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().replace("-", " ").split())


def place_index(run: Run) -> pd.DataFrame:
    """Return the named units :func:`find_place` searches: one row per department, province, district.

    Columns: ``kind``, ``code``, ``name``, ``plain`` (the name without accents or case),
    ``plain_province`` and ``plain_department`` (its parents, for ``"name, parent"`` queries),
    ``grandparent_code``, ``parent_code``, ``unit_code``, ``population`` and ``row`` (the
    matrix row of its most populous cell). Empty for a region without names.
    """
    m = run.matrix
    if "unit" not in run.names:
        return pd.DataFrame(columns=["kind", "code", "name", "plain", "population", "row"])
    pop = _column(run, POPULATION_LAYER)
    cells = pd.DataFrame({"pop": np.where(np.isfinite(pop), pop, 0.0),
                          "rank": np.where(np.isfinite(pop), pop, -1.0)})
    codes = [c for c in ("grandparent_code", "parent_code", "unit_code") if c in m]
    for c in codes:
        cells[c] = m[c].astype(str).to_numpy()
    names = run.names.astype({"unit_code": str}).drop_duplicates("unit_code")
    units = cells.drop_duplicates("unit_code")[codes].merge(names, on="unit_code",
                                                                 how="left")
    frames = []
    for slot, kind in _PLACE_KINDS.items():
        column = f"{slot}_code"
        if column not in cells or slot not in units:
            continue
        g = cells.groupby(column)
        stats = pd.DataFrame({"population": g["pop"].sum(), "row": g["rank"].idxmax()})
        rows = units.drop_duplicates(column).set_index(column).join(stats, how="inner")
        rows = rows.reset_index()
        frames.append(pd.DataFrame({
            "kind": kind, "code": rows[column], "name": rows[slot].astype(str),
            "grandparent_code": rows.get("grandparent_code"),
            "parent_code": rows.get("parent_code") if kind != "department" else None,
            "unit_code": rows["unit_code"] if kind == "district" else None,
            "plain_province": rows["parent"].map(_plain) if "parent" in rows else "",
            "plain_department": rows["grandparent"].map(_plain) if "grandparent" in rows else "",
            "population": rows["population"], "row": rows["row"]}))
    index = pd.concat(frames, ignore_index=True)
    index["plain"] = index["name"].map(_plain)
    return index


def find_place(run: Run, text: str, *, cutoff: float = 0.75,
               index: pd.DataFrame | None = None) -> Place | None:
    """Find a department, province or district by name, or a point from ``lat, lon`` or an H3 id.

    Parameters
    ----------
    run : Run
    text : str
        A name (accents, case and hyphens ignored; near misses accepted), optionally followed by
        a comma and a parent's name to tell apart units of the same name (``"Santa Rosa, Puno"``);
        or ``"lat, lon"``; or an H3 cell id.
    cutoff : float, default 0.75
        Least :class:`difflib.SequenceMatcher` ratio a near miss needs.
    index : pandas.DataFrame, optional
        :func:`place_index` of ``run`` (built when not given; keep it to search often).

    Returns
    -------
    Place or None
        None when nothing matches. A unit's point is its most populous cell (its first cell
        without a population layer), so the card opens where people live.

    Notes
    -----
    Exact names win over near misses; among equal names a department comes before a province
    and a province before a district ("Cusco" is the department), then the most populous.
    """
    point = parse_location(text)
    if point is not None:
        return Place("point", text.strip(), *point)
    parts = [_plain(p) for p in (text or "").split(",") if _plain(p)]
    index = place_index(run) if index is None else index
    if not parts or index.empty:
        return None
    pool = index
    for parent in parts[1:]:
        pool = pool[(pool["plain_province"] == parent) | (pool["plain_department"] == parent)]
    wanted = parts[0]
    if not (pool["plain"] == wanted).any():
        close = difflib.get_close_matches(wanted, pool["plain"].unique().tolist(), n=1,
                                          cutoff=cutoff)
        if not close:
            return None
        wanted = close[0]
    order = {"department": 0, "province": 1, "district": 2}
    hits = pool[pool["plain"] == wanted]
    hit = hits.assign(order=hits["kind"].map(order)).sort_values(
        ["order", "population"], ascending=[True, False]).iloc[0]
    at = int(hit["row"])

    def code(column: str) -> str | None:
        value = hit.get(column)
        return str(value) if isinstance(value, str) and value else None

    return Place(str(hit["kind"]), str(hit["name"]), float(run.matrix["lat"].iloc[at]),
                 float(run.matrix["lon"].iloc[at]), department=code("grandparent_code"),
                 province=code("parent_code"), district=code("unit_code"))


def cell_at(run: Run, lat: float, lon: float) -> int | None:
    """Return the matrix row of the grid cell under a point, or None outside the grid."""
    ids = run.matrix["h3"].to_numpy(dtype=np.uint64)
    cell = np.uint64(h3.str_to_int(h3.latlng_to_cell(lat, lon, run.resolution)))
    pos = int(np.searchsorted(ids, cell))
    return pos if pos < len(ids) and ids[pos] == cell else None


def _fmt(value: float, lang: str) -> str:
    if not np.isfinite(value):
        return "—"
    if abs(value) >= 100 or value == 0:
        return number(value, lang)
    return number(value, lang, decimals=max(0, 2 - int(np.floor(np.log10(abs(value))))))


def cell_card(run: Run, sc: Scenario, row: int, lang: str) -> dict[str, Any]:
    """Gather everything the card of one cell shows.

    Returns
    -------
    dict
        ``h3``, ``names`` (district, province, department), ``scores`` (label → value),
        ``typology``, ``family`` and ``margin``, ``why`` (a sentence on the niche's evidence,
        the need and the reach, :func:`geo_engine.scoring.explain.why`; None without niche families),
        ``contributions`` (DataFrame: layer, weight,
        normalized, contribution), ``space`` ("score" or "log"), ``raw`` (DataFrame: layer, value,
        units, source), ``requirements`` (list of text lines), ``top`` (already in the top
        decile).
    """
    table = sc.table.iloc[row]
    h3_id = format(int(run.matrix["h3"].iloc[row]), "x")
    dual = sc.dual
    family = dual.best_family[row]
    fam_title = (getattr(run.profiles[family].title, lang, run.profiles[family].title.en)
                 if family else None)
    skip = unavailable(run)
    scores = {t("score", lang): float(table["score"])}
    for key, values in (("engine", dual.engine), ("inclusion", dual.inclusion),
                        ("need", dual.need), ("access", dual.access), ("linkage", dual.linkage)):
        if key not in skip:
            scores[t(key, lang)] = float(values[row])
    card: dict[str, Any] = {
        "h3": h3_id,
        "names": {k: str(table[k]) for k in ("unit", "parent", "grandparent") if k in table},
        "scores": scores,
        "typology": t(dual.typology[row], lang) if dual.typology[row] else None,
        "family": fam_title,
        "margin": float(dual.niche_margin[row]),
        "why": (None if "family" in dual.missing
                else why(dual, run.matrix, row, profiles=run.profiles, specs=run.specs, lang=lang)),
        "population": float(table["population"]),
        "poverty": float(table["poverty_rate"]),
        "space": "score",
        "contributions": None,
        "raw": None,
        "requirements": [],
        "top": False,
    }
    result = sc.result
    if result is None:
        return card
    contrib = contributions(result, row)
    titles = {s.id: getattr(s.title, lang, s.title.en) for s in run.specs.values()}
    contrib.insert(1, "title", [titles.get(i, i) for i in contrib["layer"]])
    card["contributions"] = contrib
    card["space"] = result.contribution_space
    raw_rows = []
    for lid in result.prepared.layer_ids:
        spec = run.specs.get(lid)
        raw_rows.append({
            "layer": titles.get(lid, lid),
            "value": _fmt(float(run.matrix[lid].iloc[row]), lang),
            "units": unit(spec.units, lang) if spec else "",
            "source": spec.dataset if spec and spec.dataset else (spec.source if spec else ""),
        })
    card["raw"] = pd.DataFrame(raw_rows)
    if np.isfinite(result.score[row]):
        threshold = np.nanquantile(result.score, 0.9)
        card["top"] = bool(result.score[row] >= threshold)
        reqs: list[Requirement] = what_it_takes(result, run.matrix, row)
        for r in reqs[:3]:
            spec = run.specs.get(r.layer)
            card["requirements"].append(t(
                "requirement", lang, layer=titles.get(r.layer, r.layer), raw_from=_fmt(r.raw_from, lang),
                raw_to=_fmt(r.raw_to, lang) if r.raw_to is not None else "—",
                units=unit(spec.units, lang) if spec else "", n_from=r.normalized_from, n_to=r.normalized_to))
    return card


def _top_words(quantile: float, lang: str) -> str:
    """``2/3`` → "the top third"; ``0.9`` → "the top 10 %"."""
    if abs(quantile - 2 / 3) < 0.005:
        return t("top_third", lang)
    return t("top_share", lang, share=number(100 * (1 - quantile), lang))


def card_summary(run: Run, sc: Scenario, row: int, lang: str, *, profile_title: str = "") -> list[str]:
    """Return one to three plain sentences saying why a cell scores as it does, thresholds stated.

    Parameters
    ----------
    run, sc : Run, Scenario
    row : int
        Matrix row of the cell.
    lang : str
    profile_title : str, optional
        The scored profile's name as the user sees it.

    Returns
    -------
    list of str
        Markdown sentences: the profile score with its rank and largest contributions (or, for the
        inclusion score, its three factors and the weakest), for a gated profile the resource
        that opens its gate and why (:func:`geo_engine.scoring.explain.gate_why`), then the typology with both
        thresholds, e.g. "its engine score 0.20 is in the top third of engine scores (threshold
        0.18)".
    """
    score = np.asarray(sc.score, dtype=float)
    value = float(score[row])
    lines = []
    two = functools.partial(number, lang=lang, decimals=2)
    if not np.isfinite(value):
        lines.append(t("why_unscored", lang))
    elif sc.result is None:
        dual = sc.dual
        factors = {t("niche", lang): float(dual.niche[row]), t("need", lang).lower():
                   float(dual.need[row]), t("access", lang).lower(): float(dual.access[row])}
        lines.append(t("why_inclusion", lang, score=two(value), niche=two(dual.niche[row]),
                       need=two(dual.need[row]), access=two(dual.access[row]),
                       a=number(settings.inclusion_need_exponent, lang, decimals=1),
                       b=number(settings.inclusion_access_exponent, lang, decimals=1),
                       weakest=min(factors, key=lambda k: factors[k])))
    else:
        scored = np.isfinite(score)
        rank = int((score[scored] > value).sum()) + 1
        contrib = contributions(sc.result, row)
        titles = {s.id: getattr(s.title, lang, s.title.en) for s in run.specs.values()}
        drivers = ", ".join(f"{titles.get(r.layer, r.layer)} ({two(r.contribution)})"
                            for r in contrib.head(2).itertuples() if r.contribution > 0) or "—"
        pct = 100 * rank / max(int(scored.sum()), 1)
        lines.append(t("why_score", lang, score=two(value), profile=profile_title or sc.profile_id,
                       rank=number(rank, lang), n=number(int(scored.sum()), lang),
                       pct=number(pct, lang, decimals=1 if pct < 10 else 0), drivers=drivers))
        gate = gate_why(sc.result.prepared.profile, run.matrix, row, specs=run.specs, lang=lang)
        if gate:
            lines.append(gate)
    if "typology" not in unavailable(run) and sc.dual.typology[row]:
        dual, cuts = sc.dual, sc.dual.thresholds
        e, i = float(dual.engine[row]), float(dual.inclusion[row])
        top_e = _top_words(float(cuts["engine_quantile"]), lang)
        top_i = _top_words(float(cuts["inclusion_quantile"]), lang)
        lines.append(t(
            "why_typology", lang, typology=t(dual.typology[row], lang), engine=two(e),
            engine_side=t("side_in" if e >= cuts["engine"] and e > 0 else "side_out", lang,
                          top=top_e),
            engine_cut=f"≥ {two(cuts['engine'])}", inclusion=two(i),
            inclusion_side=t("side_in" if i >= cuts["inclusion"] and i > 0 else "side_out", lang,
                             top=top_i),
            inclusion_cut=f"≥ {two(cuts['inclusion'])}"))
    return lines


def hexagon_note(frame: pd.DataFrame, resolution: int, h3_id: str, lang: str, *,
                 decimals: int = 2) -> str | None:
    """Say how the map's hexagon around a cell relates to the cell's card (None when they are one).

    The map draws coarser hexagons than the grid when the grid is too fine to draw; the tooltip
    then shows the hexagon's mean while the card shows the cell.
    """
    if h3.get_resolution(h3_id) <= resolution:
        return None
    parent = np.uint64(h3.str_to_int(h3.cell_to_parent(h3_id, resolution)))
    hit = frame[frame["h3"].to_numpy(dtype=np.uint64) == parent]
    if hit.empty:
        return None
    value = hit["value"].iloc[0]
    shown = number(value, lang, decimals=decimals) if isinstance(value, float | int) else str(value)
    return t("hexagon_note", lang, n=int(hit["n_children"].iloc[0]), value=shown)


def difference(a: Scenario, b: Scenario, *, by: str = "score") -> np.ndarray:
    """Per-cell change from scenario A to B: score difference, or standing (percentile) change."""
    if by == "score":
        return np.asarray(b.score, dtype=float) - np.asarray(a.score, dtype=float)
    if by == "rank":
        return standing(np.asarray(b.score, dtype=float)) - standing(np.asarray(a.score, dtype=float))
    msg = f"`by` was {by!r} but must be 'score' or 'rank'"
    raise ValueError(msg)


TYPOLOGY_CHANGE = ("unchanged", *(f"to_{k}" for k in TYPOLOGY))
"""Classes of a typology comparison: unchanged, or the class the cell moved to."""


def typology_change(a: Scenario, b: Scenario) -> np.ndarray:
    """Per cell: ``unchanged`` or ``to_<class>`` (the typology in B); None where either is missing."""
    ta, tb = a.dual.typology, b.dual.typology
    out = np.where(ta == tb, "unchanged", np.char.add("to_", tb.astype(str))).astype(object)
    out[[x is None or y is None for x, y in zip(ta, tb, strict=True)]] = None
    return out


def typology_matrix(a: Scenario, b: Scenario, *, mask: np.ndarray | None = None,
                    weights: np.ndarray | None = None) -> pd.DataFrame:
    """Return the typology transitions from A to B: rows A's class, columns B's, cells counted.

    Parameters
    ----------
    a, b : Scenario
    mask : numpy.ndarray, optional
        Cells to count (the focus); all by default.
    weights : numpy.ndarray, optional
        What each cell counts for (its population, say); 1 by default. Missing weights count 0.

    Returns
    -------
    pandas.DataFrame
        Indexed and columned by :data:`geo_engine.scoring.dual.TYPOLOGY` in order (every class, even
        when empty); cells without a class in A or B are left out. The diagonal holds the
        cells that kept their class.
    """
    ta, tb = a.dual.typology, b.dual.typology
    keep = np.array([x is not None and y is not None for x, y in zip(ta, tb, strict=True)])
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    w = np.ones(len(ta)) if weights is None else np.nan_to_num(np.asarray(weights, dtype=float))
    frame = pd.DataFrame({"a": ta[keep].astype(str), "b": tb[keep].astype(str), "w": w[keep]})
    table = frame.pivot_table(index="a", columns="b", values="w", aggfunc="sum", fill_value=0.0)
    return table.reindex(index=list(TYPOLOGY), columns=list(TYPOLOGY), fill_value=0.0) \
        .rename_axis(index="a", columns="b")


def comparison_table(run: Run, a: Scenario, b: Scenario, *,
                     mask: np.ndarray | None = None) -> pd.DataFrame:
    """Return the cells of a comparison: names, A's and B's score, standing and typology.

    Parameters
    ----------
    run : Run
    a, b : Scenario
    mask : numpy.ndarray, optional
        Cells to keep (the focus); all by default.

    Returns
    -------
    pandas.DataFrame
        ``h3``, ``unit_code``, the unit names the run has, ``score_a``, ``score_b``,
        ``change`` (B − A), ``standing_change`` (B's percentile standing − A's) and, when the
        region has a typology, ``typology_a`` and ``typology_b``; sorted by ``h3``.
    """
    m = run.matrix
    keep = np.ones(len(m), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    sa, sb = np.asarray(a.score, dtype=float), np.asarray(b.score, dtype=float)
    out = pd.DataFrame({"h3": m["h3"].to_numpy(), "unit_code": m["unit_code"].astype(str)})
    names = run.names.assign(unit_code=run.names["unit_code"].astype(str))
    out = out.merge(names.drop_duplicates("unit_code"), on="unit_code", how="left")
    out = out.assign(score_a=sa, score_b=sb, change=difference(a, b, by="score"),
                     standing_change=difference(a, b, by="rank"))
    if "typology" not in unavailable(run):
        out = out.assign(typology_a=a.dual.typology, typology_b=b.dual.typology)
    return out[keep].sort_values("h3", kind="stable").reset_index(drop=True)


def movers(run: Run, change: np.ndarray, *, top: int = 10,
           mask: np.ndarray | None = None) -> pd.DataFrame:
    """Return the districts whose mean change is largest in absolute value.

    Only the cells in ``mask`` (:func:`focus_mask`) count when it is given. Without a population
    layer the table has no population column.
    """
    frame = pd.DataFrame({"unit_code": run.matrix["unit_code"].to_numpy(), "change": change})
    sums = {}
    if POPULATION_LAYER in run.matrix:
        frame["population"] = run.matrix[POPULATION_LAYER].to_numpy()
        sums["population"] = ("population", "sum")
    if mask is not None:
        frame = frame[mask]
    g = frame.groupby("unit_code").agg(change=("change", "mean"), **sums).reset_index()
    g = g.merge(run.names, on="unit_code", how="left")
    g["abs"] = g["change"].abs()
    return g.sort_values("abs", ascending=False).drop(columns="abs").head(top).reset_index(drop=True)

