"""Focus: one admin unit of a region (``department=Cusco``) that a build is restricted to."""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

import pandas as pd

from geo_engine._errors import SpecError
from geo_engine.regions.region import Region

__all__ = ["Focus", "parse_focus"]


@dataclass(frozen=True)
class Focus:
    """An admin unit a build is restricted to.

    Attributes
    ----------
    level : str
        The region's id of the unit's level (``grandparent``).
    column : str
        The units' column holding that level's codes (``grandparent_code``).
    code : str
        The unit's code (``08``).
    name : str
        The unit's name as the boundary file spells it (``CUSCO``), or its code when the level
        has no names.
    """

    level: str
    column: str
    code: str
    name: str

    @property
    def within(self) -> tuple[str, str]:
        """Return ``(column, code)``, what :func:`geo_engine.matrix.indicators.build_indicators` takes."""
        return self.column, self.code


def _plain(text: str) -> str:
    """Return text without accents, in lower case, with single spaces (``Apurímac`` → ``apurimac``)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def parse_focus(text: str, region: Region, units: pd.DataFrame) -> Focus:
    """Return the unit that ``LEVEL=VALUE`` names, by code or by name (accents and case ignored).

    Parameters
    ----------
    text : str
        ``department=Cusco``, ``department=08``, ``province=La Convención``: a level of the region
        (its id or its slot) and the code or name of one of its units.
    region : Region
        The region whose levels are named.
    units : pandas.DataFrame
        Its units (:meth:`Region.units`): a code column per level, names where the region has them.

    Returns
    -------
    Focus

    Raises
    ------
    SpecError
        When the text is not ``LEVEL=VALUE``, the level is not the region's, or no unit (or more
        than one, by name) matches; the message lists the levels or the closest names.
    """
    level_name, sep, value = str(text).partition("=")
    if not sep or not level_name.strip() or not value.strip():
        msg = (f"--within {text!r}: write LEVEL=VALUE, e.g. department=Cusco (levels of region "
               f"{region.id!r}: {', '.join(lv.id for lv in region.levels)})")
        raise SpecError(msg)
    level = region.level(level_name.strip())
    column = "unit_code" if level.slot == "unit" else f"{level.slot}_code"
    name_col = level.slot if level.slot in units else None
    if column not in units:
        msg = f"--within {text!r}: the units of region {region.id!r} have no {column!r} column"
        raise SpecError(msg)
    pairs = pd.DataFrame({"code": units[column].astype("string").str.strip(),
                          "name": (units[name_col].astype("string") if name_col
                                   else units[column].astype("string"))}).dropna(subset=["code"])
    pairs = pairs.drop_duplicates("code").fillna({"name": ""})
    wanted = _plain(value)
    hit = pairs[pairs["code"].map(_plain) == wanted]
    if hit.empty:
        hit = pairs[pairs["name"].map(_plain) == wanted]
    if len(hit) == 1:
        return Focus(level=level.id, column=column, code=str(hit["code"].iloc[0]),
                     name=str(hit["name"].iloc[0]) or str(hit["code"].iloc[0]))
    if len(hit) > 1:
        listed = ", ".join(f"{n} ({c})" for c, n in zip(hit["code"], hit["name"], strict=True))
        msg = f"--within {text!r}: {len(hit)} {level.id} units have that name: {listed}; give the code"
        raise SpecError(msg)
    by_plain = dict(zip(pairs["name"].map(_plain), pairs["name"], strict=False))
    close = [by_plain[n] for n in difflib.get_close_matches(wanted, list(by_plain), n=5, cutoff=0.7)]
    hint = f"did you mean {', '.join(close)}?" if close else \
        f"{level.id} names include {', '.join(sorted(pairs['name'])[:8])}"
    msg = f"--within {text!r}: region {region.id!r} has no {level.id} {value.strip()!r}; {hint}"
    raise SpecError(msg)
