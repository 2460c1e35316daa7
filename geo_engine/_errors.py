"""Exception and warning classes raised by geo_engine, so callers can catch precisely."""

from typing import Any

__all__ = [
    "DataIntegrityError",
    "GeoEngineError",
    "GeoEngineWarning",
    "GridSizeError",
    "MissingSourceError",
    "OutputError",
    "OutputExistsError",
    "ScenarioError",
    "SourceFormatError",
    "SpecError",
    "validation_lines",
]


class GeoEngineError(Exception):
    """Base class of every error geo_engine raises on purpose."""


class MissingSourceError(GeoEngineError, FileNotFoundError):
    """A raw source file or a curated data file that a step needs is not there."""


class SourceFormatError(GeoEngineError, ValueError):
    """A source file is there but its content is not what the step expects (columns, codes, CRS)."""


class DataIntegrityError(GeoEngineError, ValueError):
    """Curated data does not match its manifest (checksum, feature count, missing entry)."""


class GeoEngineWarning(UserWarning):
    """Something was done to the data that the user should know about (repairs, drops)."""


class GridSizeError(GeoEngineError, ValueError):
    """A grid would have more cells than allowed; choose a coarser resolution or force it."""


class OutputError(GeoEngineError, OSError):
    """An output file cannot be written (folder, permission, disk space, name); says which and the fix."""


class OutputExistsError(OutputError, FileExistsError):
    """The output file exists and overwriting it was not asked for (``--force``)."""


class SpecError(GeoEngineError, ValueError):
    """A layer or profile spec file is invalid; the message names the file, layer and field."""


class ScenarioError(SpecError):
    """A scenario file or link cannot be read; the message (English) names the file, key and value.

    ``problems`` holds each problem as a message id of :data:`geo_engine.i18n.MESSAGES` and its
    fields, so that the app can say them in the user's language.
    """

    def __init__(self, message: str, problems: tuple[tuple[str, dict[str, str]], ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


def validation_lines(exc: Any, *, prefix: str, whole: str, word: str = "key",
                     hide: tuple[type, ...] = (dict, list)) -> str:
    """Return a pydantic ``ValidationError`` as one line per problem: where, what, which value.

    Each line reads ``{prefix}: {word} `a.b`: message (value: ...)``; ``whole`` names the
    location of errors about the whole object, and values of the ``hide`` types are not shown.
    """
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or whole
        value = err.get("input")
        shown = "" if isinstance(value, hide) else f" (value: {value!r})"
        lines.append(f"{prefix}: {word} `{loc}`: {err['msg']}{shown}")
    return "\n".join(lines)
