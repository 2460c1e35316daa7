"""Visits to attractions outside SERNANP's protected areas (hand-checked public pages), as points."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from curation.common.context import BuildContext, Dataset
from curation.common.frames import points_frame
from curation.peru.districts import district_codes_by_name, fold_names, read_capitals
from curation.sources import SHIPPED, PageCitation, load_shipped
from geo_engine._errors import DataIntegrityError

__all__ = ["ATTRACTIONS_FILE", "AttractionFacts", "build_dataset", "load_attraction_facts",
           "site_points"]

ATTRACTIONS_FILE = "attractions.yaml"
"""Hand-checked visitor counts of attractions run by bodies other than SERNANP."""


class _Site(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    body: str = Field(min_length=1)
    visits: int = Field(gt=0)
    months: int = Field(ge=1, le=24)
    period: str = Field(min_length=4)
    gateway: tuple[str, str, str]
    source: PageCitation
    note: str = Field(min_length=1)


class AttractionFacts(BaseModel):
    """Validated content of :data:`ATTRACTIONS_FILE`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sites: list[_Site] = Field(min_length=1)


def load_attraction_facts(path: str | Path | None = None) -> AttractionFacts:
    """Read and validate the attraction visits (the shipped :data:`ATTRACTIONS_FILE` by default).

    Raises
    ------
    geo_engine._errors.SpecError
        Naming the file, the key and the value when the file is unreadable or invalid.
    """
    return load_shipped(path or ("curation.peru", ATTRACTIONS_FILE), AttractionFacts,
                        what="attraction visits file", keys="sites")


def site_points(facts: AttractionFacts, districts: pd.DataFrame,
                capitals: pd.DataFrame) -> gpd.GeoDataFrame:
    """Place each site's yearly visits at its gateway district's capital.

    Parameters
    ----------
    facts : AttractionFacts
        The validated sites.
    districts : pandas.DataFrame
        ``district_code``, ``department``, ``province`` and ``district`` names.
    capitals : pandas.DataFrame
        District capitals: ``inei`` (district code), ``longitude`` and ``latitude``.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per site: ``name``, ``body``, ``visits``, ``months``, ``period``,
        ``visits_per_year`` (visits / months × 12), ``district_code`` and ``source_url``.

    Raises
    ------
    geo_engine._errors.DataIntegrityError
        When a gateway district is not in ``districts`` or has no capital position.
    """
    codes = district_codes_by_name(districts)
    cap = capitals.drop_duplicates("inei").set_index("inei")
    rows = []
    for site in facts.sites:
        code = codes.get(fold_names(site.gateway))
        if code is None or code not in cap.index:
            msg = (f"{ATTRACTIONS_FILE}: site {site.name!r} names gateway {list(site.gateway)!r}, "
                   "which has no district (or no capital) in the districts table; write it as "
                   "[department, province, district] the way districts.parquet spells them")
            raise DataIntegrityError(msg)
        rows.append({"name": site.name, "body": site.body, "visits": site.visits,
                     "months": site.months, "period": site.period,
                     "visits_per_year": round(site.visits / site.months * 12),
                     "district_code": code, "source_url": site.source.url,
                     "longitude": float(cap.loc[code, "longitude"]),
                     "latitude": float(cap.loc[code, "latitude"])})
    return points_frame(pd.DataFrame(rows).astype({"district_code": "string"}))


def build_dataset(ctx: BuildContext) -> Dataset:
    """Curate the attraction visits (``attraction_visits``) at their gateway capitals."""
    facts = load_attraction_facts()
    points = site_points(facts, ctx.frames["districts"], read_capitals(ctx))
    return Dataset(
        id="attraction_visits",
        title="Visits to attractions outside SERNANP's protected areas (counts of the body that "
              "tickets the site, hand-checked from public pages)",
        file=ctx.write_table(points, "attraction_visits.parquet"),
        sources=[SHIPPED["attraction_visits"]],
        licence="cited-facts",
        vintage="2023",
        processing=[
            "Sites, counts and gateways read from curation/peru/attractions.yaml, each count with "
            "the page it is quoted from: AUTOCOLCA's Boleto Turístico count for the Colca valley "
            "(January–November 2023) as published by Diario Correo.",
            "visits_per_year = visits / months x 12 (the scaling of SERNANP's visits); each site "
            "is placed at its gateway district's capital (Chivay for the Colca), as SERNANP's "
            "areas are.",
            "Not added: the Uros islands (Puno), whose press figures are daily estimates, not a "
            "yearly count.",
        ],
        report={"sites": len(points),
                "visits_per_year": {str(r.name): int(r.visits_per_year)
                                    for r in points.itertuples()}},
    )
