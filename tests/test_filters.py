"""Layer filters: the grammar, refusals of everything else, the shipped filters, and a fuzz."""

from __future__ import annotations

import ast
import builtins
import contextlib
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geo_engine._errors import SpecError
from geo_engine.ingest.filters import MAX_DEPTH, parse_filter
from geo_engine.ingest.specs import default_layers_path, load_layers


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "size": pd.Series(["large", "small", None, "medium"], dtype="string"),
        "population": pd.Series([50_000, None, 900, 12_000], dtype="Int64"),
        "share": [0.5, np.nan, 0.1, 0.9],
        "urban": [True, False, True, False],
        "code": ["01", "02", "03", "04"],
    })


def _rows(text: str, frame: pd.DataFrame) -> list[int]:
    return np.flatnonzero(parse_filter(text).evaluate(frame)).tolist()


@pytest.mark.parametrize(("text", "rows"), [
    ("size in ['large', 'medium']", [0, 3]),
    ("size not in ['large', 'medium']", [1, 2]),
    ("size == 'large' or population < 1000", [0, 2]),
    ("population >= 10000", [0, 3]),
    ("1000 <= population < 20000", [3]),
    ("population.notna() and not urban", [3]),
    ("share.isna()", [1]),
    ("urban", [0, 2]),
    ("not (urban and share > 0.2)", [1, 2, 3]),
    ("share != 0.5", [1, 2, 3]),  # a missing value is "not equal", as in pandas
    ("code == '02'", [1]),
    ("share > -1 and True", [0, 2, 3]),
    ("  population > 20000  ", [0]),
    ("share < population", [0, 2, 3]),
])
def test_grammar(frame, text, rows):
    assert _rows(text, frame) == rows
    assert _rows(text, frame) == np.flatnonzero(
        frame.eval(text.strip(), engine="python").fillna(False).to_numpy(dtype=bool)).tolist()


def test_columns_are_listed():
    assert parse_filter("a == 1 and (b.isna() or c in [1]) and d").columns == {"a", "b", "c", "d"}


@pytest.mark.hostile
@pytest.mark.parametrize(("text", "match"), [
    ("@settings.os.system('touch X')", r"uses '@', which reaches the program's variables"),
    ("@pd.read_csv('/etc/passwd')", r"uses '@'"),
    ("a @ b", r"uses '@' in 'a @ b'"),
    ("size.str.len() > 3", r"uses attribute access '\.len' in 'size\.str\.len'"),
    ("a.b", r"uses attribute access '\.b' in 'a\.b', which filters do not allow; write comparisons"),
    ("__import__('os').system('x')", r"uses attribute access '\.system'"),
    ("__import__('os')", r"uses the call \"__import__\('os'\)\""),
    ("open('/etc/passwd')", r"uses the call"),
    ("__class__", r"uses the name '__class__'.*names starting with '__' are not column names"),
    ("().__class__.__bases__", r"attribute access '\.__bases__'"),
    ("a[0] == 1", r"uses indexing 'a\[0\]'"),
    ("(lambda: 1)()", r"the call"),
    ("lambda: 1", r"uses a lambda"),
    ("[x for x in a]", r"uses a comprehension"),
    ("a if b else c", r"an if-else expression"),
    ("(a := 1)", r"an assignment"),
    ("a + 1 > 2", r"uses arithmetic 'a \+ 1'.*prepare the column beforehand"),
    ("a & b", r"'&' or '\|'.*write `and` / `or` instead"),
    ("~a", r"'~'.*write `not` instead"),
    ("a == None", r"the empty value 'None'.*column\.isna\(\)"),
    ("a is None", r"'is'.*write == or !="),
    ("a in b", r"`in` without a list of values on its right"),
    ("'x' in a", r"`in` without a column on its left"),
    ("a in [1] == b", r"`in` chained"),
    ("a in [b]", r"uses a column in a list of values: 'b'"),
    ("a == [1, 2]", r"a list outside `in`"),
    ("1 == 1", r"a comparison of two values without a column"),
    ("5", r"a value alone as a condition"),
    ("a.notna(1)", r"arguments in 'a\.notna\(1\)'"),
    ("a.isna() == True", r"a condition as a value"),
    ("a == b'x'", r"the value \"b'x'\".*write numbers, quoted text, True or False"),
    ("a == f'{b}'", r"an f-string"),
    ("a ==", r"is not a valid condition \(invalid syntax"),
    ("a == 1\x00", r"is not a valid condition"),
    ("", r"is empty"),
    ("(" * 300 + "a" + ")" * 300, r"is not a valid condition"),
    ("not " * (MAX_DEPTH + 1) + "a", rf"more than {MAX_DEPTH} levels deep"),
    ("a == 1 or " * 200 + "a == 1", r"more than the 1,000 allowed"),
])
def test_everything_else_is_refused(text, match):
    with pytest.raises(SpecError, match=match):
        parse_filter(text)


@pytest.mark.hostile
@pytest.mark.parametrize("text", ["@settings.os.system('touch X')", "@pd.read_csv('/etc/passwd')"])
def test_code_in_a_spec_filter_does_nothing_and_is_refused(tmp_path, monkeypatch, text):
    """A filter reaching the program's variables through '@' was run by DataFrame.eval."""
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "layers.yaml"
    spec.write_text(f"""\
layers:
  - id: ports
    title: {{es: Puertos, en: Ports}}
    theme: infrastructure
    kind: points
    source: ports.parquet
    method: count
    filter: "{text}"
    units: count
    direction: benefit
""")
    with pytest.raises(SpecError, match=rf"{spec}: layer 'ports': field `filter`: .*uses '@'"):
        load_layers(spec)
    assert not (tmp_path / "X").exists()


@pytest.mark.hostile
def test_unknown_and_unfit_columns_at_evaluation(frame):
    with pytest.raises(SpecError, match=r"names columns \['nope', 'other'\] that the data does not "
                       r"have; columns are \['size', 'population'"):
        parse_filter("nope == 1 and other > 2").evaluate(frame)
    with pytest.raises(SpecError, match=r"uses column 'share' \(float64\) as a condition, but it does "
                       r"not hold true/false; compare it with a value, e.g\. share > 0"):
        parse_filter("share").evaluate(frame)
    with pytest.raises(SpecError, match=r"cannot compare size < 5 \(text with a number\?\)"):
        parse_filter("size < 5").evaluate(frame)


def _shipped_filters() -> list[tuple[str, str, str, str]]:
    out = []
    for region in ("peru", "brazil", "latam"):
        for spec in load_layers(default_layers_path(region)):
            if spec.filter:
                out.append((region, spec.id, spec.source, spec.filter))
    return out


@pytest.mark.parametrize(("region", "layer", "source", "text"), _shipped_filters(),
                         ids=[f"{r}-{i}" for r, i, _, _ in _shipped_filters()])
def test_shipped_filters_keep_the_same_rows(data_dir, region, layer, source, text):
    """Each shipped filter keeps exactly the rows pandas' query kept on the shipped data."""
    frame = pd.read_parquet(data_dir / source)
    expected = frame.eval(text, engine="python").fillna(False).to_numpy(dtype=bool)
    got = parse_filter(text).evaluate(frame)
    np.testing.assert_array_equal(got, expected)
    assert got.sum() > 0, layer


# --- fuzz ----------------------------------------------------------------------------------------

_FRAME = pd.DataFrame({
    "f": [0.0, 1.5, np.nan, -2.0, 7.0],
    "i": [1, 2, 3, 4, 5],
    "s": pd.Series(["a", "b", None, "c", "b"], dtype="string"),
    "b": [True, False, True, True, False],
    "nb": pd.Series([True, None, False, True, None], dtype="boolean"),
})
_NUMBERS = st.one_of(st.integers(-10, 10), st.sampled_from([0.5, -1.5, 2.25, 1e3]))
_TEXTS = st.sampled_from(["'a'", "'b'", "'zz'", '"c"'])


@contextlib.contextmanager
def _no_execution() -> Iterator[None]:
    """Make eval, exec and pandas' eval/query fail the test if anything calls them."""
    def refuse(*args, **kwargs):
        raise AssertionError("a filter was executed")

    with pytest.MonkeyPatch.context() as patch:
        for target, name in [(builtins, "eval"), (builtins, "exec"), (pd, "eval"),
                             (pd.DataFrame, "eval"), (pd.DataFrame, "query")]:
            patch.setattr(target, name, refuse)
        yield


def _parse_and_evaluate(text: str) -> None:
    """Parse and evaluate a filter on a small frame; only SpecError may come out, nothing runs."""
    with _no_execution():
        try:
            mask = parse_filter(text).evaluate(_FRAME)
        except SpecError:
            return
    assert mask.dtype == bool
    assert mask.shape == (len(_FRAME),)


@st.composite
def _comparison(draw) -> str:
    kind = draw(st.sampled_from(["num", "text", "in", "null", "bool", "cols", "chain"]))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if kind == "num":
        col, value = draw(st.sampled_from(["f", "i"])), draw(_NUMBERS)
        return f"{col} {op} {value}" if draw(st.booleans()) else f"{value} {op} {col}"
    if kind == "text":
        return f"s {draw(st.sampled_from(['==', '!=']))} {draw(_TEXTS)}"
    if kind == "in":
        col = draw(st.sampled_from(["f", "i", "s"]))
        items = draw(st.lists(_TEXTS if col == "s" else _NUMBERS.map(str), max_size=3))
        return f"{col} {draw(st.sampled_from(['in', 'not in']))} [{', '.join(items)}]"
    if kind == "null":
        return f"{draw(st.sampled_from(['f', 's', 'nb']))}.{draw(st.sampled_from(['isna', 'notna']))}()"
    if kind == "bool":
        return draw(st.sampled_from(["b", "nb"]))
    if kind == "cols":
        return f"f {op} i"
    return f"{draw(_NUMBERS)} < f <= {draw(_NUMBERS)}"


_CONDITIONS = st.recursive(
    _comparison(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda c: f"not ({c})"),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CONDITIONS)
def test_fuzz_valid_filters_match_pandas(text):
    """Every generated expression of the grammar keeps the rows pandas' own evaluation keeps."""
    try:
        expected = _FRAME.eval(text, engine="python")
    except TypeError:  # pandas cannot combine a missing true/false with `and`: nothing to compare
        assume(False)
    expected = expected.fillna(False).to_numpy(dtype=bool)
    np.testing.assert_array_equal(parse_filter(text).evaluate(_FRAME), expected)


_NAMES = st.sampled_from(["f", "s", "os", "pd", "settings", "__class__", "__import__", "system", "b"])
_LEAVES = st.one_of(
    _NAMES.map(lambda n: ast.Name(id=n, ctx=ast.Load())),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
              st.binary(max_size=3)).map(lambda v: ast.Constant(value=v)),
)
_CMP = st.sampled_from([ast.Eq, ast.NotEq, ast.Lt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot])


def _trees(inner):
    load = ast.Load()
    return st.one_of(
        st.tuples(inner, _NAMES).map(lambda t: ast.Attribute(value=t[0], attr=t[1], ctx=load)),
        st.tuples(inner, st.lists(inner, max_size=2)).map(lambda t: ast.Call(func=t[0], args=t[1],
                                                                                  keywords=[])),
        st.tuples(inner, inner).map(lambda t: ast.Subscript(value=t[0], slice=t[1], ctx=load)),
        st.tuples(inner, st.sampled_from([ast.Add, ast.BitAnd, ast.BitOr, ast.MatMult]), inner).map(
            lambda t: ast.BinOp(left=t[0], op=t[1](), right=t[2])),
        st.tuples(st.sampled_from([ast.Not, ast.Invert, ast.USub]), inner).map(
            lambda t: ast.UnaryOp(op=t[0](), operand=t[1])),
        st.tuples(st.sampled_from([ast.And, ast.Or]), st.lists(inner, min_size=2, max_size=3)).map(
            lambda t: ast.BoolOp(op=t[0](), values=t[1])),
        st.tuples(inner, st.lists(st.tuples(_CMP, inner), min_size=1, max_size=2)).map(
            lambda t: ast.Compare(left=t[0], ops=[op() for op, _ in t[1]],
                                  comparators=[c for _, c in t[1]])),
        st.lists(inner, max_size=3).map(lambda elts: ast.List(elts=elts, ctx=load)),
        inner.map(lambda body: ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                                                              kw_defaults=[], defaults=[]), body=body)),
        inner.map(lambda e: ast.ListComp(elt=e, generators=[ast.comprehension(
            target=ast.Name(id="x", ctx=ast.Store()), iter=ast.Name(id="f", ctx=load), ifs=[],
            is_async=0)])),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_LEAVES, _trees, max_leaves=10))
@pytest.mark.hostile
def test_fuzz_random_trees_are_parsed_or_refused_never_run(tree):
    try:
        text = ast.unparse(ast.fix_missing_locations(ast.Expression(body=tree)))
    except (ValueError, TypeError, AttributeError, RecursionError):
        assume(False)
    _parse_and_evaluate(text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60),
                 st.text(alphabet="ab_ =!<>()[]'\"@.,&|~notiandr0123 \\:", max_size=60)))
@pytest.mark.hostile
def test_fuzz_random_text_is_parsed_or_refused_never_run(text):
    _parse_and_evaluate(text)
