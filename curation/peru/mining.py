"""Rebuild step for mining: units matched to districts, production per district, large mines.

Three files come out of this step:

``mining_units.parquet``
    The mining units (mines, refineries, smelters) of the MINEM statistics as compiled by
    Fineprint, each matched to a 6-digit district code through its region, province and district
    names (with a small table of verified aliases for the names that do not match directly).
``mining_production.parquet``
    Yearly production of those units, converted to tonnes, grouped into commodity groups and summed
    per district. Mine output and processing (refinery and smelter) output are kept apart in the
    ``stage`` column, because a refinery treats concentrates that a mine has already reported.
``large_mines.parquet``
    The large Peruvian mines of the Fineprint compilation, as points with their district.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from curation.common.context import BuildContext, Dataset
from curation.common.frames import assign_district, normalize_name, points_frame, require_columns
from curation.common.world import country_mines, mine_fields
from curation.peru.districts import PERU_BOUNDS, require_districts
from curation.sources import SHIPPED, SHIPPED_SUMMARIES, SOURCES, load_shipped
from geo_engine._errors import SourceFormatError

__all__ = [
    "COMMODITY_GROUPS",
    "DISTRICT_ALIASES",
    "MATERIAL_GROUP",
    "MEAN_WINDOW",
    "MINES_FILE",
    "MINE_ADDITIONS",
    "MINE_STATUS",
    "PRICES",
    "PRICE_FILE",
    "PRICE_REF",
    "PRICE_SOURCE",
    "PRODUCTION_SHEETS",
    "UNIT_TO_TONNES",
    "MineFacts",
    "build",
    "commodity_group",
    "district_lookup",
    "district_production",
    "load_mine_facts",
    "load_prices",
    "load_production",
    "locate_at_large_mines",
    "match_districts",
    "price_per_tonne",
    "to_tonnes",
    "unit_districts",
    "unit_provinces",
]

LICENCE = "GPL-3.0"
"""Licence of every file of this step (the licence of the repository the tables come from)."""

VINTAGE = "2001–2019"
"""Years covered by the MINEM unit and production tables."""

MEAN_WINDOW: tuple[int, int] = (2015, 2019)
"""First and last year (inclusive) of the window over which ``mean_2015_2019_t`` is averaged."""

PRODUCTION_SHEETS: dict[str, str] = {
    "mining_sheet_com": "mine",
    "mining_sheet_min": "mine",
    "mining_sheet_coal": "mine",
    "mining_processing": "processing",
}
"""Production tables (keys of :data:`~curation.sources.SOURCES`) and their stage.

``mine`` is what leaves the mine: metal content of concentrates and doré (``sheet_com``),
non-metallic minerals (``sheet_min``) and coal (``sheet_coal``). ``processing`` is the output of
refineries and smelters (``processing``), which treat concentrates already counted at the mine, so
the two stages must never be added together.
"""

UNIT_TO_TONNES: dict[str, float] = {
    "t": 1.0,
    "kg": 1e-3,
    "g": 1e-6,
}
"""Factors converting a mass unit (``unit_id`` of the production tables) to metric tonnes.

The Peruvian tables come already converted to tonnes (``t``) by the compilation; the other mass
units are listed so that a future version stays convertible. Records in any other unit are left
out and counted in the report, never guessed.
"""

COMMODITY_GROUPS: dict[str, tuple[str, ...]] = {
    # gold and silver: fine metal content
    "precious_metals": ("Me.Au", "Me.Ag"),
    "copper": ("Me.Cu",),
    "zinc": ("Me.Zn",),
    "lead": ("Me.Pb",),
    "iron": ("Me.Fe",),
    "tin": ("Me.Sn",),
    "molybdenum": ("Me.Mo",),
    # arsenic, bismuth, cadmium, manganese, tungsten (metal content) and one record of chromium
    # ore (O.Cr, ore tonnage)
    "other_metals": ("Me.As", "Me.Bi", "Me.Cd", "Me.Mn", "Me.W", "O.Cr"),
    # used as they come out of the ground in building: sand and gravel, common (brick) clay,
    # marble and travertine, sandstone, ornamental stone, igneous rock, slate
    "construction_minerals": (
        "M.sag", "M.coc", "M.mat", "M.sas", "M.orn", "M.ign", "M.sla",
    ),
    # the other non-metallic minerals and mineral compounds, including the feedstock of cement
    # and lime (limestone, calcite, marl and shell, dolomite, chalk, lime), phosphate rock
    # (Nm.PO), silica (Nm.SiO2), borates and boric acid, salt, sulphates, clays for industry
    # (kaolin, bentonite, fire clay, potter clay), barite, talc, feldspar, diatomite, mica,
    # abrasives (pozzolan, pumice), asbestos, graphite, iron-oxide pigments and silicates n.e.c.
    "industrial_minerals": (
        "M.lim", "M.cal", "M.mas", "M.dol", "M.cha", "Me.CaO", "Nm.PO", "Nm.SiO2", "M.bor",
        "Me.H3BO3", "M.sal", "Me.CaSO4", "Me.MgSO4", "M.kao", "M.ben", "M.fic", "M.poc",
        "M.bar", "M.tal", "M.fel", "M.dia", "M.mic", "M.abr", "M.asb", "M.gra", "M.irp", "M.osm",
    ),
    # anthracite and other bituminous coal
    "coal": ("F.ant", "F.obc"),
}
"""Commodity groups and the compilation's ``material_id`` values they hold.

Built from every ``material_id`` present in the four Peruvian production tables (18 in
``sheet_com``, 29 in ``sheet_min``, 2 in ``sheet_coal``, 7 in ``processing``). Names follow the
compilation's material list (e.g. ``M.sag`` sand and gravel, ``M.coc`` common clay, ``M.osm``
silicate minerals n.e.c., ``F.obc`` other bituminous coal). Metals are reported as metal content,
minerals and coal as the tonnage produced, so tonnes are only comparable within a group.
"""

MATERIAL_GROUP: dict[str, str] = {m: g for g, ids in COMMODITY_GROUPS.items() for m in ids}
"""``material_id`` → commodity group (the inverse of :data:`COMMODITY_GROUPS`)."""

TROY_OZ_PER_TONNE = 32_150.7466
"""Troy ounces in one metric tonne (1 troy ounce = 31.1034768 g)."""

PRICE_FILE = "prices_worldbank_cmo.csv"
"""Price table shipped with the curation package: rows of the World Bank annual price workbook."""

PRICE_REF = SHIPPED["world_bank_prices"]
"""Provenance of the price table (``sources.yaml``, ``shipped``), recorded with the production file.

The same 2015–2019 values are in the later release vendored by
``SarathSabu/A6@95a60786f4929a3efa20b5a1f5c9a7ae2edffec8`` (``CMO-Historical-Data-Annual.xlsx``).
"""

PRICE_SOURCE = SHIPPED_SUMMARIES["world_bank_prices"]
"""Where :data:`PRICES` come from, series by series with their units."""


def load_prices() -> dict[str, dict[int, float]]:
    """Return the annual average prices of :data:`PRICE_FILE` by ``material_id`` and year.

    Returns
    -------
    dict
        ``{material_id: {year: price}}`` in the units of :data:`PRICE_SOURCE`, exactly as the
        World Bank workbook stores them.
    """
    path = resources.files("curation") / PRICE_FILE
    with resources.as_file(path) as file:
        table = pd.read_csv(file, comment="#", dtype={"material_id": "string"})
    require_columns(table, ["material_id", "series", "unit", "year", "price"], file=PRICE_FILE)
    return {str(m): {int(y): float(v) for y, v in zip(part["year"], part["price"], strict=True)}
            for m, part in table.groupby("material_id", sort=True)}


PRICES: dict[str, dict[int, float]] = load_prices()
"""Annual average prices 2015–2019 per ``material_id``, in the units of :data:`PRICE_SOURCE`.

Read from :data:`PRICE_FILE`, the rows of the World Bank's annual workbook for gold, silver,
copper, zinc, lead, tin, iron ore and phosphate rock. Materials without a price (molybdenum, the
minor metals, the construction and other industrial minerals, coal) keep a missing value in USD:
the Pink Sheet quotes no molybdenum, minor metal or building mineral, and its coal series are
thermal coal (Australia, South Africa, Colombia), not the anthracite mined in Peru; no other price
was guessed.
"""


def price_per_tonne(material_ids: pd.Series, years: pd.Series) -> pd.Series:
    """Return the USD price of one tonne of each material in each year (missing when unpriced).

    Parameters
    ----------
    material_ids : pandas.Series
        Compilation material codes.
    years : pandas.Series
        Production years, aligned.

    Returns
    -------
    pandas.Series
        USD per tonne: gold and silver converted from troy ounces (x :data:`TROY_OZ_PER_TONNE`);
        iron valued per tonne of Fe content as ore at 62% Fe (price / 0.62).
    """
    factor = {"Me.Au": TROY_OZ_PER_TONNE, "Me.Ag": TROY_OZ_PER_TONNE, "Me.Fe": 1 / 0.62}
    prices = [
        PRICES.get(str(m), {}).get(int(y), float("nan")) * factor.get(str(m), 1.0)
        for m, y in zip(material_ids, years, strict=True)
    ]
    return pd.Series(prices, index=material_ids.index, dtype="float64")

DISTRICT_ALIASES: dict[tuple[str, str, str], str] = {
    # Castillo Grande (ubigeo 100608) was created after the 2007 limits. The ubigeo table puts its
    # capital inside the 2007 polygon of 100601 Rupa-Rupa, and today's Rupa-Rupa (266.5 km²) plus
    # Castillo Grande (106.1 km²) make up the 2007 Rupa-Rupa polygon (381 km²): it was split off.
    ("HUANUCO", "LEONCIO PRADO", "CASTILLO GRANDE"): "100601",
    # Province written "Nasca" (current spelling) where the layer has NAZCA (1103).
    ("ICA", "NASCA", "MARCONA"): "110304",
    ("ICA", "NASCA", "VISTA ALEGRE"): "110305",
    # Province written with both spellings, "Nazca, Nasca" (one province, not two).
    ("ICA", "NAZCA NASCA", "EL INGENIO"): "110303",
    ("ICA", "NAZCA NASCA", "MARCONA"): "110304",
    ("ICA", "NAZCA NASCA", "VISTA ALEGRE"): "110305",
    # ... and the district too: "Nazca, Nasca" is the one district 110301 NAZCA.
    ("ICA", "NAZCA NASCA", "NAZCA NASCA"): "110301",
    # "Espinar, Yauri": district Espinar and its capital Yauri (layer capital "ESPINAR (YAURI)").
    ("CUSCO", "ESPINAR", "ESPINAR YAURI"): "080801",
    # Province listed as "Oyon, Cajatambo", district Oyon: the only district OYON is 150901, in
    # province Oyon (Cajatambo has none of that name).
    ("LIMA", "OYON CAJATAMBO", "OYON"): "150901",
}
"""Verified aliases: normalised (region, province, district) of the source → district code.

Only names checked by hand against the district layer and the INEI ubigeo table are listed. Units
whose province or district field lists several places ("Huay-Huay, Yauli", "Inambari, Laberinto")
or whose district name exists in more than one of the listed provinces (Huachocolpa is both 090106
and 090707) cannot be placed in one district and keep a missing code.
"""

MINES_FILE = "mines.yaml"
"""Hand-checked facts about Peru's large mines, shipped with this module (status and additions)."""


class _MineStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["project", "closed", "processing", "not_confirmed"]
    note: str = Field(min_length=1)


class _MineAddition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    commodities: str = Field(min_length=1)
    operator: str = Field(min_length=1)
    production_start: int = Field(ge=1800, le=2100)
    longitude: float = Field(ge=PERU_BOUNDS[0], le=PERU_BOUNDS[2])
    latitude: float = Field(ge=PERU_BOUNDS[1], le=PERU_BOUNDS[3])
    reference: str = Field(min_length=1)


class MineFacts(BaseModel):
    """Validated content of :data:`MINES_FILE`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: dict[str, _MineStatus]
    additions: list[_MineAddition]


def load_mine_facts(path: str | Path | None = None) -> MineFacts:
    """Read and validate the hand-checked mine facts (the shipped :data:`MINES_FILE` by default).

    Raises
    ------
    geo_engine._errors.SpecError
        Naming the file, the key and the value when the file is unreadable or invalid.
    """
    return load_shipped(path or ("curation.peru", MINES_FILE), MineFacts, what="mine facts file",
                        keys="status, additions")


_FACTS = load_mine_facts()

MINE_STATUS: dict[str, tuple[str, str]] = {name: (s.status, s.note)
                                           for name, s in _FACTS.status.items()}
"""Status of the listed large mines that are not operating (or not confirmed), with the reason.

Read from :data:`MINES_FILE`. Each reason names the public source it rests on (news agencies,
company notices, the source's own production years and report years). Every other mine of the
list keeps ``operating``, which rests only on the source (company reports up to about 2019) and
was not checked against a later document; its ``status_note`` says so. ``not_confirmed`` mines are
left out of the operating layer: being listed in an old report is not evidence of work today.
"""

_DEFAULT_NOTE = "producing about 2019 by the source's company reports; not checked later"

MINE_ADDITIONS: tuple[dict[str, Any], ...] = tuple(m.model_dump() for m in _FACTS.additions)
"""Large operating mines missing from the compilation, with coordinates from public documents.

Read from :data:`MINES_FILE`; each row cites where its point and start year come from (column
``reference``). Cerro Corona was missing from the compilation; Toromocho, Mina Justa and San
Rafael (Peru's only tin mine) are among the country's largest producers and were missing too.
Marcona (Shougang's iron mine) and Cerro Lindo (Nexa), also missing there, are left out: no public
document with their coordinates was found (only the town of San Juan de Marcona and the centre of
the whole Marcona–Mina Justa district), and no point was guessed. Their output is in
``mining_production`` through the MINEM units, matched by district name (Marcona 110304, Chavín
110203).
"""

_UNIT_COLUMNS = ["temp_fac_id", "mine_fac", "type_facility", "region", "province", "district"]
_SHEET_COLUMNS = ["temp_fac_id", "material_id", "year", "unit_id", "value"]


def _key(region: object, province: object, district: object) -> tuple[str, str, str]:
    return (normalize_name(region), normalize_name(province), normalize_name(district))


def district_lookup(districts: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """Return normalised (department, province, district) names → district code.

    Parameters
    ----------
    districts : pandas.DataFrame
        The curated districts (``district_code``, ``department``, ``province``, ``district``).

    Returns
    -------
    dict
        One entry per name triple; a triple shared by several codes is left out (ambiguous).
    """
    codes: dict[tuple[str, str, str], set[str]] = {}
    for code, dep, prov, dist in zip(
        districts["district_code"], districts["department"], districts["province"],
        districts["district"], strict=True,
    ):
        codes.setdefault(_key(dep, prov, dist), set()).add(str(code))
    return {k: next(iter(v)) for k, v in codes.items() if len(v) == 1}


def match_districts(
    units: pd.DataFrame,
    districts: pd.DataFrame,
    aliases: dict[tuple[str, str, str], str] | None = None,
) -> pd.DataFrame:
    """Match units to district codes by their normalised region, province and district names.

    An exact match of the three normalised names comes first (``match_method`` ``"name"``); the
    remaining units are looked up in ``aliases`` (``"alias"``); the others keep a missing code.
    For those, ``candidate_codes`` lists the districts named by the unit when its fields list
    several places ("Huay-Huay, Yauli"): every listed (region, province, district) combination
    that exists, so a user can see where the unit lies without a single district being chosen.

    Parameters
    ----------
    units : pandas.DataFrame
        With ``region``, ``province`` and ``district`` name columns.
    districts : pandas.DataFrame
        The curated districts (see :func:`district_lookup`).
    aliases : dict, optional
        Normalised name triple → district code; :data:`DISTRICT_ALIASES` by default.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``units.index``: ``district_code``, ``match_method`` and
        ``candidate_codes`` (codes separated by ``;``, only for unmatched units), nullable strings.

    Raises
    ------
    SourceFormatError
        If an alias points to a code that is not among the districts.
    """
    aliases = DISTRICT_ALIASES if aliases is None else aliases
    known = set(districts["district_code"].astype(str))
    stale = {k: v for k, v in aliases.items() if v not in known}
    if stale:
        msg = f"district alias(es) point to codes not in the districts table: {stale}"
        raise SourceFormatError(msg)
    lookup = district_lookup(districts)
    keys = [
        _key(r, p, d)
        for r, p, d in zip(units["region"], units["province"], units["district"], strict=True)
    ]
    by_name = [lookup.get(k) for k in keys]
    by_alias = [
        None if n is not None else aliases.get(k) for k, n in zip(keys, by_name, strict=True)
    ]
    code = [n if n is not None else a for n, a in zip(by_name, by_alias, strict=True)]
    method = [
        "name" if n is not None else ("alias" if a is not None else None)
        for n, a in zip(by_name, by_alias, strict=True)
    ]
    candidates = [
        None if c is not None else _candidates(r, p, d, lookup)
        for c, r, p, d in zip(
            code, units["region"], units["province"], units["district"], strict=True
        )
    ]
    return pd.DataFrame(
        {
            "district_code": pd.array(code, dtype="string"),
            "match_method": pd.array(method, dtype="string"),
            "candidate_codes": pd.array(candidates, dtype="string"),
        },
        index=units.index,
    )


def _split(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [part for part in (normalize_name(v) for v in str(value).split(",")) if part]


def _candidates(
    region: object, province: object, district: object,
    lookup: dict[tuple[str, str, str], str],
) -> str | None:
    codes = {
        lookup[(r, p, d)]
        for r in _split(region)
        for p in _split(province)
        for d in _split(district)
        if (r, p, d) in lookup
    }
    return ";".join(sorted(codes)) if codes else None


def locate_at_large_mines(
    units: pd.DataFrame, mines: pd.DataFrame, districts: pd.DataFrame
) -> pd.DataFrame:
    """Return the large mine (name and coordinates) each unit belongs to, where one does.

    A unit belongs to a mine when its folded name is the mine's folded name, or starts with it
    followed by a space (``Antamina N° 1``, ``Toquepala 1``), and the district holding the mine's
    point lies in the department the unit names (``Pierina I`` of Arequipa is not Pierina of
    Ancash). Processing plants of the list are not candidates.

    Parameters
    ----------
    units : pandas.DataFrame
        With ``name`` and ``region`` (department name).
    mines : pandas.DataFrame
        The curated large mines (``name``, ``district_code``, ``longitude``, ``latitude``).
    districts : pandas.DataFrame
        The curated districts (``district_code``, ``department``).

    Returns
    -------
    pandas.DataFrame
        Aligned with ``units.index``: ``site`` (the mine's name), ``longitude``, ``latitude`` and
        ``site_district_code``, missing where the unit belongs to no listed mine.
    """
    department = districts.set_index("district_code")["department"].map(normalize_name)
    # mines only: a quarry named "Ilo" is not the Ilo smelter
    listed = mines[mines["facility"].eq("Mine")].dropna(subset=["district_code"]).assign(
        key=lambda m: m["name"].map(normalize_name),
        dep=lambda m: m["district_code"].map(department))
    rows: list[tuple[object, object, object, object]] = []
    for name, region in zip(units["name"], units["region"], strict=True):
        key, dep = normalize_name(name), normalize_name(region)
        same = [key == k or key.startswith(k + " ") for k in listed["key"]]
        hit = listed[np.asarray(same, dtype=bool) & (listed["dep"] == dep).to_numpy()]
        if len(hit) == 1:
            m = hit.iloc[0]
            rows.append((m["name"], m["longitude"], m["latitude"], m["district_code"]))
        else:
            rows.append((pd.NA, np.nan, np.nan, pd.NA))
    out = pd.DataFrame(rows, index=units.index,
                       columns=["site", "longitude", "latitude", "site_district_code"])
    return out.astype({"site": "string", "longitude": "float64", "latitude": "float64",
                       "site_district_code": "string"})


def unit_districts(units: pd.DataFrame) -> pd.Series:
    """Return one district code per ``unit_id`` (for joining production records).

    A ``unit_id`` can appear on several rows of the unit table (the same plant listed as refinery
    and smelter); it gets its code once, so production is never joined twice. A ``unit_id`` whose
    rows disagree on the code gets a missing code.

    Parameters
    ----------
    units : pandas.DataFrame
        With ``unit_id`` and ``district_code``.

    Returns
    -------
    pandas.Series
        Nullable string codes indexed by unique ``unit_id``.
    """
    grouped = units.groupby("unit_id", sort=True)["district_code"]
    n_codes = grouped.nunique(dropna=False)
    first = grouped.first()
    return first.where(n_codes == 1).astype("string")


def unit_provinces(units: pd.DataFrame) -> pd.Series:
    """Return the 4-digit province code of each unit where it is certain.

    That is the province of ``district_code``, or, for an unmatched unit, the province shared by
    all its ``candidate_codes``; missing otherwise.

    Parameters
    ----------
    units : pandas.DataFrame
        With ``district_code`` and ``candidate_codes`` as returned by :func:`match_districts`.

    Returns
    -------
    pandas.Series
        Nullable string codes aligned with ``units.index``.
    """

    def one_province(codes: object) -> str | None:
        if not isinstance(codes, str):
            return None
        provinces = {c[:4] for c in codes.split(";")}
        return provinces.pop() if len(provinces) == 1 else None

    from_candidates = units["candidate_codes"].map(one_province).astype("string")
    return units["district_code"].str[:4].fillna(from_candidates).astype("string")


def commodity_group(material_ids: pd.Series) -> pd.Series:
    """Return the commodity group of each ``material_id`` (missing when not in the mapping).

    Parameters
    ----------
    material_ids : pandas.Series
        Compilation material codes such as ``Me.Au`` or ``M.lim``.

    Returns
    -------
    pandas.Series
        Group names (nullable strings), see :data:`COMMODITY_GROUPS`.
    """
    return material_ids.map(MATERIAL_GROUP).astype("string")


def to_tonnes(values: pd.Series, units: pd.Series) -> pd.Series:
    """Convert quantities to metric tonnes with :data:`UNIT_TO_TONNES`.

    Parameters
    ----------
    values : pandas.Series
        Quantities.
    units : pandas.Series
        Their ``unit_id``, aligned with ``values``.

    Returns
    -------
    pandas.Series
        Tonnes (float); missing where the unit is not a known mass unit.
    """
    factor = units.map(UNIT_TO_TONNES).astype("float64")
    return values.astype("float64") * factor


def load_production(ctx: BuildContext) -> pd.DataFrame:
    """Read the four production tables into one long frame with their stage.

    Parameters
    ----------
    ctx : BuildContext
        Gives the raw files.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``material_id``, ``year`` (int), ``unit`` (source ``unit_id``), ``value``,
        ``sheet`` (the :data:`PRODUCTION_SHEETS` key) and ``stage``.
    """
    frames = []
    for key, stage in PRODUCTION_SHEETS.items():
        raw = pd.read_csv(ctx.source(key))
        require_columns(raw, _SHEET_COLUMNS, file=SOURCES[key].file)
        year = pd.to_numeric(raw["year"], errors="coerce")
        bad_year = year.isna() | (year % 1 != 0)
        if bad_year.any():
            msg = f"{SOURCES[key].file}: {int(bad_year.sum())} row(s) without a valid year"
            raise SourceFormatError(msg)
        frames.append(
            pd.DataFrame(
                {
                    "unit_id": raw["temp_fac_id"].astype("string"),
                    "material_id": raw["material_id"].astype("string"),
                    "year": year.astype("int64"),
                    "unit": raw["unit_id"].astype("string"),
                    "value": pd.to_numeric(raw["value"], errors="coerce").astype("float64"),
                    "sheet": key,
                    "stage": stage,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["sheet"] = out["sheet"].astype("string")
    out["stage"] = out["stage"].astype("string")
    return out


def district_production(
    records: pd.DataFrame, *, window: tuple[int, int] = MEAN_WINDOW
) -> pd.DataFrame:
    """Aggregate production records per district, commodity group and stage.

    Parameters
    ----------
    records : pandas.DataFrame
        One row per unit, material and year with ``district_code``, ``commodity_group``,
        ``stage``, ``unit_id``, ``year`` and ``value_t`` (tonnes). Rows with a missing district,
        group or value are ignored.
    window : tuple of int, default (2015, 2019)
        First and last year of the averaging window.

    Returns
    -------
    pandas.DataFrame
        ``district_code``, ``commodity_group``, ``stage``, ``first_year``, ``latest_year`` (latest
        year with records), ``production_latest_t`` (district total of that year),
        ``mean_2015_2019_t`` (mean of the yearly district totals over every year of the window, a
        year without records counting as 0), ``n_years_2015_2019`` (years of the window with
        records) and ``n_units`` (distinct ``unit_id`` with records in any year), sorted by
        district, group and stage. The window columns are named after ``window``. When the
        records have a ``value_usd`` column, ``mean_2015_2019_value_usd`` is the window's total
        value of the priced records / the number of years (missing when none is priced, 0 without
        output) and ``share_priced_2015_2019`` the share of the window's tonnes that had a price.

    Notes
    -----
    Stages are never summed together, so refinery output does not add to the mine output it
    comes from. A group without any record in the window has ``mean_2015_2019_t`` 0 and
    ``n_years_2015_2019`` 0.
    """
    keys = ["district_code", "commodity_group", "stage"]
    start, end = window
    mean_col, years_col = f"mean_{start}_{end}_t", f"n_years_{start}_{end}"
    rec = records.dropna(subset=[*keys, "value_t"])
    if rec.empty:
        columns = [*keys, "first_year", "latest_year", "production_latest_t", mean_col, years_col,
                   "n_units"]
        return pd.DataFrame({c: pd.Series(dtype="string" if c in keys else "float64")
                             for c in columns})
    yearly = rec.groupby([*keys, "year"], sort=True)["value_t"].sum().reset_index()
    grouped = yearly.groupby(keys, sort=True)
    out = grouped["year"].agg(first_year="min", latest_year="max")
    latest = yearly.merge(out["latest_year"].reset_index(), on=keys)
    latest = latest[latest["year"] == latest["latest_year"]].set_index(keys)["value_t"]
    out["production_latest_t"] = latest
    years = list(range(start, end + 1))
    in_window = yearly[yearly["year"].between(start, end)]
    wide = in_window.pivot_table(index=keys, columns="year", values="value_t", aggfunc="sum")
    wide = wide.reindex(index=out.index, columns=years).fillna(0.0)
    out[mean_col] = wide.mean(axis=1)
    if "value_usd" in rec:  # USD at yearly prices; materials without a price stay out
        window_rec = rec[rec["year"].between(start, end)]
        priced = window_rec.dropna(subset=["value_usd"])
        usd = priced.groupby(keys)["value_usd"].sum() / len(years)
        out[f"mean_{start}_{end}_value_usd"] = usd.reindex(out.index).mask(out[mean_col] == 0, 0.0)
        tonnes = window_rec.groupby(keys)["value_t"].sum()
        share = priced.groupby(keys)["value_t"].sum().reindex(tonnes.index).fillna(0.0) / tonnes
        out[f"share_priced_{start}_{end}"] = share.where(tonnes > 0).reindex(out.index).round(4)
    n_years = in_window.groupby(keys)["year"].nunique()
    out[years_col] = n_years.reindex(out.index).fillna(0).astype("int64")
    out["n_units"] = rec.groupby(keys)["unit_id"].nunique().reindex(out.index).astype("int64")
    out = out.reset_index()
    for col in keys:
        out[col] = out[col].astype("string")
    out["first_year"] = out["first_year"].astype("int64")
    out["latest_year"] = out["latest_year"].astype("int64")
    return out.sort_values(keys).reset_index(drop=True)


def _read_units(ctx: BuildContext) -> pd.DataFrame:
    raw = pd.read_csv(ctx.source("mining_facilities"))
    require_columns(raw, _UNIT_COLUMNS, file=SOURCES["mining_facilities"].file)
    return pd.DataFrame(
        {
            "unit_id": raw["temp_fac_id"].astype("string"),
            "name": raw["mine_fac"].astype("string"),
            "facility_type": raw["type_facility"].astype("string"),
            "region": raw["region"].astype("string"),
            "province": raw["province"].astype("string"),
            "district": raw["district"].astype("string"),
        }
    )


def _share(part: float, whole: float) -> float:
    return round(float(part) / float(whole), 4) if whole else 0.0


def _units_dataset(
    ctx: BuildContext, units: pd.DataFrame, production: pd.DataFrame, mines: pd.DataFrame
) -> tuple[pd.DataFrame, Dataset]:
    districts = ctx.frames["districts"]
    units = pd.concat([units, match_districts(units, districts)], axis=1)
    sites = locate_at_large_mines(units, mines, districts)
    units = pd.concat([units, sites], axis=1)
    filled = units["district_code"].isna() & sites["site_district_code"].notna()
    units.loc[filled, "district_code"] = units.loc[filled, "site_district_code"]
    units.loc[filled, "match_method"] = "large_mine"
    units = units.drop(columns="site_district_code")
    units.insert(units.columns.get_loc("match_method"), "province_code", unit_provinces(units))
    years = production.groupby("unit_id")["year"].agg(["min", "max"])
    units["first_year"] = units["unit_id"].map(years["min"]).astype("Int64")
    units["last_year"] = units["unit_id"].map(years["max"]).astype("Int64")
    units = units.sort_values(["unit_id", "facility_type"]).reset_index(drop=True)

    n = len(units)
    n_name = int((units["match_method"] == "name").sum())
    n_alias = int((units["match_method"] == "alias").sum())
    n_site = int((units["match_method"] == "large_mine").sum())
    n_located = int(units["site"].notna().sum())
    unmatched = units[units["district_code"].isna()]
    several = unmatched["province"].str.contains(",") | unmatched["district"].str.contains(",")
    n_several = int(several.sum())
    n_cand = int(unmatched["candidate_codes"].notna().sum())
    n_one_province = int(unmatched["province_code"].notna().sum())
    n_unique = int(units["unit_id"].nunique())
    rate = _share(n_name + n_alias + n_site, n)
    report: dict[str, Any] = {
        "units": n,
        "unique_unit_ids": n_unique,
        "matched": n_name + n_alias + n_site,
        "matched_by_name": n_name,
        "matched_by_alias": n_alias,
        "matched_by_large_mine_point": n_site,
        "located_at_large_mine": n_located,
        "match_rate": rate,
        "aliases_defined": len(DISTRICT_ALIASES),
        "unmatched": len(unmatched),
        "unmatched_listing_several_places": n_several,
        "unmatched_with_candidates": n_cand,
        "unmatched_candidates_in_one_province": n_one_province,
        "units_without_production_records": int(units["first_year"].isna().sum()),
    }
    processing = [
        f"Kept the {n} units of the source; unit_id is the source's temp_fac_id, which is shared "
        f"by {n - n_unique} pairs of rows (the same plant listed with two facility types), so rows "
        "are sorted by unit_id and facility_type.",
        "Matched region, province and district names (accents, case and punctuation folded) to "
        f"the district layer: {n_name} units by name and {n_alias} through "
        f"{len(DISTRICT_ALIASES)} verified aliases (spelling variants, a typo in the layer, a "
        f"district created after 2007) and {n_site} more through the coordinates of the large "
        f"mine they belong to, a match rate of {rate:.1%}.",
        f"{n_located} units are located at a large mine (site, longitude, latitude): the unit's "
        "folded name is the mine's name, or starts with it followed by a number or label "
        "(Antamina N° 1, Toquepala 1), and the mine lies in the unit's department. A unit whose "
        "names list several districts (Cerro Verde, Constancia, La Arena) takes the district "
        "holding the mine's point.",
        f"{len(unmatched)} units keep a missing district_code: {n_several} of these list several "
        "provinces or districts in one field, which no single code can represent, and no "
        f"district was guessed. For {n_cand} of them candidate_codes lists the existing districts "
        "named in those fields.",
        "province_code is the first 4 digits of district_code or, for an unmatched unit whose "
        f"candidate districts all lie in one province ({n_one_province} units), that province.",
        "first_year and last_year are the first and last year with any production record of the "
        "unit_id in the four production tables (missing when it has none).",
    ]
    dataset = Dataset(
        id="mining_units",
        title="Mining units of Peru (mines, refineries, smelters) with their district",
        file=ctx.write_table(units, "mining_units.parquet"),
        sources=[SOURCES["mining_facilities"], SOURCES["districts"]],
        licence=LICENCE,
        vintage=VINTAGE,
        processing=processing,
        report=report,
    )
    return units, dataset


def _production_dataset(
    ctx: BuildContext, units: pd.DataFrame, production: pd.DataFrame
) -> Dataset:
    prod = production.copy()
    n_records = len(prod)
    prod["value_t"] = to_tonnes(prod["value"], prod["unit"])
    prod["commodity_group"] = commodity_group(prod["material_id"])
    bad_unit = prod["value_t"].isna() & prod["value"].notna()
    bad_value = prod["value"].isna() | (prod["value"] < 0)
    ungrouped = prod["commodity_group"].isna()
    excluded = bad_unit | bad_value | ungrouped
    prod = prod[~excluded].copy()
    codes = unit_districts(units)
    prod["district_code"] = prod["unit_id"].map(codes).astype("string")
    prod["value_usd"] = prod["value_t"] * price_per_tonne(prod["material_id"], prod["year"])
    table = district_production(prod)

    lost = prod["district_code"].isna()
    share_records = _share(int(lost.sum()), len(prod))
    by_stage: dict[str, float] = {}
    for stage, part in prod.groupby("stage", sort=True):
        by_stage[str(stage)] = _share(int(part["district_code"].isna().sum()), len(part))
    tonnes_by_group: dict[str, float] = {}
    mine = prod[prod["stage"] == "mine"]
    for group, part in mine.groupby("commodity_group", sort=True):
        tonnes_by_group[str(group)] = _share(
            part.loc[part["district_code"].isna(), "value_t"].sum(), part["value_t"].sum()
        )
    share_tonnes = _share(prod.loc[lost, "value_t"].sum(), prod["value_t"].sum())
    unit_ids = sorted(str(u) for u in production["unit"].dropna().unique())
    zero = int((prod["value_t"] == 0).sum())
    start, end = MEAN_WINDOW
    report: dict[str, Any] = {
        "records": n_records,
        "records_used": len(prod),
        "records_excluded_unit": int(bad_unit.sum()),
        "records_excluded_value": int(bad_value.sum()),
        "records_excluded_material": int((ungrouped & ~bad_unit & ~bad_value).sum()),
        "unmapped_material_ids": sorted(
            str(m) for m in production.loc[ungrouped, "material_id"].unique()
        ),
        "source_units": unit_ids,
        "records_with_zero_value": zero,
        "records_without_district": int(lost.sum()),
        "share_records_without_district": share_records,
        "share_records_without_district_by_stage": by_stage,
        "share_tonnes_without_district": share_tonnes,
        "share_mine_tonnes_without_district_by_group": tonnes_by_group,
        "rows": len(table),
        "districts": int(table["district_code"].nunique()),
        "commodity_groups": sorted(str(g) for g in table["commodity_group"].unique()),
    }
    n_other = int((ungrouped & ~bad_unit & ~bad_value).sum())
    processing = [
        f"Stacked the yearly unit production of the four tables ({n_records} records): sheet_com "
        "(metal content), sheet_min (non-metallic minerals) and sheet_coal are mine output (stage "
        "'mine'), the processing table is refinery and smelter output (stage 'processing'); the "
        "two stages are never added together, as refineries treat concentrates already counted "
        "at the mines.",
        f"All values are in units {unit_ids}; converted to tonnes with documented factors (t=1, "
        f"kg=0.001, g=1e-6); {int(bad_unit.sum())} records in other units, "
        f"{int(bad_value.sum())} with a missing or negative value and {n_other} with an unmapped "
        "material were left out.",
        f"Grouped the material codes into {len(COMMODITY_GROUPS)} commodity groups "
        f"({', '.join(COMMODITY_GROUPS)}); metals are metal content, minerals and coal the "
        "tonnage produced, so tonnes compare only within a group.",
        "Each record takes the district of its unit from mining_units (once per unit_id, so units "
        f"listed twice are not counted twice); {int(lost.sum())} records ({share_records:.1%}) "
        "belong to units without a district and are not in the table.",
        "Per district, group and stage: latest_year is the latest year with records and "
        "production_latest_t the district total of that year; mean_2015_2019_t is the mean of the "
        f"yearly district totals over the {end - start + 1} years {start}–{end}, a year without "
        "any record counting as 0 (n_years_2015_2019 says how many years had records); n_units "
        "counts distinct unit_id with records in any year. Spelling variants of one plant's name "
        "in different years count as separate units.",
        "Valued in USD at the annual average price of each record's year: "
        f"{PRICE_SOURCE}. Gold and silver tonnes x 32,150.7466 troy oz; iron records (Fe content) "
        "at the ore price / 0.62. mean_2015_2019_value_usd is the window's value / 5 years; "
        f"{', '.join(sorted(PRICES))} are priced, the others (molybdenum, minor metals, "
        "construction and most industrial minerals, coal) are not, so share_priced_2015_2019 "
        "tells how much of the tonnage the value covers. Processing output (refined copper, zinc, "
        "lead, tin, gold, silver) is valued the same way and kept apart by its stage.",
    ]
    return Dataset(
        id="mining_production",
        title="Mining production per district, commodity group and stage (tonnes)",
        file=ctx.write_table(table, "mining_production.parquet"),
        sources=[SOURCES[k] for k in PRODUCTION_SHEETS] + [SOURCES["mining_facilities"], PRICE_REF],
        licence=LICENCE,
        vintage=VINTAGE,
        processing=processing,
        report=report,
    )


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


def _large_mines_dataset(ctx: BuildContext) -> tuple[pd.DataFrame, Dataset]:
    pe = country_mines(ctx, "Peru")
    west, south, east, north = PERU_BOUNDS
    lon, lat = pe["longitude"], pe["latitude"]
    in_box = lon.between(west, east) & lat.between(south, north)
    if not in_box.all():
        bad = pe.loc[~in_box, "mine_fac"].tolist()
        msg = f"{SOURCES['large_mines'].file}: Peruvian mines outside Peru's bounds: {bad}"
        raise SourceFormatError(msg)

    frame = mine_fields(pe, lon, lat, text=lambda v: v.astype("string"),
                        extra={"region": "region", "province": "province",
                               "district": "district", "source": "source"})
    checked = [MINE_STATUS.get(str(n).strip(), ("operating", _DEFAULT_NOTE))
               for n in frame["name"]]
    at = frame.columns.get_loc("status") + 1
    frame.insert(at, "status_checked", pd.array([c[0] for c in checked], dtype="string"))
    frame.insert(at + 1, "status_note", pd.array([c[1] for c in checked], dtype="string"))
    added = pd.DataFrame(list(MINE_ADDITIONS)).rename(columns={"reference": "source"})
    added["facility"] = "Mine"
    added["status_checked"] = "operating"
    added["status_note"] = "added: missing from the compilation; see the source column"
    added["production_start"] = added["production_start"].astype("Int64")
    frame = pd.concat([frame, added.drop(columns=["operator"])], ignore_index=True)
    points = points_frame(frame)
    points.insert(
        points.columns.get_loc("longitude"),
        "district_code",
        assign_district(points, ctx.frames["districts"]),
    )
    points = points.sort_values("name").reset_index(drop=True)
    n_in = int(points["district_code"].notna().sum())
    outside = points.loc[points["district_code"].isna(), "name"].tolist()
    n_status = int(points["status"].notna().sum())
    n_proc = int((points["facility"] != "Mine").sum())
    processing = [
        f"Kept the {len(pe)} rows with country 'Peru' ({n_proc} of them a processing plant "
        "rather than a mine); coordinates as given, all inside Peru's bounding box.",
        "Columns renamed (name, commodities, facility, status…); missing values stay missing (the "
        f"source gives a status for {n_status} of them only).",
        f"status_checked: {_counts(points['status_checked'])}. The {len(MINE_STATUS)} mines of "
        f"the status list in curation/peru/{MINES_FILE} carry a reason citing its public source "
        "in status_note "
        "(Conga and Tía María never operated, Pierina and Quiruvilca closed, the Ilo "
        "smelter/refinery is processing; mines only listed in old reports are not_confirmed); "
        "the others keep 'operating' from the source alone (about 2019), not checked later.",
        f"Added {len(MINE_ADDITIONS)} operating mines missing from the list "
        f"({', '.join(m['name'] for m in MINE_ADDITIONS)}) with coordinates from the public "
        "documents named in their source column. Marcona and Cerro Lindo are not added: no "
        "public document giving their coordinates was found, and no point was guessed.",
        f"district_code is the district polygon containing the point: {n_in} of {len(points)} "
        "fall inside one; the rest keep a missing code.",
    ]
    return points, Dataset(
        id="large_mines",
        title="Large mines of Peru (points) with commodities and district",
        file=ctx.write_table(points, "large_mines.parquet"),
        sources=[SOURCES["large_mines"], SOURCES["districts"]],
        licence=LICENCE,
        vintage=SOURCES["large_mines"].vintage,
        processing=processing,
        report={
            "large_mines": len(points),
            "in_district": n_in,
            "outside_districts": outside,
            "with_status": n_status,
            "processing_plants": n_proc,
            "status_checked": _counts(points["status_checked"]),
            "added": [m["name"] for m in MINE_ADDITIONS],
        },
    )


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate the mining units, district production and large mines.

    Needs ``ctx.frames["districts"]`` from the admin step.

    Parameters
    ----------
    ctx : BuildContext
        Build state (raw folder, output folder, districts).

    Returns
    -------
    list of Dataset
        ``mining_units``, ``mining_production`` and ``large_mines``.
    """
    require_districts(ctx, "mining")
    production = load_production(ctx)
    mines, mines_ds = _large_mines_dataset(ctx)
    units, units_ds = _units_dataset(ctx, _read_units(ctx), production, mines)
    return [units_ds, _production_dataset(ctx, units, production), mines_ds]

