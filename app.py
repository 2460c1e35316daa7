"""Territorial Opportunity Platform — the Streamlit map app (``streamlit run app.py``)."""

from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo_engine import __version__
from geo_engine._errors import GeoEngineWarning
from geo_engine.brief import brief_html
from geo_engine.display import DIVERGING, SEQUENTIAL, base_map, hex_layer
from geo_engine.explore import (
    CUSTOM,
    INCLUSION,
    Clusters,
    Output,
    boundaries,
    categories,
    cell_at,
    cell_card,
    custom_profile,
    difference,
    map_frame,
    movers,
    output_options,
    parse_location,
    scenario,
    scenario_clusters,
    typology_change,
    with_constraints,
)
from geo_engine.export import write_cells, write_features
from geo_engine.i18n import LANGUAGES, t
from geo_engine.manifest import load_manifest
from geo_engine.maps import use_local_assets
from geo_engine.pipeline import Run, run
from geo_engine.profiles import Profile
from geo_engine.rollup import LEVELS, RANK_BY, rollup, with_labels
from geo_engine.score import Prepared, prepare
from geo_engine.sensitivity import sensitivity

st.set_page_config(page_title="Territorial Opportunity Platform", layout="wide")


@st.cache_resource(show_spinner=False)
def load_run(resolution: int) -> tuple[Run, list[str]]:
    """Return the region's matrix and base scores (built once per resolution, then cached).

    The data notes the build raises (units without a cell, codes that match nothing…) are
    returned as text, to be shown in the app rather than as Python warnings.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoEngineWarning)
        result = run(resolution=resolution)
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, GeoEngineWarning)})
    return result, notes


@st.cache_resource(show_spinner=False, max_entries=32)
def prepared(resolution: int, profile_id: str, constraints: tuple[bool, ...]) -> Prepared:
    """Return normalized layers of a profile with the chosen constraints (kept while sliding weights)."""
    r = load_run(resolution)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # already reported by load_run
        return prepare(r.matrix, with_constraints(r.profile(profile_id), constraints), specs=r.specs)


@st.cache_resource(show_spinner=False, max_entries=16)
def prepared_custom(resolution: int, layer_ids: tuple[str, ...], aggregation: str) -> Prepared:
    """Return normalized layers of a custom profile (kept while sliding its weights)."""
    r = load_run(resolution)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        return prepare(r.matrix, custom_profile(list(layer_ids), aggregation=aggregation),
                       specs=r.specs)


@st.cache_resource(show_spinner=False)
def outlines(department: str) -> gpd.GeoDataFrame:
    """Return department outlines, or the districts of the focused department."""
    return boundaries(department or None)


@st.cache_data(show_spinner=False)
def manifest_table() -> pd.DataFrame:
    """Return the provenance of every curated dataset."""
    return pd.DataFrame(load_manifest()["datasets"])


# ---------------------------------------------------------------- sidebar
lang = st.sidebar.selectbox("Idioma · Language", list(LANGUAGES), format_func=LANGUAGES.get,
                            key="lang")
st.sidebar.selectbox(t("region", lang), ["Perú" if lang == "es" else "Peru"], key="region")
resolution = st.sidebar.selectbox(t("resolution", lang), [7, 6, 5], help=t("resolution_help", lang),
                                  key="resolution")
with st.spinner(t("loading", lang)):
    R, NOTES = load_run(resolution)

profile_ids = [INCLUSION, *R.profiles, CUSTOM]
profile_id = st.sidebar.selectbox(
    t("profile", lang), profile_ids, key="profile",
    format_func=lambda p: t("inclusion", lang) if p == INCLUSION
    else t("custom_profile", lang) if p == CUSTOM
    else getattr(R.profiles[p].title, lang, R.profiles[p].title.en))

weights: dict[str, float] = {}
enabled: tuple[bool, ...] = ()
custom: Profile | None = None
if profile_id == CUSTOM:
    chosen_layers = st.sidebar.multiselect(
        t("custom_layers", lang), list(R.specs), default=["poverty_2018", "travel_town_50k",
                                                          "tourism_natural"],
        format_func=lambda i: getattr(R.specs[i].title, lang, i), key="custom_layers")
    aggregation = st.sidebar.selectbox(t("aggregation", lang), ["wlc", "wgm", "owa", "topsis"],
                                       key="custom_agg")
    if not chosen_layers:
        st.sidebar.warning(t("custom_empty", lang))
        chosen_layers = ["poverty_2018"]
    custom = custom_profile(chosen_layers, aggregation=aggregation,
                            title=t("custom_profile", lang))
if profile_id != INCLUSION:
    profile = custom or R.profile(profile_id)
    st.sidebar.subheader(t("weights", lang), help=t("weights_help", lang))
    by_theme: dict[str, list] = {}
    for layer in profile.layers:
        theme = R.specs[layer.id].theme if layer.id in R.specs else "resource"
        by_theme.setdefault(theme, []).append(layer)
    for theme, layers in by_theme.items():
        with st.sidebar.expander(t(f"theme_{theme}", lang), expanded=True):
            for layer in layers:
                spec = R.specs.get(layer.id)
                label = getattr(spec.title, lang, spec.title.en) if spec else layer.id
                weights[layer.id] = st.slider(label, 0.0, 5.0, float(layer.weight), 0.1,
                                              key=f"w_{profile_id}_{layer.id}", help=layer.rationale)
    if profile.constraints:
        st.sidebar.subheader(t("constraints", lang))
        enabled = tuple(st.sidebar.checkbox(f"{c.layer} {c.op} {c.value:g}", value=True,
                                            key=f"c_{profile_id}_{i}", help=c.rationale)
                        for i, c in enumerate(profile.constraints))
st.sidebar.subheader(t("thresholds", lang))
q_engine = st.sidebar.slider(t("engine_threshold", lang), 0.5, 0.95, 2 / 3, 0.01, key="q_engine")
q_incl = st.sidebar.slider(t("inclusion_threshold", lang), 0.5, 0.95, 2 / 3, 0.01, key="q_incl")

if profile_id == INCLUSION:
    prep = None
elif custom is not None:
    prep = prepared_custom(resolution, tuple(lay.id for lay in custom.layers), aggregation)
else:
    prep = prepared(resolution, profile_id, enabled)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", GeoEngineWarning)  # constant layers etc.: already in NOTES
    SC = scenario(R, profile_id=profile_id, weights=weights, engine_quantile=q_engine,
                  inclusion_quantile=q_incl, prepared=prep, profile=custom)

# ---------------------------------------------------------------- header
st.title(t("app_title", lang))
st.caption(t("app_subtitle", lang))
# only the open tab runs (on_change="rerun"), so a hidden tab costs nothing
tabs = st.tabs([t("tab_map", lang), t("tab_rankings", lang), t("tab_compare", lang),
                t("tab_sensitivity", lang), t("tab_data", lang)], key="tab", on_change="rerun")

departments = (R.names.assign(code=R.names["district_code"].str[:2])
               .drop_duplicates("code").sort_values("department"))
dep_labels = {"": t("all_country", lang),
              **dict(zip(departments["code"], departments["department"], strict=True))}
dep = st.sidebar.selectbox(t("focus", lang), list(dep_labels), format_func=dep_labels.get, key="dep")
show_clusters = st.sidebar.toggle(t("show_clusters", lang), value=False, key="show_clusters",
                                  help=t("clusters_help", lang))


def current_clusters() -> Clusters | None:
    """Return the clusters of the current scenario, computed once per weights and constraints."""
    if not show_clusters:
        return None
    key = (resolution, profile_id, tuple(sorted(weights.items())), enabled)
    store = st.session_state.setdefault("_clusters", {})
    if key not in store:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GeoEngineWarning)  # "no cluster" is shown as text
            store.clear()
            store[key] = scenario_clusters(R, SC)
    return store[key]


def _file_bytes(frame: pd.DataFrame, suffix: str) -> bytes:
    """Write the drawn hexagons in one format and return the bytes (run on download only)."""
    with tempfile.TemporaryDirectory() as tmp:
        return write_cells(frame, Path(tmp) / f"map{suffix}").read_bytes()


def _shorten(names: str, most: int = 8) -> str:
    """Return at most ``most`` comma-separated names, then an ellipsis with the count left."""
    parts = [p.strip() for p in names.split(",") if p.strip()]
    return ", ".join(parts[:most]) + (f" … (+{len(parts) - most})" if len(parts) > most else "")


def _select_typed() -> None:
    """Select the cell typed in the search box (``lat, lon`` or an H3 id)."""
    location = parse_location(st.session_state.get("find_cell", ""))
    if location is not None:
        st.session_state["selected"] = location


def _brief_bytes(district_code: str, title: str) -> bytes:
    """Return the printable brief of a district for the current profile (run on download only)."""
    rows = R.matrix["district_code"].astype(str).to_numpy() == district_code
    return brief_html(R, profile_id=profile_id, rows=rows, title=title, lang=lang,
                      result=SC.result).encode()


def _features_bytes(features: gpd.GeoDataFrame, suffix: str) -> bytes:
    """Write polygons (clusters) in one format and return the bytes (run on download only)."""
    with tempfile.TemporaryDirectory() as tmp:
        return write_features(features, Path(tmp) / f"clusters{suffix}").read_bytes()


def draw(frame: pd.DataFrame, output: Output, *, key: str, colors=SEQUENTIAL, vmin=None,
         vmax=None, caption: str | None = None, clusters: Clusters | None = None) -> dict | None:
    """Draw hexagons coloured by ``value`` and return the click state."""
    cats = categories(output, R, lang)
    tooltip = {"district": t("district", lang), "value": output.label,
               "population": t("population", lang), "poverty": t("poverty", lang)}
    if cats is not None:
        frame = frame.assign(value=[cats.labels.get(v, v) if v else None for v in frame["value"]])
        cats = type(cats)(colours={cats.labels[k]: c for k, c in cats.colours.items()},
                          labels={v: v for v in cats.labels.values()})
    outline = clusters.table if clusters is not None and len(clusters.table) else None
    layer = hex_layer(frame, column="value", caption=caption or output.label, tooltip=tooltip,
                   outlines=outline,
                   outline_tooltip={"cluster_id": t("cluster", lang),
                                    "poor_population": t("poor_population", lang)},
                   formats={"value": ".3f" if cats is None and output.kind != "layer" else ",.4g",
                            "population": ",.0f", "poverty": ".1f"} if cats is None
                   else {"population": ",.0f", "poverty": ".1f"},
                   categories=cats, colors=colors, vmin=vmin, vmax=vmax,
                   no_data_label=t("no_data", lang))
    # the base map stays the same while only the hexagon layer changes, so the browser swaps
    # that layer instead of rebuilding the map (streamlit-folium's feature_group_to_add)
    base = base_map(bounds=layer.bounds, boundaries=outlines(dep))
    state = st_folium(use_local_assets(base), height=620, use_container_width=True,
                      feature_group_to_add=layer.group, returned_objects=["last_clicked"], key=key)
    st.html(f'<div style="position:relative;height:96px;">{layer.legend}</div>')
    return state


def map_tab() -> None:
    """Draw the map, the clicked cell's card and the downloads."""
    stored = st.session_state.get("sens")
    sens = stored[1] if stored and stored[0] == profile_id else None
    extra = [Output("p_top", t("p_top", lang), "probability", "0–1")] if sens is not None else []
    options = output_options(R, lang, extra=extra)
    chosen = st.selectbox(t("show", lang), options, format_func=lambda o: o.label, key="output")
    values = sens["p_top"].to_numpy() if chosen.key == "p_top" and sens is not None else None
    frame, shown_res = map_frame(R, SC, chosen, department=dep or None, values=values)
    found = current_clusters()
    state = draw(frame, chosen, key="main_map", clusters=found)
    if found is not None:
        st.caption(t("clusters_note", lang, n=len(found.table),
                     cells=int(found.cells["significant"].sum())))
    st.caption(t("map_note", lang, n=len(frame), res=shown_res,
                 cells=int(frame["n_children"].sum()), grid_res=resolution))
    excluded = int(np.isnan(np.asarray(SC.score, dtype=float)).sum())
    if excluded:
        st.caption(t("excluded", lang, n=excluded))

    top = with_labels(rollup(R.matrix, np.asarray(SC.score, dtype=float), level="district").head(5),
                      R.matrix, R.names, level="district")
    st.markdown(f"**{t('top_districts', lang)}**")
    top = top.assign(pop_weighted_mean=top["pop_weighted_mean"].round(3),
                     population=top["population"].round(0).astype("Int64"))
    st.dataframe(top[["district", "province", "department", "pop_weighted_mean", "population"]]
                 .rename(columns={"district": t("district", lang), "province": t("province", lang),
                                  "department": t("department", lang),
                                  "pop_weighted_mean": t("score", lang),
                                  "population": t("population", lang)}),
                 hide_index=True, width="stretch", key="top_districts")

    clicked = (state or {}).get("last_clicked")
    if clicked and clicked != st.session_state.get("_last_click"):
        st.session_state["_last_click"] = clicked
        st.session_state["selected"] = (clicked["lat"], clicked["lng"])
    st.text_input(t("find_cell", lang), key="find_cell", on_change=_select_typed,
                  placeholder="-13.52, -71.97")
    selected = st.session_state.get("selected")
    row = cell_at(R, *selected) if selected else None
    if row is None:
        st.info(t("card_none", lang))
    else:
        card = cell_card(R, SC, row, lang)
        cluster_id = found.cells["cluster_id"].iloc[row] if found is not None else pd.NA
        if found is not None and not pd.isna(cluster_id):
            c = found.table.set_index("cluster_id").loc[int(cluster_id)]
            st.subheader(t("cluster_card", lang, id=int(cluster_id), n=int(c["n_cells"]),
                           pop=float(c["population"]), poor=float(c["poor_population"])))
            st.markdown(t("cluster_line", lang, rank=int(c["rank"]), score=float(c["mean_score"]),
                          layers=c["top_layers"], town=float(c["median_minutes_town50k"]),
                          port=float(c["median_minutes_port"]),
                          districts=_shorten(str(c["districts"]))))
        st.subheader(t("card_title", lang, h3=card["h3"]))
        if profile_id in R.profiles:
            code = str(R.matrix["district_code"].iloc[row])
            st.download_button(
                t("download_brief", lang),
                data=functools.partial(_brief_bytes, code, " · ".join(card["names"].values())),
                file_name=f"brief_{code}.html", mime="text/html", key="dl_brief",
                on_click="ignore")
        st.markdown(" · ".join(card["names"].values()))
        cols = st.columns(len(card["scores"]))
        for col, (label, value) in zip(cols, card["scores"].items(), strict=True):
            col.metric(label, "—" if not np.isfinite(value) else f"{value:.2f}")
        st.markdown(f"**{t('typology', lang)}:** {card['typology'] or '—'} · "
                    f"**{t('population', lang)}:** {card['population']:,.0f} · "
                    f"**{t('poverty', lang)}:** {card['poverty']:.1f}")
        if card["family"]:
            st.markdown(t("best_family_line", lang, family=card["family"], margin=card["margin"]))
        if card["contributions"] is not None:
            st.markdown(f"**{t('contributions', lang)}**")
            if card["space"] == "log":
                st.caption(t("contributions_log", lang))
            st.bar_chart(card["contributions"].set_index("title")["contribution"], horizontal=True)
            st.markdown(f"**{t('raw_values', lang)}**")
            st.dataframe(card["raw"].rename(columns={
                "layer": t("layer", lang), "value": t("value", lang), "units": t("units", lang),
                "source": t("source", lang)}), hide_index=True, width="stretch")
            st.markdown(f"**{t('what_it_takes', lang)}**")
            if card["top"]:
                st.write(t("already_top", lang))
            elif card["requirements"]:
                for line in card["requirements"]:
                    st.write("• " + line)
            else:
                st.write(t("no_single_change", lang))

    st.markdown(f"**{t('downloads', lang)}**")
    out = frame.rename(columns={"value": chosen.key.replace(":", "_")})
    for col, suffix, label in zip(st.columns(3), (".csv", ".geojson", ".gpkg"),
                                  ("download_csv", "download_geojson", "download_gpkg"), strict=True):
        col.download_button(t(label, lang), data=functools.partial(_file_bytes, out, suffix),
                            file_name=f"map{suffix}", key=f"dl{suffix}", on_click="ignore")

def rankings_tab() -> None:
    """Rank districts, provinces or departments by the current score."""
    c1, c2 = st.columns(2)
    level = c1.selectbox(t("rank_level", lang), ["cluster", *LEVELS],
                         format_func=lambda k: t(k, lang), key="rank_level")
    if level == "cluster":
        found = current_clusters()
        if found is None:
            st.info(t("show_clusters", lang))
            return
        table = pd.DataFrame(found.table.drop(columns="geometry"))
        st.dataframe(table, hide_index=True, width="stretch")
        st.download_button(t("download_csv", lang), table.to_csv(index=False).encode(),
                           file_name="clusters.csv", key="dl_clusters", on_click="ignore")
        st.download_button(t("download_geojson", lang),
                           data=functools.partial(_features_bytes, found.table, ".geojson"),
                           file_name="clusters.geojson", key="dl_clusters_geojson",
                           on_click="ignore")
        return
    rank_by = c2.selectbox(t("rank_by", lang), list(RANK_BY), key="rank_by")
    ranked = rollup(R.matrix, np.asarray(SC.score, dtype=float), level=level, rank_by=rank_by)
    ranked = with_labels(ranked, R.matrix, R.names, level=level)
    st.dataframe(ranked, hide_index=True, width="stretch")
    st.download_button(t("download_csv", lang), ranked.to_csv(index=False).encode(),
                       file_name=f"ranking_{level}.csv", key="dl_rank", on_click="ignore")

def compare_tab() -> None:
    """Compare the current scenario with another profile."""
    c1, c2, c3 = st.columns(3)
    title = (t("inclusion", lang) if profile_id == INCLUSION
             else t("custom_profile", lang) if profile_id == CUSTOM
             else getattr(R.profile(profile_id).title, lang, profile_id))
    c1.markdown(f"**{t('compare_a', lang)}**: {title} ({t('weights', lang).lower()} ↖)")
    defaults = "__defaults__"
    choices = ([defaults] if profile_id != INCLUSION else []) + [
        p for p in profile_ids if p not in (profile_id, CUSTOM)]
    other = c2.selectbox(
        t("compare_b", lang), choices, key="compare_b",
        format_func=lambda p: t("same_profile_defaults", lang) if p == defaults
        else t("inclusion", lang) if p == INCLUSION
        else getattr(R.profiles[p].title, lang, p))
    by = c3.radio(t("compare_what", lang), ["score", "rank", "typology"], key="compare_by",
                  format_func=lambda k: t(f"compare_{k}", lang), horizontal=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        same = other == defaults
        sc_b = scenario(R, profile_id=profile_id if same else other, engine_quantile=q_engine,
                        inclusion_quantile=q_incl, profile=custom if same else None)
    if by == "typology":
        classes = typology_change(SC, sc_b)
        diff_out = Output("typology_change", t("compare_typology", lang), "categorical")
        diff_frame, _ = map_frame(R, SC, diff_out, values=classes, department=dep or None)
        draw(diff_frame, diff_out, key="diff_map")
        change = np.where(classes == None, np.nan, (classes != "unchanged").astype(float))  # noqa: E711
    else:
        change = difference(SC, sc_b, by=by)
        diff_out = Output("difference", t(f"compare_{by}", lang), "difference")
        diff_frame, _ = map_frame(R, SC, diff_out, values=change, department=dep or None)
        finite = diff_frame["value"].notna().any()
        limit = float(np.nanmax(np.abs(diff_frame["value"]))) if finite else 1.0
        draw(diff_frame, diff_out, key="diff_map", colors=DIVERGING, vmin=-limit, vmax=limit)
    st.markdown(f"**{t('biggest_movers', lang)}**")
    st.dataframe(movers(R, change), hide_index=True, width="stretch")

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
            st.session_state["sens"] = (profile_id, sensitivity(SC.result, draws=int(draws),
                                                                concentration=float(kappa)))
        stored = st.session_state.get("sens")
        if stored and stored[0] == profile_id:
            sens = stored[1]
            p_out = Output("p_top", t("p_top", lang), "probability")
            p_frame, _ = map_frame(R, SC, p_out, values=sens["p_top"].to_numpy(),
                                   department=dep or None)
            draw(p_frame, p_out, key="sens_map", vmin=0, vmax=1)
            core = sens["p_top"].to_numpy() >= 0.9
            st.write(t("stable_core", lang, n=int(core.sum()),
                       pop=float(np.nansum(R.matrix["population_2020"].to_numpy()[core]))))
            st.write(t("spearman", lang, rho=sens.attrs["spearman_mean"]))

def data_tab() -> None:
    """Layers with their sources, and the method in plain language."""
    st.subheader(t("method_title", lang))
    st.markdown(t("method_text", lang))
    manifest = manifest_table().set_index("id")
    rows = []
    for spec in R.specs.values():
        entry = manifest.loc[spec.dataset] if spec.dataset in manifest.index else None
        rows.append({
            t("layer", lang): getattr(spec.title, lang, spec.title.en),
            t("theme", lang): t(f"theme_{spec.theme}", lang),
            t("kind", lang): spec.kind, t("method", lang): spec.method,
            t("units", lang): spec.units,
            t("source", lang): "; ".join(s["publisher"] for s in entry["sources"])
            if entry is not None else spec.source,
            t("licence", lang): entry["licence"] if entry is not None else "",
            t("vintage", lang): entry["vintage"] if entry is not None else "",
        })
    st.subheader(t("layers_table", lang))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if profile_id not in (INCLUSION, CUSTOM):
        st.subheader(getattr(R.profile(profile_id).title, lang, profile_id))
        st.write(R.profile(profile_id).description)
        st.dataframe(pd.DataFrame([{t("layer", lang): lay.id, t("weight", lang): lay.weight,
                                    t("rationale", lang): lay.rationale}
                                   for lay in R.profile(profile_id).layers]),
                     hide_index=True, width="stretch")
    if NOTES:
        with st.expander(t("data_notes", lang, n=len(NOTES))):
            for note in NOTES:
                st.write("• " + note)
    st.caption(f"geo-engine {__version__} · data/MANIFEST.yaml · data/LICENSES.md")


for tab, render in zip(tabs, (map_tab, rankings_tab, compare_tab, sensitivity_tab, data_tab),
                       strict=True):
    if tab.open:
        with tab:
            render()
