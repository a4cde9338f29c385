"""Lesson 05 (loading strategies): graded by counting statements.

Every grader calls the learner's function in a new Session while recording the
SQL, then looks at what came back *before* touching it (``inspect(obj).unloaded``
says which relationships were not loaded), then touches the relationships the
task promised, still recording: a lazy load shows up as extra statements.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import InvalidRequestError

from ..grading import Grading, LearnerError
from ..recorder import QueryRecorder
from ..registry import Fail, exercise
from ..shop import Customer, Order, OrderItem, Product
from ._common import instances_of, plain, recorded_session, sql_listing

LESSON = "05-loading"

_JOIN_ORDERS = re.compile(r"\bJOIN\s+ORDERS\b")
_ORDER_BY_ID = re.compile(r"\bORDER BY\b.*\bID\b")


_UNIQUE_WHY = {
    "joinedload": "a joinedload of a collection returns one row per child",
    "contains_eager": ("contains_eager(Customer.orders) fills the collection from your JOIN, which "
                       "returns one row per order (a joined eager load of a collection)"),
}


def _call(g: Grading, fn: Any, *args: Any, loader: str = "joinedload") -> Any:
    """``g.call``, with a plain explanation for the classic missing ``.unique()``."""
    try:
        return g.call(fn, *args)
    except LearnerError as exc:
        if "unique() method must be invoked" in exc.details:
            raise Fail(f"Your code raised InvalidRequestError: {_UNIQUE_WHY[loader]}, so the result "
                       "needs .unique() before .all() (session.scalars(stmt).unique().all()).",
                       exc.details) from None
        raise


def _objects(g: Grading, result: Any, cls: type, what: str, loader: str = "joinedload") -> list[Any]:
    """The candidate's result as a list of ``cls`` instances, or a plain Fail."""
    if hasattr(result, "all") and callable(result.all) and not isinstance(result, (list, tuple)):
        result = _call(g, result.all, loader=loader)
    result = plain(result)
    if result is None or isinstance(result, (str, bytes, dict)) or not hasattr(result, "__iter__"):
        raise Fail(f"The function should return a list of {cls.__name__} objects ({what}), "
                   f"and it returned {type(result).__name__}.")
    return instances_of(list(result), cls, what)


def _read(rec: QueryRecorder, what: str, fn: Any) -> Any:
    """Read relationships the task promised as loaded; a raise becomes feedback."""
    try:
        return fn()
    except InvalidRequestError as exc:
        raise Fail(f"Reading {what} raised InvalidRequestError ({str(exc).splitlines()[0][:120]}): "
                   f"{what} must be loaded by your query, and raiseload() (or lazy='raise') made it "
                   "raise instead.", sql=sql_listing(rec)) from None


def _unloaded(obj: Any, attr: str) -> bool:
    return attr in inspect(obj).unloaded


def _first_select(rec: QueryRecorder) -> str:
    return rec.selects[0].one_line.upper() if rec.selects else ""


def _require_order_by(rec: QueryRecorder, what: str, fix: str) -> None:
    """The rows came back in id order: make sure the database was asked to sort them."""
    first = _first_select(rec)
    if _ORDER_BY_ID.search(first):
        return
    why = ("your query has no ORDER BY" if "ORDER BY" not in first else
           "your ORDER BY does not sort by id")
    raise Fail(f"The {what} came back in id order, but {why}, so that order is an accident: "
               "unless told to sort, a database returns rows in whatever order it finds them "
               "(SQLite here happens to find them in the order they were stored; no database "
               f"promises that). Let the database sort: {fix}.",
               sql=sql_listing(rec))


def _require_where(rec: QueryRecorder, total: int, what: str, fix: str) -> None:
    """The candidate's first SELECT must filter: no loading everything and filtering in Python."""
    first = _first_select(rec)
    if first and "WHERE" not in first:
        extra = (f" Your other {rec.count - 1} statement{'s' if rec.count > 2 else ''} loaded "
                 f"relationships for all {total} orders too." if rec.count > 1 else "")
        raise Fail(f"Your first SELECT has no WHERE: it loaded all {total} orders and your code kept "
                   f"{what} in Python.{extra} Let the database filter: {fix}.", sql=sql_listing(rec))


# --------------------------------------------------------------------------
@exercise(
    "05-customers-orders",
    lesson=LESSON,
    title="Customers with their orders, without N+1",
    hints=[
        "Without a loader option, reading customer.orders sends one SELECT per customer: 1 + 200 "
        "statements. Tell the query up front that you need the orders: .options(...).",
        "select(Customer).order_by(Customer.id).options(selectinload(Customer.orders)) loads the "
        "orders in one second SELECT with an IN list.",
        "joinedload(Customer.orders) also works (one statement), but then the result needs "
        ".unique() before .all(): session.scalars(stmt).unique().all().",
    ],
)
def grade_customers_orders(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            customer_ids = list(s.scalars(select(Customer.id).order_by(Customer.id)))
            expected: dict[int, list[int]] = {cid: [] for cid in customer_ids}
            for cid, oid in s.execute(select(Order.customer_id, Order.id).order_by(Order.id)):
                expected[cid].append(oid)
        with recorded_session(fresh.engine) as (session, rec):
            customers = _objects(g, _call(g, candidate, session), Customer, "all customers")
            lazy = sum(_unloaded(c, "orders") for c in customers)
            got = _read(rec, "customer.orders", lambda: {c.id: sorted(o.id for o in c.orders) for c in customers})
        got_ids = [c.id for c in customers]
    sql = sql_listing(rec)
    if rec.count > 2:
        why = (f"customer.orders was not loaded by your query for {lazy} customers, so each one sent "
               "its own SELECT when it was read" if lazy else
               "your code sent one SELECT per customer for its orders")
        raise Fail(f"2 statements expected, {rec.count} emitted: this is the N+1 pattern ({why}). "
                   "Load the orders in the query: selectinload(Customer.orders), or "
                   "joinedload(Customer.orders) with .unique().", sql=sql)
    if sorted(got_ids) != customer_ids:
        missing = sorted(set(customer_ids) - set(got_ids))
        without_orders = [cid for cid in missing if not expected[cid]]
        detail = ""
        if missing and len(without_orders) == len(missing):
            detail = (" The missing ones are exactly the customers without orders: an inner join "
                      "drops them (the loader options use an outer join or a separate SELECT).")
        raise Fail(f"Expected all {len(customer_ids)} customers, the function returned "
                   f"{len(got_ids)} ({len(set(got_ids))} different).{detail}", sql=sql)
    if got_ids != customer_ids:
        raise Fail("The customers are all there but not sorted by id: add .order_by(Customer.id).",
                   sql=sql)
    _require_order_by(rec, "customers", "select(Customer).order_by(Customer.id)")
    wrong = [cid for cid in customer_ids if got[cid] != expected[cid]]
    if wrong and rec.count == 1 and not any(got.values()):
        raise Fail("Every customer.orders is empty, and no SQL loaded them: noload() (deprecated) "
                   "leaves a relationship empty instead of loading it. Use selectinload(Customer.orders).",
                   sql=sql)
    if wrong:
        cid = wrong[0]
        raise Fail(f"customer.orders is wrong for {len(wrong)} customers, e.g. customer {cid}: "
                   f"expected orders {expected[cid]}, got {got[cid]}.", sql=sql)
    second = rec.selects[1].one_line.upper() if len(rec.selects) > 1 else ""
    if second and " IN (" not in second and "FROM (SELECT" in second:
        raise Fail("The result is right, but the orders came from subqueryload: its second SELECT "
                   "repeats your whole customers query as a subquery (FROM (SELECT ...) AS anon_1). "
                   "subqueryload is legacy; use selectinload(Customer.orders), which sends only "
                   "the customer ids: SELECT ... WHERE orders.customer_id IN (...).", sql=sql)
    if rec.count == 1:
        how = "1 statement with a JOIN (joinedload)"
    elif " IN (" in second:
        how = f"{rec.count} statements (the orders in one SELECT ... IN)"
    else:
        how = f"{rec.count} statements (the orders in one second SELECT)"
    return f"{len(customer_ids)} customers and their orders in {how}, no N+1."


# --------------------------------------------------------------------------
@exercise(
    "05-order-lines",
    lesson=LESSON,
    title="Orders with their items and each item's product",
    hints=[
        "Two levels must be loaded: Order.items (a collection) and OrderItem.product (a many-to-one). "
        "A loader option is a path: chain the second level onto the first.",
        "selectinload(Order.items).joinedload(OrderItem.product): the items in one SELECT ... IN, "
        "with their products joined into that same statement.",
        "select(Order).where(Order.customer_id == customer_id).order_by(Order.id)"
        ".options(selectinload(Order.items).joinedload(OrderItem.product)), then session.scalars(...).all().",
    ],
)
def grade_order_lines(candidate, g: Grading) -> str:
    # joinedload(OrderItem.product) with or without innerjoin=True are both right and both pass:
    # order_items.product_id is NOT NULL, so the LEFT OUTER JOIN and the inner JOIN return the
    # same rows; innerjoin=True (the lesson's advice for a NOT NULL many-to-one, used in the
    # solution) only gives the planner more freedom. The check counts statements and rows.
    with g.database() as fresh:
        with fresh.Session() as s:
            customer_id = s.execute(
                select(Order.customer_id).group_by(Order.customer_id)
                .order_by(func.count().desc(), Order.customer_id).limit(1)
            ).scalar_one()
            order_ids = list(s.scalars(select(Order.id).where(Order.customer_id == customer_id)
                                       .order_by(Order.id)))
            total = s.scalar(select(func.count()).select_from(Order))
            expected: dict[int, list[tuple[int, int, str]]] = {oid: [] for oid in order_ids}
            for oid, pid, qty, sku in s.execute(
                select(OrderItem.order_id, OrderItem.product_id, OrderItem.quantity, Product.sku)
                .join(OrderItem.product).join(OrderItem.order)
                .where(Order.customer_id == customer_id).order_by(OrderItem.order_id, OrderItem.product_id)
            ):
                expected[oid].append((pid, qty, sku))
        with recorded_session(fresh.engine) as (session, rec):
            orders = _objects(g, _call(g, candidate, session, customer_id), Order,
                              f"the orders of customer {customer_id}")
            _require_where(rec, total, f"those of customer {customer_id}",
                           ".where(Order.customer_id == customer_id) in the query")
            lazy_items = sum(_unloaded(o, "items") for o in orders)
            items = [i for o in orders if not _unloaded(o, "items") for i in o.items]
            lazy_products = sum(_unloaded(i, "product") for i in items)
            got = _read(rec, "order.items and item.product", lambda: {
                o.id: sorted((i.product_id, i.quantity, i.product.sku if i.product is not None else None)
                             for i in o.items) for o in orders})
        got_ids = [o.id for o in orders]
    sql = sql_listing(rec)
    if rec.count > 3:
        if lazy_items:
            why = (f"order.items was loaded lazily, one SELECT per order ({lazy_items} orders): the N+1 "
                   "pattern. Load it in the query: selectinload(Order.items)")
        elif lazy_products:
            why = ("item.product was loaded lazily, one SELECT per product: the N+1 pattern one level "
                   "down. Continue the chain: selectinload(Order.items).joinedload(OrderItem.product)")
        else:
            why = "your code sends a statement per order or per item"
        raise Fail(f"At most 3 statements expected (whatever the number of orders), {rec.count} "
                   f"emitted: {why}.", sql=sql)
    if got_ids != order_ids:
        raise Fail(f"Expected the {len(order_ids)} orders of customer {customer_id} sorted by id "
                   f"({order_ids[:5]}...), got {got_ids[:5]}{'...' if len(got_ids) > 5 else ''} "
                   f"({len(got_ids)} orders).", sql=sql)
    _require_order_by(rec, f"orders of customer {customer_id}", "add .order_by(Order.id) to the query")
    wrong = [oid for oid in order_ids if got[oid] != expected[oid]]
    if wrong and all(sku is None for v in got.values() for _, _, sku in v) and any(got.values()):
        raise Fail("Every item.product is None, though each item has a product: noload() "
                   "(deprecated) leaves a relationship empty instead of loading it. Chain "
                   "joinedload(OrderItem.product) onto selectinload(Order.items).", sql=sql)
    if wrong and not any(got.values()):
        raise Fail("Every order.items is empty, though the orders have items, and no SQL loaded them: "
                   "noload() (deprecated) leaves a relationship empty instead of loading it. Use "
                   "selectinload(Order.items).", sql=sql)
    if wrong:
        raise Fail(f"The items of order {wrong[0]} are wrong: expected {expected[wrong[0]]}, "
                   f"got {got[wrong[0]]}.", sql=sql)
    n_items = sum(len(v) for v in expected.values())
    return (f"{len(order_ids)} orders, {n_items} items and their products in {rec.count} "
            f"statement{'s' if rec.count != 1 else ''}, however many orders there are.")


# --------------------------------------------------------------------------
ORDER_ID = 42


@exercise(
    "05-order-customer",
    lesson=LESSON,
    title="One order and its customer in one statement",
    hints=[
        "Order.customer is a many-to-one: each order row has exactly one customer, so joining it "
        "does not multiply rows.",
        "selectinload would send a second SELECT; joinedload(Order.customer) puts a JOIN into the "
        "same statement.",
        "session.scalars(select(Order).where(Order.id == order_id)"
        ".options(joinedload(Order.customer))).one() (no .unique() needed for a many-to-one).",
    ],
)
def grade_order_customer(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            expected_customer = s.scalar(select(Order.customer_id).where(Order.id == ORDER_ID))
        with recorded_session(fresh.engine) as (session, rec):
            order = _call(g, candidate, session, ORDER_ID)
            if hasattr(order, "one") and callable(order.one) and not isinstance(order, Order):
                order = _call(g, order.one)
            if not isinstance(order, Order):
                raise Fail(f"The function should return one Order object (order {ORDER_ID}), and it "
                           f"returned {type(order).__name__}.",
                           "session.scalars(stmt).one() or session.get(...) return the object itself.")
            lazy = _unloaded(order, "customer")
            loaded = _read(rec, "order.customer", lambda: order.customer)
            if loaded is None and rec.count == 1:
                raise Fail(f"order.customer is None without any SQL, though order {ORDER_ID} has a customer: "
                           "noload() (deprecated) silently answers None. Load it in the same statement: "
                           "joinedload(Order.customer).", sql=sql_listing(rec))
            got_customer = loaded.id if loaded is not None else None
        got_id = order.id
    sql = sql_listing(rec)
    if got_id != ORDER_ID:
        raise Fail(f"Expected order {ORDER_ID}, the function returned order {got_id}.", sql=sql)
    if got_customer != expected_customer:
        raise Fail(f"order.customer should be customer {expected_customer}, it is {got_customer}.", sql=sql)
    if rec.count != 1:
        if lazy:
            msg = (f"1 statement expected, {rec.count} emitted: order.customer was not loaded by your "
                   "query, so reading it sent a second (lazy) SELECT. Add joinedload(Order.customer).")
        elif any(" IN " in s.one_line.upper() for s in rec.selects[1:]):
            msg = (f"1 statement expected, {rec.count} emitted: selectinload always sends a second "
                   "SELECT ... IN. For a many-to-one, joinedload(Order.customer) loads it in the same "
                   "statement with a JOIN.")
        else:
            msg = f"1 statement expected, {rec.count} emitted."
        raise Fail(msg, sql=sql)
    join = "JOIN" in rec.statements[0].one_line.upper()
    return (f"order {ORDER_ID} and its customer in 1 statement"
            f"{' with a JOIN' if join else ''}: {rec.statements[0].one_line[:90]}...")


# --------------------------------------------------------------------------
@exercise(
    "05-raiseload",
    lesson=LESSON,
    title="Orders whose unloaded relationships raise",
    hints=[
        "Two options in one .options(...): one that loads Order.items, and raiseload('*') for "
        "everything else.",
        "raiseload(Order.customer) covers only that one relationship; the wildcard '*' covers every "
        "relationship you did not name, including the items' product.",
        "select(Order).where(Order.status == status).order_by(Order.id)"
        ".options(selectinload(Order.items), raiseload('*')).",
    ],
)
def grade_raiseload(candidate, g: Grading) -> str:
    status = "pending"
    with g.database() as fresh:
        with fresh.Session() as s:
            order_ids = list(s.scalars(select(Order.id).where(Order.status == status).order_by(Order.id)))
            n_items = s.scalar(select(func.count()).select_from(OrderItem).join(OrderItem.order)
                               .where(Order.status == status))
            total = s.scalar(select(func.count()).select_from(Order))
        with recorded_session(fresh.engine) as (session, rec):
            orders = _objects(g, _call(g, candidate, session, status), Order, f"the {status} orders")
            _require_where(rec, total, f"the {status} ones", ".where(Order.status == status) in the query")
            got_ids = [o.id for o in orders]
            if got_ids != order_ids:
                raise Fail(f"Expected the {len(order_ids)} {status} orders sorted by id, got "
                           f"{len(got_ids)} orders{' (not sorted)' if sorted(got_ids) == order_ids else ''}.",
                           sql=sql_listing(rec))
            _require_order_by(rec, f"{status} orders", "add .order_by(Order.id) to the query")
            lazy_items = sum(_unloaded(o, "items") for o in orders)
            before_items = rec.count
            try:
                got_items = sum(len(o.items) for o in orders)
            except InvalidRequestError:
                raise Fail("Reading order.items raised: the items must be loaded (e.g. "
                           "selectinload(Order.items)) and only the other relationships should raise.",
                           sql=sql_listing(rec)) from None
            loading = rec.count
            if got_items != n_items:
                extra = (" and no SQL loaded them: noload() (deprecated) leaves a relationship empty; "
                         "load it with selectinload(Order.items)" if got_items == 0 and loading == 1 else "")
                raise Fail(f"The orders should carry {n_items} items in all, they carry {got_items}{extra}.",
                           sql=sql_listing(rec))
            sample = orders[0]
            item = next(i for o in orders for i in o.items)
            outcomes = {}
            for name, read in (("order.customer", lambda: sample.customer),
                               ("item.product", lambda: item.product)):
                before = rec.count
                try:
                    value = read()
                    outcomes[name] = ("lazy" if rec.count > before else
                                      "none" if value is None else "loaded")
                except InvalidRequestError as exc:
                    outcomes[name] = "raised" if "raise" in str(exc) else f"error: {exc}"
    sql = sql_listing(rec)
    if loading > 2:
        if lazy_items and loading > before_items:
            raise Fail(f"At most 2 statements expected to load the orders and their items, {loading} "
                       "emitted: order.items was loaded one order at a time (N+1).", sql=sql)
        raise Fail(f"At most 2 statements expected to load the orders and their items, {loading} "
                   "emitted by your query: it loaded other relationships too (an eager loader for '*' "
                   "or for more than order.items). Load only order.items; every other relationship "
                   "should raise: raiseload('*').", sql=sql)
    for name, outcome in outcomes.items():
        if outcome == "lazy":
            hint_ = ("raiseload(Order.customer) names only that relationship; raiseload('*') covers all "
                     "the others, the items' product included" if name == "item.product" else
                     "add raiseload('*') to the options")
            raise Fail(f"Reading {name} sent a lazy SELECT instead of raising: {hint_}.", sql=sql)
        if outcome == "none":
            raise Fail(f"{name} is None without any SQL, though it exists: noload() (deprecated) "
                       "silently answers None. The task wants it to raise: raiseload('*').", sql=sql)
        if outcome == "loaded":
            raise Fail(f"{name} was loaded by your query, but only order.items should be: the task is "
                       "to make every other relationship raise when touched.", sql=sql)
        if outcome != "raised":
            raise Fail(f"Reading {name} failed with an unexpected error ({outcome}).", sql=sql)
    return (f"{len(order_ids)} orders with their {n_items} items in {loading} statement"
            f"{'s' if loading != 1 else ''}; order.customer and item.product raise instead of lazy loading.")


# --------------------------------------------------------------------------
@exercise(
    "05-contains-eager",
    lesson=LESSON,
    title="Customers and only their cancelled orders, from one join",
    hints=[
        "You need a JOIN to orders anyway, to filter on Order.status. contains_eager(Customer.orders) "
        "fills the collection from that same join instead of joining orders a second time.",
        "joinedload or selectinload would load every order of the customer (and joinedload adds a "
        "second JOIN); contains_eager uses only the rows your WHERE clause kept.",
        "select(Customer).join(Customer.orders).where(Order.status == 'cancelled')"
        ".order_by(Customer.id).options(contains_eager(Customer.orders)), then "
        "session.scalars(stmt).unique().all().",
    ],
)
def grade_contains_eager(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with fresh.Session() as s:
            expected: dict[int, list[int]] = {}
            for cid, oid in s.execute(select(Order.customer_id, Order.id)
                                      .where(Order.status == "cancelled").order_by(Order.id)):
                expected.setdefault(cid, []).append(oid)
        with recorded_session(fresh.engine) as (session, rec):
            customers = _objects(g, _call(g, candidate, session, loader="contains_eager"), Customer,
                                 "the customers with a cancelled order", loader="contains_eager")
            lazy = sum(_unloaded(c, "orders") for c in customers)
            got = _read(rec, "customer.orders", lambda: {c.id: sorted(o.id for o in c.orders) for c in customers})
            statuses = {o.status for c in customers for o in c.orders}
        got_ids = [c.id for c in customers]
    sql = sql_listing(rec)
    want_ids = sorted(expected)
    if rec.count == 0:
        raise Fail("Your function sent no SQL: the customers and their cancelled orders must come from "
                   "one query (a join to orders, filtered, with contains_eager).", sql=sql)
    if rec.count != 1:
        if lazy:
            why = f"customer.orders was not filled by your query, so {lazy} customers lazy-loaded it"
        else:
            why = "a second SELECT loaded the orders (selectinload or subqueryload); contains_eager fills them from your join"
        raise Fail(f"1 statement expected, {rec.count} emitted: {why}.", sql=sql)
    joins = len(_JOIN_ORDERS.findall(rec.statements[0].one_line.upper()))
    if joins > 1:
        raise Fail(f"orders is joined {joins} times in your statement: once for your filter and again "
                   "by joinedload. contains_eager(Customer.orders) reuses the join you already have.",
                   sql=sql)
    if sorted(set(got_ids)) != want_ids:
        raise Fail(f"Expected the {len(want_ids)} customers with a cancelled order, got "
                   f"{len(set(got_ids))}.", sql=sql)
    if got_ids != want_ids:
        raise Fail("Each customer once, sorted by id, expected: add .order_by(Customer.id) "
                   "(and .unique() on the result).", sql=sql)
    _require_order_by(rec, "customers", "add .order_by(Customer.id) to the query")
    if not statuses and any(expected.values()):
        raise Fail("Every customer.orders is empty, and no SQL loaded them: noload() (deprecated) leaves a "
                   "relationship empty. Fill it from your join with contains_eager(Customer.orders).", sql=sql)
    if statuses != {"cancelled"}:
        raise Fail("customer.orders holds all of the customer's orders, not only the cancelled ones "
                   f"(statuses seen: {', '.join(sorted(statuses))}): the collection must come from "
                   "your filtered join, with contains_eager.", sql=sql)
    wrong = [cid for cid in want_ids if got[cid] != expected[cid]]
    if wrong:
        raise Fail(f"customer {wrong[0]}: expected cancelled orders {expected[wrong[0]]}, "
                   f"got {got[wrong[0]]}.", sql=sql)
    return (f"{len(want_ids)} customers with only their cancelled orders, from 1 statement with one "
            "join to orders.")
