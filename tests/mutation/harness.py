"""Mutation testing of the graders.

For every exercise, the harness takes the reference answer (the code cell with
``### BEGIN SOLUTION`` in ``solutions/NN-*.ipynb``, read at run time), runs the
notebook's earlier code cells to build the namespace the answer lives in,
applies mutation operators to the answer's source (generic AST operators below,
plus the exercise's own text edits in ``spec.py``), grades every mutant with
``check()`` and classifies it:

* ``killed``     the grader rejected it (with a message that is not a crash);
* ``survived``   the grader accepted it;
* ``crash``      "The grader itself failed" (always a defect);
* ``invalid``    the mutated cell itself raised (the learner sees the error in
                 their cell and never reaches the grader): not counted;
* ``equivalent`` listed in ``spec.EQUIVALENT`` with the reason: the mutant is
                 still a correct answer, so the grader must ACCEPT it.

Score per grader = killed / (total - equivalent), invalid mutants left out.

Run it on its own (a table per grader):  .venv/bin/python -m tests.mutation [--backend embedded] [ids]
The test suite runs it in tests/test_graders_mutation.py on both backends.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import linecache
import re
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CRASH = "The grader itself failed"

LOADERS = ("selectinload", "joinedload", "subqueryload", "lazyload", "noload")
KEYWORDS = ("unique", "index", "nullable", "timezone", "back_populates", "cascade", "innerjoin",
            "server_default", "onupdate", "default", "secondary", "autoescape", "escape", "asdecimal")
DROPPABLE_CALLS = ("where", "filter", "filter_by", "having", "group_by", "order_by", "limit", "join",
                   "outerjoin", "options", "unique", "distinct", "flush", "select_from")
CMP_SWAP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
            ast.Lt: ast.LtE, ast.LtE: ast.Lt}
RESULT_SWAP = {"one_or_none": ("first", "one", "scalar"), "one": ("first", "all"), "get_one": ("get",), "all": ("first",),
               "scalar_one_or_none": ("first",), "get": ("get_one",), "scalars": ("execute",)}


# --------------------------------------------------------------------------
# Reading the solutions
# --------------------------------------------------------------------------
@dataclass
class Answer:
    exercise: str
    notebook: Path
    cell: int            # index of the answer cell
    source: str          # its source
    name: str            # the candidate's name in the namespace
    prefix: list[str]    # earlier code cells (check() cells left out)
    region: tuple[int, int]  # first and last line (1-based) of the solution region


def answers() -> dict[str, Answer]:
    """Every exercise's reference answer, read from solutions/ now."""
    found: dict[str, Answer] = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        for pos, (i, src) in enumerate(code):
            if BEGIN not in src:
                continue
            nxt = next((s for _, s in code[pos + 1:] if "check(" in s), "")
            m = re.search(r"""check\(\s*["']([^"']+)["']\s*,\s*(\w+)""", nxt)
            if not m:
                continue
            lines = src.split("\n")
            start = next(n for n, line in enumerate(lines, 1) if line.strip() == BEGIN)
            end = next(n for n, line in enumerate(lines, 1) if line.strip() == END)
            prefix = [s for _, s in code[:pos] if not re.search(r"^\s*check\(", s, re.M)]
            found[m.group(1)] = Answer(m.group(1), path, i, src, m.group(2), prefix, (start, end))
    return found


# --------------------------------------------------------------------------
# Mutants
# --------------------------------------------------------------------------
@dataclass
class Mutant:
    id: str
    source: str


def _unparse(node: ast.AST, width: int = 70) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _replace(parents, node: ast.AST, new: ast.AST) -> None:
    parent = parents[node]
    for name, value in ast.iter_fields(parent):
        if value is node:
            setattr(parent, name, new)
            return
        if isinstance(value, list) and any(v is node for v in value):
            value[[id(v) for v in value].index(id(node))] = new
            return
    raise AssertionError("node not found in its parent")


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _owner(parents, node) -> str:
    """'Product.sku' for a node inside a class attribute, 'fn_name' inside a function."""
    names = []
    cur = node
    while cur in parents:
        cur = parents[cur]
        if isinstance(cur, ast.AnnAssign) and isinstance(cur.target, ast.Name):
            names.append(cur.target.id)
        elif isinstance(cur, ast.Assign) and isinstance(cur.targets[0], ast.Name):
            names.append(cur.targets[0].id)
        elif isinstance(cur, (ast.ClassDef, *FUNCTIONS)):
            names.append(cur.name)
            break
    return ".".join(reversed(names[-2:])) if names else "cell"


def _entity_attrs(node: ast.AST) -> set[str]:
    return {n.value.id for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id[:1].isupper()}


def _to_python(node: ast.AST, entity: str) -> ast.expr | None:
    """``Customer.country == country`` -> ``_o.country == country`` (None if not that simple)."""
    node = copy.deepcopy(node)
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == entity:
            n.value = ast.Name("_o", ast.Load())
    text = ast.unparse(node)
    text = text.replace(".is_(None)", " is None").replace(".is_not(None)", " is not None")
    if re.search(r"\.\w+\(", text):
        return None
    return _expr(text)


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _function(parents, node) -> ast.AST | None:
    cur = node
    while cur in parents and not isinstance(cur, FUNCTIONS):
        cur = parents[cur]
    return cur if isinstance(cur, FUNCTIONS) else None


def _awaited(parents, node, text: str) -> ast.expr:
    """``text`` as an expression, awaited inside an ``async def`` (async answers: lesson 06)."""
    return _expr(f"await {text}" if isinstance(_function(parents, node), ast.AsyncFunctionDef) else text)


def _function_returns(parents, node) -> list[ast.Return]:
    cur = _function(parents, node)
    if cur is None:
        return []
    return [n for n in ast.walk(cur) if isinstance(n, ast.Return) and n.value is not None]


Edit = Callable[[ast.AST, dict], None]


def _sites(tree: ast.AST, region: tuple[int, int]) -> Iterator[tuple[int, ast.AST, str, Edit]]:
    """(node index, node, mutant id, edit) for every generic mutation of the region."""
    nodes = list(ast.walk(tree))
    parents = _parents(tree)
    lo, hi = region
    for idx, node in enumerate(nodes):
        line = getattr(node, "lineno", None)
        if line is None or not lo < line < hi:
            continue
        yield from ((idx, node, mid, ed) for mid, ed in _mutations(node, parents))


def _mutations(node: ast.AST, parents) -> Iterator[tuple[str, Edit]]:  # noqa: C901
    owner = _owner(parents, node)
    if isinstance(node, ast.Call):
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        # query-building calls: drop, and per-term mutations
        if isinstance(func, ast.Attribute) and fname in DROPPABLE_CALLS:
            args = ", ".join(_unparse(a, 40) for a in node.args)
            yield f"{owner}: drop .{fname}({args})", lambda n, p: _replace(p, n, n.func.value)
        if fname == "order_by":
            for i, arg in enumerate(node.args):
                label = _unparse(arg, 40)
                if len(node.args) > 1:
                    yield (f"{owner}: order_by drop term {label}",
                           lambda n, p, i=i: n.args.pop(i))
                if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr in ("desc", "asc"):
                    yield (f"{owner}: order_by reverse {label}",
                           lambda n, p, i=i: n.args.__setitem__(i, n.args[i].func.value))
                else:
                    yield (f"{owner}: order_by reverse {label}",
                           lambda n, p, i=i: n.args.__setitem__(i, _expr(f"({ast.unparse(n.args[i])}).desc()")))
            # the sort moved into Python
            entities = _entity_attrs(ast.Tuple(node.args, ast.Load()))
            plain = all(isinstance(a, ast.Attribute) for a in node.args)
            if len(entities) == 1 and plain:
                ent = entities.pop()

                def sort_in_python(n, p, ent=ent):
                    keys = ", ".join(f"_o.{a.attr}" for a in n.args)
                    for ret in _function_returns(p, n):
                        ret.value = _expr(f"sorted({ast.unparse(ret.value)}, key=lambda _o: ({keys},))")
                    _replace(p, n, n.func.value)
                yield f"{owner}: order_by moved into Python (sorted)", sort_in_python
        if fname == "where" and len(node.args) == 1:
            entities = _entity_attrs(node.args[0])
            if len(entities) == 1 and _to_python(node.args[0], next(iter(entities))) is not None:
                ent = entities.pop()

                def filter_in_python(n, p, ent=ent):
                    cond = ast.unparse(_to_python(n.args[0], ent))
                    for ret in _function_returns(p, n):
                        ret.value = _expr(f"[_o for _o in {ast.unparse(ret.value)} if {cond}]")
                    _replace(p, n, n.func.value)
                yield f"{owner}: where moved into Python ({_unparse(node.args[0], 40)})", filter_in_python
        if fname == "limit" and node.args:
            for delta in ("+ 1", "- 1"):
                yield (f"{owner}: limit {delta}",
                       lambda n, p, d=delta: n.args.__setitem__(0, _expr(f"{ast.unparse(n.args[0])} {d}")))

            def limit_in_python(n, p):
                size = ast.unparse(n.args[0])
                for ret in _function_returns(p, n):
                    ret.value = _expr(f"list({ast.unparse(ret.value)})[:{size}]")
                _replace(p, n, n.func.value)
            yield f"{owner}: limit moved into Python (slice)", limit_in_python
        if fname in ("join", "outerjoin") and isinstance(func, ast.Attribute):
            other = "outerjoin" if fname == "join" else "join"
            yield f"{owner}: .{fname}() -> .{other}()", lambda n, p, o=other: setattr(n.func, "attr", o)
        if fname == "options":
            for i, arg in enumerate(node.args):
                if len(node.args) > 1:
                    yield (f"{owner}: options drop {_unparse(arg, 40)}", lambda n, p, i=i: n.args.pop(i))
        if fname in LOADERS + ("contains_eager", "raiseload"):
            wildcard = any(isinstance(a, ast.Constant) and a.value == "*" for a in node.args)
            for other in LOADERS + ("raiseload",):
                if other == fname or (wildcard and other in ("joinedload", "subqueryload")):
                    continue  # joinedload("*") eagerly joins the whole schema: slow, and no one writes it

                def swap(n, p, other=other):
                    if isinstance(n.func, ast.Name):
                        n.func = _expr(f"_mut_orm.{other}")
                    else:
                        n.func.attr = other
                    if other != "joinedload":  # innerjoin= belongs to joinedload alone
                        n.keywords = [kw for kw in n.keywords if kw.arg != "innerjoin"]
                yield f"{owner}: {fname}({_unparse(node.args[0], 30) if node.args else ''}) -> {other}", swap
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
                yield f"{owner}: drop chained .{fname}(...)", lambda n, p: _replace(p, n, n.func.value)
        if fname in RESULT_SWAP and isinstance(func, ast.Attribute):
            for other in RESULT_SWAP[fname]:
                yield f"{owner}: .{fname}() -> .{other}()", lambda n, p, o=other: setattr(n.func, "attr", o)
        if fname in ("is_", "is_not") and isinstance(func, ast.Attribute):
            other = "is_not" if fname == "is_" else "is_"
            yield f"{owner}: .{fname}() -> .{other}()", lambda n, p, o=other: setattr(n.func, "attr", o)
        if fname == "replace" and isinstance(func, ast.Attribute) and len(node.args) == 2:
            # escaping a LIKE pattern by hand: forget one character
            yield (f"{owner}: drop .replace({_unparse(node.args[0], 20)}, {_unparse(node.args[1], 20)})",
                   lambda n, p: _replace(p, n, n.func.value))
        if fname == "contains" and isinstance(func, ast.Attribute):
            yield (f"{owner}: .contains() -> ==",
                   lambda n, p: _replace(p, n, ast.Compare(n.func.value, [ast.Eq()], [n.args[0]])))
        if fname == "begin" and isinstance(func, ast.Attribute) and not node.args:
            yield f"{owner}: {_unparse(node)} -> {_unparse(func.value)}()", \
                lambda n, p: _replace(p, n, ast.Call(n.func.value, [], []))
        # keyword arguments
        for i, kw in enumerate(node.keywords):
            if kw.arg in KEYWORDS:
                yield (f"{owner}: drop {kw.arg}={_unparse(kw.value, 30)}",
                       lambda n, p, i=i: n.keywords.pop(i))
            if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool) and kw.arg != "primary_key":
                yield (f"{owner}: {kw.arg}={kw.value.value} -> {not kw.value.value}",
                       lambda n, p, i=i: setattr(n.keywords[i].value, "value", not n.keywords[i].value.value))
            if kw.arg == "cascade" and isinstance(kw.value, ast.Constant):
                for variant in ("delete-orphan", "all", "delete", "save-update, merge, delete-orphan"):
                    if variant != kw.value.value:
                        yield (f"{owner}: cascade={kw.value.value!r} -> {variant!r}",
                               lambda n, p, i=i, v=variant: setattr(n.keywords[i].value, "value", v))
        if fname == "mapped_column":
            have = {kw.arg for kw in node.keywords}
            if "primary_key" not in have:
                for extra in ("index", "unique"):
                    if extra not in have:
                        yield (f"{owner}: add {extra}=True",
                               lambda n, p, e=extra: n.keywords.append(ast.keyword(e, ast.Constant(True))))
            elif "index" not in have:
                yield f"{owner}: add index=True", \
                    lambda n, p: n.keywords.append(ast.keyword("index", ast.Constant(True)))
        # column types
        if fname == "Numeric":
            yield f"{owner}: Numeric -> Float", lambda n, p: _replace(p, n, _expr("_mut_sa.Float()"))
            yield (f"{owner}: Numeric(...) -> Numeric(12, 4)",
                   lambda n, p: _replace(p, n, _expr("_mut_sa.Numeric(12, 4)")))
        if fname == "String" and node.args:
            yield (f"{owner}: {_unparse(node)} length + 10",
                   lambda n, p: n.args.__setitem__(0, _expr(f"{ast.unparse(n.args[0])} + 10")))
            yield f"{owner}: {_unparse(node)} -> Text", lambda n, p: _replace(p, n, _expr("_mut_sa.Text()"))
        if fname == "Text":
            yield f"{owner}: Text -> String(50)", lambda n, p: _replace(p, n, _expr("_mut_sa.String(50)"))
        if fname == "DateTime":
            yield f"{owner}: DateTime -> Date", lambda n, p: _replace(p, n, _expr("_mut_sa.Date()"))
        if fname == "Decimal":
            yield f"{owner}: Decimal(...) -> float(...)", lambda n, p: setattr(n, "func", ast.Name("float", ast.Load()))
        if fname == "now" and node.args:
            yield f"{owner}: {_unparse(node)} -> naive now()", lambda n, p: n.args.clear()
        if fname in ("CheckConstraint", "UniqueConstraint", "Index") and isinstance(parents.get(node), ast.Tuple):
            yield f"{owner}: drop {fname}({_unparse(node.args[0], 30) if node.args else ''})", \
                lambda n, p: p[n].elts.remove(n)
        if fname in ("UniqueConstraint", "Index") and len(node.args) > 1:
            first = 1 if fname == "Index" else 0
            cols = node.args[first:]
            if len(cols) > 1:
                yield (f"{owner}: {fname} columns reversed",
                       lambda n, p, f=first: setattr(n, "args", n.args[:f] + n.args[f:][::-1]))
                for j in range(len(cols)):
                    yield (f"{owner}: {fname} drop column {_unparse(cols[j])}",
                           lambda n, p, j=j, f=first: n.args.pop(f + j))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        op = type(node.ops[0])
        left, _right = node.left, node.comparators[0]
        if op in CMP_SWAP:
            sym = {ast.Eq: "==", ast.NotEq: "!=", ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
            yield (f"{owner}: {_unparse(node, 40)}: {sym[op]} -> {sym[CMP_SWAP[op]]}",
                   lambda n, p: n.ops.__setitem__(0, CMP_SWAP[type(n.ops[0])]()))
        if op is ast.Eq and isinstance(left, ast.Attribute) and isinstance(left.value, ast.Name) \
                and left.value.id[:1].isupper() and not (left.attr == "id" or left.attr.endswith("_id")):
            # exact vs partial match is a question for text columns, not for keys
            for method in ("contains", "like", "startswith"):
                yield (f"{owner}: {_unparse(node, 40)} -> .{method}()",
                       lambda n, p, m=method: _replace(p, n, _expr(
                           f"{ast.unparse(n.left)}.{m}({ast.unparse(n.comparators[0])})")))
        if op in (ast.In, ast.NotIn):
            other = ast.NotIn if op is ast.In else ast.In
            yield f"{owner}: {_unparse(node, 40)}: in/not in swapped", lambda n, p, o=other: n.ops.__setitem__(0, o())
    elif isinstance(node, ast.AnnAssign) and isinstance(node.annotation, ast.Subscript):
        ann = node.annotation
        is_rel = isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "relationship"
        if getattr(ann.value, "id", "") == "Mapped" and not is_rel:
            inner = ann.slice
            optional = isinstance(inner, ast.BinOp) and "None" in ast.unparse(inner)
            if optional:
                yield (f"{owner}: Mapped[{_unparse(inner)}] -> Mapped[{_unparse(inner.left)}]",
                       lambda n, p: setattr(n.annotation, "slice", n.annotation.slice.left))
            else:
                yield (f"{owner}: Mapped[{_unparse(inner)}] -> Optional",
                       lambda n, p: setattr(n.annotation, "slice", ast.BinOp(n.annotation.slice, ast.BitOr(),
                                                                             ast.Constant(None))))
            if "Decimal" in ast.unparse(inner):
                yield (f"{owner}: Mapped[Decimal] -> Mapped[float]",
                       lambda n, p: setattr(n.annotation, "slice", ast.Name("float", ast.Load())))
    elif isinstance(node, ast.Expr) and (isinstance(node.value, ast.Call) or (
            isinstance(node.value, ast.Await) and isinstance(node.value.value, ast.Call))):
        if isinstance(parents.get(node), (*FUNCTIONS, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.If, ast.Try)):
            yield f"{owner}: drop statement {_unparse(node, 50)}", lambda n, p: _replace(p, n, ast.Pass())
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        yield f"{owner}: commit in every loop iteration", \
            lambda n, p: n.body.append(ast.Expr(_awaited(p, n, "session.commit()")))
    elif isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
        # the classic async mistake: the coroutine is made and never awaited
        yield f"{owner}: forget the await of {_unparse(node.value, 40)}", lambda n, p: _replace(p, n, n.value)
    elif isinstance(node, ast.Return) and node.value is not None and isinstance(parents.get(node), FUNCTIONS):
        # what a half-finished answer returns: graders must say what is wrong, never crash
        yield f"{owner}: return None", lambda n, p: setattr(n, "value", ast.Constant(None))
        if ".all()" in ast.unparse(node.value):
            yield f"{owner}: return []", lambda n, p: setattr(n, "value", ast.List([], ast.Load()))
            yield (f"{owner}: return the list reversed",
                   lambda n, p: setattr(n, "value", _expr(f"list(reversed({ast.unparse(n.value)}))")))
            yield (f"{owner}: return a generator",
                   lambda n, p: setattr(n, "value", _expr(f"(_o for _o in {ast.unparse(n.value)})")))
        if "session" in ast.unparse(parents[node].args):
            yield f"{owner}: commit before return", lambda n, p: p[n].body.insert(
                p[n].body.index(n), ast.Expr(_awaited(p, n, "session.commit()")))
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"\bSELECT\b", node.value):
        if "ORDER BY" in node.value:
            yield f"{owner}: SQL without ORDER BY", \
                lambda n, p: setattr(n, "value", re.sub(r"\s*ORDER BY.*", "", n.value))
        if re.search(r"\bESCAPE\s+'", node.value):
            yield f"{owner}: SQL without its ESCAPE clause", \
                lambda n, p: setattr(n, "value", re.sub(r"\s*ESCAPE\s+'[^']*'", "", n.value))
    elif isinstance(node, ast.JoinedStr):
        text = ast.unparse(node)
        if "%" in text:
            for label, pat in (("exact", ""), ("prefix", "{}%"), ("suffix", "%{}")):
                def edit(n, p, pat=pat):
                    value = next(v for v in n.values if isinstance(v, ast.FormattedValue))
                    new = _expr("f" + repr(pat.replace("{}", "{" + ast.unparse(value.value) + "}")) if pat
                                else ast.unparse(value.value))
                    _replace(p, n, new)
                yield f"{owner}: LIKE pattern {text} -> {label} match", edit


def generic_mutants(answer: Answer) -> list[Mutant]:
    tree = ast.parse(answer.source)
    out = []
    seen: dict[str, int] = {}
    for idx, _node, mid, edit in list(_sites(tree, answer.region)):
        copy_ = copy.deepcopy(tree)
        target = list(ast.walk(copy_))[idx]
        try:
            edit(target, _parents(copy_))
            src = ast.unparse(ast.fix_missing_locations(copy_))
        except Exception as exc:  # an operator that does not apply here
            raise AssertionError(f"{answer.exercise}: operator {mid!r} failed: {exc!r}") from exc
        seen[mid] = seen.get(mid, 0) + 1
        if seen[mid] > 1:
            mid = f"{mid} #{seen[mid]}"
        out.append(Mutant(mid, src))
    return out


def text_mutants(answer: Answer, edits: list[tuple]) -> tuple[list[Mutant], list[str]]:
    """The exercise's own mutants: (id, old text, new text), or (id, [(old, new), ...]) for several
    edits; every ``old`` must occur in the answer."""
    out, stale = [], []
    for mid, *change in edits:
        pairs = change[0] if len(change) == 1 else [tuple(change)]   # (id, old, new) or (id, [(old, new), ...])
        source = answer.source
        for old, new in pairs:
            if old not in source:
                stale.append(mid)
                break
            source = source.replace(old, new)
        else:
            out.append(Mutant(mid, source))
    return out, stale


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------
_SETUPS: dict = {}


@contextlib.contextmanager
def _cached_setup() -> Iterator[None]:
    """Re-running a notebook's setup cell for every mutant would rebuild its database; the
    namespace only needs the Lesson object, so each setup(name) runs once."""
    import sqlacourse

    real = sqlacourse.setup

    def setup(name, **kw):
        if name not in _SETUPS:
            _SETUPS[name] = real(name, quiet=True, **{k: v for k, v in kw.items() if k != "quiet"})
        return _SETUPS[name]

    sqlacourse.setup = setup
    try:
        yield
    finally:
        sqlacourse.setup = real


_COUNTER = [0]


def _namespace(answer: Answer) -> dict:
    """A module (registered in sys.modules, where SQLAlchemy resolves annotations) holding
    what the notebook's earlier code cells define."""
    import sqlalchemy
    import sqlalchemy.orm

    _COUNTER[0] += 1
    module = types.ModuleType(f"_sqlacourse_mutant_{_COUNTER[0]}")
    sys.modules[module.__name__] = module
    ns = module.__dict__
    ns.update({"_mut_orm": sqlalchemy.orm, "_mut_sa": sqlalchemy})
    with _cached_setup(), contextlib.redirect_stdout(io.StringIO()):
        for src in answer.prefix:
            exec(compile(src, f"<{answer.notebook.name} setup>", "exec"), ns)
    return ns


@dataclass
class Outcome:
    mutant: str
    status: str      # killed, survived, crash, invalid, equivalent-ok, equivalent-rejected
    message: str
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def grade_source(answer: Answer, source: str, label: str) -> Outcome:

    ns = _namespace(answer)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            filename = f"<mutant {label}>"
            # as IPython does for a notebook cell: the source stays readable (inspect.getsource)
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            exec(compile(source, filename, "exec"), ns)
        candidate = ns[answer.name]
    except Exception as exc:
        sys.modules.pop(ns["__name__"], None)
        return Outcome(label, "invalid", f"{type(exc).__name__}: {str(exc)[:150]}")
    try:
        return _grade(answer, candidate, label)
    finally:
        sys.modules.pop(ns["__name__"], None)


def _grade(answer: Answer, candidate, label: str) -> Outcome:
    from sqlacourse import check

    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        fb = check(answer.exercise, candidate)
    leaked = [f"{w.category.__name__}: {w.message}" for w in caught]
    if err.getvalue().strip():
        leaked.append("stderr: " + err.getvalue().strip()[:200])
    if fb.message.startswith(CRASH):
        return Outcome(label, "crash", f"{fb.message} {fb.details}", leaked)
    return Outcome(label, "survived" if fb.passed else "killed", fb.message, leaked)


@dataclass
class Report:
    exercise: str
    outcomes: list[Outcome]
    stale: list[str]
    seconds: float
    baseline: Outcome

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def total(self) -> int:
        return sum(o.status != "invalid" for o in self.outcomes)

    @property
    def equivalent(self) -> int:
        return sum(o.status.startswith("equivalent") for o in self.outcomes)

    @property
    def killed(self) -> int:
        return len(self.of("killed"))

    @property
    def score(self) -> float:
        denominator = self.total - self.equivalent
        return self.killed / denominator if denominator else 1.0


def mutants_of(answer: Answer) -> tuple[list[Mutant], list[str]]:
    from . import spec

    extra, stale = text_mutants(answer, spec.TEXT_MUTANTS.get(answer.exercise, []))
    return generic_mutants(answer) + extra, stale


def backend() -> str:
    """The backend the graders run on now (conftest and ``--backend`` set the URL)."""
    import os

    return "postgresql" if os.environ.get("SQLACOURSE_DATABASE_URL") else "sqlite"


def run_exercise(exercise: str) -> Report:
    from . import spec

    answer = answers()[exercise]
    t0 = time.monotonic()
    baseline = grade_source(answer, answer.source, "reference answer")
    mutants, stale = mutants_of(answer)
    outcomes = []
    for m in mutants:
        t1 = time.monotonic()
        o = grade_source(answer, m.source, m.id)
        o.seconds = time.monotonic() - t1
        if spec.equivalent_reason(exercise, m.id, backend()) and o.status in ("killed", "survived"):
            o.status = "equivalent-ok" if o.status == "survived" else (
                "crash" if o.status == "crash" else "equivalent-rejected")
        outcomes.append(o)
    return Report(exercise, outcomes, stale, time.monotonic() - t0, baseline)


def table(reports: list[Report], backend: str) -> str:
    lines = [f"Mutation score of the graders ({backend})",
             f"{'grader':28} {'mutants':>7} {'killed':>6} {'equiv':>5} {'surv':>4} {'crash':>5} "
             f"{'invalid':>7} {'score':>6} {'secs':>5}"]
    for r in reports:
        lines.append(f"{r.exercise:28} {r.total:7} {r.killed:6} {r.equivalent:5} {len(r.of('survived')):4} "
                     f"{len(r.of('crash')):5} {len(r.of('invalid')):7} {r.score:6.1%} {r.seconds:5.1f}")
    notes = [f"  {r.exercise}: {n}" for r in reports for n in stale_entries(r)]
    total = sum(r.total for r in reports)
    killed = sum(r.killed for r in reports)
    equiv = sum(r.equivalent for r in reports)
    lines.append(f"{'all':28} {total:7} {killed:6} {equiv:5} "
                 f"{sum(len(r.of('survived')) for r in reports):4} {sum(len(r.of('crash')) for r in reports):5} "
                 f"{sum(len(r.of('invalid')) for r in reports):7} "
                 f"{killed / max(1, total - equiv):6.1%} {sum(r.seconds for r in reports):5.1f}")
    if notes:
        lines += ["stale entries in tests/mutation/spec.py (the solution changed: update them):"] + notes
    return "\n".join(lines)


def stale_entries(report: Report) -> list[str]:
    """Text mutants whose text is gone, and ids in spec.py that no mutant has any more."""
    from . import spec

    ids = {o.mutant for o in report.outcomes}
    out = [f"text mutant {m!r}: its text is not in the answer" for m in report.stale]
    for listed in spec.EQUIVALENT.get(report.exercise, {}):
        out += [f"equivalent {m!r}: no such mutant" for m in listed if m not in ids]
    out += [f"cause for {m!r}: no such mutant" for m in spec.CAUSES.get(report.exercise, {}) if m not in ids]
    for name, (_, killers) in spec.REQUIREMENTS.get(report.exercise, {}).items():
        out += [f"requirement {name!r}: no mutant {k!r}" for k in killers
                if k not in report.stale and not any(spec.matches(k, i) for i in ids)]
    return out
