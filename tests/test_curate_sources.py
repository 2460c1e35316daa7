import pytest

from curation.sources import LICENCES, SOURCES, package_source


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
