"""Reading the YAML files users give: no anchors or aliases, a size cap, one-line errors with the line."""

from __future__ import annotations

import time

import pytest
import yaml

from geo_engine._errors import DataIntegrityError, SpecError
from geo_engine.ingest.specs import load_layers
from geo_engine.io.manifest import load_manifest
from geo_engine.io.yaml_io import dump_yaml, load_yaml
from geo_engine.regions.region import load_region
from geo_engine.scoring.profiles import load_profile

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
) + "\n"
"""Nine levels of ten aliases: 10⁹ strings written in under 1 KB."""


def bomb_layers() -> str:
    """A layer spec whose ``params.classes`` is a billion-laughs list."""
    return BILLION_LAUGHS + """\
layers:
  - id: land
    title: {es: Tierra, en: Land}
    theme: environment
    kind: raster
    source: land.tif
    method: share
    params: {classes: *i}
    units: share
    direction: benefit
"""


def test_plain_yaml_loads(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb: [x, 'y']\nc: {d: 2019-01-01}\n", encoding="utf-8")
    assert load_yaml(path, what="profile")["b"] == ["x", "y"]
    path.write_text("")
    assert load_yaml(path, what="profile") is None


@pytest.mark.hostile
def test_billion_laughs_is_refused_quickly(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)
    start = time.perf_counter()
    with pytest.raises(SpecError, match=rf"{path}, line 1: the layer spec uses a YAML anchor \(&\) or "
                       r"alias \(\*\), which are not accepted .*; write each value out in full"):
        load_yaml(path, what="layer spec")
    assert time.perf_counter() - start < 1.0


@pytest.mark.hostile
@pytest.mark.parametrize(("text", "line"), [
    ("base: &b {x: 1}\nother: 2\n", 1),
    ("a: 1\nb: *nowhere\n", 2),
    ("defaults: {x: 1}\nlayer:\n  <<: &d {y: 2}\n", 3),
])
def test_any_anchor_or_alias_is_refused(tmp_path, text, line):
    path = tmp_path / "a.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=rf"a\.yaml, line {line}: the profile uses a YAML anchor"):
        load_yaml(path, what="profile")


@pytest.mark.hostile
def test_size_cap(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 2**20 + "\n")
    with pytest.raises(SpecError, match=r"big\.yaml: the region file is larger than 1,048,576 bytes "
                       r"\(settings\.max_spec_bytes\)"):
        load_yaml(path, what="region file")
    monkeypatch.setattr("geo_engine.settings.max_spec_bytes", 4 * 2**20)
    assert len(load_yaml(path, what="region file")["a"]) == 2**20


@pytest.mark.hostile
@pytest.mark.parametrize(("data", "match"), [
    (b"a: 1\nb: [1, 2\nc: 3\n", r"x\.yaml, line 3: the layer spec is not valid YAML \(.*\); check the "
                                r"indentation"),
    (b"a: 1\n  b: 2\n", r"x\.yaml, line 2: the layer spec is not valid YAML"),
    (b"a: '\xe9t\xe9'\n", r"x\.yaml: the layer spec is not UTF-8 text \(byte 4\); save it as UTF-8"),
    (b"a: \x07\n", r"x\.yaml: the layer spec is not valid YAML"),
    (b"[" * 5000 + b"]" * 5000, r"x\.yaml: the layer spec nests lists or mappings too deeply"),
    (b"a: " + b"9" * 5000 + b"\n", r"x\.yaml: the layer spec holds a value that cannot be read"),
    (b"a: !!python/object/apply:os.system ['touch X']\n", r"x\.yaml, line 1: the layer spec is not "
                                                          r"valid YAML"),
])
def test_broken_files_give_one_line(tmp_path, monkeypatch, data, match):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.yaml"
    path.write_bytes(data)
    with pytest.raises(SpecError, match=match) as info:
        load_yaml(path, what="layer spec")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "X").exists()


@pytest.mark.hostile
def test_missing_and_unreadable(tmp_path):
    with pytest.raises(SpecError, match=r"none\.yaml: profile not found"):
        load_yaml(tmp_path / "none.yaml", what="profile")
    with pytest.raises(SpecError, match=r"profile not found \(or not a file\)"):
        load_yaml(tmp_path, what="profile")


def test_dump_writes_repeated_values_in_full(tmp_path):
    shared = {"es": "x", "en": "x"}
    text = dump_yaml({"a": shared, "b": shared, "c": [1, "ñ"]})
    assert "&" not in text
    assert "*" not in text
    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_yaml(path, what="profile") == {"a": shared, "b": shared, "c": [1, "ñ"]}
    assert yaml.safe_load(text) == load_yaml(path, what="profile")


@pytest.mark.hostile
def test_every_loader_refuses_a_bomb_quickly(tmp_path):
    (tmp_path / "layers.yaml").write_text(bomb_layers())
    (tmp_path / "profile.yaml").write_text(BILLION_LAUGHS)
    (tmp_path / "region.yaml").write_text(BILLION_LAUGHS)
    (tmp_path / "MANIFEST.yaml").write_text(BILLION_LAUGHS)
    start = time.perf_counter()
    with pytest.raises(SpecError, match=r"layers\.yaml, line 1: the layer spec uses a YAML anchor"):
        load_layers(tmp_path / "layers.yaml")
    with pytest.raises(SpecError, match=r"profile\.yaml, line 1: the profile uses a YAML anchor"):
        load_profile(tmp_path / "profile.yaml")
    with pytest.raises(SpecError, match=r"region\.yaml, line 1: the region file uses a YAML anchor"):
        load_region(tmp_path / "region.yaml")
    with pytest.raises(DataIntegrityError, match=r"MANIFEST\.yaml, line 1: the manifest uses a YAML"):
        load_manifest(tmp_path)
    assert time.perf_counter() - start < 2.0
