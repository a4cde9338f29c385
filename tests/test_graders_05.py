"""Each grader of lesson 05 accepts correct answers (not only the one in
solutions/) and rejects the loading mistakes learners really make."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import (
    Load,
    contains_eager,
    joinedload,
    raiseload,
    selectinload,
    subqueryload,
)

from sqlacourse import check
from sqlacourse.shop import Customer, Order, OrderItem


# -- 05-customers-orders ------------------------------------------------------
def customers_selectin(session):
    return session.scalars(select(Customer).order_by(Customer.id).options(selectinload(Customer.orders))).all()


def customers_joined(session):  # alternative: one statement, with unique()
    stmt = select(Customer).order_by(Customer.id).options(joinedload(Customer.orders))
    return session.scalars(stmt).unique().all()


def customers_lazy(session):
    return session.scalars(select(Customer).order_by(Customer.id)).all()


def customers_lazy_loop_inside(session):
    customers = session.scalars(select(Customer).order_by(Customer.id)).all()
    for c in customers:
        len(c.orders)  # "preloading" one customer at a time
    return customers


def customers_joined_no_unique(session):
    return session.scalars(select(Customer).order_by(Customer.id).options(joinedload(Customer.orders))).all()


def customers_inner_join(session):
    stmt = (select(Customer).join(Customer.orders).order_by(Customer.id)
            .options(contains_eager(Customer.orders)))
    return session.scalars(stmt).unique().all()


def customers_unsorted(session):
    return session.scalars(select(Customer).order_by(Customer.id.desc()).options(selectinload(Customer.orders))).all()


def customers_selectin_two_keys(session):  # alternative: the ORDER BY ends with the id
    stmt = select(Customer).order_by(Customer.created_at, Customer.id).options(selectinload(Customer.orders))
    return session.scalars(stmt).all()


def customers_no_order_by(session):  # id order only by accident (SQLite's storage order)
    return session.scalars(select(Customer).options(selectinload(Customer.orders))).all()


def customers_by_created_at(session):  # same order in this data, but not sorted by id
    return session.scalars(select(Customer).order_by(Customer.created_at)
                           .options(selectinload(Customer.orders))).all()


def customers_subquery(session):  # legacy loader the lesson says not to use
    return session.scalars(select(Customer).order_by(Customer.id).options(subqueryload(Customer.orders))).all()


@pytest.mark.parametrize("fn", [customers_selectin, customers_joined, customers_selectin_two_keys])
def test_customers_orders_accepts(fn):
    fb = check("05-customers-orders", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (customers_lazy, "2 statements expected, 201 emitted: this is the N+1 pattern"),
    (customers_lazy_loop_inside, "N+1 pattern"),
    (customers_joined_no_unique, "needs .unique() before .all()"),
    (customers_inner_join, "customers without orders"),
    (customers_unsorted, "not sorted"),
    (customers_no_order_by, "your query has no ORDER BY"),
    (customers_by_created_at, "your ORDER BY does not sort by id"),
    (customers_subquery, "subqueryload is legacy; use selectinload"),
])
def test_customers_orders_rejects(fn, says):
    fb = check("05-customers-orders", fn)
    assert not fb.passed and says in (fb.message + fb.details), fb


# -- 05-order-lines -----------------------------------------------------------
def _orders_of(customer_id):
    return select(Order).where(Order.customer_id == customer_id).order_by(Order.id)


def lines_selectin_joined(session, customer_id):
    opt = selectinload(Order.items).joinedload(OrderItem.product)
    return session.scalars(_orders_of(customer_id).options(opt)).all()


def lines_selectin_inner_joined(session, customer_id):  # the solution: product_id is NOT NULL
    opt = selectinload(Order.items).joinedload(OrderItem.product, innerjoin=True)
    return session.scalars(_orders_of(customer_id).options(opt)).all()


def lines_all_selectin(session, customer_id):  # alternative: 3 statements
    opt = selectinload(Order.items).selectinload(OrderItem.product)
    return session.scalars(_orders_of(customer_id).options(opt)).all()


def lines_all_joined(session, customer_id):  # alternative: 1 statement
    opt = joinedload(Order.items).joinedload(OrderItem.product, innerjoin=True)
    return session.scalars(_orders_of(customer_id).options(opt)).unique().all()


def lines_items_only(session, customer_id):
    return session.scalars(_orders_of(customer_id).options(selectinload(Order.items))).all()


def lines_lazy(session, customer_id):
    return session.scalars(_orders_of(customer_id)).all()


def lines_wrong_customer(session, customer_id):
    opt = selectinload(Order.items).joinedload(OrderItem.product)
    return session.scalars(_orders_of(customer_id + 1).options(opt)).all()


def lines_python_filter(session, customer_id):  # loads all 600 orders, filters in Python
    opt = selectinload(Order.items).joinedload(OrderItem.product)
    orders = session.scalars(select(Order).order_by(Order.id).options(opt))
    return [o for o in orders if o.customer_id == customer_id]


def lines_python_filter_selectin(session, customer_id):  # same, 5 statements
    opt = selectinload(Order.items).selectinload(OrderItem.product)
    orders = session.scalars(select(Order).order_by(Order.id).options(opt)).all()
    return [o for o in orders if o.customer_id == customer_id]


def lines_no_order_by(session, customer_id):
    opt = selectinload(Order.items).joinedload(OrderItem.product)
    return session.scalars(select(Order).where(Order.customer_id == customer_id).options(opt)).all()


@pytest.mark.parametrize("fn", [lines_selectin_joined, lines_selectin_inner_joined, lines_all_selectin,
                                lines_all_joined])
def test_order_lines_accepts(fn):
    fb = check("05-order-lines", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (lines_items_only, "item.product was loaded lazily"),
    (lines_lazy, "order.items was loaded lazily"),
    (lines_wrong_customer, "Expected the"),
    (lines_python_filter, "first SELECT has no WHERE: it loaded all 600 orders"),
    (lines_python_filter_selectin, "first SELECT has no WHERE"),
    (lines_no_order_by, "your query has no ORDER BY"),
])
def test_order_lines_rejects(fn, says):
    fb = check("05-order-lines", fn)
    assert not fb.passed and says in fb.message, fb


# -- 05-order-customer --------------------------------------------------------
def order_joined(session, order_id):
    stmt = select(Order).where(Order.id == order_id).options(joinedload(Order.customer))
    return session.scalars(stmt).one()


def order_get_inner(session, order_id):  # alternative: session.get with an inner join
    return session.get(Order, order_id, options=[joinedload(Order.customer, innerjoin=True)])


def order_contains_eager(session, order_id):  # alternative: explicit join
    stmt = (select(Order).join(Order.customer).where(Order.id == order_id)
            .options(contains_eager(Order.customer)))
    return session.scalars(stmt).one()


def order_selectin(session, order_id):
    stmt = select(Order).where(Order.id == order_id).options(selectinload(Order.customer))
    return session.scalars(stmt).one()


def order_lazy(session, order_id):
    return session.get(Order, order_id)


def order_list(session, order_id):
    stmt = select(Order).where(Order.id == order_id).options(joinedload(Order.customer))
    return session.scalars(stmt).all()


@pytest.mark.parametrize("fn", [order_joined, order_get_inner, order_contains_eager])
def test_order_customer_accepts(fn):
    fb = check("05-order-customer", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (order_selectin, "selectinload always sends a second"),
    (order_lazy, "lazy"),
    (order_list, "one Order object"),
])
def test_order_customer_rejects(fn, says):
    fb = check("05-order-customer", fn)
    assert not fb.passed and says in fb.message, fb


# -- 05-raiseload -------------------------------------------------------------
def _by_status(status):
    return select(Order).where(Order.status == status).order_by(Order.id)


def strict_selectin(session, status):
    return session.scalars(_by_status(status).options(selectinload(Order.items), raiseload("*"))).all()


def strict_joined_explicit(session, status):  # alternative: joined items, wildcard on both levels
    opts = (joinedload(Order.items).raiseload("*"), Load(Order).raiseload("*"))
    return session.scalars(_by_status(status).options(*opts)).unique().all()


def strict_sql_only(session, status):  # alternative: raise only where SQL would be needed
    opts = (selectinload(Order.items), raiseload("*", sql_only=True))
    return session.scalars(_by_status(status).options(*opts)).all()


def strict_no_raiseload(session, status):
    return session.scalars(_by_status(status).options(selectinload(Order.items))).all()


def strict_only_customer(session, status):
    opts = (selectinload(Order.items), raiseload(Order.customer))
    return session.scalars(_by_status(status).options(*opts)).all()


def strict_items_not_loaded(session, status):
    return session.scalars(_by_status(status).options(raiseload("*"))).all()


def strict_loads_customer_too(session, status):
    opts = (selectinload(Order.items), joinedload(Order.customer), raiseload("*"))
    return session.scalars(_by_status(status).options(*opts)).all()


def strict_python_filter(session, status):  # all 600 orders, two selectin batches of 500 keys
    stmt = select(Order).order_by(Order.id).options(selectinload(Order.items), raiseload("*"))
    return [o for o in session.scalars(stmt) if o.status == status]


@pytest.mark.parametrize("fn", [strict_selectin, strict_joined_explicit, strict_sql_only])
def test_raiseload_accepts(fn):
    fb = check("05-raiseload", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (strict_no_raiseload, "order.customer sent a lazy SELECT"),
    (strict_only_customer, "item.product sent a lazy SELECT"),
    (strict_items_not_loaded, "Reading order.items raised"),
    (strict_loads_customer_too, "order.customer was loaded"),
    (strict_python_filter, "first SELECT has no WHERE: it loaded all 600 orders"),
])
def test_raiseload_rejects(fn, says):
    fb = check("05-raiseload", fn)
    assert not fb.passed and says in fb.message, fb


# -- 05-contains-eager --------------------------------------------------------
def cancelled_contains_eager(session):
    stmt = (select(Customer).join(Customer.orders).where(Order.status == "cancelled")
            .order_by(Customer.id).options(contains_eager(Customer.orders)))
    return session.scalars(stmt).unique().all()


def cancelled_explicit_on(session):  # alternative: explicit ON clause, orders sorted too
    stmt = (select(Customer).join(Order, Order.customer_id == Customer.id)
            .filter(Order.status == "cancelled")
            .order_by(Customer.id, Order.id).options(contains_eager(Customer.orders)))
    return list(session.scalars(stmt).unique())


def cancelled_joinedload_twice(session):
    stmt = (select(Customer).join(Customer.orders).where(Order.status == "cancelled")
            .order_by(Customer.id).options(joinedload(Customer.orders)))
    return session.scalars(stmt).unique().all()


def cancelled_selectin(session):
    stmt = (select(Customer).join(Customer.orders).where(Order.status == "cancelled")
            .order_by(Customer.id).distinct().options(selectinload(Customer.orders)))
    return session.scalars(stmt).all()


def cancelled_subquery(session):
    stmt = (select(Customer).where(Customer.orders.any(Order.status == "cancelled"))
            .order_by(Customer.id).options(subqueryload(Customer.orders)))
    return session.scalars(stmt).all()


def cancelled_no_filter(session):
    stmt = (select(Customer).join(Customer.orders).order_by(Customer.id)
            .options(contains_eager(Customer.orders)))
    return session.scalars(stmt).unique().all()


def cancelled_no_unique(session):
    stmt = (select(Customer).join(Customer.orders).where(Order.status == "cancelled")
            .order_by(Customer.id).options(contains_eager(Customer.orders)))
    return session.scalars(stmt).all()


def cancelled_no_unique_returns_result(session):  # the grader's .all() raises
    stmt = (select(Customer).join(Customer.orders).where(Order.status == "cancelled")
            .order_by(Customer.id).options(contains_eager(Customer.orders)))
    return session.scalars(stmt)


@pytest.mark.parametrize("fn", [cancelled_contains_eager, cancelled_explicit_on])
def test_contains_eager_accepts(fn):
    fb = check("05-contains-eager", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (cancelled_joinedload_twice, "joined 2 times"),
    (cancelled_selectin, "a second SELECT"),
    (cancelled_subquery, "a second SELECT"),
    (cancelled_no_filter, "Expected the"),
    (cancelled_no_unique, "contains_eager(Customer.orders) fills the collection from your JOIN"),
    (cancelled_no_unique_returns_result, "needs .unique() before .all()"),
])
def test_contains_eager_rejects(fn, says):
    fb = check("05-contains-eager", fn)
    assert not fb.passed and says in fb.message, fb
