"""Row filters of layer specs: a small grammar of comparisons, parsed with :mod:`ast`, evaluated with pandas.

A layer's ``filter:`` keeps the features or rows of its source for which it is true::

    harbour_size in ['small', 'medium', 'large']
    commodity_group == 'copper' and stage == 'mine'
    1000 <= population < 50000 or capital
    iata.notna()

The grammar: column names; numbers, quoted text, ``True`` and ``False``; comparisons ``==``, ``!=``,
``<``, ``<=``, ``>``, ``>=`` (chained as in ``1 <= x < 5``); ``in [...]`` and ``not in [...]`` with a
list of values; ``and``, ``or``, ``not`` and parentheses; ``column.isna()`` and ``column.notna()``; a
true/false column on its own. Nothing else: no ``@`` variables, attribute access, calls, indexing,
arithmetic, lambdas or comprehensions. The text is turned into a tree of those forms only and
evaluated with pandas' element-wise operators, never with ``eval``, ``DataFrame.eval`` or ``query``,
so a filter can compare a row's values and do nothing else.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo_engine import settings
from geo_engine._errors import SpecError

__all__ = ["MAX_DEPTH", "Filter", "parse_filter"]

MAX_DEPTH = 20
"""Deepest nesting of conditions (``not``, ``and``/``or``, parentheses) a filter may have."""

_EXAMPLE = "e.g. size in ['large', 'medium'] and population >= 10000"
_FIX = f"write comparisons of columns with values joined by and/or/not, {_EXAMPLE}"

_COMPARISONS: dict[type[ast.cmpop], str] = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=",
                                            ast.Gt: ">", ast.GtE: ">="}
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge}
_NULL_TESTS = {"isna": True, "isnull": True, "notna": False, "notnull": False}
_NAMED = {ast.Lambda: "a lambda", ast.IfExp: "an if-else expression", ast.Dict: "a mapping",
          ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
          ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
          ast.NamedExpr: "an assignment ':='", ast.Starred: "a starred '*' value",
          ast.JoinedStr: "an f-string", ast.Subscript: "indexing", ast.Slice: "a slice",
          ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield"}

Scalar = bool | int | float | str


@dataclass(frozen=True)
class _Column:
    name: str


@dataclass(frozen=True)
class _Value:
    value: Scalar


@dataclass(frozen=True)
class _Compare:
    op: str
    left: _Column | _Value
    right: _Column | _Value


@dataclass(frozen=True)
class _Member:
    column: _Column
    values: tuple[Scalar, ...]
    negate: bool


@dataclass(frozen=True)
class _Missing:
    column: _Column
    missing: bool


@dataclass(frozen=True)
class _Logic:
    op: str
    parts: tuple[_Condition, ...]


@dataclass(frozen=True)
class _Not:
    part: _Condition


_Condition = _Column | _Value | _Compare | _Member | _Missing | _Logic | _Not


@dataclass(frozen=True)
class Filter:
    """A parsed filter: its text, the columns it reads, and a tree of allowed forms only.

    Build it with :func:`parse_filter`.
    """

    text: str
    columns: frozenset[str]
    _root: _Condition

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """Return one true/false per row of ``frame``: whether the row passes the filter.

        A comparison with a missing value is false, except ``!=`` (and ``not in``) which is true,
        whatever the column's dtype (the rule of NaN in numpy and pandas); a missing value in a
        true/false column is unknown, so ``x`` and ``not x`` both leave its row out (Kleene's
        logic, as pandas' nullable booleans).

        Raises
        ------
        SpecError
            When the filter names a column ``frame`` does not have, uses a column that is not
            true/false as a condition, or compares values that cannot be compared (text with a
            number); the message names the part and lists the columns.
        """
        missing = sorted(c for c in self.columns if c not in frame.columns)
        if missing:
            msg = (f"filter {_short(self.text)} names {_plural(missing, 'column')} that the data does "
                   f"not have; columns are {[str(c) for c in frame.columns][:25]}")
            raise SpecError(msg)
        true, _ = _evaluate(self._root, frame, self.text)
        return true


def parse_filter(text: str) -> Filter:
    """Parse a layer's filter, refusing anything outside the grammar of :mod:`geo_engine.ingest.filters`.

    Parameters
    ----------
    text : str
        The filter, e.g. ``"harbour_size in ['small', 'medium'] and iata.notna()"``.

    Returns
    -------
    Filter

    Raises
    ------
    SpecError
        For text that is empty, longer than :data:`geo_engine.settings.max_filter_chars`, not an
        expression, nested deeper than :data:`MAX_DEPTH`, or using a form outside the grammar
        (``@``, attribute access, calls, indexing, arithmetic…); the message names the offending
        part and says what to write instead.

    Examples
    --------
    >>> sorted(parse_filter("stage == 'mine' and tonnes > 0").columns)
    ['stage', 'tonnes']
    """
    if not isinstance(text, str) or not text.strip():
        msg = f"filter {text!r} is empty; {_FIX}, or leave `filter` out"
        raise SpecError(msg)
    if len(text) > settings.max_filter_chars:
        msg = (f"filter {_short(text)} has {len(text):,} characters, more than the "
               f"{settings.max_filter_chars:,} allowed; split the layer or prepare the column beforehand")
        raise SpecError(msg)
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise SpecError(_syntax_message(text, exc)) from exc
    root = _Parser(source, text).condition(tree.body, 0)
    return Filter(text=text, columns=frozenset(_columns(root)), _root=root)


def _short(text: object, limit: int = 120) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "…'"


def _plural(names: list[str], word: str) -> str:
    return f"{word} {names[0]!r}" if len(names) == 1 else f"{word}s {names}"


def _syntax_message(text: str, exc: BaseException) -> str:
    if "@" in text:
        return (f"filter {_short(text)} uses '@', which reaches the program's variables and which "
                f"filters do not allow; {_FIX}")
    if isinstance(exc, SyntaxError) and exc.msg:
        where = f" at character {exc.offset}" if exc.offset else ""
        return f"filter {_short(text)} is not a valid condition ({exc.msg}{where}); {_FIX}"
    return f"filter {_short(text)} is not a valid condition; {_FIX}"


class _Parser:
    """Turns a parsed expression into the filter tree; refuses every other node type."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.text = text

    def refuse(self, node: ast.AST, what: str, fix: str = _FIX) -> SpecError:
        part = ast.get_source_segment(self.source, node) or type(node).__name__
        return SpecError(f"filter {_short(self.text)} uses {what} {_short(part, 60)}, which filters "
                         f"do not allow; {fix}")

    def condition(self, node: ast.AST, depth: int) -> _Condition:
        if depth > MAX_DEPTH:
            msg = (f"filter {_short(self.text)} nests conditions more than {MAX_DEPTH} levels deep; "
                   "write it flatter")
            raise SpecError(msg)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return _Logic(op, tuple(self.condition(v, depth + 1) for v in node.values))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return _Not(self.condition(node.operand, depth + 1))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.null_test(node)
        if isinstance(node, ast.Name):
            return self.column(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return _Value(node.value)
        if isinstance(node, ast.Constant | ast.List | ast.Tuple | ast.Set) or (
                isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)):
            raise self.refuse(node, "a value alone as a condition",
                              f"compare a column with it, {_EXAMPLE}")
        raise self.other(node)

    def other(self, node: ast.AST) -> SpecError:
        if isinstance(node, ast.Attribute):
            return self.refuse(node, f"attribute access '.{node.attr}' in")
        if isinstance(node, ast.Call):
            return self.refuse(node, "the call")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.MatMult):
                return self.refuse(node, "'@' in")
            if isinstance(node.op, ast.BitAnd | ast.BitOr):
                return self.refuse(node, "'&' or '|' in", "write `and` / `or` instead, "
                                   "e.g. (a == 1) and (b == 2)")
            return self.refuse(node, "arithmetic", "prepare the column beforehand and compare it "
                               "with a value, e.g. share >= 0.5")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return self.refuse(node, "'~' in", "write `not` instead, e.g. not (a == 1)")
        for kind, what in _NAMED.items():
            if isinstance(node, kind):
                return self.refuse(node, what)
        return self.refuse(node, "the expression")

    def column(self, node: ast.AST) -> _Column:
        if not isinstance(node, ast.Name):
            raise self.other(node)
        if node.id.startswith("__"):
            raise self.refuse(node, "the name", "names starting with '__' are not column names; "
                              + _FIX)
        return _Column(node.id)

    def operand(self, node: ast.AST) -> _Column | _Value:
        if isinstance(node, ast.Name):
            return self.column(node)
        return _Value(self.value(node))

    def value(self, node: ast.AST) -> Scalar:
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            sign = -1 if isinstance(node.op, ast.USub) else 1
            inner = node.operand
            if not (isinstance(inner, ast.Constant) and isinstance(inner.value, int | float)
                    and not isinstance(inner.value, bool)):
                raise self.refuse(node, "a sign before something that is not a number:")
            return sign * inner.value
        if isinstance(node, ast.Constant):
            if node.value is None:
                raise self.refuse(node, "the empty value", "to keep rows without a value write column.isna() "
                                  "(or column.notna() for rows with one)")
            if isinstance(node.value, bool | int | float | str):
                return node.value
            raise self.refuse(node, "the value", "write numbers, quoted text, True or False")
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            raise self.refuse(node, "a list outside `in`:", "compare with a list only through "
                              "`in` / `not in`, e.g. size in ['large', 'medium']")
        if isinstance(node, ast.Name):
            raise self.refuse(node, "a column in a list of values:", "list values only, e.g. "
                              "size in ['large', 'medium']")
        if isinstance(node, ast.Call):
            self.null_test(node)  # refuses any other call
        if isinstance(node, ast.Compare | ast.BoolOp | ast.Call) or (
                isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            raise self.refuse(node, "a condition as a value in", "compare columns with values; "
                              "write a test such as x.isna() on its own, joined by and/or/not")
        raise self.other(node)

    def compare(self, node: ast.Compare) -> _Condition:
        ops = node.ops
        if any(isinstance(op, ast.In | ast.NotIn) for op in ops):
            if len(ops) != 1:
                raise self.refuse(node, "`in` chained with other comparisons:",
                                  "join them with `and`, e.g. size in ['a', 'b'] and n > 1")
            return self.member(node)
        pairs = []
        left = self.operand(node.left)
        for op, right_node in zip(ops, node.comparators, strict=True):
            if type(op) not in _COMPARISONS:
                raise self.refuse(node, "'is' in", "write == or != (or column.isna() to test for "
                                  "no value)")
            right = self.operand(right_node)
            if isinstance(left, _Value) and isinstance(right, _Value):
                raise self.refuse(node, "a comparison of two values without a column:")
            pairs.append(_Compare(_COMPARISONS[type(op)], left, right))
            left = right
        return pairs[0] if len(pairs) == 1 else _Logic("and", tuple(pairs))

    def member(self, node: ast.Compare) -> _Member:
        if not isinstance(node.left, ast.Name):
            raise self.refuse(node, "`in` without a column on its left:",
                              "write column in [values], e.g. size in ['large', 'medium']")
        column = self.column(node.left)
        values = node.comparators[0]
        if not isinstance(values, ast.List | ast.Tuple | ast.Set):
            raise self.refuse(node, "`in` without a list of values on its right:",
                              "write column in [values], e.g. size in ['large', 'medium']")
        return _Member(column, tuple(self.value(v) for v in values.elts),
                       negate=isinstance(node.ops[0], ast.NotIn))

    def null_test(self, node: ast.Call) -> _Missing:
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr in _NULL_TESTS
                and isinstance(func.value, ast.Name)):
            raise self.other(func if isinstance(func, ast.Attribute) else node)
        if node.args or node.keywords:
            raise self.refuse(node, "arguments in", f"write {func.attr}() with nothing inside, "
                              "e.g. iata.notna()")
        return _Missing(self.column(func.value), missing=_NULL_TESTS[func.attr])


def _columns(node: _Condition) -> Iterator[str]:
    if isinstance(node, _Column):
        yield node.name
    elif isinstance(node, _Compare):
        for side in (node.left, node.right):
            yield from _columns(side)
    elif isinstance(node, _Member | _Missing):
        yield node.column.name
    elif isinstance(node, _Logic):
        for part in node.parts:
            yield from _columns(part)
    elif isinstance(node, _Not):
        yield from _columns(node.part)


def _operand(node: _Column | _Value, frame: pd.DataFrame) -> Any:
    return frame[node.name] if isinstance(node, _Column) else node.value


def _evaluate(node: _Condition, frame: pd.DataFrame, text: str) -> tuple[np.ndarray, np.ndarray]:
    """Return, per row, whether the condition is surely true and whether it is surely false.

    Notes
    -----
    A comparison with a missing value is false, except ``!=`` which is true (the rule of NaN in
    numpy and pandas, applied to every dtype), so comparisons are always true or false. Only a
    true/false column can be unknown where it has no value; ``and``, ``or`` and ``not`` then
    follow Kleene's three-valued logic, as pandas' nullable booleans do, and a row is kept when
    its condition is surely true.
    """
    if isinstance(node, _Logic):
        parts = [_evaluate(p, frame, text) for p in node.parts]
        trues, falses = np.array([t for t, _ in parts]), np.array([f for _, f in parts])
        if node.op == "and":
            return np.asarray(trues.all(axis=0)), np.asarray(falses.any(axis=0))
        return np.asarray(trues.any(axis=0)), np.asarray(falses.all(axis=0))
    if isinstance(node, _Not):
        true, false = _evaluate(node.part, frame, text)
        return false, true
    if isinstance(node, _Column):
        column = frame[node.name]
        if not pd.api.types.is_bool_dtype(column.dtype):
            msg = (f"filter {_short(text)} uses column {node.name!r} ({column.dtype}) as a condition, "
                   f"but it does not hold true/false; compare it with a value, e.g. {node.name} > 0")
            raise SpecError(msg)
        return (column.to_numpy(dtype=bool, na_value=False),
                ~column.to_numpy(dtype=bool, na_value=True))
    if isinstance(node, _Value):
        value = np.full(len(frame), bool(node.value))
    elif isinstance(node, _Missing):
        column = frame[node.column.name]
        value = (column.isna() if node.missing else column.notna()).to_numpy(dtype=bool)
    elif isinstance(node, _Member):
        value = frame[node.column.name].isin(list(node.values)).to_numpy(dtype=bool, na_value=False)
        value = ~value if node.negate else value
    else:
        value = _compare(node, frame, text)
    return value, ~value


def _compare(node: _Compare, frame: pd.DataFrame, text: str) -> np.ndarray:
    left, right = _operand(node.left, frame), _operand(node.right, frame)
    try:
        out = _OPERATORS[node.op](left, right)
    except (TypeError, ValueError, NotImplementedError) as exc:
        lhs, rhs = (s.name if isinstance(s, _Column) else repr(s.value) for s in (node.left, node.right))
        msg = (f"filter {_short(text)} cannot compare {lhs} {node.op} {rhs} "
               f"(text with a number?): {str(exc).splitlines()[0][:120]}; compare text with quoted "
               "text and numbers with numbers")
        raise SpecError(msg) from exc
    return np.asarray(out.to_numpy(dtype=bool, na_value=node.op == "!="), dtype=bool)
