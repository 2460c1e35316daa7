"""Command-line interface: ``geo-engine COMMAND``; run ``geo-engine --help`` for the list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from geo_engine import __version__, settings
from geo_engine._errors import GeoEngineError

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

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Curated data folder (default: the project's data/).",
                 file_okay=False),
]


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


@data_app.command("list")
def data_list(data_dir: DataDir = None) -> None:
    """List every curated dataset: id, features, licence, vintage and file."""
    from geo_engine.manifest import load_manifest

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
    from geo_engine.manifest import load_manifest, verify_manifest

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
                     "places, environment."),
    ] = None,
) -> None:
    """Rebuild the curated Peru data from the raw sources; the old files stay until all succeed."""
    from geo_engine.curate import rebuild

    try:
        entries = rebuild(source, data_dir=data_dir, steps=step)
    except (GeoEngineError, ValueError, ImportError) as exc:
        _fail(exc)
    typer.echo(f"rebuilt {len(entries)} datasets into {data_dir or settings.data_dir}")


@data_app.command("prepare")
def data_prepare(data_dir: DataDir = None) -> None:
    """Check the data and build the display cache the app uses (fast when already there)."""
    from geo_engine.datasets import display_districts
    from geo_engine.manifest import verify_manifest

    try:
        verify_manifest(data_dir)
        districts = display_districts(data_dir=data_dir)
    except GeoEngineError as exc:
        _fail(exc)
    typer.echo(f"ready: {len(districts)} districts cached in {settings.cache_dir}")


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
