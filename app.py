"""Territorial Opportunity Platform — the Streamlit map app (``streamlit run app.py``)."""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import tempfile
import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo_engine import __version__, settings
from geo_engine._errors import GeoEngineError, GeoEngineWarning, ScenarioError
from geo_engine.explore import (
    CUSTOM,
    INCLUSION,
    RANK_CHOICES,
    Clusters,
    Output,
    Units,
    card_summary,
    categories,
    cell_at,
    cell_card,
    clusters_in_focus,
    comparison_table,
    custom_profile,
    default_layers,
    difference,
    district_names,
    drawn_resolution,
    find_place,
    focus_choices,
    focus_label,
    focus_mask,
    hexagon_note,
    map_frame,
    movers,
    output_options,
    parse_location,
    place_index,
    province_choices,
    ranking,
    region_title,
    scenario,
    scenario_clusters,
    top_units,
    typology_change,
    typology_matrix,
    unavailable,
    unit_groups,
    with_constraints,
)
from geo_engine.explore import Scenario as ExploreScenario
from geo_engine.i18n import COLUMNS, LANGUAGES, headers, number, numbers, proper_names, t
from geo_engine.i18n import unit as unit_words
from geo_engine.io.manifest import load_manifest
from geo_engine.pipeline import Run, run
from geo_engine.planning.ahp import (
    CR_LIMIT,
    SAATY_SCALE,
    AHPResult,
    GroupResult,
    group_result,
    slider_weights,
)
from geo_engine.planning.scenario import (
    Focus,
    PlanSettings,
    Scenario,
    Thresholds,
    custom_extras,
    read_scenario_bytes,
    scenario_from_params,
    scenario_id,
    scenario_params,
    scenario_yaml,
)
from geo_engine.regions.datasets import accent_lexicon
from geo_engine.regions.region import load_region, region_id_from, shipped_regions
from geo_engine.regions.uploads import (
    boundary_columns,
    build_region,
    charge_uploads,
    cleanup_uploads,
    save_uploads,
    uploaded_files,
)
from geo_engine.reporting.brief import brief_html, brief_pdf
from geo_engine.reporting.export import to_csv_bytes, write_cells, write_features
from geo_engine.reporting.maps import (
    DIVERGING,
    SEQUENTIAL,
    HexLayer,
    Orientation,
    bar_chart,
    base_map,
    cells_key,
    dual_map,
    escape_markdown,
    hex_layer,
    hexagon_bounds,
    histogram_chart,
    use_local_assets,
    view_bounds,
)
from geo_engine.reporting.orientation import region_orientation
from geo_engine.reporting.outputs import POPULATION_LAYER, POVERTY_LAYER
from geo_engine.reporting.rollup import LEVELS, cluster_levels, level_columns
from geo_engine.scoring.profiles import Constraint, Profile, localized
from geo_engine.scoring.score import Prepared, prepare
from geo_engine.scoring.sensitivity import sensitivity

st.set_page_config(page_title="Territorial Opportunity Platform", layout="wide")
# map first: less space above the title, a smaller title
st.html("<style>.stMainBlockContainer{padding-top:2.2rem}"
        "h1{font-size:1.9rem !important;padding-bottom:0 !important}</style>")


@st.cache_resource(show_spinner=False, max_entries=8)
def load_run(region: str, resolution: int) -> tuple[Run, list[str]]:
    """Return a region's matrix and base scores (built once per region and resolution, then cached).

    ``region`` is a shipped id or the path of a region file. The data notes the build raises
    (units without a cell, codes that match nothing…) are returned as text, to be shown in the
    app rather than as Python warnings.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoEngineWarning)
        result = run(region=region, resolution=resolution)
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, GeoEngineWarning)})
    # names shown in proper case with their accents (the official tables write bare capitals)
    lexicon = accent_lexicon() if result.region.shipped else {}
    return dataclasses.replace(result, names=proper_names(result.names, lexicon)), notes


def with_added(profile: Profile, added: tuple[str, ...]) -> Profile:
    """Return ``profile`` with a scenario's added constraints (each as its JSON text) after its own."""
    if not added:
        return profile
    extra = [Constraint.model_validate_json(text) for text in added]
    return profile.model_copy(update={"constraints": [*profile.constraints, *extra]})


@st.cache_resource(show_spinner=False, max_entries=32)
def prepared(region: str, resolution: int, profile_id: str, constraints: tuple[bool, ...],
             added: tuple[str, ...] = ()) -> Prepared:
    """Return normalized layers of a profile with the chosen constraints (kept while sliding weights).

    ``added`` are a scenario's constraints beyond the profile's own (:func:`with_added`).
    """
    r = load_run(region, resolution)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # already reported by load_run
        return prepare(r.matrix, with_added(with_constraints(r.profile(profile_id), constraints),
                                            added), specs=r.specs, cache=r.cache)


@st.cache_resource(show_spinner=False, max_entries=16)
def prepared_custom(region: str, resolution: int, layer_ids: tuple[str, ...],
                    aggregation: str, added: tuple[str, ...] = ()) -> Prepared:
    """Return normalized layers of a custom profile (kept while sliding its weights)."""
    r = load_run(region, resolution)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        return prepare(r.matrix, with_added(custom_profile(list(layer_ids), aggregation=aggregation),
                                            added), specs=r.specs)


@st.cache_resource(show_spinner=False, max_entries=12)
def scored(region: str, resolution: int, profile_id: str, weights: tuple[tuple[str, float], ...],
           constraints: tuple[bool, ...], q_engine: float, q_incl: float, custom_key: str,
           _prep: Prepared | None, _custom: Profile | None) -> ExploreScenario:
    """Return the scenario of one weight vector (a step back to a weight already seen costs nothing).

    ``custom_key`` names a custom profile (its JSON) and a scenario's added constraints switched
    on; ``_prep`` and ``_custom`` (the profile as scored, constraints included) follow from the
    other arguments, so they are not hashed. The scenario's dual model, computed when first
    asked, is kept with it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # constant layers etc.: already in NOTES
        return scenario(load_run(region, resolution)[0], profile_id=profile_id,
                        weights=dict(weights), engine_quantile=q_engine,
                        inclusion_quantile=q_incl, prepared=_prep, profile=_custom)


@st.cache_resource(show_spinner=False, max_entries=16)
def base_layers(region: str, department: str) -> Orientation:
    """Return the offline base of the map: land, water, outlines and names over the hexagons.

    Peru draws its curated districts, lakes, rivers and capitals; any other region its own units.
    """
    return region_orientation(load_region(region), department or None)


@st.cache_resource(show_spinner=False, max_entries=8)
def cell_names(region: str, resolution: int) -> np.ndarray:
    """Return the district name of every cell (labels of the map's hexagons), built once."""
    return district_names(load_run(region, resolution)[0])


@st.cache_resource(show_spinner=False, max_entries=8)
def districts(region: str, resolution: int) -> Units:
    """Return the cells grouped by district, for the top table that follows every weight (built once)."""
    return unit_groups(load_run(region, resolution)[0], level="unit")


@st.cache_resource(show_spinner=False, max_entries=8)
def focus_options(region: str, resolution: int) -> tuple[str | None, dict[str, str]]:
    """Return what the map can focus on (:func:`focus_choices`), built once."""
    return focus_choices(load_run(region, resolution)[0])


@st.cache_resource(show_spinner=False, max_entries=8)
def places(region: str, resolution: int) -> pd.DataFrame:
    """Return the named units the place search looks in (built once per region and resolution)."""
    return place_index(load_run(region, resolution)[0])


@st.cache_data(show_spinner=False)
def manifest_table() -> pd.DataFrame:
    """Return the provenance of every curated dataset."""
    return pd.DataFrame(load_manifest()["datasets"])


@st.cache_data(show_spinner=False)
def region_label(region: str, lang: str) -> str:
    """Return the title of a shipped region in ``lang`` (its id when the region file is unreadable)."""
    try:
        return region_title(region, lang)
    except GeoEngineError:
        return region


@st.cache_data(show_spinner=False)
def resolution_choices(region: str) -> list[int]:
    """Return the region's default resolution and the two coarser ones."""
    default = load_region(region).resolution
    return [r for r in (default, default - 1, default - 2) if r >= 3]


@st.cache_data(show_spinner=False, max_entries=16)
def columns_of(path: str) -> dict[str, bool]:
    """Return the columns of an uploaded boundary file (cached: its folder is named by its content)."""
    return boundary_columns(Path(path))


@st.cache_data(show_spinner=False, max_entries=16)
def upload_listing(folder: str) -> pd.DataFrame:
    """Return the files of an upload folder with sizes and SHA-256."""
    return uploaded_files(Path(folder))


def _message(exc: Exception, folder: Path | None = None) -> str:
    """Return an error's message for the user (the class name too when it is not one of ours).

    Paths inside ``folder`` (an upload folder) are shown as the file names the user knows. The
    message quotes the user's names and values, so it is escaped for Markdown.
    """
    text = str(exc) if isinstance(exc, GeoEngineError) else f"{type(exc).__name__}: {exc}"
    return escape_markdown(text.replace(f"{folder}/", "") if folder is not None else text)


def _scenario_error(exc: GeoEngineError, lang: str) -> str:
    """Return why a scenario file or link does not load, in the user's language (escaped).

    A :class:`ScenarioError` names each problem by message id; any other error keeps its text.
    """
    if not isinstance(exc, ScenarioError) or not exc.problems:
        return _message(exc)
    return "; ".join(t(key, lang, **{k: escape_markdown(v) for k, v in fields.items()})
                     for key, fields in exc.problems)


def _area(res: int) -> str:
    area = h3.average_hexagon_area(res, "km^2")
    return f"{area:,.0f}" if area >= 10 else f"{area:.1f}"


# session keys that are not widgets and belong to one region: cleared when another is shown (a
# bare string here would be drawn on the page by Streamlit's magic, hence a comment)
REGION_STATE = ("selected", "_last_click", "sens", "_clusters", "_found")

ss = st.session_state
FRESH = RELABEL = False  # another region is shown / labels changed (set once the region loads)


def _settle(key: str, options: list, default: object, *,
            same: Callable[[Any, Any], bool] | None = None) -> None:
    """Give a keyed widget a value among ``options`` before it is drawn, and make the browser show it.

    Streamlit knows a keyed widget by its key alone: when its options or their labels change
    (another region, another language) the browser keeps the label it showed last. A value
    assigned through the session state is sent to the browser again, so it shows the right one.
    ``same(option, value)`` matches the stored value to this run's options (``==`` by default).
    """
    current = ss.get(key)
    match = next((o for o in options
                  if current is not None and (same(o, current) if same else o == current)), None)
    if FRESH or match is None:
        ss[key] = default
    elif RELABEL:
        ss[key] = match


user_regions: dict[str, str] = ss.setdefault("user_regions", {})  # region file → title


def _build_region(folder: Path, boundary: str, layers: str) -> None:
    """Write the region file of the uploads and switch the app to it (a button's callback)."""
    try:
        region = build_region(folder, region_id=str(ss.get("up_id", "")).strip(), boundary=boundary,
                              code_column=ss["up_code"], name_column=ss.get("up_name") or None,
                              layers=layers, resolution=int(ss.get("up_res", 6)),
                              parent_column=ss.get("up_parent") or None,
                              parent_name_column=ss.get("up_parent_name") or None)
    except Exception as exc:  # the user's files: any reader may fail, never show a traceback
        ss["_upload_error"] = _message(exc, folder)
        return
    key = str(region.file)
    ss["user_regions"] = {**ss.get("user_regions", {}), key: region.id}
    ss["region"] = key
    ss["resolution"] = region.resolution


# Parent of the upload folders; those older than ``settings.upload_max_age_hours`` are removed
# when a session starts. (No bare string here: Streamlit would draw it on the page.)
UPLOADS = settings.cache_dir / "uploads"
if "_uploads_swept" not in ss:
    ss["_uploads_swept"] = cleanup_uploads(UPLOADS)


def uploads_panel(lang: str) -> None:
    """Sidebar: upload a boundary, data files, a layers YAML and profiles, and build a region."""
    busy = ss.get("up_boundary") is not None or "_upload_error" in ss
    with st.sidebar.expander(t("own_region", lang), expanded=busy):
        st.caption(t("own_region_help", lang))
        boundary = st.file_uploader(t("upload_boundary", lang), key="up_boundary",
                                    type=["geojson", "json", "gpkg", "zip", "parquet"])
        data = st.file_uploader(t("upload_data", lang), accept_multiple_files=True, key="up_data",
                                type=["tif", "tiff", "geojson", "json", "gpkg", "zip", "parquet", "csv"])
        layers = st.file_uploader(t("upload_layers", lang), type=["yaml", "yml"], key="up_layers")
        profiles = st.file_uploader(t("upload_profiles", lang), type=["yaml", "yml"],
                                    accept_multiple_files=True, key="up_profiles")
        error = ss.pop("_upload_error", None)
        if error:
            st.error(error)
        if boundary is None:
            return
        parts = [boundary, *(data or []), *([layers] if layers is not None else [])]
        ids = tuple(f.file_id for f in [*parts, *(profiles or [])])
        saved = ss.get("_upload_folder")
        if saved is None or saved[0] != ids or not saved[1].is_dir():  # new files, or swept
            files: dict[str, bytes] = {}
            for f in parts:
                if f.name in files and files[f.name] != f.getvalue():
                    st.error(t("upload_clash", lang, name=escape_markdown(f.name)))
                    return
                files[f.name] = f.getvalue()
            extra = {f.name: f.getvalue() for f in profiles or []}
            try:
                ss["_upload_spent"] = charge_uploads(ss.get("_upload_spent", {}),
                                                     [*files.items(), *extra.items()])
                folder = save_uploads(files, UPLOADS, profiles=extra)
            except (GeoEngineError, OSError) as exc:
                st.error(_message(exc))
                return
            ss["_upload_folder"] = saved = (ids, folder)
        folder = saved[1]
        try:
            columns = columns_of(str(folder / boundary.name))
        except Exception as exc:  # the user's file: any reader may fail, never show a traceback
            st.error(_message(exc, folder))
            return
        if not columns:
            st.error(t("no_columns", lang, name=escape_markdown(boundary.name)))
            return
        codes = sorted(columns, key=lambda c: (not columns[c],
                                              re.search(r"cod|id|ubigeo", c, re.IGNORECASE) is None))
        _settle("up_code", codes, codes[0])
        st.selectbox(t("code_column", lang), codes, key="up_code")
        names = ["", *[c for c in columns if c != ss["up_code"]]]
        guess = next((c for c in names if re.search(r"name|nom", c, re.IGNORECASE)), "")
        _settle("up_name", names, guess)
        st.selectbox(t("name_column", lang), names, key="up_name",
                     format_func=lambda c: c or t("no_name_column", lang))
        parents = ["", *[c for c in columns if c not in (ss["up_code"], ss.get("up_name"))]]
        _settle("up_parent", parents, "")
        st.selectbox(t("parent_column", lang), parents, key="up_parent",
                     format_func=lambda c: c or t("no_parent_column", lang),
                     help=t("parent_column_help", lang))
        if ss.get("up_parent"):
            _settle("up_parent_name", names, "")
            st.selectbox(t("parent_name_column", lang), names, key="up_parent_name",
                         format_func=lambda c: c or t("no_name_column", lang))
        if "up_id" not in ss or ss.get("_up_boundary") != boundary.name:
            ss["up_id"] = region_id_from(boundary.name)  # a new boundary: an id from its name
            ss["_up_boundary"] = boundary.name
        st.text_input(t("region_id", lang), key="up_id", help=t("region_id_help", lang))
        _settle("up_res", [5, 6, 7, 8], 6)
        st.selectbox(t("resolution", lang), [5, 6, 7, 8], key="up_res",
                     format_func=lambda r: t("resolution_option", lang, res=r, area=_area(r)))
        if layers is None:
            st.caption(t("upload_need_layers", lang))
        st.button(t("build_region", lang), key="up_build", disabled=layers is None, type="primary",
                  on_click=_build_region,
                  args=(folder, boundary.name, layers.name if layers is not None else ""))


def _load_failed(region: str, resolution: int, exc: Exception, lang: str) -> NoReturn:
    """Show why a region did not load and go back to the last one that did (or stop)."""
    label = escape_markdown(user_regions.get(region) or region_label(region, lang))
    folder = Path(region).parent if region in user_regions else None
    good = ss.get("_good")
    if region in user_regions and region not in ss.get("_loaded", set()):
        user_regions.pop(region)  # it never loaded: do not offer it again
    if good is not None and good != (region, resolution):
        ss["_region_error"] = t("region_error", lang, region=label, error=_message(exc, folder))
        ss["_revert"] = good
        st.rerun()
    st.error(t("region_error_first", lang, region=label, error=_message(exc, folder)))
    st.stop()


# ---------------------------------------------------------------- state from the URL
# URL parameter → session key: what a shared link restores (checked like any widget value)
URL_KEYS = {"lang": "lang", "region": "region", "res": "resolution", "profile": "profile",
            "dep": "dep", "prov": "prov", "unit": "focus_unit"}
if "_url_read" not in ss:  # a session's first run: the link's view, if any
    ss["_url_read"] = True
    for name, key in URL_KEYS.items():
        if name in st.query_params and key not in ss:
            value = st.query_params[name]
            ss[key] = int(value) if key == "resolution" and value.isdigit() else value
    if "show" in st.query_params:
        ss["_url_show"] = st.query_params["show"]
    if "cell" in st.query_params:
        ss["_url_cell"] = st.query_params["cell"]
if "_url_view_read" not in ss:  # a link's weights, constraints (off, added) and thresholds
    ss["_url_view_read"] = True
    if {"weights", "off", "add", "agg", "thresholds"} & set(st.query_params):
        try:
            ss["_pending_view"] = scenario_from_params(st.query_params.to_dict())
        except GeoEngineError as exc:
            ss["_view_problems"] = [("link_problem", {"error": _scenario_error(
                exc, ss.get("lang", next(iter(LANGUAGES))))})]  # the language of the link

# ---------------------------------------------------------------- sidebar
lang = st.sidebar.selectbox("Idioma · Language", list(LANGUAGES), format_func=LANGUAGES.get,
                            key="lang")
RELABEL = ss.get("_lang_shown", lang) != lang
ss["_lang_shown"] = lang
if "_revert" in ss:  # the last region failed to load: show the one before it
    ss["region"], ss["resolution"] = ss.pop("_revert")
shipped = sorted(shipped_regions(), key=lambda r: (r != settings.default_region, r))
_settle("region", [*shipped, *user_regions], shipped[0])
REGION = st.sidebar.selectbox(
    t("region", lang), [*shipped, *user_regions], key="region",
    format_func=lambda r: t("uploaded_region", lang, title=user_regions[r]) if r in user_regions
    else region_label(r, lang))
if "_region_error" in ss:
    st.sidebar.error(ss.pop("_region_error"))
try:
    res_choices = resolution_choices(REGION)
except Exception as exc:  # a region file that no longer loads
    _load_failed(REGION, 0, exc, lang)
current = ss.get("resolution")  # when it is another region's: the nearest of this one's
_settle("resolution", res_choices, min(res_choices, key=lambda r: abs(r - current))
        if isinstance(current, int) else res_choices[0])
resolution = st.sidebar.selectbox(t("resolution", lang), res_choices, help=t("resolution_help", lang),
                                  format_func=lambda r: t("resolution_option", lang, res=r,
                                                          area=_area(r)),
                                  key="resolution")
uploads_panel(lang)
try:
    with st.spinner(t("loading", lang)):
        R, NOTES = load_run(REGION, resolution)
except Exception as exc:  # shipped data or the user's files: show the message, keep the last region
    _load_failed(REGION, resolution, exc, lang)
ss["_good"] = (REGION, resolution)
ss.setdefault("_loaded", set()).add(REGION)
FRESH = ss.get("_shown_region", REGION) != REGION  # another region: its profiles, layers, units
RELABEL = RELABEL or FRESH
if FRESH:
    for key in [k for k in ss if k in REGION_STATE]:
        del ss[key]
    ss["find_cell"] = ""
ss["_shown_region"] = REGION
if "_url_cell" in ss:  # a shared link's cell: selected once the region is known
    ss["selected"] = parse_location(ss.pop("_url_cell")) or ss.get("selected")
SKIP = unavailable(R)
UNIT = "district" if {"parent_code", "grandparent_code"} & set(R.matrix.columns) else "unit"

# the default first: inclusion, or else the engine profile, or else a custom one
profile_ids = [*([INCLUSION] if "inclusion" not in SKIP else []),
               *sorted(R.profiles, key=lambda p: p != "engine"), CUSTOM]
_settle("profile", profile_ids, profile_ids[0])
profile_id = st.sidebar.selectbox(
    t("profile", lang), profile_ids, key="profile",
    format_func=lambda p: t("inclusion", lang) if p == INCLUSION
    else t("custom_profile", lang) if p == CUSTOM
    else getattr(R.profiles[p].title, lang, R.profiles[p].title.en))


def _weight_max(layers: list) -> float:
    """Return the weight sliders' top: 5, or a profile's largest default weight rounded up."""
    return float(max(5, math.ceil(max((layer.weight for layer in layers), default=0.0))))


def _apply_view(pid: str) -> None:
    """Put a pending scenario (a link's or an uploaded file's) into the sidebar's widgets.

    Runs before the weight sliders, constraint boxes and threshold sliders are drawn, so their
    keys may still be set. Weights above the sliders' 5 are scaled (ratios kept) and layers the
    profile lacks are reported; constraints the scenario adds become switches of their own.
    """
    view: Scenario | None = ss.pop("_pending_view", None)
    if view is None:
        return
    problems = ss.setdefault("_view_problems", [])
    if view.profile != pid:
        problems.append(("scenario_unknown_profile", {"profile": escape_markdown(view.profile)}))
        return
    if "typology" not in SKIP:  # the thresholds only split the typology
        ss["q_engine"], ss["q_incl"] = view.thresholds.engine, view.thresholds.inclusion
    if pid == INCLUSION:
        return
    if pid == CUSTOM:
        chosen = [lay.id for lay in view.custom.layers] if view.custom else list(view.weights)
        ss["custom_layers"] = [i for i in chosen if i in R.specs] or default_layers(R)
        if view.custom is not None:
            ss["custom_agg"] = view.custom.aggregation.method
            extras = custom_extras(view.custom)
            if extras:
                problems.append(("scenario_custom_extras",
                                 {"keys": escape_markdown(", ".join(extras[:6]))}))
    _keep_added(pid, view.constraints, problems)
    layers = ss["custom_layers"] if pid == CUSTOM else [lay.id for lay in R.profile(pid).layers]
    unknown = [i for i in view.weights if i not in layers]
    if unknown:
        problems.append(("scenario_unknown_layers", {"layers": escape_markdown(", ".join(unknown))}))
    top = max([w for i, w in view.weights.items() if i in layers], default=0.0)
    most = _weight_max(R.profile(pid).layers) if pid != CUSTOM else 5.0
    scale = most / top if top > most else 1.0
    if scale < 1.0:
        problems.append(("scenario_scaled", {}))
    for layer_id in layers:
        if layer_id in view.weights:
            ss[f"w_{pid}_{layer_id}"] = round(view.weights[layer_id] * scale, 4)
    if pid != CUSTOM:
        for i, c in enumerate(R.profile(pid).constraints):
            ss[f"c_{pid}_{i}"] = c.layer not in view.drop_constraints


def _keep_added(pid: str, constraints: list[Constraint], problems: list) -> None:
    """Keep a scenario's added constraints for profile ``pid`` (on), reporting unknown layers."""
    known = [c for c in constraints if c.layer in R.matrix.columns]
    unknown = [c.layer for c in constraints if c.layer not in R.matrix.columns]
    if unknown:
        problems.append(("scenario_unknown_constraints",
                         {"layers": escape_markdown(", ".join(unknown))}))
    ss.setdefault("_added", {})[(REGION, pid)] = [c.model_dump_json() for c in known]
    for i in range(len(known)):
        ss[f"ca_{pid}_{i}"] = True
    if known:
        problems.append(("scenario_extra_constraints", {"n": len(known)}))


def _constraint_label(c: Constraint) -> str:
    """Return a constraint as its switch reads: layer title, operator, value."""
    return f"{_layer_title(c.layer)} {c.op} {number(c.value, lang, decimals=2)}"


_apply_view(profile_id)



def _layer_title(layer_id: str) -> str:
    """Return a layer's title in the user's language (its id when it has no spec)."""
    spec = R.specs.get(layer_id)
    return getattr(spec.title, lang, spec.title.en) if spec else layer_id


weights: dict[str, float] = {}
enabled: tuple[bool, ...] = ()
ADDED: tuple[str, ...] = ()  # a scenario's constraints beyond the profile's, switched on
custom: Profile | None = None
if profile_id == CUSTOM:
    start = default_layers(R)
    if FRESH or "custom_layers" not in ss:
        ss["custom_layers"] = start
    elif RELABEL:
        ss["custom_layers"] = [i for i in ss["custom_layers"] if i in R.specs]
    chosen_layers = st.sidebar.multiselect(
        t("custom_layers", lang), list(R.specs),
        format_func=lambda i: getattr(R.specs[i].title, lang, i), key="custom_layers")
    aggregation = st.sidebar.selectbox(t("aggregation", lang), ["wlc", "wgm", "owa", "topsis"],
                                       key="custom_agg")
    if not chosen_layers:
        st.sidebar.warning(t("custom_empty", lang))
        chosen_layers = start[:1]
    custom = custom_profile(chosen_layers, aggregation=aggregation,
                            title=t("custom_profile", lang))
if profile_id != INCLUSION:
    profile = custom or R.profile(profile_id)
    st.sidebar.subheader(t("weights", lang), help=t("weights_help", lang))
    by_theme: dict[str, list] = {}
    for layer in profile.layers:
        theme = R.specs[layer.id].theme if layer.id in R.specs else "resource"
        by_theme.setdefault(theme, []).append(layer)
    most = _weight_max(profile.layers)
    for theme, layers in by_theme.items():
        with st.sidebar.expander(t(f"theme_{theme}", lang), expanded=True):
            for layer in layers:
                spec = R.specs.get(layer.id)
                label = getattr(spec.title, lang, spec.title.en) if spec else layer.id
                key = f"w_{profile_id}_{layer.id}"
                if FRESH or key not in ss:
                    ss[key] = float(layer.weight)
                weights[layer.id] = st.slider(escape_markdown(label), 0.0, most, step=0.1, key=key,
                                              help=escape_markdown(localized(layer.rationale, lang))
                                              or None)
    added = [Constraint.model_validate_json(text)
             for text in ss.get("_added", {}).get((REGION, profile_id), [])]
    if profile.constraints or added:
        st.sidebar.subheader(t("constraints", lang))
        for i in range(len(profile.constraints)):
            if FRESH or f"c_{profile_id}_{i}" not in ss:
                ss[f"c_{profile_id}_{i}"] = True
        enabled = tuple(st.sidebar.checkbox(
            escape_markdown(_constraint_label(c)),
            key=f"c_{profile_id}_{i}", help=escape_markdown(localized(c.rationale, lang)) or None)
            for i, c in enumerate(profile.constraints))
        for i in range(len(added)):
            ss.setdefault(f"ca_{profile_id}_{i}", True)
        ADDED = tuple(c.model_dump_json() for i, c in enumerate(added) if st.sidebar.checkbox(
            escape_markdown(t("added_constraint", lang, rule=_constraint_label(c))),
            key=f"ca_{profile_id}_{i}", help=escape_markdown(localized(c.rationale, lang)) or None))
q_engine = q_incl = 2 / 3
if "typology" not in SKIP:  # the thresholds only split the typology
    st.sidebar.subheader(t("thresholds", lang))
    q_engine = st.sidebar.slider(t("engine_threshold", lang), 0.5, 0.95, 2 / 3, 0.01, key="q_engine")
    q_incl = st.sidebar.slider(t("inclusion_threshold", lang), 0.5, 0.95, 2 / 3, 0.01, key="q_incl")

if profile_id == INCLUSION:
    prep, PROFILE = None, None
elif custom is not None:
    prep = prepared_custom(REGION, resolution, tuple(lay.id for lay in custom.layers), aggregation,
                           ADDED)
    PROFILE = with_added(custom, ADDED)
else:
    prep = prepared(REGION, resolution, profile_id, enabled, ADDED)
    PROFILE = with_added(with_constraints(R.profile(profile_id), enabled), ADDED)
RANK_BY = (custom or R.profile(profile_id)).rank_by  # the statistic `evaluate` checks
SC = scored(REGION, resolution, profile_id, tuple(weights.items()), enabled, q_engine, q_incl,
            "|".join([custom.model_dump_json() if custom is not None else "", *ADDED]), prep, PROFILE)

# ---------------------------------------------------------------- header
st.title(t("app_title", lang))
st.caption(t("app_subtitle", lang))
if R.dual.missing:
    st.info(t("no_profiles", lang) if not R.profiles
            else "\n\n".join(t(f"missing_{kind}", lang) for kind in R.dual.missing))
for _key, _fields in ss.pop("_view_problems", []):  # a link's or a scenario file's view
    st.warning(t(_key, lang, **_fields))
# only the open tab runs (on_change="rerun"), so a hidden tab costs nothing
tabs = st.tabs([t("tab_map", lang), t("tab_rankings", lang), t("tab_compare", lang),
                t("tab_sensitivity", lang), t("tab_plan", lang), t("tab_decide", lang),
                t("tab_data", lang)], key="tab",
               on_change="rerun")

dep = prov = unit = ""
focus_kind, focus_labels = focus_options(REGION, resolution)
if focus_kind == "department":
    dep_labels = {"": t("all_country", lang), **focus_labels}
    _settle("dep", list(dep_labels), "")
    dep = st.sidebar.selectbox(t("focus", lang), list(dep_labels), format_func=dep_labels.get,
                               key="dep")
    prov_labels = province_choices(R, dep)
    if prov_labels:
        prov_labels = {"": t("all_department", lang), **prov_labels}
        _settle("prov", list(prov_labels), "")
        prov = st.sidebar.selectbox(t("focus_province", lang), list(prov_labels),
                                    format_func=prov_labels.get, key="prov")
elif focus_kind == "unit":
    unit_labels = {"": t("all_region", lang), **focus_labels}
    _settle("focus_unit", list(unit_labels), "")
    unit = st.sidebar.selectbox(t("focus_unit", lang), list(unit_labels),
                                format_func=unit_labels.get, key="focus_unit")
FOCUS = {"department": dep or None, "province": prov or None, "unit": unit or None}
NAMES = cell_names(REGION, resolution)
MASK = focus_mask(R, **FOCUS)
if not MASK.all():
    st.info(t("in_focus", lang, what=escape_markdown(focus_label(R, lang, **FOCUS))))
show_clusters = st.sidebar.toggle(t("show_clusters", lang), value=False, key="show_clusters",
                                  help=t("clusters_help", lang))
OPACITY = st.sidebar.slider(t("opacity", lang), 0.1, 1.0, 0.8, 0.05, key="opacity",
                            help=t("opacity_help", lang))


def current_clusters() -> Clusters | None:
    """Return the clusters of the current scenario, computed once per weights and constraints."""
    if not show_clusters:
        return None
    key = (REGION, resolution, profile_id, tuple(sorted(weights.items())), enabled, ADDED)
    store = st.session_state.setdefault("_clusters", {})
    if key not in store:
        with warnings.catch_warnings(), st.spinner(t("busy_clusters", lang), show_time=True):
            warnings.simplefilter("ignore", GeoEngineWarning)  # "no cluster" is shown as text
            store.clear()
            store[key] = scenario_clusters(R, SC)
    return clusters_in_focus(store[key], MASK)


def _own_words(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a table whose admin columns take the region's level names (Peru: district…)."""
    return frame.rename(columns=level_columns(R.region.levels))


def _file_bytes(frame: pd.DataFrame, suffix: str) -> bytes:
    """Write the drawn hexagons in one format and return the bytes (run on download only)."""
    with tempfile.TemporaryDirectory() as tmp:
        return write_cells(_own_words(frame), Path(tmp) / f"map{suffix}").read_bytes()


def _shorten(names: str, most: int = 8) -> str:
    """Return at most ``most`` comma-separated names, then an ellipsis with the count left."""
    parts = [p.strip() for p in names.split(",") if p.strip()]
    return ", ".join(parts[:most]) + (f" … (+{len(parts) - most})" if len(parts) > most else "")


def _select_typed() -> None:
    """Find the place typed in the search box and open it (a callback, run before the page).

    A department or province becomes the focus; a district focuses its department; every place
    opens the card of its most populous cell (a point: the cell under it).
    """
    text = str(ss.get("find_cell", ""))
    place = find_place(R, text, index=places(REGION, resolution)) if text.strip() else None
    if place is None:
        ss["_found"] = ("warning", t("place_not_found", lang, text=escape_markdown(text))
                        ) if text.strip() else None
        return
    ss["selected"] = (place.lat, place.lon)
    if place.kind != "point" and focus_kind == "department":
        ss["dep"] = place.department or ""
        ss["prov"] = place.province if place.kind == "province" else ""
    if place.kind == "point":
        ss["_found"] = None
        return
    kind = t(place.kind if place.kind != "district" else UNIT, lang).lower()
    ss["_found"] = ("success", t("place_found", lang, name=escape_markdown(place.name), kind=kind))


def _brief_bytes(rows: np.ndarray, title: str, fmt: str = "html") -> bytes:
    """Return the printable brief (HTML or PDF) of some cells for the current profile (on download).

    Its map outlines the districts of the cells' department (the most frequent one).
    """
    department = ""
    if "grandparent_code" in R.matrix:
        department = str(R.matrix["grandparent_code"].astype(str)[rows].mode().iloc[0])
    base = base_layers(REGION, department)
    render = brief_pdf if fmt == "pdf" else brief_html
    out = render(R, profile_id=profile_id, rows=rows, title=title, lang=lang, result=SC.result,
                 base=base, profile=SC.profile)
    return out if isinstance(out, bytes) else out.encode()


def _features_bytes(features: gpd.GeoDataFrame, suffix: str) -> bytes:
    """Write polygons (clusters) in one format and return the bytes (run on download only)."""
    with tempfile.TemporaryDirectory() as tmp:
        return write_features(features, Path(tmp) / f"clusters{suffix}").read_bytes()


def _people_tips(frame: pd.DataFrame, nodata: str) -> dict[str, list[str]]:
    """Return the tooltips' population and poverty texts of a set of hexagons.

    Kept per set of hexagons, focus and language: they do not follow the weights, so a slider
    step formats only the scores.
    """
    key = (REGION, resolution, dep, prov, unit, lang,
           cells_key(frame["h3"].to_numpy(dtype=np.uint64)))
    kept = ss.setdefault("_people_tips", {})
    if key not in kept:
        tips: dict[str, list[str]] = {}
        if POPULATION_LAYER in R.matrix:
            tips["tip_population"] = numbers(frame["population"], lang, missing=nodata)
        if POVERTY_LAYER in R.matrix:
            tips["tip_poverty"] = numbers(frame["poverty"], lang, decimals=1, missing=nodata)
        if len(kept) >= 4:  # a few sets: the main map's, the compare maps', the zoomed view's
            kept.clear()
        kept[key] = tips
    return kept[key]


def _hexagons(frame: pd.DataFrame, output: Output, *, colors=SEQUENTIAL, vmin=None, vmax=None,
              caption: str | None = None, clusters: Clusters | None = None,
              bounds: tuple[float, float, float, float] | None = None,
              send_rings: bool = True) -> HexLayer:
    """Return the hexagons of a map coloured by ``value``, with tooltips in the user's language."""
    cats = categories(output, R, lang)
    # the tooltip shows numbers as the language writes them, and says when a hexagon is a mean
    nodata = t("no_data", lang)
    averaged = bool((frame["n_children"] > 1).any())
    tooltip = {"unit": t(UNIT, lang),
               "tip_value": output.label + (f" ({t('mean', lang)})" if averaged and cats is None
                                            else "")}
    decimals = 3 if output.kind != "layer" else 1
    tips = {"tip_value": frame["value"] if cats is not None
            else numbers(frame["value"], lang, decimals=decimals, missing=nodata)}
    if POPULATION_LAYER in R.matrix:
        tooltip["tip_population"] = t("population", lang)
    if POVERTY_LAYER in R.matrix:
        tooltip["tip_poverty"] = t("poverty", lang)
    tips |= _people_tips(frame, nodata)
    if averaged:
        tooltip["n_children"] = t("cells_in_hexagon", lang)
    if cats is not None:
        tips["tip_value"] = [cats.labels.get(v, v) if v else None for v in frame["value"]]
        frame = frame.assign(value=tips["tip_value"])
        cats = type(cats)(colours={cats.labels[k]: c for k, c in cats.colours.items()},
                          labels={v: v for v in cats.labels.values()})
    frame = frame.assign(**tips)
    outline = clusters.table if clusters is not None and len(clusters.table) else None
    return hex_layer(frame, column="value", caption=caption or output.label, tooltip=tooltip,
                   outlines=outline,
                   outline_tooltip={"cluster_id": t("cluster", lang),
                                    "poor_population": t("poor_population", lang)},
                   categories=cats, colors=colors, vmin=vmin, vmax=vmax,
                   no_data_label=t("no_data", lang), opacity=OPACITY, lang=lang, bounds=bounds,
                   send_rings=send_rings)


def draw(frame: pd.DataFrame, output: Output, *, key: str, colors=SEQUENTIAL, vmin=None,
         vmax=None, caption: str | None = None, clusters: Clusters | None = None,
         bounds: tuple[float, float, float, float] | None = None,
         follow_view: bool = False) -> dict | None:
    """Draw hexagons coloured by ``value`` and return the click state.

    With ``follow_view`` the state also carries the bounds of the view (a pan or zoom reruns).
    The base map stays the same while only the hexagon layer changes, so the browser swaps that
    layer instead of rebuilding the map (streamlit-folium's ``feature_group_to_add``); the
    hexagons' outlines are sent once per set of hexagons and base map, after which the browser
    only recolours the polygons it drew (it asks again, ``missing_cells``, when it lost them).
    ``bounds`` fits the base map (the whole focus) when ``frame`` covers only a view.
    """
    ids = frame["h3"].to_numpy(dtype=np.uint64)
    fit = bounds if bounds is not None else hexagon_bounds(ids)
    drawn = ss.setdefault("_cells_drawn", {})
    asked = (ss.get(key) or {}).get("missing_cells")
    have = (REGION, dep, tuple(round(b, 4) for b in fit), cells_key(ids))
    resend = drawn.get(key) != have or (asked is not None and asked != drawn.get(f"{key}:asked"))
    layer = _hexagons(frame, output, colors=colors, vmin=vmin, vmax=vmax, caption=caption,
                      clusters=clusters, bounds=fit, send_rings=resend)
    base = base_map(bounds=layer.bounds, orientation=base_layers(REGION, dep))
    state = st_folium(use_local_assets(base), height=620, use_container_width=True,
                      feature_group_to_add=layer.group, key=key,
                      returned_objects=["last_clicked", *(["bounds"] if follow_view
                                                          else [])])
    drawn[key], drawn[f"{key}:asked"] = have, asked
    st.html(f'<div style="position:relative;height:96px;">{layer.legend}</div>')
    return state


def _profile_title() -> str:
    """Return the scored profile's name in the user's language."""
    return (t("inclusion", lang) if profile_id == INCLUSION
            else t("custom_profile", lang) if profile_id == CUSTOM
            else getattr(R.profile(profile_id).title, lang, profile_id))


def card_panel(row: int, found: Clusters | None, frame: pd.DataFrame, shown_res: int,
               chosen: Output) -> None:
    """Draw one cell's card: why it scores as it does, its scores, layers, briefs, its cluster."""
    card = cell_card(R, SC, row, lang)
    st.subheader(t("card_title", lang, h3=card["h3"]))
    st.markdown(" · ".join(escape_markdown(name) for name in card["names"].values()))
    for line in card_summary(R, SC, row, lang, profile_title=_profile_title()):
        st.markdown(line)
    note = hexagon_note(frame, shown_res, card["h3"], lang,
                        decimals=2 if chosen.kind != "layer" else 1)
    if note:
        st.caption(note)
    items = list(card["scores"].items())
    for start in range(0, len(items), 2):  # two a row: the card is narrow, labels stay whole
        for col, (label, value) in zip(st.columns(2), items[start:start + 2], strict=False):
            col.metric(label, number(value, lang, decimals=2))
    score = np.asarray(SC.score, dtype=float)
    if np.isfinite(score[row]):
        where = t("where_all" if MASK.all() else "where_focus", lang)
        st.caption(t("score_distribution", lang, where=where))
        st.altair_chart(histogram_chart(score[MASK], marked=float(score[row]),
                                        mark_label=t("this_cell", lang), x_title=_profile_title(),
                                        y_title=t("n_cells", lang), lang=lang),
                        width="stretch", key="card_distribution")
    facts = [f"**{t('population', lang)}:** {number(card['population'], lang)}"]
    if POVERTY_LAYER in R.matrix:
        facts.append(f"**{t('poverty', lang)}:** {number(card['poverty'], lang, decimals=1)}")
    st.markdown(" · ".join(facts))
    if card["family"]:
        st.markdown(t("best_family_line", lang, family=escape_markdown(card["family"]),
                      margin=number(card["margin"], lang, decimals=2)))
    if card["why"]:
        st.markdown(escape_markdown(card["why"]))
    if profile_id in R.profiles:
        code = str(R.matrix["unit_code"].iloc[row])
        title = " · ".join(card["names"].values())
        unit = R.matrix["unit_code"].astype(str).to_numpy() == code
        left, right = st.columns(2)
        left.download_button(
            t("download_brief", lang), data=functools.partial(_brief_bytes, unit, title),
            file_name=f"brief_{code}.html", mime="text/html", key="dl_brief",
            on_click="ignore")
        right.download_button(
            t("download_brief_pdf", lang),
            data=functools.partial(_brief_bytes, unit, title, "pdf"),
            file_name=f"brief_{code}.pdf", mime="application/pdf", key="dl_brief_pdf",
            on_click="ignore")
    if card["contributions"] is not None:
        st.markdown(f"**{t('contributions', lang)}**")
        if card["space"] == "log":
            st.caption(t("contributions_log", lang))
        contrib = card["contributions"]
        st.altair_chart(bar_chart(contrib["title"].astype(str).tolist(),
                                  contrib["contribution"].tolist(),
                                  title=t("contribution", lang), lang=lang),
                        width="stretch", key="card_contributions")
        with st.expander(t("raw_values", lang)):
            st.dataframe(card["raw"].rename(columns={
                "layer": t("layer", lang), "value": t("value", lang), "units": t("units", lang),
                "source": t("source", lang)}), hide_index=True, width="stretch")
        st.markdown(f"**{t('what_it_takes', lang)}**")
        if card["top"]:
            st.write(t("already_top", lang))
        elif card["requirements"]:
            for line in card["requirements"]:
                st.write("• " + escape_markdown(line))
        else:
            st.write(t("no_single_change", lang))
    cluster_id = found.cells["cluster_id"].iloc[row] if found is not None else pd.NA
    if found is None or pd.isna(cluster_id) or int(cluster_id) not in set(found.table["cluster_id"]):
        return
    c = found.table.set_index("cluster_id").loc[int(cluster_id)]
    st.subheader(t("cluster_card", lang, id=int(cluster_id), n=number(int(c["n_cells"]), lang),
                   pop=number(float(c["population"]), lang),
                   poor=number(float(c["poor_population"]), lang)))
    st.markdown(t("cluster_line", lang, rank=int(c["rank"]),
                  score=number(float(c["mean_score"]), lang, decimals=2),
                  layers=escape_markdown(c["top_layers"]),
                  town=number(float(c["median_minutes_town50k"]), lang),
                  port=number(float(c["median_minutes_port"]), lang),
                  districts=escape_markdown(_shorten(str(c["units"])))))
    if profile_id in R.profiles:
        members = (found.cells["cluster_id"] == cluster_id).fillna(False).to_numpy(dtype=bool)
        name = t("cluster_brief_title", lang, id=int(cluster_id))
        left, right = st.columns(2)
        left.download_button(
            t("download_cluster_brief", lang),
            data=functools.partial(_brief_bytes, members, name),
            file_name=f"brief_cluster_{int(cluster_id)}.html", mime="text/html",
            key="dl_cluster_brief", on_click="ignore")
        right.download_button(
            t("download_cluster_brief_pdf", lang),
            data=functools.partial(_brief_bytes, members, name, "pdf"),
            file_name=f"brief_cluster_{int(cluster_id)}.pdf", mime="application/pdf",
            key="dl_cluster_brief_pdf", on_click="ignore")


def map_tab() -> None:
    """Draw the map with the selected cell's card beside it, then the top units and downloads."""
    stored = st.session_state.get("sens")
    sens = stored[1] if stored and stored[0] == profile_id else None
    extra = [Output("p_top", t("p_top", lang), "probability", "0–1")] if sens is not None else []
    options = output_options(R, lang, extra=extra)
    if "_url_show" in ss:  # a shared link's map output
        wanted = ss.pop("_url_show")
        ss["output"] = next((o for o in options if o.key == wanted), options[0])
    _settle("output", options, options[0], same=lambda o, v: o.key == v.key)
    pick, search = st.columns(2)
    chosen = pick.selectbox(t("show", lang), options, format_func=lambda o: o.label, key="output")
    ss["_shown_output"] = chosen.key
    centre = R.matrix[["lat", "lon"]].median()
    search.text_input(t("find_cell", lang), key="find_cell", on_change=_select_typed,
                      placeholder=t("find_placeholder", lang, lat=f"{centre['lat']:.2f}",
                                    lon=f"{centre['lon']:.2f}"))
    values = sens["p_top"].to_numpy() if chosen.key == "p_top" and sens is not None else None
    map_area(chosen, values)


def _whole_frame(chosen: Output, values: np.ndarray | None) -> tuple[pd.DataFrame, int, tuple]:
    """Return the hexagons of the whole focus, their resolution and extent (kept while unchanged).

    The scenario is cached per weight vector, so the same one means the same scores: a click,
    pan or zoom reuses the hexagons instead of aggregating 218,678 cells again.
    """
    key = (chosen.key, dep, prov, unit)
    kept = ss.get("_whole_frame")
    if kept is not None and kept[0] is SC and kept[1] is values and kept[2] == key:
        return kept[3]
    frame, res = map_frame(R, SC, chosen, values=values, **FOCUS, names=NAMES)
    out = frame, res, hexagon_bounds(frame["h3"].to_numpy(dtype=np.uint64))
    ss["_whole_frame"] = (SC, values, key, out)
    return out


@st.fragment
def map_area(chosen: Output, values: np.ndarray | None) -> None:
    """Draw the map with the selected cell's card beside it, then the top units and downloads.

    A fragment: a click, pan or zoom on the map reruns this part alone, not the sidebar and the
    scoring. A pan or zoom that keeps the hexagons' resolution (the whole focus) draws the same
    hexagons; one that calls for finer ones draws those of the view.
    """
    with st.spinner(t("busy_map", lang), show_time=True):
        frame, coarse_res, fit = _whole_frame(chosen, values)
        # zoomed in: finer hexagons for the view the map showed (its base map unchanged)
        view = view_bounds(ss.get("main_map")) if ss.get("_main_fit") == (REGION, fit) else None
        shown, shown_res = frame, coarse_res
        if view is not None and drawn_resolution(R, view=view, **FOCUS) != coarse_res:
            shown, shown_res = map_frame(R, SC, chosen, values=values, **FOCUS, names=NAMES,
                                         view=view)
    found = current_clusters()
    left, right = st.columns([3, 2], gap="medium")
    with left:
        state = draw(shown, chosen, key="main_map", clusters=found, bounds=fit, follow_view=True)
        ss["_main_fit"] = (REGION, fit)
        if found is not None:
            st.caption(t("clusters_note", lang, n=len(found.table),
                         cells=int(found.cells["significant"].sum())))
        st.caption(t("map_note", lang, n=len(shown), res=shown_res,
                     cells=int(shown["n_children"].sum()), grid_res=resolution))
        excluded = int(np.isnan(np.asarray(SC.score, dtype=float)[MASK]).sum())
        if excluded:
            st.caption(t("excluded", lang, n=excluded))
    clicked = (state or {}).get("last_clicked")
    if clicked and clicked != st.session_state.get("_last_click"):
        st.session_state["_last_click"] = clicked
        st.session_state["selected"] = (clicked["lat"], clicked["lng"])
        ss.pop("_found", None)
    with right:
        found_place = ss.get("_found")
        if found_place:
            getattr(st, found_place[0])(found_place[1])
        selected = st.session_state.get("selected")
        row = cell_at(R, *selected) if selected else None
        if row is None:
            st.info(t("card_none", lang))
        else:
            card_panel(row, found, shown, shown_res, chosen)

    top = top_units(districts(REGION, resolution), SC.score, rank_by=RANK_BY, mask=MASK)
    st.markdown(f"**{t('top_districts' if UNIT == 'district' else 'top_units', lang)}**")
    top = top.assign(**{RANK_BY: top[RANK_BY].round(3)})
    columns = [c for c in ("unit", "parent", "grandparent") if c in top] or ["code"]
    columns += [RANK_BY, *(["population"] if top["population"].notna().any() else [])]
    shown_as = "score" if RANK_BY == "pop_weighted_mean" else RANK_BY  # "Best score", "… km²"
    st.dataframe(headers(top[columns].rename(columns={RANK_BY: shown_as}), lang,
                         unit_key=UNIT).rename(columns={"score": t("score", lang)}),
                 hide_index=True, width="stretch", key="top_districts")

    st.markdown(f"**{t('downloads', lang)}**")
    out = frame.rename(columns={"value": chosen.key.replace(":", "_")})
    for col, suffix, label in zip(st.columns(3), (".csv", ".geojson", ".gpkg"),
                                  ("download_csv", "download_geojson", "download_gpkg"), strict=True):
        col.download_button(t(label, lang), data=functools.partial(_file_bytes, out, suffix),
                            file_name=f"map{suffix}", key=f"dl{suffix}", on_click="ignore")
    share_view()

def _level_label(slot: str) -> str:
    """Return an admin slot's name in the region's own words (Peru: Distrito, Provincia…)."""
    own = next((lv for lv in R.region.levels if lv.slot == slot), None)
    if own is None:
        return t(UNIT if slot == "district" else slot, lang)
    if own.id in ("unit", "parent"):  # an upload's levels: words from the catalogue
        return t(own.id, lang)
    label = own.label_es if lang == "es" else own.label_en
    return label[:1].upper() + label[1:]


def rankings_tab() -> None:
    """Rank districts, provinces or departments by the current score."""
    c1, c2 = st.columns(2)
    levels = [k for k, col in LEVELS.items() if col in R.matrix]
    _settle("rank_level", ["cluster", *levels], "cluster")
    level = c1.selectbox(t("rank_level", lang), ["cluster", *levels],
                         format_func=_level_label, key="rank_level")
    if level == "cluster":
        found = current_clusters()
        if found is None:
            st.info(t("show_clusters", lang))
            return
        own = cluster_levels(found.table, R.region.levels)  # the region's own level ids
        table = pd.DataFrame(own.drop(columns="geometry"))
        st.dataframe(headers(table, lang, unit_key=UNIT), hide_index=True, width="stretch")
        st.download_button(t("download_csv", lang), to_csv_bytes(table),
                           file_name="clusters.csv", key="dl_clusters", on_click="ignore")
        st.download_button(t("download_geojson", lang),
                           data=functools.partial(_features_bytes, own, ".geojson"),
                           file_name="clusters.geojson", key="dl_clusters_geojson",
                           on_click="ignore")
        return
    choices = [c for c in RANK_CHOICES if POVERTY_LAYER in R.matrix or "poor" not in c]
    key = f"rank_by_{profile_id}"  # each profile opens on its own statistic
    _settle(key, choices, RANK_BY if RANK_BY in choices else choices[0])
    rank_by = c2.selectbox(t("rank_by", lang), choices, key=key,
                           format_func=lambda c: t(COLUMNS[c], lang))
    own = (custom or R.profile(profile_id)).ranking
    if own is not None and rank_by == own.by:
        st.caption(escape_markdown(localized(own.rationale, lang)))
    ranked = ranking(R, SC.score, level=level, rank_by=rank_by, mask=MASK)
    if ranked["tie"].any():
        st.caption(t("ties_note", lang))
    shown_names = [c for c in ("unit", "parent", "grandparent") if c in ranked]
    first = ranked.head(15)
    if len(first) and first[rank_by].notna().any():
        st.caption(t("ranking_chart", lang, n=len(first), by=t(COLUMNS[rank_by], lang)))
        names = first[shown_names[0]] if shown_names else first["code"]
        st.altair_chart(bar_chart([f"{r}. {n}" for r, n in zip(first["rank"], names, strict=True)],
                                  first[rank_by].astype(float).tolist(),
                                  title=t(COLUMNS[rank_by], lang), lang=lang,
                                  decimals=0 if "population" in rank_by else 3),
                        width="stretch", key="ranking_chart")
    shown = ranked.drop(columns=[c for c in ("poor_population", "poor_population_top")
                                 if POVERTY_LAYER not in R.matrix and c in ranked])
    st.dataframe(headers(shown, lang, unit_key=UNIT), hide_index=True, width="stretch",
                 column_config={t(COLUMNS[c], lang): st.column_config.NumberColumn(
                     format="%.3f") for c in ("mean", "max", "pop_weighted_mean", "share_pop_top",
                                             "score_km2")})
    st.download_button(t("download_csv", lang), to_csv_bytes(_own_words(ranked)),
                       file_name=f"ranking_{R.region.level(level).id}.csv", key="dl_rank", on_click="ignore")

def _compare_title(other: str, defaults: str) -> str:
    """Return scenario B's name: the same profile with its default weights, or another profile."""
    return (t("same_profile_defaults", lang) if other == defaults
            else t("inclusion", lang) if other == INCLUSION
            else getattr(R.profiles[other].title, lang, other))


def compare_tab() -> None:
    """Compare the current scenario with another: A and B side by side, the change, the transitions."""
    c1, c2, c3 = st.columns(3)
    title = _profile_title()
    c1.markdown(f"**{t('compare_a', lang)}**: {escape_markdown(title)} ({t('weights', lang).lower()} ↖)")
    defaults = "__defaults__"
    choices = ([defaults] if profile_id != INCLUSION else []) + [
        p for p in profile_ids if p not in (profile_id, CUSTOM)]
    _settle("compare_b", choices, choices[0] if choices else None)
    other = c2.selectbox(t("compare_b", lang), choices, key="compare_b",
                         format_func=lambda p: _compare_title(p, defaults))
    kinds = ["score", "rank", *(["typology"] if "typology" not in SKIP else [])]
    _settle("compare_by", kinds, "score")
    by = c3.radio(t("compare_what", lang), kinds, key="compare_by",
                  format_func=lambda k: t(f"compare_{k}", lang), horizontal=True)
    with warnings.catch_warnings(), st.spinner(t("busy_compare", lang), show_time=True):
        warnings.simplefilter("ignore", GeoEngineWarning)
        same = other == defaults
        sc_b = scenario(R, profile_id=profile_id if same else other, engine_quantile=q_engine,
                        inclusion_quantile=q_incl, profile=custom if same else None)
    title_b = title if same else _compare_title(other, defaults)
    if same:
        title_b = f"{title} · {t('same_profile_defaults', lang)}"
    # A and B side by side, panning and zooming together, each with a legend naming it
    side = Output("typology", t("typology", lang), "categorical") if by == "typology" \
        else Output("score", t("score", lang), "score", "0–1")
    with st.spinner(t("busy_map", lang), show_time=True):
        frame_a, _ = map_frame(R, SC, side, values=None if by == "typology" else SC.score,
                               **FOCUS)
        frame_b, _ = map_frame(R, sc_b, side, values=None if by == "typology" else sc_b.score,
                               **FOCUS)
        scale = {} if by == "typology" else {"vmin": 0.0, "vmax": float(max(
            np.nanmax(frame_a["value"], initial=0.0), np.nanmax(frame_b["value"], initial=0.0))
            or 1.0)}
        pair = dual_map(_hexagons(frame_a, side, caption=f"A: {title}", **scale),
                        _hexagons(frame_b, side, caption=f"B: {title_b}", **scale),
                        orientation=base_layers(REGION, dep))
    st.markdown(f"**{t('compare_side_by_side', lang)}**")
    st.iframe(pair.get_root().render(), height=470)
    if by == "typology":
        classes = typology_change(SC, sc_b)
        diff_out = Output("typology_change", t("compare_typology", lang), "categorical")
        diff_frame, _ = map_frame(R, SC, diff_out, values=classes, **FOCUS, names=NAMES)
        st.markdown(f"**{t('compare_change', lang)}**")
        draw(diff_frame, diff_out, key="diff_map")
        change = np.where(classes == None, np.nan, (classes != "unchanged").astype(float))  # noqa: E711
    else:
        change = difference(SC, sc_b, by=by)
        diff_out = Output("difference", t(f"compare_{by}", lang), "difference")
        diff_frame, _ = map_frame(R, SC, diff_out, values=change, **FOCUS, names=NAMES)
        finite = diff_frame["value"].notna().any()
        # no change anywhere (B = A) draws the scale's neutral middle, not its lowest colour
        limit = (float(np.nanmax(np.abs(diff_frame["value"]))) if finite else 0.0) or 1.0
        st.markdown(f"**{t('compare_change', lang)}**")
        draw(diff_frame, diff_out, key="diff_map", colors=DIVERGING, vmin=-limit, vmax=limit)
    if "typology" not in SKIP:
        st.markdown(f"**{t('transitions', lang)}**")
        weights = (R.matrix[POPULATION_LAYER].to_numpy(dtype=float)
                   if POPULATION_LAYER in R.matrix else None)
        matrix = typology_matrix(SC, sc_b, mask=MASK, weights=weights)
        st.caption(t("transitions_help" if weights is not None else "transitions_help_cells",
                     lang))
        names = {k: t(k, lang) for k in matrix.index}
        shown = matrix.rename(index=lambda k: f"A: {names[k]}", columns=lambda k: f"B: {names[k]}"
                              ).rename_axis(index=None, columns=None)
        st.dataframe(shown.map(lambda v: number(v, lang)), width="stretch", key="transitions")
    st.markdown(f"**{t('biggest_movers', lang)}**")
    moved = movers(R, change, mask=MASK)
    names_cols = [c for c in ("unit", "parent", "grandparent") if c in moved]
    moved = moved[[*names_cols, "unit_code", "change", *[c for c in moved if c == "population"]]]
    if "population" in moved:
        moved = moved.assign(population=moved["population"].round(0).astype("Int64"))
    st.dataframe(headers(moved, lang, unit_key=UNIT), hide_index=True, width="stretch")
    st.download_button(t("download_comparison", lang),
                       data=functools.partial(_comparison_bytes, sc_b, title, title_b),
                       file_name="_".join(part for part in (
                           "comparison", REGION if REGION in shipped else "region", profile_id,
                           "vs", "defaults" if same else other, dep or unit, prov) if part) + ".csv",
                       mime="text/csv",
                       key="dl_compare", on_click="ignore")


def _comparison_bytes(sc_b: Any, title_a: str, title_b: str) -> bytes:
    """Return the cells of the comparison in focus as CSV, with A and B named (run on download)."""
    table = comparison_table(R, SC, sc_b, mask=MASK)
    table.insert(0, "h3_id", [format(int(c), "x") for c in table.pop("h3")])
    table.insert(1, "scenario_a", title_a)
    table.insert(2, "scenario_b", title_b)
    return to_csv_bytes(_own_words(table))


def sensitivity_tab() -> None:
    """Probability of the top decile under uncertain weights."""
    st.write(t("sensitivity_intro", lang))
    if SC.result is None:
        st.info(t("profile", lang) + ": " + t("inclusion", lang) + " —")
    else:
        c1, c2 = st.columns(2)
        draws = c1.number_input(t("draws", lang), 50, 2000, 200, 50, key="draws")
        kappa = c2.number_input(t("concentration", lang), 1.0, 1000.0, 50.0, 10.0, key="kappa")
        if st.button(t("run_sensitivity", lang), key="run_sens"):
            with st.spinner(t("busy_sensitivity", lang, n=int(draws)), show_time=True):
                st.session_state["sens"] = (profile_id, sensitivity(
                    SC.result, draws=int(draws), concentration=float(kappa)))
        stored = st.session_state.get("sens")
        if stored and stored[0] == profile_id:
            sens = stored[1]
            p_out = Output("p_top", t("p_top", lang), "probability")
            p_frame, _ = map_frame(R, SC, p_out, values=sens["p_top"].to_numpy(), **FOCUS, names=NAMES)
            draw(p_frame, p_out, key="sens_map", vmin=0, vmax=1)
            core = (sens["p_top"].to_numpy() >= 0.9) & MASK
            if POPULATION_LAYER in R.matrix:
                st.write(t("stable_core", lang, n=int(core.sum()), pop=float(
                    np.nansum(R.matrix[POPULATION_LAYER].to_numpy(dtype=float)[core]))))
            else:
                st.write(t("stable_core_cells", lang, n=int(core.sum())))
            st.write(t("spearman", lang, rho=sens.attrs["spearman_mean"]))

def plan_tab() -> None:
    """Where to act under a budget: the sites, their catchments and the growth–inclusion front."""
    from geo_engine.planning.ahp import profile_with_weights
    from geo_engine.planning.plan import greedy_cover, pareto_front, solve_cover
    from geo_engine.planning.sites import SiteOptions, region_problem, site_table

    st.write(t("plan_intro", lang))
    if profile_id == INCLUSION:
        st.info(t("plan_needs_profile", lang))
        return
    base = PROFILE or R.profile(profile_id)
    prof = profile_with_weights(base, weights) if sum(weights.values()) > 0 else base
    c1, c2, c3, c4, c5 = st.columns(5)
    n = int(c1.number_input(t("plan_sites", lang), 1, 50, 12, key="plan_sites"))
    reach = float(c2.number_input(t("plan_reach", lang), 15, 600, 120, 15, key="plan_reach"))
    min_km = float(c3.number_input(t("plan_min_km", lang), 0, 500, 0, 5, key="plan_min_km"))
    per_dep = int(c4.number_input(t("plan_per_department", lang), 0, 50, 0, key="plan_per_dep"))
    niche_min = float(c5.slider(t("plan_niche_min", lang), 0.0, 1.0, 2 / 3, 0.01, key="plan_niche"))
    opts = SiteOptions(sites=n, reach_minutes=reach, min_km=min_km, per_department=per_dep or None,
                       candidates=1000, speed_kmh=None if R.hub_minutes is not None else 30.0)
    key = (REGION, resolution, prof.model_dump_json(), opts, niche_min)
    b1, b2 = st.columns(2)
    run_plan = b1.button(t("plan_run", lang), key="plan_run")
    run_front = b2.button(t("plan_front", lang), key="plan_front")
    stored = ss.get("plan")
    if (run_plan or run_front) and (stored is None or stored["key"] != key):
        with st.spinner(t("plan_run", lang) + "…"), warnings.catch_warnings():
            warnings.simplefilter("ignore", GeoEngineWarning)
            sp, scored = region_problem(R, prof, options=opts, niche_min=niche_min)
        best, greedy = solve_cover(sp.problem), greedy_cover(sp.problem)
        top = np.argsort(-np.nan_to_num(scored.score[sp.site_rows], nan=-1), kind="stable")[:n]
        stored = ss["plan"] = {"key": key, "sp": sp, "plans": [best], "greedy": greedy,
                               "top": float(sp.problem.demand[sp.problem.covered(top)].sum()),
                               "front": None}
    if stored is None or stored["key"] != key:
        return
    sp, best, greedy = stored["sp"], stored["plans"][0], stored["greedy"]
    if run_front and stored["front"] is None:
        with st.spinner(t("plan_front", lang) + "…"):
            stored["front"], front_plans = pareto_front(sp.problem, points=8)
        stored["plans"] = [best, *front_plans]
    gap = (best.demand - greedy.demand) / best.demand if best.demand else 0.0
    st.markdown(t("plan_result", lang, best=best.demand, greedy=greedy.demand, gap=gap, n=n,
                  top=stored["top"]))
    chosen = best
    if stored["front"] is not None:
        front = stored["front"].rename(columns={"demand": t("plan_demand", lang),
                                                "growth": t("plan_growth", lang)})
        st.scatter_chart(front, x=t("plan_growth", lang), y=t("plan_demand", lang))
        labels = {0: t("plan_run", lang), **{i: f"{t('plan_point', lang)} {i}"
                                             for i in range(1, len(stored["plans"]))}}
        pick = st.selectbox(t("plan_point", lang), list(labels), format_func=labels.get,
                            key="plan_pick")
        chosen = stored["plans"][min(pick, len(stored["plans"]) - 1)]
    table = site_table(sp, chosen, R.matrix)
    values = np.full(len(R.matrix), np.nan)
    values[np.searchsorted(R.matrix["h3"].to_numpy(), table["h3"].to_numpy())] = (
        table["minutes"].fillna(0.0).to_numpy())
    out = Output("plan_minutes", t("plan_minutes", lang), "minutes", "min")
    frame, _ = map_frame(R, SC, out, values=values, **FOCUS, names=NAMES)
    draw(frame, out, key="plan_map", vmin=0, vmax=reach)
    sites = table[table["role"] == "site"][["h3", "rank", "demand_added", "demand_reached", "lat",
                                            "lon"]]
    st.dataframe(sites.assign(h3=[format(int(c), "x") for c in sites["h3"]]), hide_index=True,
                 width="stretch")
    st.download_button("CSV", to_csv_bytes(_own_words(table).assign(h3=[format(int(c), "x")
                                                                        for c in table["h3"]])),
                       file_name="plan.csv", key="plan_csv")


def data_tab() -> None:
    """Layers with their sources, and the method in plain language."""
    st.subheader(t("method_title", lang))
    st.markdown(t("method_text", lang))
    manifest = (manifest_table().set_index("id") if R.region.shipped
                else pd.DataFrame(index=pd.Index([], name="id")))
    rows = []
    for spec in R.specs.values():
        entry = manifest.loc[spec.dataset] if spec.dataset in manifest.index else None
        rows.append({
            t("layer", lang): getattr(spec.title, lang, spec.title.en),
            t("theme", lang): t(f"theme_{spec.theme}", lang),
            t("kind", lang): spec.kind, t("method", lang): spec.method,
            t("units", lang): unit_words(spec.units, lang),
            t("source", lang): "; ".join(s["publisher"] for s in entry["sources"])
            if entry is not None else spec.source,
            t("licence", lang): entry["licence"] if entry is not None else "",
            t("vintage", lang): entry["vintage"] if entry is not None else "",
        })
    table = pd.DataFrame(rows)
    if not R.region.shipped:  # one's own files: no manifest, so no licence or vintage to show
        table = table.drop(columns=[t("licence", lang), t("vintage", lang)])
    st.subheader(t("layers_table", lang))
    st.dataframe(table, hide_index=True, width="stretch")
    if profile_id not in (INCLUSION, CUSTOM):
        st.subheader(escape_markdown(getattr(R.profile(profile_id).title, lang, profile_id)))
        st.write(escape_markdown(localized(R.profile(profile_id).description, lang)))
        st.dataframe(pd.DataFrame([{t("layer", lang): _layer_title(lay.id),
                                    t("weight", lang): lay.weight,
                                    t("rationale", lang): localized(lay.rationale, lang)}
                                   for lay in R.profile(profile_id).layers]),
                     hide_index=True, width="stretch")
        for kind in ("evidence", "gate", "hubs"):  # each level and the reason for it
            items = getattr(R.profile(profile_id), kind)
            if items:
                st.markdown(f"**{t(f'{kind}_items', lang)}**\n\n" + "\n".join(
                    f"- **{escape_markdown(_layer_title(e.layer))}**: "
                    f"{escape_markdown(localized(e.rationale, lang))}" for e in items))
    if not R.region.shipped and R.region.file is not None:
        st.subheader(t("uploaded_files", lang))
        st.dataframe(upload_listing(str(R.region.file.parent)).rename(columns={
            "file": t("file", lang), "bytes": t("size_bytes", lang)}), hide_index=True,
            width="stretch", key="uploaded_files")
    if NOTES:
        with st.expander(t("data_notes", lang, n=len(NOTES))):
            for note in NOTES:
                st.write("• " + escape_markdown(note))
    st.caption(f"geo-engine {__version__} · data/MANIFEST.yaml · data/LICENSES.md" if R.region.shipped
               else f"geo-engine {__version__} · {escape_markdown(R.region.file)}")


# ---------------------------------------------------------------- weights and scenarios
def current_view(title: str = "") -> Scenario:
    """Return the view on screen as a scenario: profile, weights, constraints, thresholds, focus."""
    off = []
    if profile_id not in (INCLUSION, CUSTOM):
        off = sorted({c.layer for c, on in zip(R.profile(profile_id).constraints, enabled,
                                               strict=False) if not on})
    plan = {k: ss[key] for k, key in (("sites", "plan_sites"), ("reach_minutes", "plan_reach"),
                                      ("min_km", "plan_min_km"), ("niche_min", "plan_niche"))
            if isinstance(ss.get(key), int | float)}
    if ss.get("plan_per_dep"):
        plan["per_department"] = int(ss["plan_per_dep"])
    return Scenario(id=scenario_id(title or profile_id), title=title, profile=profile_id,
                    weights={k: round(float(v), 4) for k, v in weights.items()},
                    drop_constraints=off, custom=custom,
                    constraints=[Constraint.model_validate_json(text) for text in ADDED],
                    thresholds=Thresholds(engine=round(q_engine, 4), inclusion=round(q_incl, 4)),
                    focus=Focus(department=dep, province=prov, unit=unit),
                    plan=PlanSettings.model_validate(plan))


def _ahp_key(pid: str, who: int, i: int, j: int) -> str:
    return f"_ahp_{pid}_{who}_{i}_{j}"


def _ahp_store(pid: str, criteria: tuple[str, ...]) -> dict[str, Any]:
    """Return the AHP form's participants and judgements of a profile (kept across tabs)."""
    forms = ss.setdefault("_ahp_forms", {})
    return forms.setdefault((pid, criteria), {"people": [t("ahp_first", lang)], "judged": {}})


def _ahp_keep(store: dict[str, Any], key: str, pair: tuple[str, str, str]) -> None:
    """Copy a moved judgement slider into the store (a callback, run before the page)."""
    store["judged"][pair] = ss[key]


def _ahp_add(store: dict[str, Any]) -> None:
    """Add the participant typed in the name box (a callback)."""
    name = str(ss.get("ahp_new_name", "")).strip()[:60]
    if name and name not in store["people"]:
        store["people"].append(name)
        ss["ahp_who"] = len(store["people"]) - 1
        ss["ahp_new_name"] = ""
    elif name:
        ss["_ahp_note"] = t("ahp_name_taken", lang, name=escape_markdown(name))


def _ahp_remove(store: dict[str, Any], who: int) -> None:
    """Remove a participant and their judgements (a callback)."""
    name = store["people"].pop(who)
    store["judged"] = {k: v for k, v in store["judged"].items() if k[0] != name}
    ss["ahp_who"] = 0


def _use_weights(pid: str, new: dict[str, float]) -> None:
    """Move the sidebar's weight sliders to ``new`` (a callback, run before they are drawn)."""
    for layer_id, value in new.items():
        ss[f"w_{pid}_{layer_id}"] = value
    ss["_ahp_note_ok"] = t("ahp_used", lang)


def _saaty_label(value: str, a: str, b: str) -> str:
    """Return a Saaty judgement of ``a`` against ``b`` as the slider shows it."""
    if value == "1":
        return t("ahp_equal", lang)
    num, _, den = value.partition("/")
    return t("ahp_more", lang, layer=a if not den else b, n=den or num)


def _short(text: str, most: int = 26) -> str:
    """Return a layer title short enough for a slider's ends: its part after a colon, cut."""
    text = text.rsplit(": ", 1)[-1]
    return text if len(text) <= most else text[:most - 1] + "…"


def _inconsistency(result: AHPResult, who: str) -> None:
    """Say a participant's (or the group's) consistency ratio, warning above the limit."""
    if result.consistent or result.worst_pair is None:
        st.caption(t("ahp_cr", lang, who=escape_markdown(who), cr=result.cr))
        return
    a, b = result.worst_pair
    st.warning(t("ahp_inconsistent", lang, who=escape_markdown(who), cr=result.cr,
                 a=escape_markdown(_layer_title(a)), b=escape_markdown(_layer_title(b)),
                 ratio=result.worst_ratio))


def ahp_section() -> None:
    """Pairwise comparisons of the profile's layers, by one or more participants, feeding the sliders."""
    st.subheader(t("ahp_title", lang))
    st.caption(t("ahp_intro", lang))
    criteria = tuple(weights)
    if profile_id == INCLUSION or len(criteria) < 2:
        st.info(t("ahp_needs_profile", lang))
        return
    store = _ahp_store(profile_id, criteria)
    people: list[str] = store["people"]
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    _settle("ahp_who", list(range(len(people))), 0)
    who = c1.selectbox(t("ahp_participant", lang), list(range(len(people))), key="ahp_who",
                       format_func=lambda i: people[i])
    c2.text_input(t("ahp_new_name", lang), key="ahp_new_name")
    c2.button(t("ahp_add", lang), key="ahp_add", on_click=_ahp_add, args=(store,))
    c3.button(t("ahp_remove", lang), key="ahp_remove", disabled=len(people) < 2,
              on_click=_ahp_remove, args=(store, who))
    note = ss.pop("_ahp_note", None)
    if note:
        st.warning(note)
    pairs = [(i, j) for i in range(len(criteria)) for j in range(i + 1, len(criteria))]
    outcome = st.container()  # the weights above the many pairs, drawn once they are read
    st.caption(t("ahp_pairs", lang, n=len(pairs)))
    columns = st.columns(2)
    for k, (i, j) in enumerate(pairs):
        a, b = criteria[i], criteria[j]
        key, pair = _ahp_key(profile_id, who, i, j), (people[who], a, b)
        ss[key] = store["judged"].get(pair, "1")
        ta, tb = _short(_layer_title(a)), _short(_layer_title(b))
        columns[k % 2].select_slider(
            f"{escape_markdown(_layer_title(a))} — {escape_markdown(_layer_title(b))}",
            SAATY_SCALE, key=key,
            format_func=functools.partial(_saaty_label, a=ta, b=tb), on_change=_ahp_keep,
            args=(store, key, pair))
    judgements = {name: {a: {b: float(Fraction(store["judged"].get((name, a, b), "1")))
                             for b in criteria[n + 1:]} for n, a in enumerate(criteria)}
                  for name in people}
    with outcome:
        _ahp_outcome(group_result(list(criteria), judgements), people, criteria)


def _ahp_outcome(result: GroupResult, people: list[str], criteria: tuple[str, ...]) -> None:
    """Show the AHP weights beside the sliders', the consistency ratios and the button using them."""
    shown = result.table if len(people) > 1 else result.table[[people[0]]]
    total = sum(weights.values()) or 1.0
    shown = shown.assign(now=[weights[c] / total for c in criteria])
    names = {"group": t("ahp_group", lang), "min": t("ahp_min", lang), "max": t("ahp_max", lang),
             "sd": t("ahp_sd", lang), "now": t("ahp_now", lang)}
    st.markdown(f"**{t('ahp_weights_table', lang)}**")
    st.dataframe(shown.rename(index=_layer_title, columns=lambda c: names.get(c, c)).map(
        lambda v: number(v, lang, decimals=3)), width="stretch", key="ahp_table")
    for name, r in result.participants.items():
        _inconsistency(r, name)
    final = result.group if len(people) > 1 else result.participants[people[0]]
    if len(people) > 1:
        _inconsistency(final, t("ahp_group", lang))
    refused = final.cr > CR_LIMIT
    if refused:
        st.error(t("ahp_refused", lang))
    st.button(t("ahp_use", lang), key="ahp_use", type="primary", disabled=refused,
              on_click=_use_weights, args=(profile_id, slider_weights(final.weights.to_dict())))
    done = ss.pop("_ahp_note_ok", None)
    if done:
        st.success(done)


def _load_scenario(data: bytes, name: str, choices: list[str]) -> None:
    """Read an uploaded scenario and make it the pending view (a button's callback)."""
    try:
        scen = read_scenario_bytes(data, name=name)
    except GeoEngineError as exc:
        ss["_view_problems"] = [("scenario_problem", {"error": _scenario_error(exc, lang)})]
        return
    if scen.profile not in choices:
        ss["_view_problems"] = [("scenario_unknown_profile",
                                 {"profile": escape_markdown(scen.profile)})]
        return
    ss["profile"], ss["_pending_view"] = scen.profile, scen
    ss["dep"], ss["prov"], ss["focus_unit"] = (scen.focus.department, scen.focus.province,
                                               scen.focus.unit)
    plan = scen.plan
    for key, value in (("plan_sites", plan.sites), ("plan_reach", plan.reach_minutes),
                       ("plan_min_km", plan.min_km), ("plan_per_dep", plan.per_department or 0),
                       ("plan_niche", plan.niche_min)):
        if value is not None:
            ss[key] = value
    ss["_scenario_applied"] = scen.title or scen.id


def scenario_section() -> None:
    """Save the view as a scenario file, load one, and say that the address shares it."""
    st.subheader(t("scenario_title", lang))
    st.caption(t("scenario_intro", lang))
    left, right = st.columns(2)
    title = left.text_input(t("scenario_name", lang), key="scen_title",
                            placeholder=_profile_title())
    view = current_view(title.strip() or _profile_title())
    left.download_button(t("scenario_save", lang), scenario_yaml(view).encode(),
                         file_name=f"{view.id}.yaml", mime="application/x-yaml",
                         key="scen_save", on_click="ignore")
    upload = right.file_uploader(t("scenario_upload", lang), type=["yaml", "yml"],
                                 key="scen_upload")
    if upload is not None:
        right.button(t("scenario_apply", lang), key="scen_apply", type="primary",
                     on_click=_load_scenario, args=(upload.getvalue(), upload.name, profile_ids))
    applied = ss.pop("_scenario_applied", None)
    if applied:
        st.success(t("scenario_applied", lang, name=escape_markdown(applied)))


def decide_tab() -> None:
    """Weights agreed by pairwise comparison (AHP), and named scenarios to save, load and share."""
    ahp_section()
    st.divider()
    scenario_section()


def share_view() -> None:
    """Write the view to the address (a link reopens it); the map's part calls it after a click."""
    row = cell_at(R, *ss["selected"]) if ss.get("selected") else None
    st.query_params.from_dict({k: v for k, v in {
        "lang": lang, "region": REGION if REGION in shipped else "", "res": str(resolution),
        "profile": profile_id, "dep": dep, "prov": prov, "unit": unit,
        "show": ss.get("_shown_output", ""),
        "cell": format(int(R.matrix["h3"].iloc[row]), "x") if row is not None else "",
        **{k: v for k, v in scenario_params(current_view()).items() if k in ("weights", "off", "add",
                                                                           "agg", "thresholds")},
    }.items() if v})


for tab, render in zip(tabs, (map_tab, rankings_tab, compare_tab, sensitivity_tab, plan_tab,
                             decide_tab, data_tab), strict=True):
    if tab.open:
        with tab:
            render()

# ---------------------------------------------------------------- state to the URL
share_view()
