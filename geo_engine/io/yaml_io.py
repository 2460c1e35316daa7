"""Read the YAML files the product is given (specs, profiles, region files) with a size cap and no aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from geo_engine import settings
from geo_engine._errors import SpecError, validation_lines

M = TypeVar("M", bound=BaseModel)

__all__ = ["dump_yaml", "load_model", "load_yaml"]


class _AnchorError(yaml.MarkedYAMLError):
    """An anchor (``&name``) or alias (``*name``) met while composing the document."""


class _PlainLoader(yaml.SafeLoader):
    """The safe loader (plain data only), refusing anchors and aliases as soon as they appear.

    An alias repeats a node without copying it in the file, so a file of a few hundred bytes can
    stand for billions of values (the "billion laughs"); specs never need one, so none is
    allowed, and the refusal comes before anything is expanded.
    """

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AnchorError(problem="a YAML anchor (&) or alias (*)", problem_mark=event.start_mark)
        return super().compose_node(parent, index)  # type: ignore[no-untyped-call]


class _PlainDumper(yaml.SafeDumper):
    """The safe dumper, writing a value used twice out twice instead of as an anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(doc: Any, *, width: int = 80) -> str:
    """Return ``doc`` as YAML text that :func:`load_yaml` reads back (keys in order, no aliases)."""
    return yaml.dump(doc, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=width)


def load_yaml(path: str | Path, *, what: str) -> Any:
    """Return the content of a YAML file given by a user, or raise one clear line.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    what : str
        What the file is, for messages: ``"layer spec"``, ``"profile"``, ``"region file"``…

    Returns
    -------
    object
        Plain data: mappings, lists, text, numbers, booleans, dates, ``None`` (an empty file).

    Raises
    ------
    SpecError
        When the file is missing or unreadable, larger than
        :data:`geo_engine.settings.max_spec_bytes`, not UTF-8, not valid YAML (the message gives
        the line), uses an anchor or alias, or is nested too deeply.

    Notes
    -----
    Anchors and aliases are refused outright rather than capped: each alias of an alias multiplies
    the document, so nine levels of ten aliases are 10⁹ values written in under 1 KB.
    """
    path = Path(path)
    limit = settings.max_spec_bytes
    try:
        if not path.is_file():
            msg = f"{path}: {what} not found (or not a file)"
            raise SpecError(msg)
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        msg = f"{path}: cannot read the {what} ({exc.strerror or exc}); check the path and permissions"
        raise SpecError(msg) from exc
    if len(data) > limit:
        msg = (f"{path}: the {what} is larger than {limit:,} bytes (settings.max_spec_bytes); a "
               f"{what} is a short text file: check that this is the right file")
        raise SpecError(msg)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{path}: the {what} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        raise SpecError(msg) from exc
    try:
        return yaml.load(text, Loader=_PlainLoader)  # a SafeLoader subclass: plain data only
    except _AnchorError as exc:
        msg = (f"{path}{_line(exc)}: the {what} uses a YAML anchor (&) or alias (*), which are "
               "not accepted (a few of them can expand a small file into billions of values); "
               "write each value out in full")
        raise SpecError(msg) from exc
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        msg = (f"{path}{_line(exc)}: the {what} is not valid YAML ({problem}); check the "
               "indentation, colons and quotes on that line or the one before")
        raise SpecError(msg) from exc
    except RecursionError as exc:
        msg = f"{path}: the {what} nests lists or mappings too deeply to be a {what}; flatten it"
        raise SpecError(msg) from exc
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        msg = f"{path}: the {what} holds a value that cannot be read ({exc}); check its numbers"
        raise SpecError(msg) from exc


def load_model(path: str | Path, model: type[M], *, what: str, keys: str) -> M:
    """Return a YAML mapping validated by a pydantic model; every problem on a line of its own.

    ``what`` names the file for messages (``"scenario"``) and ``keys`` the keys it expects
    (``"id, profile, weights…"``). Raises :class:`SpecError` naming the file, the key and the value.
    """
    path = Path(path)
    doc = load_yaml(path, what=what)
    if not isinstance(doc, dict):
        msg = f"{path}: a {what} is a mapping with {keys}"
        raise SpecError(msg)
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise SpecError(f"invalid {what}:\n" + validation_lines(exc, prefix=str(path),
                                                              whole=f"({what})")) from exc


def _line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f", line {mark.line + 1}" if mark is not None else ""
