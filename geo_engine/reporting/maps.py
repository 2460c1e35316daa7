"""Draw folium maps of admin units coloured by an indicator, with legend and escaped tooltips."""

from __future__ import annotations

import html
from collections.abc import Sequence

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement, Template

__all__ = ["LOCAL_ASSETS", "choropleth_map", "escape_text_columns", "use_local_assets"]

NO_DATA_COLOUR = "#bdbdbd"
"""Fill of units without a value (shown as missing, never as zero)."""

LOCAL_ASSETS: dict[str, str] = {
    "js": "/app/static/vendor/leaflet-1.9.3/leaflet.js",
    "css": "/app/static/vendor/leaflet-1.9.3/leaflet.css",
}
"""Where the app serves its own copy of Leaflet (see ``static/vendor/README.md``)."""

_LEGEND = Template(
    """
{% macro html(this, kwargs) %}
<div class="ge-legend" style="position:absolute; z-index:9999; bottom:24px; right:12px;
     background:rgba(255,255,255,0.92); padding:6px 10px; border-radius:4px; font:12px sans-serif;
     box-shadow:0 1px 4px rgba(0,0,0,0.3);">
  <div style="font-weight:bold; margin-bottom:4px;">{{ this.caption }}</div>
  <div style="width:220px; height:12px; background:linear-gradient(to right, {{ this.stops }});"></div>
  <div style="display:flex; justify-content:space-between; width:220px;">
    {% for tick in this.ticks %}<span>{{ tick }}</span>{% endfor %}
  </div>
  <div style="margin-top:4px;"><span style="display:inline-block; width:12px; height:12px;
       background:{{ this.no_data }}; vertical-align:middle;"></span> {{ this.no_data_label }}</div>
</div>
{% endmacro %}
"""
)


class _Legend(MacroElement):
    """A colour-ramp legend drawn with HTML and CSS only (no script to load)."""

    def __init__(
        self, *, caption: str, colors: Sequence[str], vmin: float, vmax: float, no_data_label: str
    ) -> None:
        super().__init__()
        self._name = "Legend"
        self._template = _LEGEND
        self.caption = html.escape(caption)
        self.stops = ", ".join(colors)
        span = abs(vmax - vmin)
        decimals = 0 if span >= 50 else 1 if span >= 5 else 2 if span >= 0.5 else 3
        self.ticks = [f"{v:,.{decimals}f}" for v in np.linspace(vmin, vmax, 5)]
        self.no_data = NO_DATA_COLOUR
        self.no_data_label = html.escape(no_data_label)


def use_local_assets(fmap: folium.Map, assets: dict[str, str] | None = None) -> folium.Map:
    """Make a map load Leaflet from the app's own copy instead of a CDN.

    Only Leaflet is kept: the maps of this module need neither jQuery nor Bootstrap, and their
    legend is plain HTML.

    Parameters
    ----------
    fmap : folium.Map
        Map to change in place.
    assets : dict, optional
        ``{"js": url, "css": url}``; :data:`LOCAL_ASSETS` by default.

    Returns
    -------
    folium.Map
        The same map, for chaining.
    """
    assets = assets or LOCAL_ASSETS
    fmap.default_js = [("leaflet", assets["js"])]
    fmap.default_css = [("leaflet_css", assets["css"])]
    return fmap


def escape_text_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Return a copy with the text columns among ``columns`` HTML-escaped.

    Tooltips are HTML; escaping every attribute value means that a name such as
    ``<script>…`` is shown as text and never runs.
    """
    out = frame.copy()
    for col in columns:
        if col in out and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(lambda v: v if pd.isna(v) else html.escape(str(v)))
    return out


def choropleth_map(
    units: gpd.GeoDataFrame,
    *,
    column: str,
    caption: str,
    tooltip_fields: Sequence[str],
    tooltip_aliases: Sequence[str],
    formats: dict[str, str] | None = None,
    colors: Sequence[str] = ("#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026"),
    location: tuple[float, float] = (-9.2, -75.0),
    zoom_start: int = 5,
    no_data_label: str = "no data",
) -> folium.Map:
    """Return a folium map of polygons coloured by ``column``.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Polygons in EPSG:4326.
    column : str
        Numeric column to colour by; missing values are drawn grey and said to be missing.
    caption : str
        Legend title, with units.
    tooltip_fields, tooltip_aliases : sequence of str
        Columns shown on hover and their labels.
    formats : dict, optional
        ``{column: format spec}`` applied to tooltip numbers, e.g. ``{"hdi_2019": ".3f"}``.
    colors : sequence of str
        Sequential palette, light to dark (default ColorBrewer YlOrRd, colour-blind safe).
    location, zoom_start
        Initial view.
    no_data_label : str, default "no data"
        Legend label of the grey fill.

    Returns
    -------
    folium.Map
    """
    if units.crs is None or units.crs.to_epsg() != 4326:
        msg = f"units must be in EPSG:4326 to draw, got {units.crs}; call .to_crs(4326)"
        raise ValueError(msg)
    values = pd.to_numeric(units[column], errors="coerce")
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    cmap = cm.LinearColormap(list(colors), vmin=vmin, vmax=vmax)

    shown = units[[*dict.fromkeys([*tooltip_fields, column]), "geometry"]].copy()
    for field, spec in (formats or {}).items():
        shown[field] = [(no_data_label if pd.isna(v) else format(v, spec)) for v in shown[field]]
    shown = escape_text_columns(shown, tooltip_fields)
    shown["_fill"] = [NO_DATA_COLOUR if pd.isna(v) else cmap(v) for v in values]

    fmap = folium.Map(location=list(location), zoom_start=zoom_start, tiles="OpenStreetMap",
                      control_scale=True)
    folium.GeoJson(
        shown,
        name=caption,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"], "color": "#555555", "weight": 0.3,
            "fillOpacity": 0.8,
        },
        highlight_function=lambda f: {"weight": 2, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=list(tooltip_fields),
                                      aliases=list(tooltip_aliases), sticky=True),
    ).add_to(fmap)
    west, south, east, north = units.total_bounds
    fmap.fit_bounds([[south, west], [north, east]])
    _Legend(caption=caption, colors=colors, vmin=vmin, vmax=vmax,
            no_data_label=no_data_label).add_to(fmap)
    return fmap
