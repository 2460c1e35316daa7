import json
import threading
import time

import pandas as pd
import pytest

from geo_engine._errors import GeoEngineWarning
from geo_engine.io.cache import cached, read_entry, write_entry


def _frame():
    return pd.DataFrame({"h3": ["a", "b", "c"], "v": [1.0, 2.0, 3.0]})


def _builder(calls):
    def build():
        calls.append(1)
        return _frame(), {"seconds": 1.5}
    return build


def test_an_entry_is_built_once_then_read(tmp_path):
    calls = []
    path = tmp_path / "cache" / "x.parquet"
    first = cached(path, _builder(calls))
    second = cached(path, _builder(calls))
    assert (first.hit, second.hit, len(calls)) == (False, True, 1)
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert second.meta == {"seconds": 1.5}
    record = json.loads(path.with_suffix(".json").read_text())
    assert (record["rows"], record["columns"], len(record["sha256"])) == (3, ["h3", "v"], 64)


@pytest.mark.hostile
def test_rows_that_differ_from_the_sidecar_are_a_damaged_entry(tmp_path):
    path = tmp_path / "x.parquet"
    write_entry(path, _frame(), {})
    record = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**record, "rows": 4}))
    with pytest.warns(GeoEngineWarning, match=r"x\.parquet has 3 rows .* the sidecar says 4"):
        assert read_entry(path) is None
    assert not path.exists()
    assert not path.with_suffix(".json").exists()


@pytest.mark.hostile
def test_an_unreadable_table_is_a_damaged_entry(tmp_path):
    path = tmp_path / "x.parquet"
    write_entry(path, _frame(), {}, write=lambda frame, p: p.write_bytes(b"not parquet"))
    with pytest.warns(GeoEngineWarning, match=r"x\.parquet cannot be read \(\w+"):
        assert read_entry(path) is None


@pytest.mark.hostile
def test_an_unwritable_cache_folder_builds_without_keeping(tmp_path):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    calls = []
    with pytest.warns(GeoEngineWarning, match=r"cache folder .*cache cannot be written .*GEO_ENGINE_CACHE"):
        entry = cached(tmp_path / "cache" / "x.parquet", _builder(calls))
    assert (entry.hit, len(entry.frame), len(calls)) == (False, 3, 1)


@pytest.mark.hostile
def test_a_write_that_fails_half_way_leaves_no_temporary_file(tmp_path):
    def half(frame, path):
        path.write_bytes(b"PAR1 half")
        raise OSError(28, "No space left on device")

    with pytest.warns(GeoEngineWarning, match=r"cannot be written \(No space left on device\)"):
        entry = cached(tmp_path / "x.parquet", _builder([]), write=half)
    assert entry.hit is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.parquet.lock"]


@pytest.mark.hostile
def test_temporary_files_of_a_killed_build_are_removed(tmp_path):
    stale = [tmp_path / ".x.parquet.k1ll3d.tmp", tmp_path / ".x.json.k1ll3d.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    (tmp_path / ".y.parquet.other.tmp").write_bytes(b"another entry's, being written")
    cached(tmp_path / "x.parquet", _builder([]))
    assert not any(p.exists() for p in stale)
    assert (tmp_path / ".y.parquet.other.tmp").exists()


_HOLD = """
import sys, time
from pathlib import Path
from geo_engine.io.cache import _acquire
_acquire(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(60)
"""


@pytest.mark.hostile
def test_the_lock_of_a_killed_build_is_released(tmp_path, sigkill_at):
    path = tmp_path / "x.parquet"
    sigkill_at(_HOLD, str(path), line="locked")
    assert cached(path, _builder([])).hit is False  # does not wait for the dead process


def test_threads_of_one_process_build_an_entry_once(tmp_path):
    """The app's sessions are threads of one server process: they share the lock too."""
    calls = []

    def slow():
        time.sleep(0.3)
        return _builder(calls)()

    hits = []
    threads = [threading.Thread(target=lambda: hits.append(cached(tmp_path / "x.parquet", slow).hit))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (sorted(hits), len(calls)) == ([False, True, True], 1)


def test_cache_files_get_the_usual_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_entry(tmp_path / "m.parquet", pd.DataFrame({"a": [1.0]}), {})
    finally:
        os.umask(old)
    assert (tmp_path / "m.parquet").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
