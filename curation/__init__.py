"""Rebuild the curated data of a region in ``data/`` from the raw public sources.

The rebuild reads a raw-data folder (``peru/`` and ``latam/`` sub-folders, as documented in the
project's data notes) and the data shipped in a few registry packages, runs the steps of one region
(:data:`REGION_STEPS`: one step per dataset family for Peru in :mod:`curation.peru`, a single step
for Brazil in :mod:`curation.brazil`, both built on the shared readers and helpers of
:mod:`curation.common`; the sources are catalogued in ``sources.yaml``), writes every
file into a temporary folder next to the data folder, records checksums, counts and provenance in
``MANIFEST.yaml`` and ``LICENSES.md``, and only then swaps the new files in. A failing step leaves
the committed data untouched; the manifest entries of the other regions are kept as they are.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from curation.common.context import BuildContext, Dataset
from curation.sources import LICENCES
from geo_engine import settings
from geo_engine._errors import DataIntegrityError
from geo_engine.io.manifest import MANIFEST_NAME, describe_file
from geo_engine.io.yaml_io import dump_yaml, load_yaml

__all__ = [
    "LOCK_NAME",
    "REGION_STEPS",
    "STAGING_PREFIX",
    "STEPS",
    "BuildContext",
    "Dataset",
    "rebuild",
    "recover_rebuild",
    "render_licenses",
]

Step = Callable[[BuildContext], list[Dataset]]


STEPS: tuple[str, ...] = ("admin", "social", "mining", "places", "environment", "agriculture",
                          "forests", "fisheries", "energy", "services", "tourism")
"""Rebuild steps of Peru in the order they run (``admin`` first: the others use its districts)."""

REGION_STEPS: dict[str, tuple[str, ...]] = {
    "peru": STEPS,
    "brazil": ("brazil",),
    "latam": ("latam",),
}
"""Rebuild steps of each region, in the order they run; the first one always runs (the others need
the admin units it makes). Step ``name`` of ``region`` is the module ``curation.<region>.<name>``."""


def _step(region: str, name: str) -> Step:
    """Return the ``build`` function of the step module ``curation.<region>.<name>``."""
    module = importlib.import_module(f"curation.{region}.{name}")
    step: Step = module.build
    return step


STAGING_PREFIX = ".rebuild-"
"""Prefix of the temporary folder a rebuild writes in the data folder (hidden, so never data)."""

LOCK_NAME = ".rebuild.lock"
"""Lock file in the data folder, held by a rebuild (one at a time) and by :func:`recover_rebuild`."""

SWAP_MARKER = "SWAPPING"
"""File of a temporary folder, holding the region's id, written before the region folders move."""


def _entry(ds: Dataset, out: Path) -> dict[str, Any]:
    info = describe_file(out / ds.file)
    entry: dict[str, Any] = {
        "id": ds.id,
        "title": ds.title,
        "file": ds.file,
        "sha256": info["sha256"],
        "bytes": info["bytes"],
        "features": info["features"],
    }
    if "raster" in info:
        entry["raster"] = info["raster"]
    entry.update(
        {
            "licence": ds.licence,
            "vintage": ds.vintage,
            "sources": [s.to_dict() for s in ds.sources],
            "processing": list(ds.processing),
            "report": ds.report,
        }
    )
    return entry


def render_licenses(datasets: Sequence[dict[str, Any]]) -> str:
    """Return ``LICENSES.md``: attribution and licence terms for every source used.

    Parameters
    ----------
    datasets : sequence of dict
        Manifest entries.

    Returns
    -------
    str
        Markdown text.
    """
    by_licence: dict[str, dict[str, set[str]]] = {}
    for entry in datasets:
        for src in entry["sources"]:
            origins = by_licence.setdefault(src["licence"], {})
            key = f"{src['publisher']} — `{src['origin']}` ({src['origin_path']})"
            origins.setdefault(key, set()).add(entry["file"])
    lines = [
        "# Licences of the curated data",
        "",
        "Every file in this folder is derived from the public sources below. Each section gives the",
        "licence, its terms in short, and which curated files use which source. The full texts are at",
        "the linked addresses. `MANIFEST.yaml` lists the same sources per file with checksums.",
        "",
    ]
    for licence in sorted(by_licence):
        meta = LICENCES.get(licence, {"name": licence, "url": "", "notice": ""})
        lines += [f"## {meta['name']} (`{licence}`)", "", meta["notice"], "", f"Text: {meta['url']}",
                  "", "| source | curated files |", "|---|---|"]
        for key in sorted(by_licence[licence]):
            files = ", ".join(f"`{f}`" for f in sorted(by_licence[licence][key]))
            lines.append(f"| {key} | {files} |")
        lines.append("")
    return "\n".join(lines)


def rebuild(
    source_dir: Path,
    *,
    data_dir: Path | None = None,
    region: str = "peru",
    steps: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Rebuild the curated files of a region from the raw sources, atomically.

    Parameters
    ----------
    source_dir : pathlib.Path
        Raw-data folder with ``peru/`` and ``latam/``.
    data_dir : pathlib.Path, optional
        Data folder to update; :data:`geo_engine.settings.data_dir` by default.
    region : str, default "peru"
        Region sub-folder to rebuild, a key of :data:`REGION_STEPS`.
    steps : sequence of str, optional
        Subset of the region's steps to run (for development); all by default. With a subset the
        region folder is not replaced, only the files those steps write.
    log : callable, default print
        Receives one line per step and per figure worth reporting.

    Returns
    -------
    list of dict
        The manifest entries written.

    Notes
    -----
    Files are written to a temporary folder inside ``data_dir``; the swap is a rename of the region
    folder, and the new manifest replacing the old one commits it. One rebuild runs at a time per
    data folder (a lock file, released by the system if the process dies); a rebuild that was
    killed is undone, or finished if its manifest was already in place, by the next rebuild or by
    :func:`recover_rebuild` (which ``geo-engine data prepare`` runs), so the data folder never
    stays half-written.
    """
    if region not in REGION_STEPS:
        msg = f"unknown region {region!r}; known: {sorted(REGION_STEPS)}"
        raise ValueError(msg)
    source_dir = Path(source_dir)
    data_dir = Path(data_dir or settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    region_steps = REGION_STEPS[region]
    chosen = list(steps) if steps is not None else list(region_steps)
    unknown = [s for s in chosen if s not in region_steps]
    if unknown:
        msg = f"unknown step(s) {unknown}; known: {list(region_steps)}"
        raise ValueError(msg)
    if region_steps[0] not in chosen:
        chosen.insert(0, region_steps[0])  # every other step needs the admin units
    with _rebuild_lock(data_dir, log):
        for line in _recover(data_dir):
            log(line)
        tmp = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir))
        try:
            ctx = BuildContext(src=source_dir, out=tmp, region=region)
            entries: list[dict[str, Any]] = []
            for name in (s for s in region_steps if s in chosen):
                log(f"[{name}]")
                for ds in _step(region, name)(ctx):
                    entry = _entry(ds, tmp)
                    entries.append(entry)
                    figures = ", ".join(f"{k}={v}" for k, v in ds.report.items())
                    log(f"  {ds.file}: {entry['features']} features{'; ' + figures if figures else ''}")
            _install(entries, tmp=tmp, data_dir=data_dir, region=region, full=steps is None)
        finally:
            _settle(tmp, data_dir)
    return entries


def recover_rebuild(data_dir: Path | None = None) -> list[str]:
    """Undo or finish what an interrupted rebuild left in a data folder, and remove its files.

    A rebuild that was killed leaves its temporary folder (``.rebuild-*``) and, if it was killed
    while swapping folders, a region folder that does not match the manifest. This puts back the
    region folder the manifest describes (or keeps the new one when the new manifest was already
    in place), then removes the temporary folder. A rebuild still running is left alone.

    Parameters
    ----------
    data_dir : pathlib.Path, optional
        Defaults to :data:`geo_engine.settings.data_dir`.

    Returns
    -------
    list of str
        One line per thing done (empty when there was nothing to do or the folder is read-only).
    """
    data_dir = Path(data_dir or settings.data_dir)
    if not any(data_dir.glob(f"{STAGING_PREFIX}*")) and not any(data_dir.glob(".*.old")):
        return []
    lock = FileLock(data_dir / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return [f"a rebuild of {data_dir} is running: its temporary files are left alone"]
    except OSError:  # a read-only data folder: nothing can be cleaned, and readers ignore it
        return []
    try:
        return _recover(data_dir)
    except OSError as exc:
        msg = (f"{data_dir}: cannot clean up after an interrupted rebuild ({exc}); remove the "
               f"{STAGING_PREFIX}* folders by hand and restore the data from git")
        raise DataIntegrityError(msg) from exc
    finally:
        lock.release()


@contextlib.contextmanager
def _rebuild_lock(data_dir: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold the data folder's rebuild lock (one rebuild at a time), waiting for it if needed."""
    lock = FileLock(data_dir / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"waiting for another rebuild of {data_dir} to finish…")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _recover(data_dir: Path) -> list[str]:
    """Settle every temporary folder of ``data_dir`` (the caller holds the rebuild lock)."""
    done = [_settle(tmp, data_dir) for tmp in sorted(data_dir.glob(f"{STAGING_PREFIX}*"))
            if tmp.is_dir()]
    for backup in sorted(data_dir.glob(".*.old")):  # the backup folders of earlier versions
        target = data_dir / backup.name[1:-len(".old")]
        if target.exists():
            shutil.rmtree(backup, ignore_errors=True)
            done.append(f"removed {backup.name}, the backup of an interrupted rebuild")
        else:
            backup.rename(target)
            done.append(f"restored {target.name}/ from {backup.name}, left by an interrupted rebuild")
    return done


def _install(
    entries: list[dict[str, Any]], *, tmp: Path, data_dir: Path, region: str, full: bool
) -> None:
    """Swap the freshly built files into ``data_dir`` and write the manifest and licences.

    The region folder is staged whole in ``tmp`` (with a partial rebuild, the files no step wrote
    are linked in from the current folder), the marker :data:`SWAP_MARKER` is written, then the
    current folder is moved into ``tmp`` and the new one into place. Replacing ``MANIFEST.yaml``
    commits the rebuild: until then :func:`_settle` puts the old folder back, afterwards it
    keeps the new one.
    """
    from geo_engine import __version__

    manifest_path = data_dir / MANIFEST_NAME
    old: list[dict[str, Any]] = []
    if manifest_path.is_file():
        old = load_yaml(manifest_path, what="manifest").get("datasets", [])
    new_files = {e["file"] for e in entries}
    if full:
        kept = [e for e in old if not e["file"].startswith(f"{region}/")]
    else:
        kept = [e for e in old if e["file"] not in new_files]
    datasets = sorted(kept + entries, key=lambda e: e["file"])
    manifest = {
        "format": 1,
        "description": "Curated data of the Territorial Opportunity Platform: one entry per file, "
        "with checksum, feature count (rows, or valid pixels for rasters), sources, licence, "
        "vintage and what was done.",
        "generated_by": f"geo-engine {__version__}",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d"),
        "datasets": datasets,
    }
    (tmp / MANIFEST_NAME).write_text(
        dump_yaml(manifest, width=100), encoding="utf-8"
    )
    (tmp / "LICENSES.md").write_text(render_licenses(datasets), encoding="utf-8")
    target = data_dir / region
    built = tmp / region
    built.mkdir(exist_ok=True)
    if not full and target.is_dir():
        _link_missing(target, built)
    (tmp / SWAP_MARKER).write_text(region, encoding="utf-8")
    if target.exists():
        target.rename(tmp / f"{region}.old")
    built.rename(target)
    (tmp / MANIFEST_NAME).replace(manifest_path)  # the commit


def _link_missing(current: Path, built: Path) -> None:
    """Hard-link (or copy) into ``built`` every file of ``current`` that the rebuild did not write."""
    for path in sorted(current.rglob("*")):
        dest = built / path.relative_to(current)
        if path.is_file() and not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except OSError:  # a file system without hard links
                shutil.copy2(path, dest)


def _settle(tmp: Path, data_dir: Path) -> str:
    """Finish a committed install or undo an uncommitted one, then remove ``tmp``; say what was done.

    Committed means the new ``MANIFEST.yaml`` has left ``tmp``: the licences follow it. Otherwise,
    when :data:`SWAP_MARKER` shows that folders were being moved, the new region folder is taken
    out and the old one put back.
    """
    marker = tmp / SWAP_MARKER
    region = marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""
    done = f"removed {tmp.name}, the temporary folder of an interrupted rebuild"
    if region in REGION_STEPS:
        target = data_dir / region
        if (tmp / MANIFEST_NAME).is_file():
            if not (tmp / region).exists() and target.exists():
                target.rename(tmp / f"{region}.new")
            if (tmp / f"{region}.old").exists():
                (tmp / f"{region}.old").rename(target)
            done = f"put back {region}/ as the manifest describes it, and {done}"
        elif (tmp / "LICENSES.md").is_file():
            (tmp / "LICENSES.md").replace(data_dir / "LICENSES.md")
        marker.unlink()
    shutil.rmtree(tmp, ignore_errors=True)
    return done
