"""Draw folium maps of admin units coloured by an indicator, with legend and escaped tooltips."""

from __future__ import annotations

import html
from collections.abc import Sequence

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["choropleth_map", "escape_text_columns"]

NO_DATA_COLOUR = "#bdbdbd"
"""Fill of units without a value (shown as missing, never as zero)."""


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
    cmap = cm.LinearColormap(list(colors), vmin=vmin, vmax=vmax, caption=caption)

    shown = units[[*dict.fromkeys([*tooltip_fields, column]), "geometry"]].copy()
    for field, spec in (formats or {}).items():
        shown[field] = [("no data" if pd.isna(v) else format(v, spec)) for v in shown[field]]
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
    cmap.add_to(fmap)
    return fmap
