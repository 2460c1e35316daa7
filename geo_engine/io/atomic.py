"""Write output files whole or not at all, and say in one line why one cannot be written."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from geo_engine._errors import GeoEngineError, OutputError, OutputExistsError

__all__ = ["atomic_output", "check_output", "output_error"]

_TEMP_PREFIX = ".geo-engine-"
"""Start of the hidden temporary files outputs are written to, next to where they will appear."""

_REASONS = {
    errno.ENOSPC: "the disk is full; free some space or write to another disk",
    errno.EDQUOT: "the disk quota is used up; free some space or write to another disk",
    errno.ENAMETOOLONG: "the file name is too long; choose a shorter name",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "permission denied; choose a folder you can write to",
    errno.EROFS: "the folder is on a read-only disk; choose a folder you can write to",
    errno.ENOENT: "its folder does not exist; create it or choose another folder",
    errno.ENOTDIR: "a part of its folder path is a file, not a folder; choose another folder",
    errno.EISDIR: "it is a folder; give a file name",
}
"""What went wrong and how to fix it, by ``errno`` of the failed system call."""

_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV}
"""``link`` errors of file systems without hard links (FAT, some network shares)."""


def output_error(path: Path, exc: BaseException) -> OutputError:
    """Return the one-line :class:`OutputError` for a failed write of ``path``.

    Parameters
    ----------
    path : pathlib.Path
        The output file being written.
    exc : BaseException
        What failed: an ``OSError`` (its ``errno`` picks the reason and fix) or a GDAL error.

    Returns
    -------
    OutputError
        :class:`OutputExistsError` when the file exists, else :class:`OutputError`; the message
        names the path, the reason and the fix, and says when an existing file was kept.
    """
    code = getattr(exc, "errno", None)
    if isinstance(exc, FileExistsError) or code == errno.EEXIST:
        return OutputExistsError(f"{path} exists; pass --force to overwrite it")
    reason = _REASONS.get(code or 0) or (getattr(exc, "strerror", None) or str(exc)).strip()
    kept = "; the existing file is unchanged" if _lexists(path) and code != errno.EISDIR else ""
    return OutputError(f"cannot write {path}: {reason}{kept}")


def check_output(path: str | os.PathLike[str], *, force: bool, suffixes: Sequence[str] = ()
                 ) -> Path:
    """Check that ``path`` can be written, before a long computation produces its content.

    Parameters
    ----------
    path : str or path-like
        The output file.
    force : bool
        Whether an existing file may be replaced.
    suffixes : sequence of str, optional
        The file types allowed (``".csv"``…); any when empty.

    Returns
    -------
    pathlib.Path
        ``path``, with its folder created if it was missing.

    Raises
    ------
    OutputError
        When the suffix is not allowed, the folder cannot be created or written to (a file and a
        temporary file are tried there), or the name is longer than the file system allows.
    OutputExistsError
        When the file exists and not ``force``.
    """
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        msg = f"{path.name}: the output must end in one of {', '.join(suffixes)}"
        raise OutputError(msg)
    if len(os.fsencode(path.name)) > _name_max(path.parent):
        raise output_error(path, OSError(errno.ENAMETOOLONG, "name too long"))
    _make_folder(path)
    if path.is_dir():
        raise output_error(path, IsADirectoryError(errno.EISDIR, "is a folder"))
    if _lexists(path) and not force:
        raise output_error(path, FileExistsError(errno.EEXIST, "exists"))
    try:
        fd, probe = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
        os.close(fd)
        Path(probe).unlink()
    except OSError as exc:
        raise output_error(path, exc) from exc
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, force: bool) -> Iterator[Path]:
    """Give a temporary path to write to; it becomes ``path`` only once completely written.

    Parameters
    ----------
    path : str or path-like
        The output file; its folder is created if missing.
    force : bool
        Replace an existing file. Without it the file is created exclusively: if it exists, or
        another run creates it meanwhile, :class:`OutputExistsError` is raised and nothing is
        overwritten.

    Yields
    ------
    pathlib.Path
        A hidden path with a unique name in the same folder, ending like ``path`` (nothing is
        there yet, as GDAL drivers want to create their file themselves).

    Raises
    ------
    OutputError
        For any ``OSError`` (permission, full disk, name too long…) or GDAL error while writing;
        an existing file is then left as it was.

    Notes
    -----
    The file is flushed to disk (``fsync``) and then renamed (``os.replace``) with ``force``, or
    hard-linked to its name (``os.link``, which fails when the name exists) without it. The
    temporary file, and any side file a writer left next to it (a GeoPackage journal), are
    removed whatever happens.
    """
    path = Path(path)
    _make_folder(path)
    if _lexists(path) and not force:
        raise output_error(path, FileExistsError(errno.EEXIST, "exists"))
    try:
        fd, name = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{path.stem[:32]}.",
                                    suffix=path.suffix[:16], dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        tmp.unlink()
    except OSError as exc:
        raise output_error(path, exc) from exc
    try:
        yield tmp
        if not tmp.is_file():
            msg = f"cannot write {path}: the writer produced no file; nothing was changed"
            raise OutputError(msg)
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        _publish(tmp, path, force=force)
        _sync_folder(path.parent)
    except GeoEngineError:
        raise
    except _write_errors() as exc:
        raise output_error(path, exc) from exc
    finally:
        for left in path.parent.glob(f"{glob.escape(tmp.name)}*"):
            left.unlink(missing_ok=True)


def _write_errors() -> tuple[type[Exception], ...]:
    """Exceptions a writer raises when the file system refuses: ``OSError`` and GDAL's."""
    from pyogrio.errors import DataSourceError

    return (OSError, DataSourceError)


def _publish(tmp: Path, path: Path, *, force: bool) -> None:
    """Give the written file its name: replace with ``force``, else create the name exclusively."""
    if force:
        tmp.replace(path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # claim the name
        tmp.replace(path)


def _make_folder(path: Path) -> None:
    """Create the folder of ``path`` if missing, or raise :class:`OutputError` saying why not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # a file stands where a folder should be
        raise output_error(path, NotADirectoryError(errno.ENOTDIR, "not a folder")) from exc
    except OSError as exc:
        raise output_error(path, exc) from exc


def _lexists(path: Path) -> bool:
    """Whether anything (file, folder, link) has this name; ``False`` when it cannot be looked up."""
    try:
        os.lstat(path)
    except (OSError, ValueError):
        return False
    return True


def _sync_folder(folder: Path) -> None:
    """Flush a folder's new entry to disk, where the system allows it (not on Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _name_max(folder: Path) -> int:
    """Longest file name, in bytes, the folder's file system accepts."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return 255
