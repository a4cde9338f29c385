"""Each grader of lesson 03 accepts correct answers (not only the one in solutions/) and
rejects the mistakes learners really make, saying why."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from sqlacourse import check
from sqlacourse.shop import Category, Customer, Order, OrderItem, Product


def assert_rejected(ex_id, fn, says):
    fb = check(ex_id, fn)
    assert not fb.passed, fb
    assert says in fb.message, fb


# -- 03-customers-in-country ---------------------------------------------------
def country_reference(session, country):
    stmt = select(Customer).where(Customer.country == country).order_by(Customer.name, Customer.id)
    return session.scalars(stmt).all()


def country_filter_by(session, country):  # alternative: filter_by, explicit asc(), execute().scalars()
    stmt = select(Customer).filter_by(country=country).order_by(Customer.name.asc(), Customer.id.asc())
    return session.execute(stmt).scalars().all()


def country_filtered_in_python(session, country):
    everyone = session.scalars(select(Customer).order_by(Customer.name, Customer.id))
    return [c for c in everyone if c.country == country]


def country_sorted_in_python(session, country):
    found = session.scalars(select(Customer).where(Customer.country == country))
    return sorted(found, key=lambda c: (c.name, c.id))


def country_rows(session, country):
    stmt = select(Customer).where(Customer.country == country).order_by(Customer.name, Customer.id)
    return session.execute(stmt).all()


def country_by_id(session, country):
    return session.scalars(select(Customer).where(Customer.country == country).order_by(Customer.id)).all()


def country_name_only(session, country):  # ties (same name) come back in whatever order the DB meets them
    return session.scalars(select(Customer).where(Customer.country == country).order_by(Customer.name)).all()


@pytest.mark.parametrize("fn", [country_reference, country_filter_by])
def test_customers_in_country_accepts(fn):
    fb = check("03-customers-in-country", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (country_filtered_in_python, "did not filter"),
    (country_sorted_in_python, "not the database that sorted"),
    (country_rows, "Row objects"),
    (country_by_id, "wrong order"),
    (country_name_only, "tie-break"),
])
def test_customers_in_country_rejects(fn, says):
    assert_rejected("03-customers-in-country", fn, says)


# -- 03-category-revenue -------------------------------------------------------
REVENUE = func.sum(OrderItem.quantity * OrderItem.unit_price)


def revenue_reference(session, min_revenue):
    stmt = (
        select(Category.name, REVENUE)
        .join(Category.products).join(Product.order_items).join(OrderItem.order)
        .where(Order.status != "cancelled")
        .group_by(Category.id, Category.name)
        .having(REVENUE >= min_revenue)
        .order_by(REVENUE.desc(), Category.name)
    )
    return session.execute(stmt).all()


def revenue_subquery(session, min_revenue):  # alternative: WHERE on a grouped subquery, plain tuples
    per_category = (
        select(Product.category_id, REVENUE.label("revenue"))
        .join(OrderItem, OrderItem.product_id == Product.id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.status.in_(["pending", "paid", "shipped"]))
        .group_by(Product.category_id)
        .subquery()
    )
    stmt = (
        select(Category.name, per_category.c.revenue)
        .join(per_category, per_category.c.category_id == Category.id)
        .where(per_category.c.revenue >= min_revenue)
        .order_by(per_category.c.revenue.desc(), Category.name)
    )
    return [(name, total) for name, total in session.execute(stmt)]


def revenue_with_cancelled(session, min_revenue):
    stmt = (
        select(Category.name, REVENUE)
        .join(Category.products).join(Product.order_items)
        .group_by(Category.id, Category.name)
        .having(REVENUE >= min_revenue)
        .order_by(REVENUE.desc(), Category.name)
    )
    return session.execute(stmt).all()


def revenue_filtered_in_python(session, min_revenue):
    stmt = (
        select(Category.name, REVENUE)
        .join(Category.products).join(Product.order_items).join(OrderItem.order)
        .where(Order.status != "cancelled")
        .group_by(Category.id, Category.name)
        .order_by(REVENUE.desc(), Category.name)
    )
    return [row for row in session.execute(stmt) if row[1] >= min_revenue]


def revenue_summed_in_python(session, min_revenue):
    totals = {}
    stmt = (
        select(Category.name, OrderItem.quantity, OrderItem.unit_price)
        .join(Category.products).join(Product.order_items).join(OrderItem.order)
        .where(Order.status != "cancelled")
    )
    for name, quantity, price in session.execute(stmt):
        totals[name] = totals.get(name, 0) + quantity * price
    big = [(n, t) for n, t in totals.items() if t >= min_revenue]
    return sorted(big, key=lambda p: (-p[1], p[0]))


def revenue_as_float(session, min_revenue):
    return [(name, float(total)) for name, total in revenue_reference(session, min_revenue)]


def revenue_strictly_greater(session, min_revenue):
    stmt = (
        select(Category.name, REVENUE)
        .join(Category.products).join(Product.order_items).join(OrderItem.order)
        .where(Order.status != "cancelled")
        .group_by(Category.id, Category.name)
        .having(REVENUE > min_revenue)
        .order_by(REVENUE.desc(), Category.name)
    )
    return session.execute(stmt).all()


def revenue_paid_and_shipped_only(session, min_revenue):  # forgets the pending orders
    stmt = (
        select(Category.name, REVENUE)
        .join(Category.products).join(Product.order_items).join(OrderItem.order)
        .where(Order.status.in_(["paid", "shipped"]))
        .group_by(Category.id, Category.name)
        .having(REVENUE >= min_revenue)
        .order_by(REVENUE.desc(), Category.name)
    )
    return session.execute(stmt).all()


@pytest.mark.parametrize("fn", [revenue_reference, revenue_subquery])
def test_category_revenue_accepts(fn):
    fb = check("03-category-revenue", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (revenue_with_cancelled, "cancelled orders"),
    (revenue_filtered_in_python, "never reached the database"),
    (revenue_summed_in_python, "no GROUP BY"),
    (revenue_as_float, "expected Decimal"),
    (revenue_strictly_greater, ">=, not >"),
    (revenue_paid_and_shipped_only, "totals differ"),
])

def test_category_revenue_rejects(fn, says):
    assert_rejected("03-category-revenue", fn, says)


def test_category_revenue_names_the_totals_that_differ():
    fb = check("03-category-revenue", revenue_paid_and_shipped_only)
    assert "too low" in fb.message and "expected" in fb.message and "got" in fb.message, fb


# -- 03-never-ordered ----------------------------------------------------------
def never_outer_join(session):
    stmt = select(Customer).outerjoin(Customer.orders).where(Order.id.is_(None)).order_by(Customer.id)
    return session.scalars(stmt).all()


def never_not_exists(session):  # alternative: NOT EXISTS through any()
    return session.scalars(select(Customer).where(~Customer.orders.any()).order_by(Customer.id)).all()


def never_not_in(session):  # alternative: NOT IN a subquery
    stmt = select(Customer).where(Customer.id.not_in(select(Order.customer_id))).order_by(Customer.id)
    return session.scalars(stmt).all()


def never_lazy_loop(session):
    return [c for c in session.scalars(select(Customer).order_by(Customer.id)) if not c.orders]


def never_inner_join(session):
    stmt = select(Customer).join(Customer.orders).where(Order.id.is_(None)).order_by(Customer.id)
    return session.scalars(stmt).all()


def never_set_difference(session):
    buyers = set(session.scalars(select(Order.customer_id)))
    return [c for c in session.scalars(select(Customer).order_by(Customer.id)) if c.id not in buyers]


@pytest.mark.parametrize("fn", [never_outer_join, never_not_exists, never_not_in])
def test_never_ordered_accepts(fn):
    fb = check("03-never-ordered", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (never_lazy_loop, "N+1"),
    (never_inner_join, "inner join"),
    (never_set_difference, "1 SELECT expected, 2 statements"),
])
def test_never_ordered_rejects(fn, says):
    assert_rejected("03-never-ordered", fn, says)


# -- 03-page-after -------------------------------------------------------------
def page_reference(session, last_id, size):
    stmt = select(Customer).order_by(Customer.id).limit(size)
    if last_id is not None:
        stmt = stmt.where(Customer.id > last_id)
    return session.scalars(stmt).all()


def page_always_where(session, last_id, size):  # alternative: one statement shape for every page
    stmt = select(Customer).where(Customer.id > (last_id or 0)).order_by(Customer.id.asc()).limit(size)
    return list(session.scalars(stmt))


def page_offset(session, last_id, size):
    return session.scalars(select(Customer).order_by(Customer.id).offset(last_id or 0).limit(size)).all()


def page_inclusive(session, last_id, size):
    stmt = select(Customer).order_by(Customer.id).limit(size)
    if last_id is not None:
        stmt = stmt.where(Customer.id >= last_id)
    return session.scalars(stmt).all()


def page_sliced_in_python(session, last_id, size):
    stmt = select(Customer).where(Customer.id > (last_id or 0)).order_by(Customer.id)
    return session.scalars(stmt).all()[:size]


@pytest.mark.parametrize("fn", [page_reference, page_always_where])
def test_page_after_accepts(fn):
    fb = check("03-page-after", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (page_offset, "OFFSET"),
    (page_inclusive, "not at it"),
    (page_sliced_in_python, "no LIMIT"),
])
def test_page_after_rejects(fn, says):
    assert_rejected("03-page-after", fn, says)


# -- 03-safe-search ------------------------------------------------------------
def search_reference(session, term):
    escaped = term.replace("/", "//").replace("%", "/%").replace("_", "/_")
    stmt = text("SELECT id FROM customers WHERE email LIKE :pattern ESCAPE '/' ORDER BY id")
    return session.scalars(stmt, {"pattern": f"%{escaped}%"}).all()


def _backslashed(term):
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_concat_in_sql(session, term):  # alternative: the wildcards added in SQL, escape '!'
    escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    stmt = text("SELECT id FROM customers WHERE email LIKE '%' || :term || '%' ESCAPE '!' ORDER BY id")
    return list(session.scalars(stmt, {"term": escaped}))


def search_bindparams(session, term):  # alternative: bindparams(), text().columns(), backslash escape
    stmt = text("SELECT id FROM customers WHERE email LIKE :pattern ESCAPE '\\' ORDER BY id")
    stmt = stmt.bindparams(pattern=f"%{_backslashed(term)}%")
    return session.scalars(stmt.columns(Customer.id)).all()


def search_position(session, term):  # alternative: no LIKE, so no wildcards at all
    find = "instr(email, :term)" if session.bind.dialect.name == "sqlite" else "strpos(email, :term)"
    return session.scalars(text(f"SELECT id FROM customers WHERE {find} > 0 ORDER BY id"), {"term": term}).all()


def search_unescaped(session, term):  # bound, but '%' and '_' stay wildcards
    stmt = text("SELECT id FROM customers WHERE email LIKE :pattern ORDER BY id")
    return session.scalars(stmt, {"pattern": f"%{term}%"}).all()


def search_escape_clause_only(session, term):  # ESCAPE written, the term not escaped
    stmt = text("SELECT id FROM customers WHERE email LIKE :pattern ESCAPE '/' ORDER BY id")
    return session.scalars(stmt, {"pattern": f"%{term}%"}).all()


def search_backslashes_no_escape_clause(session, term):  # right on PostgreSQL only
    stmt = text("SELECT id FROM customers WHERE email LIKE :pattern ORDER BY id")
    return session.scalars(stmt, {"pattern": f"%{_backslashed(term)}%"}).all()


def search_slash_no_escape_clause(session, term):  # escaped with '/', which nothing declares
    escaped = term.replace("/", "//").replace("%", "/%").replace("_", "/_")
    stmt = text("SELECT id FROM customers WHERE email LIKE :pattern ORDER BY id")
    return session.scalars(stmt, {"pattern": f"%{escaped}%"}).all()


def search_select_contains(session, term):  # binds and escapes too, but the task asks for text()
    stmt = select(Customer.id).where(Customer.email.contains(term, autoescape=True)).order_by(Customer.id)
    return session.scalars(stmt).all()


def search_filtered_in_python(session, term):  # no WHERE, no parameter: filters in Python
    return [r.id for r in session.execute(text("SELECT id, email FROM customers ORDER BY id")) if term in r.email]


def search_fstring(session, term):
    return session.scalars(text(f"SELECT id FROM customers WHERE email LIKE '%{term}%' ORDER BY id")).all()


def search_escaped_by_hand(session, term):
    safe = term.replace("'", "''")
    return session.scalars(text(f"SELECT id FROM customers WHERE email LIKE '%{safe}%' ORDER BY id")).all()


def search_rows(session, term):
    stmt = text("SELECT id FROM customers WHERE email LIKE :pattern ESCAPE '/' ORDER BY id")
    return session.execute(stmt, {"pattern": f"%{term.replace('_', '/_').replace('%', '/%')}%"}).all()


@pytest.mark.parametrize("fn", [search_reference, search_concat_in_sql, search_bindparams, search_position])
def test_safe_search_accepts(fn):
    fb = check("03-safe-search", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (search_fstring, "SQL injection"),
    (search_escaped_by_hand, "part of the SQL text"),
    (search_rows, "Row objects"),
    (search_select_contains, "about text()"),
    (search_filtered_in_python, "did not search"),
    (search_unescaped, "read as LIKE wildcards"),
    (search_escape_clause_only, "read as LIKE wildcards"),
    (search_backslashes_no_escape_clause, "no ESCAPE clause"),
    (search_slash_no_escape_clause, "escaped with '/', but the SQL has no ESCAPE clause"),
])
def test_safe_search_rejects(fn, says):
    assert_rejected("03-safe-search", fn, says)


def test_safe_search_names_the_wildcard_case():
    fb = check("03-safe-search", search_unescaped)
    assert "search_emails(session, '_') returned 200 ids, expected the 11" in fb.message, fb


def search_instr_fstring(session, term):  # the injection breaks the statement instead
    return session.scalars(text(f"SELECT id FROM customers WHERE instr(email, '{term}') > 0 ORDER BY id")).all()


def test_safe_search_explains_a_statement_broken_by_the_term():
    assert_rejected("03-safe-search", search_instr_fstring, "read as part of the SQL")


def test_safe_search_rejects_an_escape_character_left_unescaped():
    def search_emails(session, term):
        escaped = term.replace("%", "/%").replace("_", "/_")
        stmt = text("SELECT id FROM customers WHERE email LIKE :pattern ESCAPE '/' ORDER BY id")
        return session.scalars(stmt, {"pattern": f"%{escaped}%"}).all()

    fb = check("03-safe-search", search_emails)
    assert not fb.passed
    assert "'/a'" in fb.message and "escape character itself must be escaped" in fb.message
