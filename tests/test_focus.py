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
    levels = (Level("district", "district", "district_code", "district", "distrito", "district"),
              Level("province", "province", "province_code", "province", "provincia", "province"),
              Level("department", "department", "department_code", "department", "departamento",
                    "department"))
    reg = Region(id="t", title="t", file=None, data_dir=Path(), boundary=Path("b.parquet"),
                 layers=Path(), profiles=Path(), levels=levels)
    units = pd.DataFrame({
        "district_code": ["080101", "080102", "030101", "031101", "050101"],
        "district": ["CUSCO", "CCORCA", "ABANCAY", "SANTA ROSA", "SANTA ROSA"],
        "province_code": ["0801", "0801", "0301", "0311", "0501"],
        "province": ["CUSCO", "CUSCO", "ABANCAY", "X", "Y"],
        "department_code": ["08", "08", "03", "03", "05"],
        "department": ["CUSCO", "CUSCO", "APURÍMAC", "APURÍMAC", "AYACUCHO"]})
    return reg, units


@pytest.mark.parametrize(("text", "column", "code", "name"), [
    ("department=Cusco", "department_code", "08", "CUSCO"),
    ("department=08", "department_code", "08", "CUSCO"),
    ("department = apurimac ", "department_code", "03", "APURÍMAC"),
    ("DEPARTMENT=Apurímac".lower(), "department_code", "03", "APURÍMAC"),
    ("province=Cusco", "province_code", "0801", "CUSCO"),
    ("district=080102", "district_code", "080102", "CCORCA"),
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
