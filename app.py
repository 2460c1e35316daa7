"""Territorial Opportunity Platform — Streamlit map app (first slice: district poverty map)."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from geo_engine import __version__
from geo_engine.datasets import dataset_sources, display_districts
from geo_engine.maps import choropleth_map, use_local_assets

st.set_page_config(page_title="Territorial Opportunity Platform", layout="wide")


@st.cache_resource(show_spinner="Loading districts…")
def _districts():
    return display_districts()


st.title("Territorial Opportunity Platform — Peru")
st.caption("Poverty by district (INEI poverty map 2018). Hover a district for its figures.")

districts = _districts()
fmap = choropleth_map(
    districts,
    column="poverty_2018_pct",
    caption="Population in poverty, 2018 (%)",
    tooltip_fields=["district", "province", "department", "poverty_2018_pct", "hdi_2019",
                    "population_2020"],
    tooltip_aliases=["District", "Province", "Department", "Poverty 2018 (%)", "HDI 2019",
                     "Population 2020"],
    formats={"poverty_2018_pct": ".1f", "hdi_2019": ".3f", "population_2020": ",.0f"},
)
st_folium(
    use_local_assets(fmap), height=640, use_container_width=True, returned_objects=[], key="poverty_map"
)

n_missing = int(districts["poverty_2018_pct"].isna().sum())
st.caption(f"{len(districts):,} districts drawn; {n_missing} without a poverty value (grey). "
           "8 districts of the INEI list have no polygon in the 2007 map and are not drawn.")

st.subheader("Data sources")
rows = dataset_sources(["districts", "district_indicators", "population"])
st.dataframe(
    [{"Publisher": r["publisher"], "Used for": r["dataset"], "From": r["origin"],
      "Licence": r["licence"], "Vintage": r["vintage"]} for r in rows],
    hide_index=True, width="stretch",
)
st.caption(f"geo-engine {__version__} · full list in data/MANIFEST.yaml and data/LICENSES.md")
