"""Printable one-page briefs (HTML) for a district or a cluster: map, scores, drivers, people, sources."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from jinja2 import Environment, select_autoescape

from geo_engine import __version__
from geo_engine.display import SEQUENTIAL, hexagon_rings
from geo_engine.i18n import t
from geo_engine.manifest import dataset_entry
from geo_engine.pipeline import Run
from geo_engine.score import ScoreResult

__all__ = ["brief_html", "cells_svg"]

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
<div class="grid">
 <div>{{ svg | safe }}</div>
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
{% for s in sources %}
<tr><td>{{ s.title }}</td><td>{{ s.vintage }}</td><td>{{ s.licence }}</td></tr>
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
           "district": "Distrito", "cluster": "Clúster"},
    "en": {"figures": "Figures", "drivers": "What drives the score (mean contribution)",
           "layer": "Layer", "contribution": "Contribution", "sources": "Sources",
           "dataset": "Dataset", "vintage": "Vintage", "licence": "Licence",
           "caveats": "Caveats", "cells": "H3 cells", "area": "Area (km²)",
           "mean_score": "Mean score", "poor": "Poor population (estimated)",
           "town": "Median travel to a town of 50,000+ (min)",
           "port": "Median travel to a port (min)", "family": "Most frequent niche family",
           "typology": "Most frequent typology", "rank": "Rank among districts",
           "district": "District", "cluster": "Cluster"},
}

_CAVEATS = {
    "es": ["Los valores de pobreza, IDH y vulnerabilidad son del distrito entero, iguales en todas "
           "sus celdas.",
           "La población y la producción se reparten entre celdas según los centros poblados o el "
           "área: son estimaciones, no mediciones por celda.",
           "Los tiempos de viaje usan solo la red vial nacional: fuera de ella son tiempos a pie.",
           "Un puntaje alto indica potencial según las capas y pesos elegidos, no una decisión."],
    "en": ["Poverty, HDI and food vulnerability are district values, the same in every cell.",
           "Population and production are spread over cells by populated centres or area: "
           "estimates, not per-cell measurements.",
           "Travel times know only the national road network: off it they are walking times.",
           "A high score shows potential under the chosen layers and weights, not a decision."],
}


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


def _fmt(x: float, digits: int = 0) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:,.{digits}f}"


def _mode(values: Sequence[object]) -> object:
    s = pd.Series([v for v in values if v is not None], dtype=object)
    return s.value_counts().index[0] if len(s) else None


def brief_html(run: Run, *, profile_id: str, rows: np.ndarray, title: str, lang: str = "es",
               extra: Sequence[tuple[str, str]] = (), result: ScoreResult | None = None) -> str:
    """Return a one-page HTML brief about a set of cells (a district or a cluster).

    Parameters
    ----------
    run : Run
    profile_id : str
        Profile whose score, drivers and sources are reported.
    rows : numpy.ndarray
        Matrix rows of the cells (positions or a boolean mask).
    title : str
        Heading (the district or cluster name); escaped like every other value.
    lang : {"es", "en"}
    extra : sequence of (label, value)
        Further figures to list first.
    result : ScoreResult, optional
        The profile's score with other weights (e.g. the app's sliders); the run's by default.

    Returns
    -------
    str
        Self-contained HTML (inline SVG map, no script, every value HTML-escaped).
    """
    labels = _LABELS.get(lang, _LABELS["en"])
    m = run.matrix
    idx = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=int)
    if idx.size == 0:
        msg = "the brief has no cells: check the district code or cluster id"
        raise ValueError(msg)
    profile = run.profile(profile_id)
    result = result if result is not None else run.dual.results[profile_id]
    score = result.score[idx]
    pop = m["population_2020"].to_numpy(dtype=float)[idx] if "population_2020" in m else np.zeros(idx.size)
    pov = m["poverty_2018"].to_numpy(dtype=float)[idx] if "poverty_2018" in m else np.full(idx.size, np.nan)
    poor = float(np.nansum(pop * pov / 100))
    families = run.dual.best_family[idx]
    fam = _mode(list(families))
    typ = _mode(list(run.dual.typology[idx]))
    figures = [*extra,
               (labels["cells"], f"{idx.size:,}"),
               (labels["area"], _fmt(float(m["area_km2"].to_numpy()[idx].sum()))),
               (t("population", lang), _fmt(float(np.nansum(pop)))),
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
    drivers = [(titles.get(k, k), f"{v:.3f}") for k, v in contrib.items()]
    datasets = sorted({str(run.specs[lay.id].dataset) for lay in profile.layers
                       if lay.id in run.specs and run.specs[lay.id].dataset})
    sources = []
    for ds in datasets:
        try:
            sources.append(dataset_entry(ds))
        except KeyError:
            continue
    subtitle = f"{t('profile', lang)}: {getattr(profile.title, lang, profile.id)}"
    footer = (f"geo-engine {__version__} · {datetime.now(UTC):%Y-%m-%d} · "
              f"{html.unescape(t('app_title', lang))}")
    return _TEMPLATE.render(
        lang=lang, title=title, subtitle=subtitle, labels=labels, figures=figures,
        drivers=drivers, sources=sources, caveats=_CAVEATS.get(lang, _CAVEATS["en"]),
        svg=cells_svg(m["h3"].to_numpy()[idx], score), footer=footer)
