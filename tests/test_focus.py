"""Tests of naming the admin unit a build is restricted to (``department=Cusco``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo_engine._errors import SpecError
from geo_engine.regions.focus import Focus, parse_focus
from geo_engine.regions.region import Level, Region


@pytest.fixture
def region() -> tuple[Region, pd.DataFrame]:
    levels = (Level("unit", "district", "unit_code", "unit", "distrito", "district"),  # Peru's names
              Level("parent", "province", "parent_code", "parent", "provincia", "province"),  # Peru's names
              Level("grandparent", "department", "grandparent_code", "grandparent",  # Peru's names
                    "departamento", "department"))  # Peru's names
    reg = Region(id="t", title="t", file=None, data_dir=Path(), boundary=Path("b.parquet"),
                 layers=Path(), profiles=Path(), levels=levels)
    units = pd.DataFrame({
        "unit_code": ["080101", "080102", "030101", "031101", "050101"],
        "unit": ["CUSCO", "CCORCA", "ABANCAY", "SANTA ROSA", "SANTA ROSA"],
        "parent_code": ["0801", "0801", "0301", "0311", "0501"],
        "parent": ["CUSCO", "CUSCO", "ABANCAY", "X", "Y"],
        "grandparent_code": ["08", "08", "03", "03", "05"],
        "grandparent": ["CUSCO", "CUSCO", "APURÍMAC", "APURÍMAC", "AYACUCHO"]})
    return reg, units


@pytest.mark.parametrize(("text", "column", "code", "name"), [
    ("department=Cusco", "grandparent_code", "08", "CUSCO"),
    ("department=08", "grandparent_code", "08", "CUSCO"),
    ("department = apurimac ", "grandparent_code", "03", "APURÍMAC"),
    ("DEPARTMENT=Apurímac".lower(), "grandparent_code", "03", "APURÍMAC"),
    ("province=Cusco", "parent_code", "0801", "CUSCO"),
    ("district=080102", "unit_code", "080102", "CCORCA"),
])
def test_a_unit_is_named_by_code_or_name(region, text, column, code, name):
    focus = parse_focus(text, *region)
    assert focus == Focus(level=text.split("=")[0].strip(), column=column, code=code, name=name)
    assert focus.within == (column, code)


@pytest.mark.parametrize(("text", "problem"), [
    ("Cusco", r"--within 'Cusco': write LEVEL=VALUE, e\.g\. department=Cusco \(levels of region "
              r"'t': district, province, department\)"),
    ("department=", r"write LEVEL=VALUE"),
    ("departamento=Cusco", r"region 't' has no admin level 'departamento'; its levels are"),
    ("department=Cuzco", r"region 't' has no department 'Cuzco'; did you mean CUSCO\?"),
    ("department=Lima", r"has no department 'Lima'; department names include APURÍMAC, AYACUCHO"),
    ("district=Santa Rosa", r"2 district units have that name: SANTA ROSA \(031101\), SANTA ROSA "
                            r"\(050101\); give the code"),
])
def test_a_wrong_unit_is_a_one_line_error(region, text, problem):
    with pytest.raises(SpecError, match=problem) as caught:
        parse_focus(text, *region)
    assert "\n" not in str(caught.value)
