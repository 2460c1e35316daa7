import pytest

from curation.sources import LICENCES, SHIPPED, SHIPPED_SUMMARIES, SOURCES, load_catalogue, package_source
from geo_engine._errors import SpecError


def test_every_source_has_a_known_licence_and_origin():
    for key, ref in SOURCES.items():
        assert ref.licence in LICENCES, key
        assert ref.origin, key
        assert ref.file.startswith(("peru/", "latam/")), key
        assert set(ref.to_dict()) == {"file", "origin", "origin_path", "licence", "vintage",
                                      "publisher"}


def test_package_source_records_the_installed_version():
    ref = package_source("pyyaml", "yaml", licence="MIT", vintage="-", publisher="-")
    assert ref.origin.startswith("pyyaml==")
    with pytest.raises(ImportError, match=r"pip install '\.\[data\]'"):
        package_source("no-such-package-xyz", "x", licence="MIT", vintage="-", publisher="-")


def test_the_shipped_catalogue_holds_the_price_table_and_every_licence_used():
    assert SHIPPED["world_bank_prices"].file.startswith("curation/prices_worldbank_cmo.csv")
    assert SHIPPED_SUMMARIES["world_bank_prices"].startswith("World Bank Commodity Price Data")
    assert {ref.licence for ref in [*SOURCES.values(), *SHIPPED.values()]} <= set(LICENCES)
    assert set(LICENCES["MIT"]) == {"name", "url", "notice"}


_ENTRY = ("    file: peru/x.csv\n    origin: owner/repo@1\n    origin_path: x.csv\n"
          "    licence: {licence}\n    vintage: '2024'\n    publisher: INEI\n")
_LICENCE = "licences:\n  MIT:\n    name: MIT License\n    url: https://x\n    notice: keep it\n"


def test_load_catalogue_reads_a_valid_file(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(_LICENCE + "sources:\n  x:\n" + _ENTRY.format(licence="MIT"), encoding="utf-8")
    catalogue = load_catalogue(path)
    assert catalogue.sources["x"].ref().to_dict()["origin"] == "owner/repo@1"
    assert catalogue.shipped == {}


@pytest.mark.parametrize(("text", "match"), [
    (_LICENCE + "sources:\n  x:\n" + _ENTRY.format(licence="GPL-9"),
     r"source 'x' has licence 'GPL-9', which is not among the licences \(MIT\)"),
    (_LICENCE + "sources:\n  x:\n" + _ENTRY.format(licence="MIT") + "    year: 2024\n",
     r"sources\.x\.year"),
    (_LICENCE + "sources:\n  x:\n" + _ENTRY.format(licence="MIT").replace("INEI", "''"),
     r"sources\.x\.publisher"),
    ("- a list\n", r"a source catalogue is a mapping with licences, sources, shipped"),
])
def test_load_catalogue_refuses_an_invalid_file_naming_the_key(tmp_path, text, match):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=match):
        load_catalogue(path)
