"""Command-line interface: ``geo-engine COMMAND``; run ``geo-engine --help`` for the list."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import pandas as pd
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from geo_engine import __version__, settings
from geo_engine._errors import GeoEngineError, GeoEngineWarning

if TYPE_CHECKING:
    import geopandas as gpd

    from geo_engine.pipeline import Run
    from geo_engine.planning.scenario import Scenario
    from geo_engine.regions.region import Region as RegionFile
    from geo_engine.scoring.dual import DualResult
    from geo_engine.scoring.profiles import Profile
    from geo_engine.scoring.score import ScoreResult

__all__ = ["app", "main"]

app = typer.Typer(
    help="Territorial Opportunity Platform: where a niche cluster could create wealth, and for whom.",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(
    help="Curated default data: list it, check it against its manifest, rebuild it, prepare caches.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

_QUIET = {"on": False}


@app.callback()
def _options(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars (they are off "
                                        "anyway when output is not a terminal).")] = False,
) -> None:
    """Territorial Opportunity Platform: where a niche cluster could create wealth, and for whom."""
    _QUIET["on"] = quiet


def _progress() -> Progress:
    """Return a progress display with the step, a bar, the count, elapsed time and an ETA.

    It is silent with ``--quiet`` or when standard error is not a terminal (logs, pipes, CI).
    """
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), transient=True,
                    disable=_QUIET["on"] or not sys.stderr.isatty())

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Curated data folder (default: the project's data/).",
                 file_okay=False),
]


@contextlib.contextmanager
def _report_warnings() -> Iterator[None]:
    """Print the package's warnings as plain lines (once each) instead of Python warnings.

    Other warnings (numpy, shapely, pyogrio…) are passed on as Python warnings once the recording
    has stopped: re-emitted while recording, each would be appended to the list being read.
    """
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GeoEngineWarning)
            yield
    finally:
        seen: set[str] = set()
        for w in list(caught):
            if not issubclass(w.category, GeoEngineWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            elif str(w.message) not in seen:
                seen.add(str(w.message))
                typer.secho(f"warning: {w.message}", fg=typer.colors.YELLOW, err=True)


def _fail(exc: Exception) -> NoReturn:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


@data_app.command("list")
def data_list(data_dir: DataDir = None) -> None:
    """List every curated dataset: id, features, licence, vintage and file."""
    from geo_engine.io.manifest import load_manifest

    try:
        manifest = load_manifest(data_dir)
    except GeoEngineError as exc:
        _fail(exc)
    for entry in manifest["datasets"]:
        typer.echo(
            f"{entry['id']:<24} {entry['features']!s:>9}  {entry['licence']:<18} "
            f"{entry['vintage']:<20} {entry['file']}"
        )


@data_app.command("check")
def data_check(data_dir: DataDir = None) -> None:
    """Verify every file of the data folder against MANIFEST.yaml (checksum and feature count)."""
    from geo_engine.io.manifest import load_manifest, verify_manifest

    try:
        problems = verify_manifest(data_dir, strict=False)
        n = len(load_manifest(data_dir)["datasets"])
    except GeoEngineError as exc:
        _fail(exc)
    if problems:
        for line in problems:
            typer.secho(f"  {line}", fg=typer.colors.RED, err=True)
        typer.secho(f"{len(problems)} problem(s) in {n} datasets", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)
    typer.echo(f"ok: {n} datasets match the manifest")


@data_app.command("rebuild")
def data_rebuild(
    source: Annotated[
        Path,
        typer.Option("--from", help="Raw-data folder holding peru/ and latam/.", exists=True,
                     file_okay=False),
    ],
    data_dir: DataDir = None,
    step: Annotated[
        list[str] | None,
        typer.Option("--step", help="Run only this step (repeatable): admin, social, mining, "
                     "places, environment, agriculture, forests, fisheries, energy, services, "
                     "tourism for peru; brazil for brazil; latam for latam."),
    ] = None,
    region: Annotated[
        str, typer.Option(help="Region to rebuild: peru, brazil or latam (other regions are kept).")
    ] = "peru",
) -> None:
    """Rebuild a region's curated data from the raw sources; the old files stay until all succeed."""
    from curation import rebuild

    try:
        entries = rebuild(source, data_dir=data_dir, region=region, steps=step)
    except (GeoEngineError, ValueError, ImportError) as exc:
        _fail(exc)
    typer.echo(f"rebuilt {len(entries)} datasets into {data_dir or settings.data_dir}")


@data_app.command("prepare")
def data_prepare(
    data_dir: DataDir = None,
    resolution: Annotated[int, typer.Option(help="Resolution the app opens with.")] = 7,
) -> None:
    """Check the data and build the caches the app uses (fast when already there)."""
    from curation import recover_rebuild
    from geo_engine.io.manifest import verify_manifest
    from geo_engine.matrix.indicators import build_indicators
    from geo_engine.regions.datasets import display_districts
    from geo_engine.regions.region import load_region

    try:
        for line in recover_rebuild(data_dir):
            typer.echo(line)
        verify_manifest(data_dir)
        districts = display_districts(data_dir=data_dir)
        with _report_warnings(), _progress() as bar:
            bar.add_task(f"indicator matrix at resolution {resolution}", total=None)
            matrix = build_indicators(resolution=resolution, data_dir=data_dir,
                                      urban_centre_weight=load_region().urban_centre_weight)
    except GeoEngineError as exc:
        _fail(exc)
    state = "was cached" if matrix.attrs["cache_hit"] else "built"
    typer.echo(f"ready: {len(districts)} district outlines and the resolution-{resolution} "
               f"indicator matrix ({len(matrix):,} cells, {state}) in {settings.cache_dir}")


@app.command("layers")
def layers_list(
    layers: Annotated[
        Path | None, typer.Option("--layers", help="Spec file or folder (default: shipped specs).")
    ] = None,
    region: Annotated[str, typer.Option(help="Region id or region file whose specs to list.")]
    = settings.default_region,
) -> None:
    """List the layer specs: id, kind, method, theme, units and title, then source and vintage."""
    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.datasets import layer_provenance
    from geo_engine.regions.region import load_region

    try:
        reg = load_region(region)
        specs = load_layers(layers or reg.layers)
    except GeoEngineError as exc:
        _fail(exc)
    origin = layer_provenance(specs, data_dir=reg.data_dir).set_index("id")
    for s in specs:
        typer.echo(f"{s.id:<28} {s.kind:<9} {s.method:<10} {s.theme:<15} {s.units:<20} {s.title.en}")
        src = origin.loc[s.id]
        when = f", {src['vintage']}" if pd.notna(src["vintage"]) else ""
        typer.echo(f"{'':<28} source: {src['publisher']}{when}")
    typer.echo(f"{len(specs)} layers")


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="A layer spec YAML file (or folder) to check.")],
    data_dir: DataDir = None,
) -> None:
    """Check a layer spec file: fields, methods, parameters, filters, and each source.

    Sources are read relative to the spec's own folder (the project's data folder for the shipped
    specs), or to --data-dir when given.
    """
    from geo_engine.ingest.specs import default_layers_path, load_layers, source_paths

    if data_dir is None:
        base = (file if file.is_dir() else file.parent).resolve()
        shipped = base.is_relative_to(default_layers_path().parent.resolve())
        data_dir = Path(settings.data_dir) if shipped else base
    try:
        specs = load_layers(file)
        paths = source_paths(specs, data_dir)
    except GeoEngineError as exc:
        _fail(exc)
    missing = [f"{layer}: source {path} not found" for layer, path in paths.items() if not path.exists()]
    if missing:
        for line in missing:
            typer.secho(f"  {line}", fg=typer.colors.RED, err=True)
        _fail(FileNotFoundError(f"{len(missing)} of {len(specs)} layers have no source file"))
    typer.echo(f"ok: {len(specs)} layers valid in {file}")


Resolution = Annotated[int | None, typer.Option(help="H3 resolution, 3 (coarse) to 10 (fine); the "
                                                "region's default (Peru 7) if omitted.")]
Region = Annotated[str, typer.Option(help="Region id (peru, brazil) or the path of your region file.")]
ProfileName = Annotated[str, typer.Option("--profile", help="Profile id (see `geo-engine profiles`), "
                                          "or inclusion (the dual model's headline score).")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")]
Within = Annotated[str | None, typer.Option(
    "--within", help="Only one admin unit's cells: LEVEL=VALUE, a level of the region and a unit's "
    "code or name (department=Cusco; accents and case ignored). Scores are normalised over them.")]
OptionalProfile = Annotated[str | None, typer.Option(
    "--profile", help="Profile id (see `geo-engine profiles`), or inclusion; the --scenario's "
    "profile if omitted.")]
ScenarioFile = Annotated[Path | None, typer.Option(
    "--scenario", help="Scenario YAML (profile, weights, constraints, thresholds; see "
    "`geo-engine scenario new`; a custom profile saved by the app too): score with it instead "
    "of the profile's own weights.")]


def _print_layer_profile(report: dict, *, cached: bool) -> None:
    """Print the build's time and memory per layer, slowest first, with the grid's own line."""
    layers = report["layers"]
    total = float(report.get("seconds") or 0) or sum(float(v["seconds"]) for v in layers.values())
    rows = sorted(layers.items(), key=lambda kv: -float(kv[1]["seconds"]))
    if cached:
        typer.echo("(from the cache: the times and memory of the build that made it)")
    typer.echo(f"{'layer':<36} {'seconds':>8} {'share':>6} {'peak MB':>8}")
    typer.echo(f"{'(grid)':<36} {report['grid']['seconds']:>8.2f} "
               f"{report['grid']['seconds'] / total if total else 0:>6.1%} {'':>8}")
    for layer, info in rows:
        peak = info.get("peak_rss_mb")
        typer.echo(f"{layer:<36} {info['seconds']:>8.2f} {info['seconds'] / total if total else 0:>6.1%} "
                   f"{'' if peak is None else f'{peak:,.0f}':>8}")
    typer.echo(f"{'total':<36} {total:>8.2f}")


@app.command("build")
def build(
    resolution: Annotated[int | None, typer.Option(help="H3 resolution, 3 (coarse) to 10 (fine); "
                                                   "the region's default if omitted.")] = None,
    region: Annotated[str, typer.Option(help="Region id (peru, brazil) or your region file.")]
    = settings.default_region,
    layers: Annotated[
        Path | None, typer.Option("--layers", help="Spec file or folder (default: the region's).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the matrix here (.parquet or .csv).")
    ] = None,
    boundary: Annotated[
        Path | None,
        typer.Option("--boundary", help="Boundary file of your own region (GeoJSON, GeoPackage, "
                     "zipped shapefile, GeoParquet…); then --layers is required and relative "
                     "sources are read from the boundary's folder."),
    ] = None,
    code_column: Annotated[
        str, typer.Option("--code-column", help="Unique unit code column of --boundary.")
    ] = "district_code",
    name_column: Annotated[
        str | None, typer.Option("--name-column", help="Unit name column of --boundary.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Allow very large grids; overwrite --out.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore and do not write the cache.")]
    = False,
    profile_layers: Annotated[bool, typer.Option(
        "--profile-layers", help="Print the time, share and peak memory of each layer (with "
        "--no-cache to measure this build).")] = False,
    partitions: Annotated[int, typer.Option(
        "--partitions", min=0, help="Build by this many parts of the grid (H3 parent cells) and "
        "write a partitioned dataset that score, rank and the app read; 0 builds in one piece.")]
    = 0,
    parent_resolution: Annotated[int | None, typer.Option(
        "--parent-resolution", min=0, max=15, help="Resolution of the parent cells parts are made "
        "of (default 3, or 4 above resolution 8).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=0, help="With --partitions: processes of a local Dask cluster (default: "
        "the CPUs); 0 runs the parts one after another without Dask.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="With --partitions: address of a running Dask scheduler "
        "(tcp://host:8786) instead of a local cluster.")] = None,
    within: Within = None,
    data_dir: DataDir = None,
) -> None:
    """Build the indicator matrix (cells x layers of raw values) and optionally write it."""
    from geo_engine.matrix.indicators import build_indicators
    from geo_engine.matrix.within import build_within
    from geo_engine.regions.focus import parse_focus
    from geo_engine.regions.region import Region, load_region, region_id_from
    from geo_engine.reporting.export import TABLE_FORMATS, write_matrix

    if out is not None:
        _check_out(out, force, TABLE_FORMATS)
    try:
        if boundary is not None:
            if layers is None:
                _fail(ValueError("--boundary needs --layers (the shipped layers describe Peru)"))
            base = Path(data_dir) if data_dir else boundary.resolve().parent
            reg = Region(id=region_id_from(boundary.name), title=boundary.stem, file=None, data_dir=base,
                         boundary=boundary, layers=layers, profiles=base / "profiles",
                         code_column=code_column, name_column=name_column)
        else:
            reg = load_region(region, data_dir=data_dir)
        with _report_warnings():  # units without geometry, said once as a plain line
            units = reg.units()
        resolution = reg.resolution if resolution is None else resolution
        if within is not None and partitions:
            _fail(ValueError(f"--within {within!r} builds one unit in one piece: leave out "
                             "--partitions (or build the whole region by parts)"))
        if partitions:
            _build_parts(reg, units, resolution=resolution, layers=layers, parts=partitions,
                         parent_resolution=parent_resolution, workers=workers,
                         scheduler=scheduler, rebuild=no_cache, force=force,
                         profile_layers=profile_layers, out=out)
            return
        with _report_warnings(), _progress() as bar:
            task = bar.add_task("layers", total=None)

            def progress(layer_id: str, i: int, n: int) -> None:
                bar.update(task, total=n, completed=i, description=f"layer {layer_id}")

            options = {"region": reg.id, "resolution": resolution, "layers": layers or reg.layers,
                       "units": units, "data_dir": reg.data_dir, "use_cache": not no_cache,
                       "force": force, "progress": progress,
                       "urban_centre_weight": reg.urban_centre_weight,
                       "access_files": (dict(reg.access_files) if reg.access_files is not None
                                        else None)}
            matrix = (build_indicators(**options) if within is None else
                      build_within(within=parse_focus(within, reg, units).within, **options))
    except (GeoEngineError, ValueError) as exc:
        _fail(exc)
    report = matrix.attrs["report"]
    state = "from cache" if matrix.attrs["cache_hit"] else f"built in {report['seconds']:.1f} s"
    where = "" if within is None else f" within {within}"
    typer.echo(f"{len(matrix):,} cells x {len(report['layers'])} layers at resolution "
               f"{resolution}{where} ({state})")
    if profile_layers:
        _print_layer_profile(report, cached=bool(matrix.attrs["cache_hit"]))
    if out is not None:
        from geo_engine.reporting.rollup import level_columns

        named = matrix.rename(columns=level_columns(reg.levels))  # the region's own level names
        _write(lambda: write_matrix(named, out, force=force))
        typer.echo(f"wrote {out}")


def _build_parts(reg: RegionFile, units: gpd.GeoDataFrame, *, resolution: int, layers: Path | None,
                 parts: int, parent_resolution: int | None, workers: int | None,
                 scheduler: str | None, rebuild: bool, force: bool, profile_layers: bool,
                 out: Path | None) -> None:
    """Build the matrix by parts (in process or on Dask) and say where the dataset is."""
    from geo_engine.matrix.dataset import read_dataset
    from geo_engine.matrix.partition import build_partitioned
    from geo_engine.reporting.export import write_matrix

    with _report_warnings(), _progress() as bar:
        task = bar.add_task("parts", total=None)

        def progress(step: str, i: int, n: int) -> None:
            bar.update(task, total=n, completed=i, description=step)

        try:
            built = build_partitioned(
                region=reg.id, resolution=resolution, layers=layers or reg.layers, units=units,
                data_dir=reg.data_dir, parts=parts, parent_resolution=parent_resolution,
                workers=workers, scheduler=scheduler, rebuild=rebuild, force=force,
                progress=progress, urban_centre_weight=reg.urban_centre_weight,
                access_files=dict(reg.access_files) if reg.access_files is not None else None)
        except (ImportError, OSError) as exc:
            _fail(exc)
    report = built.report
    state = "from cache" if built.hit else (f"built in {report['seconds']:.1f} s by "
                                           f"{len(report['parts'])} parts")
    typer.echo(f"{built.cells:,} cells x {built.layers} layers at resolution {resolution} "
               f"({state}): {built.folder}")
    if profile_layers:
        _print_layer_profile(report, cached=built.hit)
    if out is not None:
        matrix = read_dataset(built.folder)
        if matrix is not None:
            from geo_engine.reporting.rollup import level_columns

            named = matrix.rename(columns=level_columns(reg.levels))
            _write(lambda: write_matrix(named, out, force=force))
            typer.echo(f"wrote {out}")


region_app = typer.Typer(help="Your own region: write and check a region file.",
                         no_args_is_help=True)
app.add_typer(region_app, name="region")


@region_app.command("new")
def region_new(
    out: Annotated[Path, typer.Argument(help="Region file to write, e.g. myregion/region.yaml.")],
    boundary: Annotated[Path, typer.Option("--boundary", help="Admin polygons (GeoJSON, GeoPackage, "
                                           "zipped shapefile, GeoParquet…).")],
    code_column: Annotated[str, typer.Option("--code-column", help="Unique unit code column.")],
    layers: Annotated[Path, typer.Option("--layers", help="Layer spec file or folder.")],
    name_column: Annotated[str | None, typer.Option("--name-column", help="Unit name column.")]
    = None,
    profiles: Annotated[Path | None, typer.Option("--profiles", help="Profile folder.")] = None,
    region_id: Annotated[str | None, typer.Option("--id", help="Region id (default: from the "
                                                  "boundary file name).")] = None,
    resolution: Annotated[int, typer.Option(help="Default H3 resolution.")] = 7,
    unit: Annotated[str, typer.Option("--unit", help="Id of the units' level (comuna, "
                                      "municipio…), used by `rank --level`.")] = "unit",
    level: Annotated[list[str] | None, typer.Option(
        "--level", help="A parent level as ID=CODE_COLUMN[:NAME_COLUMN], finest first "
        "(repeatable, at most two), e.g. --level province=CUT_PROV:PROVINCIA.")] = None,
    force: Force = False,
) -> None:
    """Write a region file for your boundary and layers (checked before it is written)."""
    from geo_engine.regions.region import parse_level, region_id_from, write_region

    try:
        parents = [parse_level(text) for text in level or []]
        reg = write_region(out, region_id=region_id or region_id_from(boundary.name), boundary=boundary,
                           code_column=code_column, name_column=name_column, layers=layers,
                           profiles=profiles, resolution=resolution, force=force,
                           unit=unit, parents=parents)
    except (GeoEngineError, FileExistsError) as exc:
        _fail(exc)
    typer.echo(f"wrote {out}: region {reg.id!r}; use it as --region {out}")


@region_app.command("show")
def region_show(
    region: Annotated[str, typer.Argument(help="Region id or region file.")] = settings.default_region,
    data_dir: DataDir = None,
) -> None:
    """Check a region and print its units, layers and profiles."""
    from geo_engine.ingest.specs import load_layers, source_paths
    from geo_engine.matrix.derived import DERIVED
    from geo_engine.regions.region import load_region
    from geo_engine.scoring.profiles import load_profiles

    try:
        reg = load_region(region, data_dir=data_dir)
        with _report_warnings():
            units = reg.units()
        specs = load_layers(reg.layers)
        paths = source_paths(specs, reg.data_dir)
        profiles = load_profiles(reg.profiles) if reg.profiles.exists() else {}
        for profile in profiles.values():
            profile.check_layers({s.id for s in specs} | set(DERIVED),
                                 source=f"the layer specs ({reg.layers}) and derived columns")
    except (GeoEngineError, ValueError) as exc:
        _fail(exc)
    missing = [layer for layer, path in paths.items() if not path.exists()]
    kinds = sorted({p.kind for p in profiles.values()})
    typer.echo(f"region {reg.id}: {reg.title}")
    typer.echo(f"  units     {len(units):,} from {reg.boundary}")
    for i, lv in enumerate(reg.levels):
        count = (f"{units[f'{lv.slot}_code'].nunique():,}" if f"{lv.slot}_code" in units
                 else f"{len(units):,}")
        typer.echo(f"  level {i}   {lv.id} ({lv.label_en} / {lv.label_es}): {count} units, code "
                   f"column {lv.code!r}" + (f", names {lv.name!r}" if lv.name else ", no names"))
    if len(reg.levels) == 1:
        typer.echo("  no parent level: rankings are of the units only; give parents with "
                   "`region new --level ID=CODE_COLUMN[:NAME_COLUMN]` or `levels:` in the file")
    typer.echo(f"  layers    {len(specs)} from {reg.layers}"
               + (f"; sources missing: {', '.join(missing)}" if missing else ""))
    typer.echo(f"  profiles  {len(profiles)} ({', '.join(kinds) or 'none'}) from {reg.profiles}")
    lacking = [k for k in ("engine", "need", "access", "family") if k not in kinds]
    if lacking:
        typer.echo(f"  no profile of kind {', '.join(lacking)}: those dual-model scores stay missing")
    typer.echo(f"  resolution {reg.resolution} by default; data folder {reg.data_dir}")


def _check_out(out: Path, force: bool, allowed: tuple[str, ...]) -> None:
    """Stop before any computation when ``out`` could not be written (type, folder, existing file)."""
    from geo_engine.io.atomic import check_output

    try:
        check_output(out, force=force, suffixes=allowed)
    except GeoEngineError as exc:
        _fail(exc)


def _write(write: Callable[[], object]) -> None:
    """Run a writer; a file that cannot be written (full disk, raced by another run) ends in one line."""
    try:
        write()
    except GeoEngineError as exc:
        _fail(exc)


def _run(region: str, resolution: int | None, data_dir: Path | None, within: str | None = None
         ) -> Run:
    from geo_engine.pipeline import run

    with _report_warnings(), _progress() as bar:
        task = bar.add_task(f"{region}: indicator matrix", total=None)

        def progress(layer_id: str, i: int, n: int) -> None:
            bar.update(task, total=n, completed=i,
                       description=f"{region}: layer {layer_id}" if layer_id else f"{region}: scoring")

        result = run(region=region, resolution=resolution, data_dir=data_dir, progress=progress,
                     within=within)
    if result.dual.missing:
        typer.secho(f"note: region {result.region.id!r} has no profile of kind "
                    f"{', '.join(result.dual.missing)}; the dual-model scores that need "
                    "them are left missing", fg=typer.colors.YELLOW, err=True)
    return result


@app.command("profiles")
def profiles_list(region: Region = settings.default_region) -> None:
    """List the scoring profiles: id, kind, aggregation, number of layers and title."""
    from geo_engine.regions.region import load_region
    from geo_engine.scoring.profiles import load_profiles

    try:
        profiles = load_profiles(load_region(region).profiles)
    except GeoEngineError as exc:
        _fail(exc)
    from geo_engine.scoring.dual import INCLUSION, inclusion_profile

    if profiles and INCLUSION not in profiles:  # the dual model's score, scored like a profile
        profiles = {**profiles, INCLUSION: inclusion_profile()}
    for p in profiles.values():
        typer.echo(f"{p.id:<26} {p.kind:<8} {p.aggregation.method:<7} {len(p.layers):>3} layers  "
                   f"{p.title.en}")


def _scenario_file(profile: str | None, path: Path | None) -> tuple[str, Scenario | None]:
    """Return the profile to score and the scenario, if any (stops when neither names a profile)."""
    from geo_engine.planning.scenario import load_scenario

    scen = load_scenario(path) if path is not None else None
    name = profile or (scen.profile if scen is not None else None)
    if name is None:
        _fail(ValueError("give --profile (or a --scenario that names one)"))
    return name, scen


def _scenario_profile(result: Run, name: str, scen: Scenario) -> Profile:
    """Return the profile ``name`` with a scenario's changes (its custom profile if it has one)."""
    from geo_engine.planning.scenario import apply_scenario, scenario_profile

    if name != scen.profile:  # --profile names another: refused, naming both
        return apply_scenario(result.profile(name), scen)
    return scenario_profile(scen, result.profiles, layers=result.matrix.columns)


def _scenario_scores(result: Run, name: str,
                     scen: Scenario | None) -> tuple[Profile, ScoreResult, DualResult]:
    """Return the profile, its score and the dual model, with a scenario's changes if given."""
    if scen is None:
        return result.profile(name), result.scored(name), result.dual
    from geo_engine.explore import scenario
    from geo_engine.scoring.dual import INCLUSION, inclusion_result

    if name == INCLUSION and (scen.weights or scen.constraints or scen.drop_constraints):
        _fail(ValueError(f"scenario {scen.id!r}: the inclusion score has no weights or "
                         "constraints of its own; name another profile or keep only thresholds"))
    chosen = result.profile(name) if name == INCLUSION else _scenario_profile(result, name, scen)
    with _report_warnings():
        sc = scenario(result, profile_id=name, profile=None if name == INCLUSION else chosen,
                      engine_quantile=scen.thresholds.engine,
                      inclusion_quantile=scen.thresholds.inclusion)
        dual = sc.dual
    return chosen, sc.result if sc.result is not None else inclusion_result(dual), dual


@app.command("score")
def score(
    out: Annotated[Path, typer.Option("--out", help="Output file: .geojson, .gpkg, .csv or .parquet.")],
    profile: OptionalProfile = None,
    scenario: ScenarioFile = None,
    resolution: Resolution = None,
    region: Region = settings.default_region,
    within: Within = None,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Score every cell with a profile (or a scenario) and write score, rank, dual model, contributions."""
    from geo_engine.reporting.export import CELL_FORMATS, write_cells, write_geopackage
    from geo_engine.reporting.outputs import cell_table

    _check_out(out, force, CELL_FORMATS)
    try:
        profile, scen = _scenario_file(profile, scenario)
        result = _run(region, resolution, data_dir, within)
        resolution = result.resolution
        chosen, scored, dual = _scenario_scores(result, profile, scen)
        table = cell_table(result.matrix, profile=chosen, specs=result.specs,
                           dual=dual, names=result.names, result=scored)
        meta = _export_meta(result, chosen, table.attrs["weights"],
                            **({"scenario": scen.id, **dual.thresholds} if scen is not None
                               else {}))
        if out.suffix.lower() == ".gpkg":  # cells, clusters and districts in one file
            import geopandas as gpd

            from geo_engine.reporting.outputs import geopackage_layers

            with _report_warnings():
                layers = geopackage_layers(
                    result.matrix, table, scored, profile=chosen.id,
                    names=result.names, districts=gpd.GeoDataFrame(result.region.units()),
                    rank_by=chosen.rank_by, levels=result.region.levels)
            write_geopackage(layers, out, force=force)
        else:
            from geo_engine.reporting.rollup import level_columns

            write_cells(table.rename(columns=level_columns(result.region.levels)), out, meta=meta,
                        force=force)
    except (GeoEngineError, KeyError, ValueError) as exc:
        _fail(exc)
    n_scored = int(table["score"].notna().sum())
    what = f"scenario {scen.id!r} of profile {profile!r}" if scen is not None else f"profile {profile!r}"
    typer.echo(f"wrote {out}: {len(table):,} cells, {n_scored:,} scored with {what}")


@app.command("sensitivity")
def sensitivity_cmd(
    profile: ProfileName,
    out: Annotated[Path, typer.Option("--out", help="Output .parquet or .csv.")],
    draws: Annotated[int, typer.Option(help="Weight vectors drawn.")] = 1000,
    concentration: Annotated[float, typer.Option(help="Dirichlet concentration (larger = closer "
                                                 "to the profile's weights).")] = 50.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    resolution: Resolution = None,
    region: Region = settings.default_region,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Probability of each cell being in the top decile when the weights are uncertain."""
    from geo_engine.reporting.export import TABLE_FORMATS, write_matrix
    from geo_engine.scoring.sensitivity import sensitivity

    _check_out(out, force, TABLE_FORMATS)
    try:
        result = _run(region, resolution, data_dir)
        base = result.scored(profile)
        table = sensitivity(base, draws=draws, concentration=concentration, seed=seed)
    except (GeoEngineError, KeyError, ValueError) as exc:
        _fail(exc)
    frame = pd.concat([result.matrix[["h3"]], table.rename(columns={"p_top": "p_top_decile"})],
                      axis=1)
    _write(lambda: write_matrix(frame, out, force=force))
    typer.echo(f"wrote {out}: {draws} draws, mean Spearman correlation with the base ranking "
               f"{table.attrs['spearman_mean']:.3f}")


@app.command("access")
def access_cmd(
    to: Annotated[str, typer.Option("--to", help="towns10k, towns50k, towns500k, ports, airports, "
                                    "hubs (engine hubs of the dual model), the id of a point "
                                    "layer of the region, or a point file.")],
    out: Annotated[Path, typer.Option("--out", help="Output .parquet or .csv (h3, minutes).")],
    resolution: Resolution = None,
    region: Region = settings.default_region,
    max_minutes: Annotated[float | None, typer.Option(help="Leave cells farther than this "
                                                      "unreached (NaN).")] = None,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Travel time (minutes) from every cell to the nearest destination of a set."""
    import numpy as np

    from geo_engine.access import access_minutes
    from geo_engine.planning.sites import destination_points
    from geo_engine.reporting.export import TABLE_FORMATS, write_matrix

    _check_out(out, force, TABLE_FORMATS)
    try:
        result = _run(region, resolution, data_dir)
        hubs = (np.isin(result.dual.typology, ["engine_hub", "dual_zone"]) if to == "hubs"
                else None)
        with _report_warnings():
            targets = destination_points(result, to)
            reg = result.region
            minutes = access_minutes(result.matrix, to=to, data_dir=reg.data_dir, region=reg.id,
                                     hubs=hubs, max_minutes=max_minutes, targets=targets,
                                     files=None if reg.access_files is None
                                     else dict(reg.access_files))
    except (GeoEngineError, KeyError, ValueError) as exc:
        _fail(exc)
    _write(lambda: write_matrix(pd.DataFrame({"h3": result.matrix["h3"], "minutes": minutes}), out,
                                force=force))
    reached = np.isfinite(minutes)
    typer.echo(f"wrote {out}: {int(reached.sum()):,} of {len(minutes):,} cells reached; median "
               f"{np.nanmedian(minutes):,.0f} min")


def _export_meta(result: Run, chosen: Profile, weights: Mapping[str, float],
                 **extra: object) -> dict[str, object]:
    """Return the ``meta`` block of an export: profile, weights, settings, sources, hash."""
    from geo_engine.reporting.export import export_meta

    specs = result.specs
    return export_meta(
        profile=chosen.id, weights=weights, resolution=result.resolution,
        datasets=[ds for lay in chosen.layers if result.region.shipped
                  and lay.id in specs and (ds := specs[lay.id].dataset)],
        extra={"aggregation": chosen.aggregation.method, **result.dual.thresholds,
               "region": result.region.id, **extra,
               **({} if result.region.shipped else {"layer_sources": {
                   lay.id: specs[lay.id].source for lay in chosen.layers if lay.id in specs}})},
        data_dir=result.region.data_dir)


@app.command("clusters")
def clusters_cmd(
    profile: ProfileName,
    out: Annotated[Path, typer.Option("--out", help="Output .geojson, .gpkg, .parquet or .csv.")],
    resolution: Resolution = None,
    region: Region = settings.default_region,
    permutations: Annotated[int, typer.Option(help="Permutations of the Gi* test.")] = 999,
    fdr: Annotated[float, typer.Option(help="False-discovery rate (Benjamini-Hochberg).")] = 0.05,
    min_cells: Annotated[int, typer.Option(help="Smallest cluster, in cells.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed of the permutations.")] = 0,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Significant hot-spot clusters of a profile's score (Getis-Ord Gi*), profiled and ranked."""
    from geo_engine.clusters import find_clusters, travel_minutes
    from geo_engine.reporting.export import CELL_FORMATS, write_features

    _check_out(out, force, CELL_FORMATS)
    try:
        result = _run(region, resolution, data_dir)
        scored = result.scored(profile)
        m = result.matrix
        with _report_warnings():
            found = find_clusters(
                m, scored.score, profile=profile, contributions=scored.contributions,
                permutations=permutations, fdr=fdr, min_cells=min_cells, seed=seed,
                names=result.names, **travel_minutes(m))
        meta = _export_meta(result, result.profile(profile), scored.weights,
                            permutations=permutations, fdr=fdr, min_cells=min_cells, seed=seed)
    except (GeoEngineError, KeyError, ValueError) as exc:
        _fail(exc)
    from geo_engine.reporting.rollup import cluster_levels

    shown = cluster_levels(found, result.region.levels)  # the region's own level ids
    _write(lambda: write_features(shown, out, layer="clusters", meta=meta, force=force))
    typer.echo(f"wrote {out}: {len(found)} clusters of {profile!r} (Gi*, {permutations} "
               f"permutations, FDR {fdr})")


@app.command("brief")
def brief_cmd(
    profile: ProfileName,
    out: Annotated[Path, typer.Option("--out", help="Output .html or .pdf file.")],
    district: Annotated[str | None, typer.Option(
        "--district", "--unit", help="Code of a unit of the region (a district's ubigeo in Peru).")]
    = None,
    cluster: Annotated[int | None, typer.Option("--cluster", help="Cluster id from "
                                                "`geo-engine clusters` (same profile).")] = None,
    lang: Annotated[str, typer.Option(help="es or en.")] = "es",
    resolution: Resolution = None,
    region: Region = settings.default_region,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Write a printable one-page brief (HTML or PDF) on a district or a cluster: map, figures, sources."""
    import numpy as np

    from geo_engine.reporting.brief import brief_html, brief_pdf
    from geo_engine.reporting.export import write_document

    _check_out(out, force, (".html", ".pdf"))
    if (district is None) == (cluster is None):
        _fail(ValueError("give exactly one of --unit CODE (--district in Peru) or --cluster ID"))
    try:
        result = _run(region, resolution, data_dir)
        resolution = result.resolution
        chosen = result.profile(profile)
        m = result.matrix
        if district is not None:
            rows, shares = result.unit_rows(district)
            if not rows.any():
                unit = result.region.levels[0]
                _fail(KeyError(f"no {unit.label_en} {district!r} in region {result.region.id!r}; "
                               f"check the code (column {unit.code!r} of {result.region.boundary})"))
            names = result.names.set_index("unit_code")
            title = (" · ".join(str(names.loc[district, c]) for c in ("unit", "parent",
                                                                      "grandparent") if c in names)
                     if district in names.index and "unit" in names else district)
            if shares is not None:
                from geo_engine.i18n import t

                title += f" ({t('smaller_than_cell', lang, n=int(rows.sum()))})"
        else:
            from geo_engine.clusters import hot_spots

            with _report_warnings():
                cells = hot_spots(m, result.scored(chosen.id).score)
            rows = (cells["cluster_id"] == cluster).fillna(False).to_numpy(dtype=bool)
            if not rows.any():
                found = sorted(int(c) for c in cells["cluster_id"].dropna().unique())
                _fail(KeyError(f"no cluster {cluster} for profile {profile!r}; clusters are "
                               f"{found[:20]}"))
            title = f"{'Clúster' if lang == 'es' else 'Cluster'} {cluster}"
        render = brief_pdf if out.suffix.lower() == ".pdf" else brief_html
        page = render(result, profile_id=chosen.id, rows=np.asarray(rows), title=title, lang=lang)
    except (GeoEngineError, KeyError, ValueError) as exc:
        _fail(exc)
    _write(lambda: write_document(page, out, force=force))
    typer.echo(f"wrote {out}")


@app.command("rank")
def rank_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output .csv or .parquet.")],
    level: Annotated[str | None, typer.Option(help="Admin level: one of the region's level ids "
                                              "(Peru: district, province, department; see "
                                              "`region show`); its units by default.")] = None,
    rank_by: Annotated[str | None, typer.Option(
        help="pop_weighted_mean, mean, max, share_pop_top or score_km2; the profile's own statistic "
             "(its `ranking:`, the one `evaluate` checks) if omitted.")] = None,
    profile: OptionalProfile = None,
    scenario: ScenarioFile = None,
    resolution: Resolution = None,
    region: Region = settings.default_region,
    within: Within = None,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Rank the region's units, or the units of a parent level, by a profile's (or scenario's) score."""
    from geo_engine.reporting.export import TABLE_FORMATS, write_table
    from geo_engine.reporting.rollup import level_names, rollup, with_labels

    _check_out(out, force, TABLE_FORMATS)
    try:
        profile, scen = _scenario_file(profile, scenario)
        result = _run(region, resolution, data_dir, within)
        chosen = result.region.level(level or result.region.levels[0].id)
        scored_profile, scored, _ = _scenario_scores(result, profile, scen)
        by = rank_by or scored_profile.rank_by
        ranked = rollup(result.matrix, scored.score, level=chosen.slot,
                        rank_by=by, shared=result.shared_units)
    except (GeoEngineError, KeyError, ValueError) as exc:
        _fail(exc)
    ranked = with_labels(ranked, result.matrix, result.names, level=chosen.slot)
    ranked = ranked.rename(columns=level_names(result.region.levels))
    _write(lambda: write_table(ranked, out, force=force))
    whose = "" if rank_by else " (the profile's statistic)"
    typer.echo(f"wrote {out}: {len(ranked)} units ({chosen.label_en}) ranked by {by}{whose}")


weights_app = typer.Typer(help="Weights agreed by a group: AHP pairwise comparisons.",
                          no_args_is_help=True)
app.add_typer(weights_app, name="weights")


@weights_app.command("ahp")
def weights_ahp(
    survey: Annotated[Path, typer.Argument(help="Survey YAML: criteria, participants, judgements.")],
    out: Annotated[Path, typer.Option("--out", help="Output .yaml: a profile with the group's "
                                      "weights (with --profile), else a weight file.")],
    profile: Annotated[str | None, typer.Option("--profile", help="Profile whose layers the "
                                                "criteria are.")] = None,
    region: Region = settings.default_region,
    force: Force = False,
) -> None:
    """Weights from pairwise comparisons (Saaty's AHP): each participant's, the group's, the spread."""
    from geo_engine.planning.ahp import group_weights, load_survey, weights_yaml
    from geo_engine.regions.region import load_region
    from geo_engine.reporting.export import write_document
    from geo_engine.scoring.profiles import load_profiles

    _check_out(out, force, (".yaml", ".yml"))
    try:
        chosen = None
        if profile is not None:
            profiles = load_profiles(load_region(region).profiles)
            if profile not in profiles:
                _fail(KeyError(f"no profile {profile!r}; known: {sorted(profiles)}"))
            chosen = profiles[profile]
        with _report_warnings():
            result = group_weights(load_survey(survey))
        text = weights_yaml(chosen, result, source=survey.name)
    except (GeoEngineError, ValueError) as exc:
        _fail(exc)
    typer.echo(result.table.round(3).to_string())
    for name, r in {**result.participants, "group": result.group}.items():
        pair = f"; least consistent: {r.worst_pair[0]} vs {r.worst_pair[1]}" if r.worst_pair else ""
        typer.echo(f"{name}: CR {r.cr:.3f}{'' if r.consistent else ' (above 0.1)'}{pair}")
    _write(lambda: write_document(text, out, force=force))
    typer.echo(f"wrote {out}")


scenario_app = typer.Typer(help="Named scenarios: a profile with weights, constraints and "
                            "thresholds in a small YAML file (`score --scenario`, `rank --scenario`, "
                            "`plan --scenario`, the app's scenario section).", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("new")
def scenario_new(
    profile: ProfileName,
    out: Annotated[Path, typer.Option("--out", help="Output .yaml.")],
    title: Annotated[str, typer.Option(help="The scenario's name.")] = "",
    region: Region = settings.default_region,
    force: Force = False,
) -> None:
    """Write a scenario holding a profile's own weights, to edit and score with --scenario."""
    from geo_engine.planning.scenario import Scenario, scenario_id, scenario_yaml
    from geo_engine.regions.region import load_region
    from geo_engine.reporting.export import write_document
    from geo_engine.scoring.profiles import load_profiles

    _check_out(out, force, (".yaml", ".yml"))
    try:
        profiles = load_profiles(load_region(region).profiles)
        if profile not in profiles:
            _fail(KeyError(f"no profile {profile!r}; known: {sorted(profiles)}"))
        chosen = profiles[profile]
        scen = Scenario(id=scenario_id(title or out.stem), title=title, profile=profile,
                        weights={lay.id: lay.weight for lay in chosen.layers})
    except (GeoEngineError, ValueError) as exc:
        _fail(exc)
    _write(lambda: write_document(scenario_yaml(scen), out, force=force))
    typer.echo(f"wrote {out}: scenario {scen.id!r} of profile {profile!r} "
               f"({len(scen.weights)} weights)")


@scenario_app.command("check")
def scenario_check(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")],
    region: Region = settings.default_region,
) -> None:
    """Check a scenario against the region's profile; print its weights, constraints, thresholds."""
    from geo_engine.ingest.specs import load_layers
    from geo_engine.matrix.derived import DERIVED
    from geo_engine.planning.scenario import CUSTOM, load_scenario, scenario_profile
    from geo_engine.regions.region import load_region
    from geo_engine.scoring.dual import INCLUSION
    from geo_engine.scoring.profiles import load_profiles

    try:
        scen = load_scenario(scenario)
        reg = load_region(region)
        profiles = load_profiles(reg.profiles) if reg.profiles.exists() else {}
        if scen.profile not in (INCLUSION, CUSTOM) and scen.profile not in profiles:
            _fail(KeyError(f"{scenario}: profile {scen.profile!r} is not a profile of region "
                           f"{region!r}; known: {sorted([*profiles, INCLUSION, CUSTOM])}"))
        layers = {s.id for s in load_layers(reg.layers)} | set(DERIVED)
        chosen = (scenario_profile(scen, profiles, layers=layers) if scen.profile != INCLUSION
                  else None)
    except (GeoEngineError, ValueError) as exc:
        _fail(exc)
    typer.echo(f"scenario {scen.id}: {scen.title or '(no title)'}; profile {scen.profile}"
               + (f" ({chosen.aggregation.method})" if chosen is not None and chosen.id == CUSTOM
                  else ""))
    if chosen is not None:
        for layer_id, w in chosen.weights().items():
            typer.echo(f"  weight {layer_id:<32} {w:.3f}")
        for c in chosen.constraints:
            typer.echo(f"  constraint {c.layer} {c.op} {c.value:g}")
    typer.echo(f"  thresholds engine {scen.thresholds.engine:.3f}, inclusion "
               f"{scen.thresholds.inclusion:.3f}")


@app.command("evaluate")
def evaluate_cmd(
    resolution: Resolution = None,
    resolutions: Annotated[str, typer.Option(
        help="Resolutions whose district ranks are compared, comma-separated (6,7,8); empty to "
             "skip. Peru at resolution 8 is about 1.5 M cells: minutes and several GB more.")]
    = "6,7",
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="Reference file (default: the region's "
        "reference/reference_clusters.yaml).", exists=True, dir_okay=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the table: .csv or .json.")]
    = None,
    region: Region = settings.default_region,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Check the model against known clusters: precision@10, department lift, rank stability."""
    from geo_engine.reporting.evaluate import evaluate, load_reference, reference_path

    if out is not None:
        _check_out(out, force, (".csv", ".json"))
    try:
        others = sorted({int(r) for r in resolutions.replace(" ", ",").split(",") if r.strip()})
    except ValueError:
        _fail(ValueError(f"--resolutions was {resolutions!r}; write resolutions as 6,7,8"))
    try:
        result = _run(region, resolution, data_dir)
        ref = load_reference(reference or reference_path(result))
        runs = [_run(region, r, data_dir) for r in others if r != result.resolution]
        table = evaluate(result, ref, other_runs=runs)
    except (GeoEngineError, KeyError, ValueError) as exc:
        _fail(exc)
    _print_evaluation(table)
    if out is not None:
        _write(lambda: _write_evaluation(table, out, force=force))
        typer.echo(f"wrote {out}")


def _print_evaluation(table: pd.DataFrame) -> None:
    checks = table.attrs["checks"]
    typer.echo(f"resolution {table.attrs['resolution']}; reference {table.attrs['reference']}")
    typer.echo("  spearman(inclusion, need) across provinces, population-weighted: "
               f"{checks['spearman_inclusion_need_provinces']:.3f}")
    typer.echo("  spearman(inclusion, sqrt(need x access)) across cells: "
               f"{checks['spearman_inclusion_need_access_cells']:.3f}")
    stab = [c for c in table.columns if c.startswith("districts_r")]
    typer.echo(f"{'profile':<26}{'ranked by':<19}{'ref':>4}{'p@10':>7}{'p@10 ind':>9}{'lift':>7}"
               + "".join(f"{c.removeprefix('districts_'):>9}" for c in stab) + "  hits")
    for pid, row in table.iterrows():
        cells = [row["precision_at_10"], row["precision_at_10_independent"], row["department_lift"]]
        typer.echo(f"{pid!s:<26}{row['ranked_by']!s:<19}{row['reference_provinces']:>4}"
                   + "".join(f"{'-' if pd.isna(v) else f'{v:.2f}':>{w}}"
                             for v, w in zip(cells, (7, 9, 7), strict=True))
                   + "".join(f"{'-' if pd.isna(row[c]) else f'{row[c]:.3f}':>9}" for c in stab)
                   + f"  {row['hits']}")


def _write_evaluation(table: pd.DataFrame, out: Path, *, force: bool) -> None:
    import json

    from geo_engine.reporting.export import write_document, write_table

    if out.suffix.lower() == ".json":
        frame = table.reset_index().astype(object).where(table.reset_index().notna(), None)
        doc = {"resolution": table.attrs["resolution"], "reference": table.attrs["reference"],
               "checks": table.attrs["checks"], "profiles": frame.to_dict(orient="records")}
        write_document(json.dumps(doc, indent=1, ensure_ascii=False), out, force=force)
    else:
        write_table(table.reset_index(), out, force=force)


def _h3_list(text: str | None) -> list[int]:
    return [int(v.strip(), 16) for v in (text or "").split(",") if v.strip()]


@app.command("plan")
def plan_cmd(
    out: Annotated[Path, typer.Option("--out", help="Sites and covered cells (.geojson, .gpkg, "
                                      ".parquet, .csv); with --pareto the front (.csv, .parquet).")],
    profile: Annotated[str | None, typer.Option("--profile", help="Profile ranking the candidate "
                                                "sites and marking niche evidence.")] = None,
    scenario: Annotated[Path | None, typer.Option("--scenario", help="Scenario YAML (profile or "
                                                  "custom profile, weights, constraints, plan "
                                                  "settings).")] = None,
    sites: Annotated[int | None, typer.Option(help="At most this many sites.")] = None,
    budget: Annotated[float | None, typer.Option(help="At most this total cost.")] = None,
    cost: Annotated[Path | None, typer.Option(help="Cost per site: .csv/.parquet with h3 and "
                                              "cost (unlisted cells cannot be sites).")] = None,
    reach: Annotated[float | None, typer.Option("--reach", "--reach-minutes", help="Travel time "
                                                "(minutes) a site reaches [120].")] = None,
    candidates: Annotated[int | None, typer.Option(help="Candidate sites: the best cells by "
                                                   "score [2000].")] = None,
    min_km: Annotated[float | None, typer.Option(help="Minimum distance between sites, km.")] = None,
    per_department: Annotated[int | None, typer.Option(help="At most this many sites per "
                                                       "department.")] = None,
    include: Annotated[str | None, typer.Option(help="H3 ids that must be sites, comma-separated.")] = None,
    exclude: Annotated[str | None, typer.Option(help="H3 ids that may not be sites.")] = None,
    niche_min: Annotated[float | None, typer.Option(help="Standing in the profile from which a "
                                                    "cell has niche evidence [0.667].")] = None,
    demand_column: Annotated[str, typer.Option(help="Column of poor people per cell (computed "
                                               "from poverty × population if absent).")] = "poor_population",
    speed_kmh: Annotated[float | None, typer.Option(help="Measure reach as distance at this "
                                                    "speed instead of travel time.")] = None,
    site_level: Annotated[str, typer.Option(help="What a site is: cell, an admin unit "
                                            "(district, province, department) or a hot-spot "
                                            "cluster of the profile (cluster): one site per "
                                            "unit or cluster, at its best cell.")] = "cell",
    cost_base: Annotated[float | None, typer.Option(help="Cost of a site: this fixed part plus "
                                                    "--cost-per-minute × travel time from "
                                                    "--cost-from (instead of --cost).")] = None,
    cost_per_minute: Annotated[float, typer.Option(help="Cost per minute of travel from the "
                                                   "base to the site.")] = 0.0,
    cost_from: Annotated[str, typer.Option(help="Where programmes are run from: a destination "
                                           "set (towns50k…) or a point layer.")] = "towns50k",
    pareto: Annotated[bool, typer.Option("--pareto", help="Write the growth–inclusion front "
                                         "instead of one plan.")] = False,
    brief: Annotated[Path | None, typer.Option("--brief", help="Also write a one-page brief of "
                                               "the plan for a director (.html or .pdf).")] = None,
    lang: Annotated[str, typer.Option(help="Language of the brief: es or en.")] = "es",
    points: Annotated[int, typer.Option(help="Points of the front.")] = 10,
    resolution: Resolution = None,
    region: Region = settings.default_region,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Where to act under a budget: sites reaching the most poor people with a niche (exact MILP)."""
    from geo_engine.io.safe_read import read_table_file
    from geo_engine.planning.plan import greedy_cover, pareto_front, solve_cover
    from geo_engine.planning.scenario import PlanSettings, load_scenario
    from geo_engine.planning.sites import (
        SiteOptions,
        region_problem,
        site_costs,
        site_table,
        travel_costs,
    )
    from geo_engine.reporting.export import (
        CELL_FORMATS,
        TABLE_FORMATS,
        write_cells,
        write_document,
        write_table,
    )
    from geo_engine.reporting.rollup import level_columns

    _check_out(out, force, TABLE_FORMATS if pareto else CELL_FORMATS)
    if brief is not None:
        _check_out(brief, force, (".html", ".pdf"))
    try:
        scen = load_scenario(scenario) if scenario is not None else None
        base = scen.plan if scen is not None else PlanSettings()
        name = profile or (scen.profile if scen is not None else None)
        if name is None:
            _fail(ValueError("give --profile (or a --scenario that names one)"))
        result = _run(region, resolution, data_dir)
        chosen = _scenario_profile(result, name, scen) if scen is not None else result.profile(name)
        options = SiteOptions(
            sites=sites if sites is not None else base.sites,
            budget=budget if budget is not None else base.budget,
            reach_minutes=reach if reach is not None else base.reach_minutes,
            candidates=candidates if candidates is not None else base.candidates,
            min_km=min_km if min_km is not None else base.min_km,
            per_department=per_department if per_department is not None else base.per_department,
            include=_h3_list(include), exclude=_h3_list(exclude), speed_kmh=speed_kmh,
            site_level=site_level)
        if options.sites is None and options.budget is None:
            _fail(ValueError("give --sites, --budget (with --cost or --cost-base), or both"))
        if cost is not None and cost_base is not None:
            _fail(ValueError("give the cost either as a table (--cost) or by travel time "
                             "(--cost-base, --cost-per-minute), not both"))
        costs = (site_costs(result.matrix, read_table_file(cost), source=str(cost))
                 if cost is not None else None)
        if cost_base is not None:
            with _report_warnings(), _progress() as bar:
                bar.add_task(f"travel time from {cost_from} (site costs)", total=None)
                costs = travel_costs(result, base=cost_base, per_minute=cost_per_minute,
                                     origin=cost_from)
        with _report_warnings(), _progress() as bar:
            bar.add_task("reach of the candidate sites", total=None)
            sp, scored = region_problem(
                result, chosen, options=options, cost=costs, demand_column=demand_column,
                niche_min=niche_min if niche_min is not None else base.niche_min)
        if pareto:
            with _progress() as bar:
                bar.add_task(f"front of {points} points (ε-constraint)", total=None)
                front, _ = pareto_front(sp.problem, points=points)
        else:
            best = solve_cover(sp.problem)
            greedy = greedy_cover(sp.problem)
    except (GeoEngineError, KeyError, ValueError) as exc:
        _fail(exc)
    if pareto:
        _write(lambda: write_table(front, out, force=force))
        typer.echo(front[["point", "demand", "growth", "mip_gap"]].round(3).to_string(index=False))
        typer.echo(f"wrote {out}: {len(front)} plans from most inclusion to most growth")
        return
    extra = pd.DataFrame({"score": scored.score, "niche_family": result.dual.best_family,
                          "unit_code": result.matrix.get("unit_code")})
    extra = extra.merge(result.names, on="unit_code", how="left")
    table = site_table(sp, best, result.matrix, extra=extra).rename(
        columns=level_columns(result.region.levels))
    _write(lambda: write_cells(table, out, force=force))
    total = float(sp.problem.demand.sum())
    gap = (best.demand - greedy.demand) / best.demand if best.demand else 0.0
    typer.echo(f"{len(best.sites)} sites reach {best.demand:,.0f} poor people with a niche "
               f"({best.demand / max(total, 1):.1%} of those within reach of a candidate); "
               f"greedy: {greedy.demand:,.0f} ({gap:.1%} less); solved in {best.seconds:.1f} s")
    typer.echo(f"wrote {out}: {len(best.sites)} sites and {len(table) - len(best.sites):,} "
               "covered cells")
    if brief is not None:
        from geo_engine.reporting.brief import plan_brief

        page = plan_brief(result, profile_id=chosen.id, table=table, best_demand=best.demand,
                          greedy_demand=greedy.demand, reachable=total,
                          reach=options.reach_minutes, lang=lang, pdf=brief.suffix.lower() == ".pdf",
                          profile=chosen, result=scored)
        _write(lambda: write_document(page, brief, force=force))
        typer.echo(f"wrote {brief}: the plan's brief")


@app.command("app")
def run_app(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = True,
) -> None:
    """Start the Streamlit map app on the default region."""
    script = Path(__file__).resolve().parents[1] / "app.py"
    if not script.is_file():
        _fail(FileNotFoundError(f"{script} not found: the app runs from a source checkout"))
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.headless", str(headless).lower()]
    raise typer.Exit(code=subprocess.call(cmd))


def main() -> None:
    """Entry point of the ``geo-engine`` console script."""
    app()


if __name__ == "__main__":
    main()
