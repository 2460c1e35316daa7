"""Rebuild the curated data of a region in ``data/`` from the raw public sources.

The rebuild reads a raw-data folder (``peru/`` and ``latam/`` sub-folders, as documented in the
project's data notes) and the data shipped in a few registry packages, runs the steps of one region
(:data:`REGION_STEPS`: one step per dataset family for Peru, a single step for Brazil), writes every
file into a temporary folder next to the data folder, records checksums, counts and provenance in
``MANIFEST.yaml`` and ``LICENSES.md``, and only then swaps the new files in. A failing step leaves
the committed data untouched; the manifest entries of the other regions are kept as they are.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from geo_engine import settings
from geo_engine.curate._common import BuildContext, Dataset
from geo_engine.curate.sources import LICENCES
from geo_engine.manifest import MANIFEST_NAME, describe_file

__all__ = ["REGION_STEPS", "STEPS", "BuildContext", "Dataset", "rebuild", "render_licenses"]

Step = Callable[[BuildContext], list[Dataset]]


def _step(name: str) -> Step:
    """Return the ``build`` function of the step module ``geo_engine.curate.<name>``."""
    module = importlib.import_module(f"geo_engine.curate.{name}")
    step: Step = module.build
    return step


STEPS: tuple[str, ...] = ("admin", "social", "mining", "places", "environment", "services", "tourism")
"""Rebuild steps of Peru in the order they run (``admin`` first: the others use its districts)."""

REGION_STEPS: dict[str, tuple[str, ...]] = {
    "peru": STEPS,
    "brazil": ("brazil",),
}
"""Rebuild steps of each region, in the order they run; the first one always runs (the others need
the admin units it makes)."""


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
    Files are written to a temporary folder inside ``data_dir``; the manifest is written last and
    the swap is a rename of the region folder, so the data folder is never left half-written.
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
    tmp = Path(tempfile.mkdtemp(prefix=".rebuild-", dir=data_dir))
    try:
        ctx = BuildContext(src=source_dir, out=tmp, region=region)
        entries: list[dict[str, Any]] = []
        for name in (s for s in region_steps if s in chosen):
            log(f"[{name}]")
            for ds in _step(name)(ctx):
                entry = _entry(ds, tmp)
                entries.append(entry)
                figures = ", ".join(f"{k}={v}" for k, v in ds.report.items())
                log(f"  {ds.file}: {entry['features']} features{'; ' + figures if figures else ''}")
        _install(entries, tmp=tmp, data_dir=data_dir, region=region, full=steps is None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entries


def _install(
    entries: list[dict[str, Any]], *, tmp: Path, data_dir: Path, region: str, full: bool
) -> None:
    """Swap the freshly built files into ``data_dir`` and write the manifest and licences."""
    from geo_engine import __version__

    manifest_path = data_dir / MANIFEST_NAME
    old: list[dict[str, Any]] = []
    if manifest_path.is_file():
        old = yaml.safe_load(manifest_path.read_text(encoding="utf-8")).get("datasets", [])
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
        yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )
    (tmp / "LICENSES.md").write_text(render_licenses(datasets), encoding="utf-8")
    target = data_dir / region
    built = tmp / region
    if full:
        backup = data_dir / f".{region}.old"
        shutil.rmtree(backup, ignore_errors=True)
        if target.exists():
            target.rename(backup)
        built.rename(target)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(built.rglob("*")):
            if path.is_file():
                dest = target / path.relative_to(built)
                dest.parent.mkdir(parents=True, exist_ok=True)
                path.replace(dest)
    for name in ("LICENSES.md", MANIFEST_NAME):  # the manifest last
        (tmp / name).replace(data_dir / name)
