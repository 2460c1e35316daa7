"""Printable one-page briefs (HTML or PDF) for a district or a cluster: map, scores, drivers, sources."""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from jinja2 import Environment, select_autoescape

from geo_engine import __version__
from geo_engine.i18n import number, t
from geo_engine.io.manifest import dataset_entry
from geo_engine.matrix.derived import poor_population
from geo_engine.reporting.maps import (
    NO_DATA_COLOUR,
    SEQUENTIAL,
    Orientation,
    declutter,
    hexagon_rings,
)
from geo_engine.scoring.explain import gate_why, why
from geo_engine.scoring.profiles import Profile
from geo_engine.scoring.score import ScoreResult

if TYPE_CHECKING:
    from fpdf import FPDF

    from geo_engine.pipeline import Run

__all__ = ["BriefContent", "brief_content", "brief_html", "brief_map", "brief_pdf", "cells_svg",
           "plan_brief"]

_TEMPLATE = Environment(autoescape=select_autoescape(default=True)).from_string("""
<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
 body { font: 14px/1.45 sans-serif; max-width: 900px; margin: 24px auto; color: #222; }
 h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 18px 0 6px; }
 .sub { color: #555; } table { border-collapse: collapse; width: 100%; }
 td, th { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left; }
 .grid { display: flex; gap: 24px; } .grid > div { flex: 1; }
 .note { color: #555; font-size: 12px; } @media print { body { margin: 0; } }
</style></head><body>
<h1>{{ title }}</h1>
<div class="sub">{{ subtitle }}</div>
{% if why %}<p><b>{{ labels.why }}:</b> {{ why }}</p>{% endif %}
<div class="grid">
 <div><img src="data:image/png;base64,{{ map_b64 }}" alt="{{ labels.map }}"
   style="width:100%;max-width:420px"></div>
 <div>
  <h2>{{ labels.figures }}</h2>
  <table>{% for k, v in figures %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
 </div>
</div>
<h2>{{ labels.drivers }}</h2>
<table><tr><th>{{ labels.layer }}</th><th>{{ labels.contribution }}</th></tr>
{% for k, v in drivers %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
<h2>{{ labels.sources }}</h2>
<table>
<tr><th>{{ labels.dataset }}</th><th>{{ labels.vintage }}</th><th>{{ labels.licence }}</th></tr>
{% for dataset, vintage, licence in sources %}
<tr><td>{{ dataset }}</td><td>{{ vintage }}</td><td>{{ licence }}</td></tr>
{% endfor %}</table>
<h2>{{ labels.caveats }}</h2>
<ul>{% for c in caveats %}<li>{{ c }}</li>{% endfor %}</ul>
<p class="note">{{ footer }}</p>
</body></html>
""")

_LABELS = {
    "es": {"figures": "Cifras", "drivers": "Lo que impulsa el puntaje (contribución media)",
           "layer": "Capa", "contribution": "Contribución", "sources": "Fuentes",
           "dataset": "Conjunto de datos", "vintage": "Periodo", "licence": "Licencia",
           "caveats": "Advertencias", "cells": "Celdas H3", "area": "Superficie (km²)",
           "mean_score": "Puntaje medio", "poor": "Población pobre (estimada)",
           "town": "Mediana de viaje a una ciudad de 50 000+ (min)",
           "port": "Mediana de viaje a un puerto (min)", "family": "Familia de nicho más frecuente",
           "typology": "Tipología más frecuente", "rank": "Puesto entre distritos",
           "district": "Distrito", "cluster": "Clúster",
           "why": "Por qué, en su celda más poblada", "map": "Mapa del puntaje"},
    "en": {"figures": "Figures", "drivers": "What drives the score (mean contribution)",
           "layer": "Layer", "contribution": "Contribution", "sources": "Sources",
           "dataset": "Dataset", "vintage": "Vintage", "licence": "Licence",
           "caveats": "Caveats", "cells": "H3 cells", "area": "Area (km²)",
           "mean_score": "Mean score", "poor": "Poor population (estimated)",
           "town": "Median travel to a town of 50,000+ (min)",
           "port": "Median travel to a port (min)", "family": "Most frequent niche family",
           "typology": "Most frequent typology", "rank": "Rank among districts",
           "district": "District", "cluster": "Cluster",
           "why": "Why, in its most populous cell", "map": "Map of the score"},
}

_CAVEATS = {
    "es": {"unit_values": "Los valores por unidad administrativa (pobreza, IDH, vulnerabilidad) son "
                          "de la unidad entera, iguales en todas sus celdas.",
           "split": "La población y la producción se reparten entre celdas según los centros "
                    "poblados o el área: son estimaciones, no mediciones por celda.",
           "travel": "Los tiempos de viaje usan solo la red vial nacional: fuera de ella son "
                     "tiempos a pie.",
           "missing": "Esta región no tiene perfil de tipo {kinds}: lo que depende de él "
                      "(inclusión, tipología, vínculo) queda vacío, no estimado.",
           "score": "Un puntaje alto indica potencial según las capas y pesos elegidos, no una "
                    "decisión."},
    "en": {"unit_values": "Values given per admin unit (poverty, HDI, food vulnerability) are the "
                          "same in every cell of the unit.",
           "split": "Population and production are spread over cells by populated centres or "
                    "area: estimates, not per-cell measurements.",
           "travel": "Travel times know only the national road network: off it they are walking "
                     "times.",
           "missing": "This region has no {kinds} profile: what depends on it (inclusion, "
                      "typology, linkage) is left empty, not estimated.",
           "score": "A high score shows potential under the chosen layers and weights, not a "
                    "decision."},
}


_OWN_FILE = {"es": "archivo propio", "en": "own file"}


def _caveats(run: Run, lang: str) -> tuple[str, ...]:
    """Return the caveats that apply to the region's layers and profiles."""
    text = _CAVEATS.get(lang, _CAVEATS["en"])
    kinds = {s.kind for s in run.specs.values()}
    methods = {s.method for s in run.specs.values()}
    out = []
    if "table" in kinds:
        out.append(text["unit_values"])
    if "population_2020" in run.matrix or any(s.params.get("weights") == "centres"
                                              for s in run.specs.values()):
        out.append(text["split"])
    if "travel_time" in methods:
        out.append(text["travel"])
    if run.dual.missing:
        out.append(text["missing"].format(kinds=", ".join(run.dual.missing)))
    out.append(text["score"])
    return tuple(out)


def cells_svg(ids: np.ndarray, values: np.ndarray, *, width: int = 420, height: int = 420,
              colors: Sequence[str] = SEQUENTIAL) -> str:
    """Return a self-contained SVG map of hexagons coloured by value (no tiles, works offline)."""
    import branca.colormap as cm

    rings = hexagon_rings(np.asarray(ids, dtype=np.uint64))
    if not rings:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>'
    xs = np.array([p[0] for r in rings for p in r])
    ys = np.array([p[1] for r in rings for p in r])
    west, east, south, north = xs.min(), xs.max(), ys.min(), ys.max()
    kx = np.cos(np.radians((south + north) / 2))  # keep shapes right at this latitude
    scale = min((width - 10) / max((east - west) * kx, 1e-9), (height - 10) / max(north - south, 1e-9))
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    ramp = cm.LinearColormap(list(colors), vmin=lo, vmax=hi if hi > lo else lo + 1e-9)
    paths = []
    for ring, value in zip(rings, v, strict=True):
        d = " ".join(f"{'M' if i == 0 else 'L'}{5 + (x - west) * kx * scale:.1f},"
                     f"{5 + (north - y) * scale:.1f}" for i, (x, y) in enumerate(ring))
        fill = ramp(value) if np.isfinite(value) else "#bdbdbd"
        paths.append(f'<path d="{d} Z" fill="{fill}" stroke="{fill}" stroke-width="0.5"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">{"".join(paths)}</svg>')


_MAP_LABELS = {
    "es": {"north": "N", "no_data": "sin datos", "credits": "Límites y nombres"},
    "en": {"north": "N", "no_data": "no data", "credits": "Borders and names"},
}


_MAP_RATIO = 4.6 / 4.2
"""Height over width of the brief's map (:func:`brief_map`'s default size)."""


def _nice_length(km: float) -> float:
    """Return the largest of 1, 2 or 5 × 10^k that is at most ``km`` (a scale bar's length)."""
    power = 10 ** np.floor(np.log10(max(km, 1e-9)))
    return float(max(m * power for m in (1, 2, 5) if m * power <= km))


def brief_map(ids: np.ndarray, values: np.ndarray, *, caption: str, lang: str = "es",
              base: Orientation | None = None, labels: pd.DataFrame | None = None,
              colors: Sequence[str] = SEQUENTIAL, vmin: float | None = None,
              vmax: float | None = None, most_places: int = 40,
              size_in: tuple[float, float] = (4.2, 4.6), dpi: int = 200) -> bytes:
    """Return a static map of cells as a PNG: boundaries, place names, legend, scale and north.

    Parameters
    ----------
    ids : numpy.ndarray
        H3 cells (uint64) to colour.
    values : numpy.ndarray
        One value per cell (NaN: no data, drawn grey and listed in the legend).
    caption : str
        Legend title (the score's name).
    lang : {"es", "en"}
    base : Orientation, optional
        Land, water, outlines, names and their credits (:func:`geo_engine.explore.orientation`);
        without it the cells are drawn alone.
    labels : pandas.DataFrame, optional
        More names to write (``name``, ``lat``, ``lon``, ``kind`` as in ``base.labels``, or
        ``"place"``: a small name alone, e.g. the districts around the cells); those outside the
        view are left out.
    colors : sequence of str
        Colour ramp, low to high.
    vmin, vmax : float, optional
        Ends of the colour scale; the values' range by default.
    most_places : int, default 40
        ``"place"`` names are written only when the view holds at most this many.
    size_in : (float, float)
        Figure width and height in inches.
    dpi : int, default 200

    Returns
    -------
    bytes
        PNG image.

    Notes
    -----
    Longitudes are stretched by ``1 / cos(latitude)`` at the map's centre, so shapes and the
    scale bar are true there (111.32 km per degree of latitude). The view is the cells' extent
    with a margin of a quarter of it (at least 0.1°) to show their surroundings.
    """
    import matplotlib.patheffects as pe
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    words = _MAP_LABELS.get(lang, _MAP_LABELS["en"])
    rings = hexagon_rings(np.asarray(ids, dtype=np.uint64))
    v = np.asarray(values, dtype=float)
    fig = Figure(figsize=size_in, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.2, 0.96, 0.78))
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, facecolor="#dfe4e8", zorder=-1))
    xs = np.array([x for r in rings for x, _ in r]) if rings else np.array([0.0])
    ys = np.array([y for r in rings for _, y in r]) if rings else np.array([0.0])
    pad = max(0.25 * max(np.ptp(xs), np.ptp(ys)), 0.1)
    west, east, south, north = xs.min() - pad, xs.max() + pad, ys.min() - pad, ys.max() + pad
    mid = (south + north) / 2
    k = np.cos(np.radians(mid))
    box = (size_in[0] * 0.96) / (size_in[1] * 0.78)  # the map's frame, width over height
    if (east - west) * k / (north - south) < box:  # widen or heighten the view to the frame
        grow = (box * (north - south) / k - (east - west)) / 2
        west, east = west - grow, east + grow
    else:
        grow = ((east - west) * k / box - (north - south)) / 2
        south, north = south - grow, north + grow
    if base is not None:
        base.land.plot(ax=ax, color="#f6f3ea", edgecolor="#6b6b6b", linewidth=0.8)
        if base.water is not None and len(base.water):
            base.water.plot(ax=ax, color="#a8cbe0", edgecolor="#7fb0cf", linewidth=0.6)
    cmap = LinearSegmentedColormap.from_list("ramp", list(colors))
    finite = v[np.isfinite(v)]
    lo = vmin if vmin is not None else float(finite.min()) if finite.size else 0.0
    hi = vmax if vmax is not None else float(finite.max()) if finite.size else 1.0
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    faces = [cmap(norm(x)) if np.isfinite(x) else NO_DATA_COLOUR for x in v]
    ax.add_collection(PolyCollection([np.asarray(r) for r in rings], facecolors=faces,
                                     edgecolors=faces, linewidths=0.2))
    halo = [pe.withStroke(linewidth=2.2, foreground="white")]
    if base is not None:
        base.outlines.boundary.plot(ax=ax, color="#333333", linewidth=0.5)
    frames = [f for f in (labels, base.labels if base is not None else None)
              if f is not None and len(f)]
    if frames:
        names = pd.concat(frames, ignore_index=True)
        inside = names[names["lon"].between(west, east) & names["lat"].between(south, north)]
        if inside["kind"].eq("place").sum() > most_places:  # crowded: no small names at all
            inside = inside[inside["kind"] != "place"]
        dots = inside[inside["kind"] == "capital"]
        ax.plot(dots["lon"], dots["lat"], "o", ms=3.5, mfc="white", mec="#1a1a1a", mew=0.8)
        first = inside["kind"].map({"capital": 0, "unit": 1}).fillna(2).to_numpy()
        inside = declutter(inside.iloc[np.argsort(first, kind="stable")], lat_scale=k,
                           points_per_degree=72 * size_in[1] * 0.78 / (north - south))
        for row in inside.itertuples(index=False):  # names that cover none written before
            if row.kind == "place":
                ax.text(row.lon, row.lat, str(row.name), fontsize=5, color="#333333",
                        ha="center", va="center", path_effects=halo, clip_on=True)
            elif row.kind == "capital":
                ax.annotate(str(row.name), (row.lon, row.lat), xytext=(3, 2),
                            textcoords="offset points", fontsize=6.5, fontweight="bold",
                            color="#1a1a1a", path_effects=halo, clip_on=True)
            else:
                ax.text(row.lon, row.lat, str(row.name).upper(), fontsize=5.5, style="italic",
                        color="#3a3a3a", ha="center", va="center", path_effects=halo,
                        clip_on=True)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1 / k)
    ax.set_axis_off()
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, linewidth=0.8,
                           edgecolor="#333333"))
    x0, x1, y0, y1 = west, east, south, north
    km_per_deg = 111.32 * k
    km = _nice_length((x1 - x0) * km_per_deg / 4)
    bar_x, bar_y, bar_w = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0), km / km_per_deg
    bar_h = 0.012 * (y1 - y0)
    for i, colour in enumerate(("#1a1a1a", "white")):  # two halves, dark and light
        left = bar_x + i * bar_w / 2
        ax.fill([left, left + bar_w / 2, left + bar_w / 2, left],
                [bar_y, bar_y, bar_y + bar_h, bar_y + bar_h],
                facecolor=colour, edgecolor="#1a1a1a", linewidth=0.6)
    ax.text(bar_x + bar_w / 2, bar_y + 0.02 * (y1 - y0), f"{km:g} km", ha="center",
            va="bottom", fontsize=6.5, path_effects=halo)
    ax.annotate(words["north"], xy=(0.94, 0.95), xytext=(0.94, 0.83), xycoords="axes fraction",
                ha="center", va="center", fontsize=8, fontweight="bold",
                arrowprops={"facecolor": "#1a1a1a", "edgecolor": "#1a1a1a", "width": 2.5,
                            "headwidth": 8, "headlength": 7})
    cax = fig.add_axes((0.08, 0.11, 0.6, 0.025))
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
    bar.set_label(caption, fontsize=7)
    bar.ax.tick_params(labelsize=6)
    if not np.isfinite(v).all():
        fig.legend(handles=[Patch(facecolor=NO_DATA_COLOUR, label=words["no_data"])],
                   loc="lower right", bbox_to_anchor=(0.98, 0.085), fontsize=6.5, frameon=False)
    if base is not None and base.credits:
        fig.text(0.02, 0.015, f"{words['credits']}: {' · '.join(base.credits)}", fontsize=5,
                 color="#555555")
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi, facecolor="white")
    return out.getvalue()


def _fmt(x: float, digits: int = 0) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:,.{digits}f}"


def _mode(values: Sequence[object]) -> object:
    s = pd.Series([v for v in values if v is not None], dtype=object)
    return s.value_counts().index[0] if len(s) else None


@dataclass(frozen=True)
class BriefContent:
    """Everything a brief shows, computed once and rendered as HTML or PDF.

    Attributes
    ----------
    lang : str
        Language of the labels (``"es"`` or ``"en"``).
    title, subtitle : str
        Heading (district or cluster name) and the profile line under it.
    map_png : bytes
        Map of the cells coloured by score, with boundaries, names, legend, scale and north
        (:func:`brief_map`).
    figures, drivers : tuple of (label, value)
        Key figures, then the layers' mean contributions to the score, largest first.
    sources : tuple of (dataset, vintage, licence)
        Datasets of the profile's layers, from the data manifest.
    caveats : tuple of str
    footer : str
        Version, date and platform name.
    labels : mapping of str to str
        Headings and column names in ``lang``.
    why : str
        The niche's evidence, the need and the reach in words, for the unit's most populous
        cell (:func:`geo_engine.scoring.explain.why`; empty without niche families).
    """

    lang: str
    title: str
    subtitle: str
    map_png: bytes
    figures: tuple[tuple[str, str], ...]
    drivers: tuple[tuple[str, str], ...]
    sources: tuple[tuple[str, str, str], ...]
    caveats: tuple[str, ...]
    footer: str
    labels: Mapping[str, str]
    why: str = ""


def brief_content(run: Run, *, profile_id: str, rows: np.ndarray, title: str, lang: str = "es",
                  extra: Sequence[tuple[str, str]] = (), result: ScoreResult | None = None,
                  base: Orientation | None = None, profile: Profile | None = None) -> BriefContent:
    """Compute what a brief about a set of cells (a district or a cluster) shows.

    Parameters
    ----------
    run : Run
    profile_id : str
        Profile whose score, drivers and sources are reported.
    rows : numpy.ndarray
        Matrix rows of the cells (positions or a boolean mask).
    title : str
        Heading (the district or cluster name), kept as plain text: each renderer escapes it.
    lang : {"es", "en"}
    extra : sequence of (label, value)
        Further figures to list first.
    result : ScoreResult, optional
        The profile's score with other weights (e.g. the app's sliders); the run's by default.
    base : Orientation, optional
        Land, water, outlines and names of the map; by default the region's, with the districts
        of the cells' department outlined (:func:`geo_engine.reporting.orientation.region_orientation`).
    profile : Profile, optional
        The profile as scored (a scenario's, or a custom one the region does not have); the
        run's ``profile_id`` by default.

    Returns
    -------
    BriefContent

    Raises
    ------
    ValueError
        If ``rows`` selects no cell.
    """
    labels = _LABELS.get(lang, _LABELS["en"])
    m = run.matrix
    idx = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=int)
    if idx.size == 0:
        msg = "the brief has no cells: check the district code or cluster id"
        raise ValueError(msg)
    profile = profile if profile is not None else run.profile(profile_id)
    result = result if result is not None else run.dual.results[profile_id]
    score = result.score[idx]
    nan = np.full(idx.size, np.nan)
    pop = m["population_2020"].to_numpy(dtype=float)[idx] if "population_2020" in m else nan
    rate_pop = poor_population(m)[idx]
    people = float(np.nansum(pop)) if np.isfinite(pop).any() else np.nan  # no layer: unknown, not 0
    poor = float(np.nansum(rate_pop)) if np.isfinite(rate_pop).any() else np.nan
    families = run.dual.best_family[idx]
    fam = _mode(list(families))
    typ = _mode(list(run.dual.typology[idx]))
    figures = [*extra,
               (labels["cells"], f"{idx.size:,}"),
               (labels["area"], _fmt(float(m["area_km2"].to_numpy()[idx].sum()))),
               (t("population", lang), _fmt(people)),
               (labels["poor"], _fmt(poor)),
               (labels["mean_score"], _fmt(float(np.nanmean(score)), 3)),
               (labels["typology"], t(str(typ), lang) if typ else "—"),
               (labels["family"], getattr(run.profiles[str(fam)].title, lang, str(fam))
                if fam else "—")]
    for col, label in (("travel_town_50k", labels["town"]), ("travel_port", labels["port"])):
        if col in m:
            figures.append((label, _fmt(float(np.nanmedian(m[col].to_numpy()[idx])))))
    titles = {s.id: getattr(s.title, lang, s.title.en) for s in run.specs.values()}
    contrib = result.contributions.iloc[idx].mean(axis=0).sort_values(ascending=False)
    drivers = tuple((str(titles.get(k, k)), f"{v:.3f}") for k, v in contrib.items())
    datasets = sorted({str(run.specs[lay.id].dataset) for lay in profile.layers
                       if lay.id in run.specs and run.specs[lay.id].dataset})
    sources: list[tuple[str, str, str]] = []
    for ds in datasets:
        try:
            entry = dataset_entry(ds)
        except KeyError:
            continue
        sources.append((str(entry.get("title", "")), str(entry.get("vintage", "")),
                        str(entry.get("licence", ""))))
    if not run.region.shipped:  # one's own files: name them, their provenance is the user's
        own = _OWN_FILE.get(lang, _OWN_FILE["en"])
        files = sorted({Path(run.specs[lay.id].source).name for lay in profile.layers
                        if lay.id in run.specs})
        sources += [(name, "—", own) for name in files]
    subtitle = f"{t('profile', lang)}: {getattr(profile.title, lang, profile.id)}"
    footer = (f"geo-engine {__version__} · {datetime.now(UTC):%Y-%m-%d} · "
              f"{html.unescape(t('app_title', lang))}")
    caption = f"{t('score', lang)}: {getattr(profile.title, lang, profile.id)}"
    picture = brief_map(m["h3"].to_numpy()[idx], score, caption=caption, lang=lang,
                        base=base if base is not None else _orientation(run, idx),
                        labels=_places(run), vmin=0.0, vmax=1.0)
    return BriefContent(
        lang=lang, title=title, subtitle=subtitle, map_png=picture,
        figures=tuple((str(k), str(v)) for k, v in figures), drivers=drivers,
        sources=tuple(sources), caveats=_caveats(run, lang),
        footer=footer, labels=labels, why=_why(run, profile_id, idx, pop, lang))


def _orientation(run: Run, idx: np.ndarray) -> Orientation:
    """Return the region's offline base with the districts of the cells' (main) department."""
    from geo_engine.reporting.orientation import region_orientation

    department = None
    if "grandparent_code" in run.matrix:
        department = _mode(list(run.matrix["grandparent_code"].astype(str).to_numpy()[idx]))
    return region_orientation(run.region, str(department) if department else None)


def _places(run: Run) -> pd.DataFrame | None:
    """Return every unit's name at the mean position of its cells (``kind="place"`` labels)."""
    if "unit" not in run.names:
        return None
    m = run.matrix
    where = m.groupby(m["unit_code"].astype(str))[["lat", "lon"]].mean()
    names = run.names.assign(unit_code=run.names["unit_code"].astype(str)) \
        .drop_duplicates("unit_code").set_index("unit_code")["unit"]
    where = where.join(names, how="inner")
    return pd.DataFrame({"name": where["unit"].astype(str), "lat": where["lat"],
                         "lon": where["lon"], "kind": "place"}).reset_index(drop=True)


def _why(run: Run, profile_id: str, idx: np.ndarray, pop: np.ndarray, lang: str) -> str:
    """:func:`geo_engine.scoring.explain.why` for the most populous of the cells (the first without data).

    A gated profile adds the resource that opens its gate there
    (:func:`geo_engine.scoring.explain.gate_why`).
    """
    row = int(idx[np.nanargmax(pop)]) if np.isfinite(pop).any() else int(idx[0])
    parts = [] if "family" in run.dual.missing else [
        why(run.dual, run.matrix, row, profiles=run.profiles, specs=run.specs, lang=lang)]
    if profile_id in run.profiles:
        parts.append(gate_why(run.profiles[profile_id], run.matrix, row, specs=run.specs,
                              lang=lang))
    return " ".join(p for p in parts if p)


def brief_html(run: Run, *, profile_id: str, rows: np.ndarray, title: str, lang: str = "es",
               extra: Sequence[tuple[str, str]] = (), result: ScoreResult | None = None,
               base: Orientation | None = None, profile: Profile | None = None) -> str:
    """Return a one-page HTML brief about a set of cells (a district or a cluster).

    Parameters
    ----------
    run, profile_id, rows, title, lang, extra, result, base, profile
        As in :func:`brief_content`.

    Returns
    -------
    str
        Self-contained HTML (the map as an inline PNG, no script, every value HTML-escaped).
    """
    c = brief_content(run, profile_id=profile_id, rows=rows, title=title, lang=lang, extra=extra,
                      result=result, base=base, profile=profile)
    return _TEMPLATE.render(lang=c.lang, title=c.title, subtitle=c.subtitle, labels=c.labels,
                            figures=c.figures, drivers=c.drivers, sources=c.sources, caveats=c.caveats,
                            map_b64=base64.b64encode(c.map_png).decode("ascii"), footer=c.footer,
                            why=c.why)


_FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu (fonts-dejavu-core)
    "/usr/share/fonts/dejavu-sans-fonts",  # Fedora, RHEL
    "/usr/share/fonts/TTF",  # Arch
    "/usr/share/fonts/dejavu",  # Alpine, openSUSE
    "/usr/local/share/fonts/dejavu",  # FreeBSD
)
"""Folders searched for DejaVuSans.ttf after matplotlib's copy (when matplotlib is installed)."""

# Core-font fallback: look-alikes for the few characters of our texts outside Windows-1252.
_CP1252_SUBSTITUTES = str.maketrans({"″": '"', "′": "'", "−": "-", "≥": ">=", "≤": "<=", "→": "->"})
_THOUSANDS = re.compile(r"(\d) (\d{3})\b")  # "50 000": its space becomes a no-break space in the PDF


def _dejavu() -> tuple[Path, Path] | None:
    """Return DejaVu Sans regular and bold (bold may be the regular file), or None when absent."""
    folders = []
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:  # found without importing matplotlib
        folders.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    folders += [Path(f) for f in _FONT_DIRS]
    for folder in folders:
        regular = folder / "DejaVuSans.ttf"
        if regular.is_file():
            bold = folder / "DejaVuSans-Bold.ttf"
            return regular, bold if bold.is_file() else regular
    return None


def _to_cp1252(text: str) -> str:
    """Return ``text`` with every character outside Windows-1252 replaced by a look-alike or "?"."""
    out = []
    for ch in text.translate(_CP1252_SUBSTITUTES):
        try:
            ch.encode("cp1252")
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("cp1252", "ignore").decode("cp1252")
            ch = base or "?"
        out.append(ch)
    return "".join(out)


def _pdf_document(c: BriefContent, *, size: float) -> FPDF:
    """Lay the brief out on A4 portrait pages with body text of ``size`` points."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    fonts = _dejavu()
    family = "helvetica" if fonts is None else "dejavu"
    encode: Callable[[str], str] = _to_cp1252 if fonts is None else str

    def text(value: str) -> str:  # plain text, with "50 000" kept on one line
        return encode(_THOUSANDS.sub("\\1\u00a0\\2", value))

    class _Brief(FPDF):
        def footer(self) -> None:
            self.set_y(-11)
            self.set_font(family, "", 7)
            self.set_text_color(110)
            self.cell(0, 4, text(c.footer), align="L")

    pdf = _Brief(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(14, 12, 14)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.set_lang(c.lang)
    if fonts is None:
        pdf.core_fonts_encoding = "cp1252"
    else:
        pdf.add_font(family, "", fonts[0])
        pdf.add_font(family, "B", fonts[1])
    pdf.set_title(text(c.title))
    pdf.set_creator(f"geo-engine {__version__}")
    pdf.add_page()
    width = pdf.epw
    line = size * 0.5  # mm per line of text
    bold_face = FontFace(emphasis="BOLD", fill_color=None)

    def heading(label: str, x: float | None = None) -> None:
        pdf.set_font(family, "B", size + 2)
        pdf.set_text_color(30)
        if x is not None:
            pdf.set_x(x)
        pdf.cell(0, line + 2, text(label), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", size)

    def fit(values: Sequence[str], most: float, *, bold: bool = False) -> float:
        """Return the width of a column as wide as its longest value, at most ``most``."""
        pdf.set_font(family, "B" if bold else "", size)
        longest = max((pdf.get_string_width(text(v)) for v in values), default=0.0)
        return min(longest + 2.5, most)

    def table(rows: Sequence[Sequence[str]], shares: Sequence[float], *, head: bool, right: int | None = None,
              x: float | None = None, span: float = width, small: bool = False) -> None:
        pdf.set_font(family, "", size - 1 if small else size)
        pdf.set_draw_color(210)
        pdf.set_line_width(0.2)
        align = ["LEFT"] * len(shares)
        if right is not None:
            align[right] = "RIGHT"
        if x is not None:
            pdf.set_x(x)
        with pdf.table(width=span, col_widths=tuple(shares), align="LEFT",
                       text_align=tuple(align), borders_layout="HORIZONTAL_LINES",
                       first_row_as_headings=head, headings_style=bold_face,
                       line_height=line * 0.88 if small else line,
                       padding=(0.6, 1.5, 0.6, 0), markdown=False) as grid:
            for values in rows:
                grid.row([text(v) for v in values])

    pdf.set_font(family, "B", 17)
    pdf.set_text_color(20)
    pdf.multi_cell(0, 7.5, text(c.title), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", size + 1)
    pdf.set_text_color(90)
    pdf.multi_cell(0, line + 1, text(c.subtitle), align="L", new_x="LMARGIN", new_y="NEXT")
    if c.why:  # the reasons quote their rationales in full: a size smaller keeps the page one
        pdf.set_text_color(30)
        pdf.set_font(family, "", size - 1)
        pdf.multi_cell(0, line * 0.88, text(f"{c.labels['why']}: {c.why}"), align="L",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", size)
    pdf.ln(2)
    top, side, gap = pdf.get_y(), 66.0, 8.0
    pdf.image(io.BytesIO(c.map_png), x=pdf.l_margin, y=top, w=side, h=side * _MAP_RATIO)
    right_x, rest = pdf.l_margin + side + gap, width - side - gap
    pdf.set_y(top)
    heading(c.labels["figures"], x=right_x)
    value_w = fit([v for _, v in c.figures], rest * 0.45)
    table(c.figures, (rest - value_w, value_w), head=False, right=1, x=right_x, span=rest)
    pdf.set_y(max(pdf.get_y(), top + side * _MAP_RATIO) + 3)
    heading(c.labels["drivers"])
    table([(c.labels["layer"], c.labels["contribution"]), *c.drivers], (0.8, 0.2),
          head=True, right=1)
    pdf.ln(3)
    heading(c.labels["sources"])
    licence_w = fit([c.labels["licence"], *(s[2] for s in c.sources)], width * 0.2, bold=True)
    table([(c.labels["dataset"], c.labels["vintage"], c.labels["licence"]), *c.sources],
          (width * 0.72 - licence_w, width * 0.28, licence_w), head=True, small=True)
    pdf.ln(3)
    heading(c.labels["caveats"])
    pdf.set_text_color(30)
    pdf.set_font(family, "", size - 1)
    for caveat in c.caveats:
        pdf.cell(4, line * 0.88, text("•"))
        pdf.multi_cell(0, line * 0.88, text(caveat), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(0.4)
    return pdf


def brief_pdf(run: Run, *, profile_id: str, rows: np.ndarray, title: str, lang: str = "es",
              extra: Sequence[tuple[str, str]] = (), result: ScoreResult | None = None,
              base: Orientation | None = None, profile: Profile | None = None) -> bytes:
    """Return a printable PDF brief (A4 portrait, one page where possible) about a set of cells.

    Parameters
    ----------
    run, profile_id, rows, title, lang, extra, result, base, profile
        As in :func:`brief_content`.

    Returns
    -------
    bytes
        The PDF: the same map, figures, drivers, sources, caveats and footer as :func:`brief_html`.
        Names are written as plain text, never interpreted as markup.

    Notes
    -----
    Text is set in DejaVu Sans, embedded as a subset, so any character of the names prints. The font is
    taken from matplotlib when it is installed, else from the usual system folders (Debian and Ubuntu
    package ``fonts-dejavu-core``). Without it the PDF uses the core Helvetica font in Windows-1252,
    which covers Spanish (á, ñ, ü, ·, —); other characters are replaced by a look-alike or "?".

    The body text starts at 9 pt and shrinks, down to 6.5 pt, while the brief does not fit one page.
    """
    c = brief_content(run, profile_id=profile_id, rows=rows, title=title, lang=lang, extra=extra,
                      result=result, base=base, profile=profile)
    for size in (9.0, 8.0, 7.5, 7.0, 6.5):
        pdf = _pdf_document(c, size=size)
        if pdf.pages_count == 1:
            break
    return bytes(pdf.output())


def plan_brief(run: Run, *, profile_id: str, table: pd.DataFrame, best_demand: float,
               greedy_demand: float, reachable: float, reach: float, lang: str = "es",
               pdf: bool = False, profile: Profile | None = None,
               result: ScoreResult | None = None) -> str | bytes:
    """Return a one-page brief of a plan: the map of the cells it reaches, its figures, its sites.

    Parameters
    ----------
    run : Run
    profile_id : str
        Profile whose score colours the map.
    table : pandas.DataFrame
        :func:`geo_engine.planning.sites.site_table` of the plan (``h3`` as integers).
    best_demand, greedy_demand, reachable : float
        Poor people with a niche reached by the plan, by the greedy choice, and within reach of
        any candidate.
    reach : float
        Travel time (minutes) a site reaches.
    lang : {"es", "en"}
    pdf : bool, default False
        A PDF (bytes) instead of HTML (text).
    profile, result : Profile, ScoreResult, optional
        The profile as the plan scored it (a scenario's) and its score; the run's by default.
    """
    rows = np.isin(run.matrix["h3"].to_numpy(dtype=np.uint64), table["h3"].to_numpy(dtype=np.uint64))
    sites = table[table["role"] == "site"].sort_values("rank")
    extra = [(t("plan_brief_sites", lang), number(len(sites), lang, decimals=0)),
             (t("plan_reached", lang), f"{number(best_demand, lang, decimals=0)} "
              f"({number(100 * best_demand / max(reachable, 1), lang, decimals=1)} %)"),
             (t("plan_brief_reach", lang), f"{number(reach, lang, decimals=0)} min"),
             (t("plan_greedy", lang), number(greedy_demand, lang, decimals=0))]
    for _, site in sites.iterrows():
        place = " · ".join(str(site[c]) for c in ("unit", "parent")
                           if c in site and isinstance(site[c], str))
        family = site.get("niche_family")
        extra.append((f"{int(site['rank'])}. {place or site['site']}",
                      f"+{number(site['demand_added'], lang, decimals=0)}"
                      + (f" · {family}" if isinstance(family, str) else "")))
    title = t("plan_title", lang, n=len(sites))
    render = brief_pdf if pdf else brief_html
    return render(run, profile_id=profile_id, rows=rows, title=title, lang=lang, extra=extra,
                  result=result, profile=profile)
