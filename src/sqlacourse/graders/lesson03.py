"""Lesson 03 (querying): the database filters, sorts, aggregates and pages; values are bound."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect

from ..grading import Grading, LearnerError
from ..recorder import QueryRecorder, Statement
from ..registry import Fail, exercise
from ..shop import Category, Customer, CustomerProfile, Order, OrderItem, Product
from ._common import run_with_session, safe_repr, sql_listing

LESSON = "03-querying"


# --------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------
def _customer_ids(result: Any, what: str) -> list[int]:
    """The ids of a list of Customer objects, or a Fail that says what came back instead."""
    if result is None:
        raise Fail(f"{what} returned None: return the list of customers.")
    if isinstance(result, (str, bytes, dict)) or not hasattr(result, "__iter__"):
        raise Fail(f"{what} should return a list of Customer objects, and it returned "
                   f"{type(result).__name__}.")
    items = list(result)
    for item in items:
        if isinstance(item, Customer):
            continue
        if isinstance(item, Row):
            raise Fail(
                f"{what} returned Row objects ({safe_repr(tuple(item))}), not Customer objects.",
                "session.execute(...) gives rows; session.scalars(select(Customer)...) gives the "
                "Customer objects themselves.",
            )
        raise Fail(f"{what} should return Customer objects, and the list holds "
                   f"{type(item).__name__} values ({safe_repr(item, 40)}).")
    return [c.id for c in items]


def _one_select(rec: QueryRecorder, what: str) -> Statement:
    if rec.count != 1 or not rec.selects:
        extra = ""
        if rec.count > 10:
            extra = " (one more statement per row is the N+1 pattern: ask once, in one query)"
        raise Fail(f"{what}: 1 SELECT expected, {rec.count} statements emitted{extra}.",
                   sql=sql_listing(rec))
    return rec.selects[0]


def _parameter_values(stmt: Statement) -> list[Any]:
    params = stmt.parameters
    batches = params if stmt.executemany else [params]
    values: list[Any] = []
    for batch in batches or []:
        if isinstance(batch, dict):
            values += list(batch.values())
        elif isinstance(batch, (list, tuple)):
            values += list(batch)
    return values


def _as_money(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError):
        return None


# --------------------------------------------------------------------------
# 03-customers-in-country
# --------------------------------------------------------------------------
def _shuffle_name_ties(engine) -> None:
    """Make the database meet customers with the same name in descending id order.

    Several customers share a name (three 'Henry Davies' in the US). SQLite reads rows in id
    order and PostgreSQL's heap is in insertion (= id) order, so ORDER BY name alone would give
    ties in id order by luck. An index on (country, name, id DESC) makes SQLite read ties the
    other way round; on PostgreSQL, CLUSTER rewrites the table in that index's order.
    """
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_check_name_ties ON customers (country, name, id DESC)")
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("CLUSTER customers USING ix_check_name_ties")
            conn.exec_driver_sql("ANALYZE customers")


@exercise(
    "03-customers-in-country",
    lesson=LESSON,
    title="Customers from one country, sorted by name, by the database",
    hints=[
        "Start from select(Customer), add .where(Customer.country == country), and run it with "
        "session.scalars(...).all() to get Customer objects.",
        "Sort in the query: .order_by(Customer.name, Customer.id). Several customers share a "
        "name, so the id decides between them.",
        "Do not filter or sort the list in Python (a list comprehension, sorted()): the check "
        "looks for WHERE and ORDER BY in the SQL.",
    ],
)
def grade_customers_in_country(candidate, g: Grading) -> str:
    with g.database() as fresh:
        _shuffle_name_ties(fresh.engine)
        with fresh.Session() as s:
            names = dict(s.execute(select(Customer.id, Customer.name)).all())
            expected = {
                c: s.scalars(select(Customer.id).where(Customer.country == c)
                             .order_by(Customer.name, Customer.id)).all()
                for c in ("DE", "US", "ZZ")
            }
        sql = ""
        for country, want in expected.items():
            result, rec = run_with_session(g, candidate, fresh.engine, country)
            what = f"customers_in(session, {country!r})"
            got = _customer_ids(result, what)
            if sorted(got) != sorted(want):
                raise Fail(f"{what} returned {len(got)} customers, expected the {len(want)} "
                           f"customers whose country is {country!r}.", sql=sql_listing(rec))
            if got != want:
                by_name = [names[i] for i in got] == [names[i] for i in want]
                if by_name:
                    tied = next(names[a] for a, b in zip(got, want) if a != b)
                    raise Fail(f"{what} sorted by name, but customers with the same name (such as "
                               f"{tied!r}) are not in id order. Add the tie-break: "
                               ".order_by(Customer.name, Customer.id). Without it the database "
                               "returns equal names in whatever order it meets them.",
                               f"expected ids {want}\ngot          {got}", sql=sql_listing(rec))
                raise Fail(f"{what} returned the right customers in the wrong order: sort by "
                           "name, then by id for customers with the same name.",
                           f"expected ids {want[:8]}..., got {got[:8]}...", sql=sql_listing(rec))
            stmt = _one_select(rec, what)
            if not stmt.has("WHERE"):
                raise Fail(f"{what}: the list is right, but the database did not filter: your "
                           "query has no WHERE, so every customer was fetched and filtered in "
                           "Python.", sql=sql_listing(rec))
            if not stmt.has("ORDER BY"):
                raise Fail(f"{what}: the order is right, but it was not the database that "
                           "sorted: your query has no ORDER BY. Sort with .order_by(...).",
                           sql=sql_listing(rec))
            ties = len(want) != len({names[i] for i in want})
            if ties and not re.search(r"\bID\b", stmt.clause("ORDER BY")):
                raise Fail(f"{what}: the order is right this time, but the ORDER BY has no "
                           "tie-break: customers with the same name came back in id order by "
                           "luck. Sort by name, then id: .order_by(Customer.name, Customer.id).",
                           sql=sql_listing(rec))
            sql = stmt.one_line
    return f"filtered and sorted by the database, 1 statement per call: {sql}"


# --------------------------------------------------------------------------
# 03-category-revenue
# --------------------------------------------------------------------------
def _expected_revenue(s, min_revenue: Decimal, *, cancelled: bool = False) -> list[tuple[str, Decimal]]:
    revenue = func.sum(OrderItem.quantity * OrderItem.unit_price)
    stmt = (
        select(Category.name, revenue)
        .join(Product, Product.category_id == Category.id)
        .join(OrderItem, OrderItem.product_id == Product.id)
        .join(Order, Order.id == OrderItem.order_id)
        .group_by(Category.id, Category.name)
    )
    rows = s.execute(stmt if cancelled else stmt.where(Order.status != "cancelled")).all()
    pairs = [(name, _as_money(total)) for name, total in rows]
    pairs = [p for p in pairs if p[1] is not None and p[1] >= min_revenue]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))


def _revenue_pairs(result: Any, what: str) -> list[tuple[Any, Decimal | None]]:
    if result is None or isinstance(result, (str, bytes, dict)) or not hasattr(result, "__iter__"):
        raise Fail(f"{what} should return a list of (category name, revenue) pairs, and it "
                   f"returned {type(result).__name__}.")
    pairs = []
    for item in result:
        try:
            name, total = tuple(item)
        except (TypeError, ValueError):
            raise Fail(f"{what} should return (category name, revenue) pairs; one item was "
                       f"{safe_repr(item)}.") from None
        pairs.append((name, _as_money(total)))
    return pairs


def _round_one_category(engine) -> Decimal:
    """Round the prices sold in the 4th-biggest category to whole units; return its revenue.

    A sum of whole numbers is exact on every backend (SQLite adds floats), so that revenue can
    be used as a threshold that must be kept: HAVING revenue >= threshold, not >.
    """
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        ranked = _expected_revenue(s, Decimal("-1"))
        name = ranked[min(3, len(ranked) - 1)][0]
        products = select(Product.id).join(Category, Category.id == Product.category_id).where(Category.name == name)
        s.execute(update(OrderItem).where(OrderItem.product_id.in_(products))
                  .values(unit_price=func.round(OrderItem.unit_price)))
        s.commit()
        return dict(_expected_revenue(s, Decimal("-1")))[name]


def _money(pairs: list[tuple[Any, Decimal | None]]) -> list[tuple[Any, str]]:
    return [(n, str(t)) for n, t in pairs]


@exercise(
    "03-category-revenue",
    lesson=LESSON,
    title="Revenue per category with group_by and having",
    hints=[
        "Revenue is func.sum(OrderItem.quantity * OrderItem.unit_price). Select Category.name "
        "and that sum, and join from Category to Product to OrderItem to Order (the "
        "relationships Category.products, Product.order_items and OrderItem.order work).",
        "Leave out cancelled orders with .where(Order.status != 'cancelled') (a row filter, "
        "before grouping), then .group_by(Category.id, Category.name).",
        "Keep only the big groups with .having(revenue >= min_revenue) (a group filter, after "
        "grouping; a category whose revenue equals min_revenue stays) and sort with "
        ".order_by(revenue.desc(), Category.name); run it with session.execute(...).all(), "
        "which keeps the revenue a Decimal.",
    ],
)
def grade_category_revenue(candidate, g: Grading) -> str:
    with g.database() as fresh:
        exact = _round_one_category(fresh.engine)
        thresholds = (Decimal("10000"), Decimal("25000"), exact)
        with fresh.Session() as s:
            expected = {t: _expected_revenue(s, t) for t in thresholds}
            everything = dict(_expected_revenue(s, Decimal("-1")))
            with_cancelled = dict(_expected_revenue(s, Decimal("-1"), cancelled=True))
        sql = ""
        for threshold, want in expected.items():
            what = f"category_revenue(session, Decimal({str(threshold)!r}))"
            result, rec = run_with_session(g, candidate, fresh.engine, threshold)
            got = _revenue_pairs(result, what)
            raw = [tuple(item) for item in result]
            floats = sorted({type(total).__name__ for _, total in raw if not isinstance(total, Decimal)})
            if floats:
                raise Fail(f"{what} returned the revenue as {', '.join(floats)}, expected "
                           "Decimal: money stays exact. Return the sums as the database gives "
                           "them (session.execute(stmt).all()), without float(...); a sum over Numeric "
                           "columns in select() comes back as Decimal.",
                           f"got {safe_repr(raw[:3], 200)}...", sql=sql_listing(rec))
            if got != want:
                raise Fail(_revenue_mismatch(what, threshold, want, got, everything, with_cancelled),
                           f"expected {_money(want)}\ngot      {_money(got)}",
                           sql=sql_listing(rec))
            stmt = _one_select(rec, what)
            if not stmt.has("GROUP BY"):
                raise Fail(f"{what}: the numbers are right, but the database did not add them "
                           "up: your query has no GROUP BY, so the order lines were summed in "
                           "Python.", sql=sql_listing(rec))
            bound = any(_as_money(v) == threshold for v in _parameter_values(stmt)
                        if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool))
            literal = re.search(rf"(?<![\d.]){int(threshold)}(\.\d+)?(?![\d.])", stmt.one_line)
            if not (bound or literal):
                raise Fail(f"{what}: the list is right, but min_revenue never reached the "
                           "database: the small categories were dropped in Python. Filter the "
                           "groups in SQL with .having(...).", sql=sql_listing(rec))
            if not stmt.has("ORDER BY"):
                raise Fail(f"{what}: the order is right, but the database did not sort: add "
                           ".order_by(...) to the query.", sql=sql_listing(rec))
            order_by = stmt.clause("ORDER BY")
            # the name column, or the label the query gave it (SELECT categories.name AS category ...)
            labels = ["NAME"] + re.findall(r"\bNAME\s+AS\s+\"?(\w+)", stmt.one_line.upper())
            tie = re.search(rf"\b({'|'.join(labels)})\b\"?(\s+(ASC|DESC))?", order_by)
            if not tie or tie.group(3) == "DESC":
                raise Fail(f"{what}: the order is right this time, but the ORDER BY has no "
                           "tie-break by name (A to Z): two categories with the same revenue would come "
                           "back in whatever order the database meets them. Sort by revenue, highest "
                           "first, then by name: .order_by(revenue.desc(), Category.name).",
                           sql=sql_listing(rec))
            sql = stmt.one_line
    return f"grouped, filtered and sorted by the database in 1 statement: {sql}"


def _revenue_mismatch(what: str, threshold: Decimal, want, got, everything, with_cancelled) -> str:
    wanted = dict(want)
    too_high = [(name, total) for name, total in got
                if total is not None and name in everything and total > everything[name]]
    if too_high and all(total == with_cancelled.get(name) for name, total in too_high):
        return (f"{what}: the totals include cancelled orders. Leave them out with a WHERE on "
                "Order.status, before grouping.")
    if too_high or (got and not any(name in everything for name, _ in got)):
        return (f"{what}: the totals are too high, more than even all orders of the category: rows "
                "are counted several times or summed across categories. Join Category -> Product -> "
                "OrderItem -> Order along the relationships (each join with its ON condition) and "
                "GROUP BY the category.")
    if sorted(got, key=str) == sorted(want, key=str):
        return f"{what}: the right categories in the wrong order: highest revenue first, then by name."
    differ = [(name, wanted[name], total) for name, total in got
              if name in wanted and total != wanted[name]]
    if not differ:  # the categories left out entirely tell the totals too
        differ = [(name, everything[name], total) for name, total in got
                  if name in everything and total != everything[name]]
    if differ:
        listed = "; ".join(f"{n}: expected {w}, got {t}" for n, w, t in differ[:4])
        more = f" (and {len(differ) - 4} more)" if len(differ) > 4 else ""
        why = ""
        if all(t is not None and w is not None and t < w for _, w, t in differ):
            why = (" Your totals are too low: some order lines were left out. Only cancelled "
                   "orders are excluded; pending, paid and shipped orders all count.")
        return f"{what}: the totals differ for {len(differ)} categories: {listed}{more}.{why}"
    missing = [name for name, _ in want if name not in dict(got)]
    extra = [name for name, _ in got if name not in wanted]
    if missing and all(wanted[n] == threshold for n in missing) and not extra:
        return (f"{what} left out {', '.join(missing)}, whose revenue is exactly {threshold}: "
                "keep the categories whose revenue is at least min_revenue (>=, not >).")
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"not expected {', '.join(map(str, extra))}")
    return (f"{what}: expected {len(want)} categories with revenue >= {threshold}, your "
            f"function returned {len(got)} ({'; '.join(parts) or 'see below'}).")


# --------------------------------------------------------------------------
# 03-never-ordered
# --------------------------------------------------------------------------
@exercise(
    "03-never-ordered",
    lesson=LESSON,
    title="Customers who never ordered, in one statement",
    hints=[
        "This is an anti-join: customers for whom no order row exists. Either an outer join "
        "that keeps customers without orders, or NOT EXISTS.",
        "Outer join: select(Customer).outerjoin(Customer.orders).where(Order.id.is_(None)). "
        "NOT EXISTS: select(Customer).where(~Customer.orders.any()).",
        "Add .order_by(Customer.id) and return session.scalars(stmt).all(). Looping over "
        "customers and reading customer.orders sends one query per customer.",
    ],
)
def grade_never_ordered(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            want = s.scalars(select(Customer.id).where(~Customer.orders.any())
                             .order_by(Customer.id)).all()
        result, rec = run_with_session(g, candidate, fresh.engine)
    what = "customers_without_orders(session)"
    got = _customer_ids(result, what)
    if rec.count > 1:
        _one_select(rec, what)  # raises with the statement count
    if sorted(got) != want:
        wrong = sorted(set(got) - set(want))
        msg = f"{what} returned {len(got)} customers, expected the {len(want)} who have no order."
        inner = rec.selects and rec.selects[0].has("JOIN") and not rec.selects[0].has(
            "OUTER JOIN", "LEFT JOIN", "EXISTS")
        if not got and inner:
            msg += (" An inner join keeps only customers that have orders: use outerjoin(...) "
                    "or NOT EXISTS.")
        elif not got:
            msg += (" Your query found none: an anti-join keeps the customers for whom the outer "
                    "join found no order (WHERE orders.id IS NULL), or for whom NOT EXISTS holds.")
        elif wrong:
            msg += f" Customers {wrong[:5]} do have orders."
        raise Fail(msg, sql=sql_listing(rec))
    if got != want:
        raise Fail(f"{what}: the right customers in the wrong order: sort by id.",
                   sql=sql_listing(rec))
    stmt = _one_select(rec, what)
    if not stmt.has("ORDER BY"):
        raise Fail(f"{what}: the order is right, but the database did not sort: add "
                   ".order_by(Customer.id).", sql=sql_listing(rec))
    how = "NOT EXISTS" if stmt.has("EXISTS") else "an outer join" if stmt.has("OUTER JOIN", "LEFT JOIN") \
        else "NOT IN" if stmt.has("NOT IN") else "one query"
    return f"{len(want)} customers found with {how}, in 1 statement: {stmt.one_line}"


# --------------------------------------------------------------------------
# 03-page-after
# --------------------------------------------------------------------------
def _make_gaps(engine) -> list[int]:
    """Delete some order-less customers so that ids are no longer 1..N (offset != id)."""
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        lonely = s.scalars(select(Customer.id).where(~Customer.orders.any())
                           .order_by(Customer.id)).all()
        gone = list(lonely[::3])
        s.execute(delete(CustomerProfile).where(CustomerProfile.customer_id.in_(gone)))
        s.execute(delete(Customer).where(Customer.id.in_(gone)))
        s.commit()
    return gone


@exercise(
    "03-page-after",
    lesson=LESSON,
    title="Keyset pagination: the page after the last customer seen",
    hints=[
        "Keyset pagination asks for the rows after the last one seen: "
        "WHERE customers.id > :last_id ORDER BY customers.id LIMIT :size.",
        "Build select(Customer).order_by(Customer.id).limit(size), and add "
        ".where(Customer.id > last_id) only when last_id is not None (statements are immutable: "
        "stmt = stmt.where(...)).",
        "offset(...) counts positions, not ids: as soon as some ids are missing, the page "
        "after id 40 does not start at position 40.",
    ],
)
def grade_page_after(candidate, g: Grading) -> str:
    size = 7
    with g.database() as fresh:
        gone = _make_gaps(fresh.engine)
        with fresh.Session() as s:
            all_ids = s.scalars(select(Customer.id).order_by(Customer.id)).all()
        walked: list[int] = []
        last_id = None
        pages = 0
        sql = ""
        while True:
            what = f"page_after(session, {last_id!r}, {size})"
            result, rec = run_with_session(g, candidate, fresh.engine, last_id, size)
            got = _customer_ids(result, what)
            start = 0 if last_id is None else next((i for i, x in enumerate(all_ids) if x > last_id),
                                                   len(all_ids))
            want = all_ids[start:start + size]
            if got != want:
                hint = ""
                if last_id is not None and got and got[0] <= last_id:
                    hint = f" The page must start after id {last_id}, not at it."
                elif last_id is not None and got and want and got[0] > want[0]:
                    hint = (" Some ids are missing in this database (deleted customers), so an "
                            "OFFSET counts past customers: filter on the id instead.")
                raise Fail(f"{what} returned ids {got}, expected {want}.{hint}",
                           sql=sql_listing(rec))
            stmt = _one_select(rec, what)
            if not stmt.has("LIMIT", "FETCH FIRST", "FETCH NEXT", "TOP"):
                raise Fail(f"{what}: the page is right, but the database did not cut it: the "
                           "query has no LIMIT, so all following rows were fetched and cut in "
                           "Python. Use .limit(size).", sql=sql_listing(rec))
            if not stmt.has("ORDER BY"):
                raise Fail(f"{what}: the query has no ORDER BY. Without it the database may "
                           "return the rows in any order, and pages overlap or skip rows.",
                           sql=sql_listing(rec))
            if last_id is not None and not stmt.has("WHERE"):
                raise Fail(f"{what}: the query has no WHERE: keyset pagination filters on the "
                           "last id seen (WHERE id > :last_id).", sql=sql_listing(rec))
            if last_id is not None:
                sql = stmt.one_line
            walked += got
            pages += 1
            if not got:
                break
            if pages > len(all_ids) // size + 2:
                raise Fail("The pages never ran out: after the last customer, the next page "
                           "should be empty.")
            last_id = got[-1]
        # one more page, starting from the id of a deleted customer
        probe = gone[len(gone) // 2]
        result, rec = run_with_session(g, candidate, fresh.engine, probe, 3)
        got = _customer_ids(result, f"page_after(session, {probe}, 3)")
        want = [x for x in all_ids if x > probe][:3]
        if got != want:
            raise Fail(f"page_after(session, {probe}, 3) returned {got}, expected {want} "
                       f"(customer {probe} was deleted: the page starts at the next id that "
                       "exists).", sql=sql_listing(rec))
    if walked != all_ids:
        raise Fail("Walking the pages did not give every customer exactly once.")
    return (f"walked {len(all_ids)} customers in {pages} pages of {size}, one keyset query "
            f"each: {sql}")


# --------------------------------------------------------------------------
# 03-safe-search
# --------------------------------------------------------------------------
INJECTION = "' OR 1=1 --"
WILDCARDS = ("_", "5%")   # must match literally: 11 emails contain '_', none contains '5%'
# An escape character in the term must be escaped too: no email contains these, and with
# the escape character left alone '/a' reads as a plain 'a' (matching most emails).
ESCAPE_PROBES = ("/a", "!a", "\\a")


@exercise(
    "03-safe-search",
    lesson=LESSON,
    title="A search with text() and a bound parameter",
    hints=[
        "text(\"SELECT id FROM customers WHERE email LIKE :pattern ORDER BY id\") has a "
        "placeholder :pattern; the value goes in a dict: session.scalars(stmt, {\"pattern\": ...}).",
        "The pattern for 'contains' is '%' + term + '%', built in Python and bound as ONE value "
        "(or in SQL: LIKE '%' || :term || '%').",
        "Never put the term into the SQL string (f-string, %, +, .format): the check searches "
        f"for {INJECTION!r}, which an f-string turns into a condition true for every row.",
        "A '%' or '_' in the term is a LIKE wildcard even when bound: escape it. Put an escape "
        "character before '/', '%' and '_' in the term (term.replace('/', '//').replace('%', "
        "'/%').replace('_', '/_')) and name it in the SQL: LIKE :pattern ESCAPE '/'.",
    ],
)
def grade_safe_search(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            def expected(term: str) -> list[int]:
                return s.scalars(select(Customer.id).where(Customer.email.contains(term, autoescape=True))
                                 .order_by(Customer.id)).all()

            def unescaped(term: str) -> list[int]:
                return s.scalars(select(Customer.id).where(Customer.email.like(f"%{term}%"))
                                 .order_by(Customer.id)).all()

            cases = [(INJECTION, []), ("walker", expected("walker")),
                     ("example.org", expected("example.org"))]
            cases += [(term, expected(term)) for term in WILDCARDS + ESCAPE_PROBES]
            as_wildcards = {term: unescaped(term) for term in WILDCARDS}
        sql = ""
        for term, want in cases:
            what = f"search_emails(session, {term!r})"
            executed: list[Any] = []

            def on_execute(conn, clauseelement, multiparams, params, execution_options,
                           _seen=executed):
                _seen.append(clauseelement)

            event.listen(fresh.engine, "before_execute", on_execute)
            try:
                result, rec = run_with_session(g, candidate, fresh.engine, term)
            except LearnerError as err:
                database_error = re.search(
                    r"raised (Operational|Programming|Database|Statement|Internal)Error", err.message)
                if term != INJECTION or not database_error:
                    raise
                raise Fail(f"{what} raised an error: the term was read as part of the SQL, so "
                           "the quote in it broke the statement. Pass the term as a bound "
                           "parameter (:pattern).", err.details) from None
            finally:
                event.remove(fresh.engine, "before_execute", on_execute)
            if result is None or isinstance(result, (str, bytes)) or not hasattr(result, "__iter__"):
                raise Fail(f"{what} should return a list of ids, and it returned "
                           f"{type(result).__name__}.", sql=sql_listing(rec))
            got = list(result)
            if any(isinstance(x, Row) for x in got):
                raise Fail(f"{what} returned Row objects, not ids. session.scalars(stmt, params) "
                           "gives the first column of each row.", sql=sql_listing(rec))
            if any(isinstance(x, bool) or not isinstance(x, int) for x in got):
                raise Fail(f"{what} should return a list of int ids; it holds "
                           f"{sorted({type(x).__name__ for x in got})}.", sql=sql_listing(rec))
            # a term of wildcards and digits may well occur in honest SQL ('%' || :term): look
            # for pasted text with the terms that have letters only
            pasted = term not in WILDCARDS and any(term.lower() in st.sql.lower()
                                                   for st in rec.statements)
            if term == INJECTION and got:
                raise Fail(
                    f"SQL injection: {what} returned {len(got)} customers, expected none (no "
                    "email contains that text). The term was pasted into the SQL, where the "
                    "quote ended the string and OR 1=1 matched every row. Bind it as a "
                    "parameter (:pattern).", sql=sql_listing(rec))
            if pasted:
                raise Fail(f"{what}: the search term is part of the SQL text, so whoever types "
                           "the term writes your SQL. Pass it as a bound parameter "
                           "(text('... :pattern ...') with a dict of values).",
                           sql=sql_listing(rec))
            if got != want and term in WILDCARDS and sorted(got) != want:
                raise Fail(_wildcard_message(what, term, got, want, as_wildcards[term], rec),
                           sql=sql_listing(rec))
            if got != want and term in ESCAPE_PROBES and sorted(got) != want:
                raise Fail(f"{what} returned {len(got)} ids, expected {len(want)}: no email "
                           f"contains {term!r}. The escape character itself must be escaped "
                           "first, or the one in the term escapes the letter after it (with "
                           "'/': term.replace('/', '//') before the other replaces).",
                           sql=sql_listing(rec))
            if got != want:
                msg = f"{what} returned {len(got)} ids, expected {len(want)}."
                if sorted(got) == want:
                    msg = f"{what}: the right ids in the wrong order: ORDER BY id."
                raise Fail(msg, f"expected {want[:10]}, got {got[:10]}", sql=sql_listing(rec))
            stmt = _one_select(rec, what)
            built = sorted({type(el).__name__ for el in executed
                            if not isinstance(el, (TextClause, TextualSelect))})
            if built:
                raise Fail(f"{what}: the ids are right, but the statement was built with "
                           f"{' and '.join(built)} (select()), and this exercise is about "
                           "text(): write the SQL yourself, text(\"SELECT id FROM customers "
                           "WHERE email LIKE :pattern ORDER BY id\"), and pass the pattern in a "
                           "dict.", sql=sql_listing(rec))
            if term in ESCAPE_PROBES:
                continue
            if term in WILDCARDS:
                escape = _escape_without_escape_clause(rec)   # right only where it is the default
                if escape:
                    raise Fail(f"{what}: the ids are right here, but the term is escaped with "
                               f"'{escape}' and the SQL has no ESCAPE clause. PostgreSQL's "
                               "default escape character is the backslash, SQLite has none "
                               "(there the same search finds nothing): name it, "
                               f"LIKE :pattern ESCAPE '{escape}'.", sql=sql_listing(rec))
                continue   # right ids, bound; the plain terms have checked the rest
            values = [v for v in _parameter_values(stmt) if isinstance(v, str)]
            bound = any(term.lower() in v.lower() for v in values)
            searched = stmt.has("WHERE") and stmt.has("LIKE", "ILIKE", "GLOB", "INSTR",
                                                      "POSITION", "STRPOS")
            if not (bound and searched):
                missing = []
                if not searched:
                    missing.append("the SQL has no WHERE ... LIKE")
                if not bound:
                    missing.append("the term is not among the bound parameters")
                raise Fail(f"{what}: the ids are right, but the database did not search: "
                           f"{' and '.join(missing)}, so the customers were fetched and "
                           "filtered in Python. Filter in SQL, WHERE email LIKE :pattern, and "
                           "pass the pattern ('%' + term + '%') in the dict of parameters.",
                           f"bound parameters: {_parameter_values(stmt)!r:.200}",
                           sql=sql_listing(rec))
            if want and not stmt.has("ORDER BY"):
                raise Fail(f"{what}: the order is right, but the database did not sort: add "
                           "ORDER BY id.", sql=sql_listing(rec))
            if term != INJECTION:
                sql = stmt.one_line
                shown = next(v for v in values if term.lower() in v.lower())
    return (f"the database searched with the term bound as a parameter ({shown!r}), the "
            f"injection {INJECTION!r} found nothing, and '%' and '_' in a term matched "
            f"literally: {sql}")


def _escape_without_escape_clause(rec: QueryRecorder) -> str | None:
    """The character the term was escaped with, if the LIKE names no escape character."""
    if any(st.has("ESCAPE") for st in rec.statements):
        return None
    for st in rec.statements:
        for value in _parameter_values(st):
            if isinstance(value, str):
                found = re.search(r"([^\w\s%])[_%]", value)
                if found:
                    return found.group(1)
    return None


def _wildcard_message(what: str, term: str, got: list[int], want: list[int],
                      as_wildcards: list[int], rec: QueryRecorder) -> str:
    """Why a search for a term with '%' or '_' found the wrong customers."""
    literal = (f"the {len(want)} whose email contains a literal {term!r}" if want
               else f"none (no email contains {term!r})")
    msg = f"{what} returned {len(got)} ids, expected {literal}."
    if got == as_wildcards:
        return (msg + " The '%' and '_' of the term were read as LIKE wildcards (binding a value "
                "stops injection, not wildcards). Escape them in the term, escape character "
                "first (term.replace('/', '//').replace('%', '/%').replace('_', '/_')), and "
                "name the escape character in the SQL: LIKE :pattern ESCAPE '/'.")
    escape = _escape_without_escape_clause(rec)
    if escape:
        return (msg + f" The term is escaped with '{escape}', but the SQL has no ESCAPE clause, so "
                f"'{escape}' is an ordinary character there (SQLite has no default escape "
                "character; PostgreSQL's is the backslash). Name it: "
                f"LIKE :pattern ESCAPE '{escape}'.")
    return (msg + " A '%' or '_' in the term must match itself: escape it (and the escape "
            "character) in the term, and name the escape character with ESCAPE.")
