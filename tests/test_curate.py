import contextlib
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from filelock import FileLock

import curation as curate
from curation import LOCK_NAME, STEPS, Dataset, rebuild, recover_rebuild, render_licenses
from curation.sources import SourceRef
from geo_engine._errors import MissingSourceError
from geo_engine.io.manifest import load_manifest, verify_manifest


def test_unknown_step_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown step\(s\) \['nope'\]"):
        rebuild(tmp_path, data_dir=tmp_path / "data", steps=["nope"])


def test_failed_rebuild_leaves_data_untouched(tmp_path):
    data = tmp_path / "data"
    (data / "peru").mkdir(parents=True)
    (data / "peru" / "keep.parquet").write_bytes(b"old")
    (data / "MANIFEST.yaml").write_text("datasets: []\n")
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    with pytest.raises(MissingSourceError, match=r"peru_distrital_simple\.geojson"):
        rebuild(tmp_path / "empty", data_dir=data, log=lambda _: None)
    after = {p: p.read_bytes() for p in data.rglob("*") if p.is_file() and p.name != LOCK_NAME}
    assert before == after
    assert not list(data.glob(".rebuild-*"))


def test_licenses_group_sources_by_licence():
    entries = [
        {"file": "peru/a.parquet", "sources": [
            {"licence": "MIT", "publisher": "INEI", "origin": "x/y@1", "origin_path": "a.csv"}]},
        {"file": "peru/b.parquet", "sources": [
            {"licence": "GPL-3.0", "publisher": "MINEM", "origin": "z@2", "origin_path": "b.rds"},
            {"licence": "MIT", "publisher": "INEI", "origin": "x/y@1", "origin_path": "a.csv"}]},
    ]
    text = render_licenses(entries)
    assert "## MIT License (`MIT`)" in text
    assert "## GNU General Public License v3.0 (`GPL-3.0`)" in text
    assert "| INEI — `x/y@1` (a.csv) | `peru/a.parquet`, `peru/b.parquet` |" in text


def _same_content(a, b):
    if a.suffix == ".tif":
        with rasterio.open(a) as x, rasterio.open(b) as y:
            assert x.profile == y.profile
            np.testing.assert_array_equal(x.read(), y.read())
        return
    x, y = pd.read_parquet(a), pd.read_parquet(b)
    if "geometry" in x:
        gx, gy = gpd.read_parquet(a), gpd.read_parquet(b)
        assert gx.crs == gy.crs
        assert gx.geometry.geom_equals_exact(gy.geometry, tolerance=0).all() or (
            gx.geometry.to_wkb().equals(gy.geometry.to_wkb()))
        x, y = x.drop(columns="geometry"), y.drop(columns="geometry")
    pd.testing.assert_frame_equal(x, y)


@pytest.mark.slow
def test_rebuild_reproduces_committed_data(raw_dir, data_dir, tmp_path):
    """The committed files are what the rebuild script makes from the raw sources."""
    target = tmp_path / "data"
    rebuild(raw_dir, data_dir=target, log=lambda _: None)
    assert verify_manifest(target) == []
    built = {e["file"]: e for e in load_manifest(target)["datasets"]}
    committed = {e["file"]: e for e in load_manifest(data_dir)["datasets"]
                 if e["file"].startswith("peru/")}  # other regions are rebuilt on their own
    assert built.keys() == committed.keys()
    for rel, entry in committed.items():
        assert built[rel]["features"] == entry["features"], rel
        if built[rel]["sha256"] != entry["sha256"]:
            _same_content(target / rel, data_dir / rel)
    assert {e["id"] for e in built.values()} >= {"districts", "district_indicators"}
    assert {"admin", "social", "mining", "places", "environment", "agriculture", "forests",
            "fisheries", "energy", "services", "tourism"} <= set(STEPS)


def test_partial_rebuild_keeps_other_entries(raw_dir, tmp_path):
    target = tmp_path / "data"
    (target / "peru").mkdir(parents=True)
    (target / "peru" / "other.parquet").write_bytes(b"x")
    (target / "MANIFEST.yaml").write_text(yaml.safe_dump({"datasets": [
        {"id": "other", "file": "peru/other.parquet", "sources": []}]}))
    rebuild(raw_dir, data_dir=target, steps=["admin"], log=lambda _: None)
    ids = [e["id"] for e in load_manifest(target)["datasets"]]
    assert ids == ["departments", "districts", "other", "provinces"]
    assert (target / "peru" / "other.parquet").read_bytes() == b"x"
    shutil.rmtree(target)


# ---- interrupted rebuilds: what a kill at each stage leaves must not break `data prepare` ----

class Killed(BaseException):
    """Stands for the process being killed: nothing after it runs (not even `finally` clean-ups)."""


def _fake_step(file, version):
    def build(ctx):
        (ctx.out / ctx.region).mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"v": [version]}).to_parquet(ctx.out / file)
        source = SourceRef(file="raw.csv", origin="owner/repo@1", origin_path=f"raw-v{version}.csv",
                           licence="MIT", vintage="2024", publisher="INEI")
        return [Dataset(id=Path(file).stem, title=file, file=file, sources=[source], licence="MIT",
                        vintage="2024", processing=[])]
    return build


@pytest.fixture
def fake_steps(monkeypatch):
    """Peru rebuilt by two tiny steps writing peru/a.parquet and peru/b.parquet; returns a setter."""
    monkeypatch.setitem(curate.REGION_STEPS, "peru", ("one", "two"))

    def use(version):
        steps = {"one": _fake_step("peru/a.parquet", version),
                 "two": _fake_step("peru/b.parquet", version)}
        monkeypatch.setattr(curate, "_step", lambda region, name: steps[name])
    return use


def _version(data, name="a"):
    return int(pd.read_parquet(data / "peru" / f"{name}.parquet")["v"].iloc[0])


def _kill_at(monkeypatch, n, error=Killed):
    """Make the n-th folder or file move (rename/replace) of the install raise ``error``."""
    calls = {"n": 0}
    for name in ("rename", "replace"):
        real = getattr(Path, name)

        def move(self, target, _real=real):
            calls["n"] += 1
            if calls["n"] == n:
                raise error("killed")
            return _real(self, target)
        monkeypatch.setattr(Path, name, move)


# killed 0: in a step; 1, 2, 3: before the install moves the old folder out, the new one in, the
# manifest in (the commit); 4: after the commit, before the licences are moved and the rest removed
@pytest.mark.hostile
@pytest.mark.parametrize("moves", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("steps", [None, ["one"]])
def test_a_killed_rebuild_is_undone_or_finished_by_recover(fake_steps, monkeypatch, tmp_path, moves,
                                                           steps):
    data = tmp_path / "data"
    fake_steps(1)
    rebuild(tmp_path, data_dir=data, log=lambda _: None)
    fake_steps(2)
    with monkeypatch.context() as m:
        m.setattr(curate, "_settle", lambda tmp, data_dir: "")  # a kill skips every clean-up
        if moves == 0:  # half-way through a step's files
            m.setattr(curate, "_entry", lambda ds, out: (_ for _ in ()).throw(Killed()))
        elif moves < 4:
            _kill_at(m, moves)
        with contextlib.suppress(Killed):
            rebuild(tmp_path, data_dir=data, steps=steps, log=lambda _: None)
    assert list(data.glob(".rebuild-*"))
    assert verify_manifest(data, strict=False) == [] or moves in (2, 3)  # mid-swap: region out of step
    lines = recover_rebuild(data)
    assert len(lines) == 1
    assert "interrupted rebuild" in lines[0]
    assert verify_manifest(data) == []
    assert not list(data.glob(".rebuild-*"))
    assert _version(data) == (2 if moves == 4 else 1)
    assert _version(data, "b") == (2 if moves == 4 and steps is None else 1)
    licences = render_licenses(load_manifest(data)["datasets"])
    assert (data / "LICENSES.md").read_text(encoding="utf-8") == licences
    assert recover_rebuild(data) == []


@pytest.mark.hostile
@pytest.mark.parametrize("moves", [1, 2, 3])
def test_a_failed_install_puts_the_old_data_back(fake_steps, monkeypatch, tmp_path, moves):
    data = tmp_path / "data"
    fake_steps(1)
    rebuild(tmp_path, data_dir=data, log=lambda _: None)
    fake_steps(2)
    with monkeypatch.context() as m:
        _kill_at(m, moves, error=OSError)
        with pytest.raises(OSError, match="killed"):
            rebuild(tmp_path, data_dir=data, log=lambda _: None)
    assert verify_manifest(data) == []
    assert _version(data) == 1
    assert not list(data.glob(".rebuild-*"))


def test_partial_rebuild_keeps_the_files_no_step_wrote(fake_steps, tmp_path):
    data = tmp_path / "data"
    fake_steps(1)
    rebuild(tmp_path, data_dir=data, log=lambda _: None)
    fake_steps(2)
    rebuild(tmp_path, data_dir=data, steps=["one"], log=lambda _: None)
    assert (_version(data), _version(data, "b")) == (2, 1)
    assert verify_manifest(data) == []


def test_recover_puts_back_a_backup_of_an_earlier_version(tmp_path):
    data = tmp_path / "data"
    (data / ".peru.old").mkdir(parents=True)
    (data / ".peru.old" / "a.parquet").write_bytes(b"old")
    (data / ".brazil.old").mkdir()
    (data / "brazil").mkdir()
    assert len(recover_rebuild(data)) == 2
    assert (data / "peru" / "a.parquet").read_bytes() == b"old"
    assert sorted(p.name for p in data.iterdir()) == [".rebuild.lock", "brazil", "peru"]


def test_recover_leaves_a_running_rebuild_alone(tmp_path):
    data = tmp_path / "data"
    (data / ".rebuild-x").mkdir(parents=True)
    with FileLock(data / LOCK_NAME):
        assert recover_rebuild(data) == [f"a rebuild of {data} is running: its temporary files are "
                                         "left alone"]
    assert (data / ".rebuild-x").is_dir()
    assert recover_rebuild(tmp_path / "nothing") == []


_CHILD = """
import sys, time
from pathlib import Path
import pandas as pd
import curation as curate
from curation import Dataset, rebuild

def build(ctx):
    (ctx.out / "peru").mkdir()
    pd.DataFrame({"v": [2]}).to_parquet(ctx.out / "peru" / "a.parquet")
    print("writing", flush=True)
    time.sleep(60)

curate.REGION_STEPS["peru"] = ("one",)
curate._step = lambda region, name: build
rebuild(Path(sys.argv[1]), data_dir=Path(sys.argv[1]), log=lambda _: None)
"""


@pytest.mark.hostile
def test_a_rebuild_killed_with_sigkill_leaves_data_that_checks_and_prepares(fake_steps, tmp_path,
                                                                            sigkill_at):
    data = tmp_path / "data"
    fake_steps(1)
    rebuild(tmp_path, data_dir=data, log=lambda _: None)
    sigkill_at(_CHILD, str(data), line="writing")
    assert list(data.glob(".rebuild-*/peru/a.parquet"))
    assert verify_manifest(data) == []  # `data check` ignores what the rebuild left
    assert len(recover_rebuild(data)) == 1  # `data prepare` removes it (the lock died with it)
    assert sorted(p.name for p in data.iterdir()) == [".rebuild.lock", "LICENSES.md",
                                                      "MANIFEST.yaml", "peru"]
    assert _version(data) == 1
