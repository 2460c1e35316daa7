"""Output files written whole or not at all, with one-line errors naming the path and the fix."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from geo_engine._errors import OutputError, OutputExistsError
from geo_engine.io.atomic import atomic_output, check_output


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".geo-engine-"))


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _write_half(out: Path, *, then) -> None:
    """Start writing ``out`` as a GeoPackage would (file and journal), then call ``then``."""
    with atomic_output(out, force=True) as tmp:
        tmp.write_bytes(b"half a fi")
        Path(f"{tmp}-journal").write_bytes(b"j")
        then()


def test_writes_through_a_temporary_file_and_replaces_with_force(tmp_path):
    out = tmp_path / "new" / "table.csv"
    with atomic_output(out, force=False) as tmp:
        assert tmp.parent == out.parent
        assert tmp.name.startswith(".geo-engine-table.")
        assert tmp.suffix == ".csv"
        assert not tmp.exists()  # GDAL drivers create their file themselves
        tmp.write_text("a\n1\n")
        assert not out.exists()  # the name appears only once the file is complete
    assert out.read_text() == "a\n1\n"
    with atomic_output(out, force=True) as tmp:
        tmp.write_text("a\n2\n")
    assert out.read_text() == "a\n2\n"
    assert _leftovers(out.parent) == []


@pytest.mark.hostile
def test_existing_file_is_not_overwritten_without_force(tmp_path):
    out = tmp_path / "table.csv"
    out.write_text("old")
    with pytest.raises(OutputExistsError, match=r"table\.csv exists; pass --force to overwrite it"), \
            atomic_output(out, force=False) as tmp:
        tmp.write_text("new")
    assert out.read_text() == "old"
    with pytest.raises(FileExistsError, match="--force"):
        check_output(out, force=False)
    assert check_output(out, force=True) == out


@pytest.mark.hostile
def test_full_disk_while_writing_keeps_the_old_file_and_no_temporary_file(tmp_path):
    out = tmp_path / "table.csv"
    out.write_text("old")
    with pytest.raises(OutputError, match=r"^cannot write .*table\.csv: the disk is full; free some "
                       r"space or write to another disk; the existing file is unchanged$"):
        _write_half(out, then=_full_disk)
    assert out.read_text() == "old"
    assert _leftovers(tmp_path) == []


@pytest.mark.hostile
def test_full_disk_at_the_rename_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "table.csv"
    out.write_text("old")
    monkeypatch.setattr(os, "replace", _full_disk)
    with pytest.raises(OutputError, match="the disk is full"), atomic_output(out, force=True) as tmp:
        tmp.write_text("new")
    assert out.read_text() == "old"
    assert _leftovers(tmp_path) == []


@pytest.mark.hostile
def test_two_runs_creating_the_same_new_file_one_wins(tmp_path):
    out = tmp_path / "ranking.csv"
    both_written = threading.Barrier(2, timeout=20)
    outcome: dict[str, str] = {}

    def write(name: str) -> None:
        try:
            with atomic_output(out, force=False) as tmp:
                tmp.write_text(name)
                both_written.wait()  # both passed the existence check before either publishes
            outcome[name] = "wrote"
        except OutputExistsError as exc:
            outcome[name] = str(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [name for name, what in outcome.items() if what == "wrote"]
    assert len(winners) == 1, outcome
    loser = next(what for what in outcome.values() if what != "wrote")
    assert loser.endswith("ranking.csv exists; pass --force to overwrite it")
    assert out.read_text() == winners[0]
    assert _leftovers(tmp_path) == []


@pytest.mark.hostile
def test_exclusive_creation_without_hard_links(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)  # FAT and some network shares
    out = tmp_path / "brief.html"
    with atomic_output(out, force=False) as tmp:
        tmp.write_text("page")
    assert out.read_text() == "page"
    with pytest.raises(OutputExistsError), atomic_output(out, force=False) as tmp:
        tmp.write_text("other")
    assert out.read_text() == "page"
    assert _leftovers(tmp_path) == []


@pytest.mark.hostile
def test_name_too_long(tmp_path):
    out = tmp_path / ("x" * 300 + ".csv")
    with pytest.raises(OutputError, match=r"cannot write .*x\.csv: the file name is too long; choose a "
                       "shorter name$"):
        check_output(out, force=False)
    with pytest.raises(OutputError, match="the file name is too long"), \
            atomic_output(out, force=False) as tmp:
        tmp.write_text("a")
    assert _leftovers(tmp_path) == []


@pytest.mark.hostile
def test_folder_that_is_a_file(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    with pytest.raises(OutputError, match=r"cannot write .*results/m\.csv: a part of its folder path "
                       "is a file, not a folder; choose another folder$"):
        check_output(tmp_path / "results" / "m.csv", force=False)
    with pytest.raises(OutputError, match="is a file, not a folder"), \
            atomic_output(tmp_path / "results" / "m.csv", force=True):
        pass


@pytest.mark.hostile
def test_output_that_is_a_folder(tmp_path):
    (tmp_path / "m.csv").mkdir()
    with pytest.raises(OutputError, match=r"m\.csv: it is a folder; give a file name$"):
        check_output(tmp_path / "m.csv", force=True)


@pytest.mark.hostile
@pytest.mark.parametrize("how", ["chmod", "refused"])
def test_read_only_folder(tmp_path, monkeypatch, how):
    folder = tmp_path / "shared"
    folder.mkdir()
    if how == "chmod":
        folder.chmod(0o500)
        try:
            (folder / "probe").touch()
        except PermissionError:
            pass
        else:
            folder.chmod(0o700)
            pytest.skip("this user (root) can write to a read-only folder")
    else:  # what the system answers in a read-only folder, as root too
        def refused(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr("tempfile.mkstemp", refused)
    try:
        with pytest.raises(OutputError, match=r"cannot write .*shared/m\.csv: permission denied; "
                           "choose a folder you can write to$"):
            check_output(folder / "m.csv", force=False)
        with pytest.raises(OutputError, match="permission denied"), \
                atomic_output(folder / "m.csv", force=False) as tmp:
            tmp.write_text("a")
    finally:
        folder.chmod(0o700)


def test_missing_folder_is_created_and_suffix_checked(tmp_path):
    out = tmp_path / "a" / "b" / "m.parquet"
    assert check_output(out, force=False, suffixes=(".parquet", ".csv")) == out
    assert out.parent.is_dir()
    assert _leftovers(out.parent) == []
    with pytest.raises(OutputError, match=r"^m\.xlsx: the output must end in one of \.parquet, \.csv$"):
        check_output(tmp_path / "m.xlsx", force=False, suffixes=(".parquet", ".csv"))


def test_a_failing_writer_leaves_its_side_files_nowhere(tmp_path):
    out = tmp_path / "cells.gpkg"
    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _write_half(out, then=boom)
    assert list(tmp_path.iterdir()) == []


def test_a_writer_that_writes_nothing_changes_nothing(tmp_path):
    out = tmp_path / "m.csv"
    out.write_text("old")
    with pytest.raises(OutputError, match=r"m\.csv: the writer produced no file; nothing was changed"), \
            atomic_output(out, force=True):
        pass
    assert out.read_text() == "old"
