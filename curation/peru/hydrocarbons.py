"""Producing oil and gas lots by district, valued in US dollars a year (hand-checked public pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curation.common.context import BuildContext, Dataset
from curation.peru.districts import district_codes_by_name, fold_names
from curation.sources import SHIPPED, PageCitation, load_shipped
from geo_engine._errors import DataIntegrityError

__all__ = [
    "DAYS_PER_YEAR",
    "HYDROCARBONS_FILE",
    "HydrocarbonFacts",
    "build_dataset",
    "district_values",
    "load_hydrocarbon_facts",
    "lot_values",
]

HYDROCARBONS_FILE = "hydrocarbons.yaml"
"""Hand-checked producing lots, shipped with this module: rate, districts and the pages they rest on."""

DAYS_PER_YEAR = 365.0
"""A daily production rate times this is the yearly output."""


class _Series(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    series: str = Field(min_length=1)
    years: dict[int, float] = Field(min_length=1)

    def mean(self) -> float:
        """Return the mean of the yearly prices."""
        return sum(self.years.values()) / len(self.years)


class _Prices(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1)
    oil_usd_per_bbl: _Series
    gas_usd_per_mmbtu: _Series
    mmbtu_per_mmcf: float = Field(gt=0)
    mmbtu_per_mmcf_source: str = Field(min_length=1)


class _Lot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lot: str = Field(min_length=1)
    fluid: Literal["oil", "gas"]
    rate: float = Field(gt=0)
    period: str = Field(min_length=4)
    rate_source: str = Field(min_length=1)
    districts: list[tuple[str, str, str]] = Field(min_length=1)
    location_source: str = Field(min_length=1)
    location_note: str = Field(min_length=1)


class HydrocarbonFacts(BaseModel):
    """Validated content of :data:`HYDROCARBONS_FILE`: prices, cited pages and producing lots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prices: _Prices
    sources: dict[str, PageCitation]
    lots: list[_Lot] = Field(min_length=1)

    @model_validator(mode="after")
    def _sources_exist(self) -> HydrocarbonFacts:
        for lot in self.lots:
            for key in (lot.rate_source, lot.location_source):
                if key not in self.sources:
                    msg = (f"lot {lot.lot!r} cites source {key!r}, which is not under 'sources'; "
                           f"add it there with its title, publisher, year and url")
                    raise ValueError(msg)
        return self


def load_hydrocarbon_facts(path: str | Path | None = None) -> HydrocarbonFacts:
    """Read and validate the producing lots (the shipped :data:`HYDROCARBONS_FILE` by default).

    Raises
    ------
    geo_engine._errors.SpecError
        Naming the file, the key and the value when the file is unreadable or invalid.
    """
    return load_shipped(path or ("curation.peru", HYDROCARBONS_FILE), HydrocarbonFacts,
                        what="hydrocarbon lots file", keys="prices, sources, lots")


def lot_values(facts: HydrocarbonFacts) -> pd.DataFrame:
    """Value each lot's production in US dollars a year at the mean 2015–2019 prices.

    Parameters
    ----------
    facts : HydrocarbonFacts
        The validated lots file.

    Returns
    -------
    pandas.DataFrame
        One row per lot: ``lot``, ``fluid``, ``rate``, ``rate_unit``, ``period``,
        ``value_usd_year`` and the citation columns ``rate_url`` and ``location_url``.

    Notes
    -----
    Oil: ``rate`` [bbl/day] × 365 × mean crude price [USD/bbl]. Gas: ``rate`` [MMcf/day] ×
    heat content [MMBtu/MMcf] × 365 × mean US natural-gas price [USD/MMBtu].
    """
    oil_price = facts.prices.oil_usd_per_bbl.mean()
    gas_price = facts.prices.gas_usd_per_mmbtu.mean() * facts.prices.mmbtu_per_mmcf
    rows = []
    for lot in facts.lots:
        per_unit = oil_price if lot.fluid == "oil" else gas_price
        rows.append({
            "lot": lot.lot, "fluid": lot.fluid, "rate": lot.rate,
            "rate_unit": "bbl/day" if lot.fluid == "oil" else "MMcf/day",
            "period": lot.period, "value_usd_year": lot.rate * DAYS_PER_YEAR * per_unit,
            "rate_url": facts.sources[lot.rate_source].url,
            "location_url": facts.sources[lot.location_source].url,
        })
    return pd.DataFrame(rows)


def district_values(facts: HydrocarbonFacts, districts: pd.DataFrame) -> pd.DataFrame:
    """Split each lot's yearly value equally among its districts and sum by district.

    Parameters
    ----------
    facts : HydrocarbonFacts
        The validated lots file.
    districts : pandas.DataFrame
        ``district_code``, ``department``, ``province`` and ``district`` names.

    Returns
    -------
    pandas.DataFrame
        ``district_code``, ``lots`` (comma-separated), ``oil_bbl_day``, ``gas_mmcf_day`` and
        ``value_usd_year``, one row per district, sorted by value (largest first).

    Raises
    ------
    geo_engine._errors.DataIntegrityError
        When a lot names a district that is not in ``districts``.
    """
    codes = district_codes_by_name(districts)
    values = lot_values(facts).set_index("lot")
    parts = []
    for lot in facts.lots:
        share = 1.0 / len(lot.districts)
        for names in lot.districts:
            folded = fold_names(names)
            if folded not in codes:
                msg = (f"{HYDROCARBONS_FILE}: lot {lot.lot!r} names district {list(names)!r}, which "
                       f"is not in districts.parquet; write it as [department, province, district] "
                       f"the way districts.parquet spells them")
                raise DataIntegrityError(msg)
            parts.append({
                "district_code": codes[folded], "lot": lot.lot,
                "oil_bbl_day": lot.rate * share if lot.fluid == "oil" else 0.0,
                "gas_mmcf_day": lot.rate * share if lot.fluid == "gas" else 0.0,
                "value_usd_year": float(values.loc[lot.lot, "value_usd_year"]) * share,
            })
    table = pd.DataFrame(parts)
    out = table.groupby("district_code", sort=True).agg(
        lots=("lot", lambda s: ", ".join(s)), oil_bbl_day=("oil_bbl_day", "sum"),
        gas_mmcf_day=("gas_mmcf_day", "sum"), value_usd_year=("value_usd_year", "sum"))
    out = out.reset_index().sort_values(["value_usd_year", "district_code"],
                                         ascending=[False, True])
    return out.reset_index(drop=True).astype({"district_code": "string", "lots": "string"})


def build_dataset(ctx: BuildContext) -> Dataset:
    """Curate the district table of producing hydrocarbon lots (``hydrocarbon_production``)."""
    facts = load_hydrocarbon_facts()
    table = district_values(facts, ctx.frames["districts"])
    lots = lot_values(facts)
    return Dataset(
        id="hydrocarbon_production",
        title="Producing oil and gas lots by district: output valued in USD a year (Perupetro "
              "figures quoted by the press, hand-checked)",
        file=ctx.write_table(table, "hydrocarbon_production.parquet"),
        sources=[SHIPPED["hydrocarbon_lots"], SHIPPED["world_bank_prices"]],
        licence="cited-facts",
        vintage="2023–2025 (production); 2015–2019 (prices)",
        processing=[
            "Lots, rates and districts read from curation/peru/hydrocarbons.yaml, each rate and "
            "each location with the public page it is quoted from (Perupetro's September 2025 "
            "figures for the six largest lots as published by Andina; district names from "
            "El Comercio, La República, La Primera, El Regional Minero and Wikipedia).",
            "Oil valued at the World Bank's mean 2015–2019 'Crude oil, average' price; gas at the "
            "mean 2015–2019 'Natural gas, US' price with 1,037 MMBtu per million cubic feet (EIA): "
            "the same years as the metal prices of mining_production, so both compare in USD.",
            "A lot spanning several districts has its value split equally among them; natural-gas "
            "liquids are not included (no page gives them by lot), so Camisea is a lower bound.",
            "Not included: offshore Lote Z-69 (no district), lots producing under 500 bbl a day, "
            "and the Pisco fractionation plant and Talara refinery (processing, not resource).",
        ],
        report={
            "lots": len(lots), "districts": len(table),
            "value_usd_year_by_lot": {str(r.lot): round(float(r.value_usd_year), -5)
                                      for r in lots.itertuples()},
            "value_usd_year_total": round(float(table["value_usd_year"].sum()), -5),
        },
    )
