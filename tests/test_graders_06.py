"""Each grader of lesson 06 accepts the correct async answers (not only the one in solutions/),
rejects the mistakes learners really make with the reason named, and judges alike on aiosqlite
and asyncpg (this file runs on both backends; the str customer id passes on aiosqlite as a
driver matter but is rejected by the grader everywhere, and asyncpg's own refusal is checked
in the PostgreSQL phase)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload, selectinload

from sqlacourse import check
from sqlacourse.shop import Customer, Order, OrderItem

ON_POSTGRES = bool(os.environ.get("SQLACOURSE_DATABASE_URL"))


def failed_with(fb, *words):
    assert not fb.passed, fb
    text = f"{fb.message}\n{fb.details}"
    for w in words:
        assert w in text, (w, str(fb))
    assert "grader itself failed" not in fb.message
    # no stray punctuation: "'Leon Müller': and no UPDATE", ",.", ".."
    assert not re.search(r"[:;,]\s*[:;,]|,\s*\.(\s|$)|: and |: but |(?<!\.)\.\.(?!\.)", fb.message), fb.message


# -- 06-orders-no-io -----------------------------------------------------------
async def customers_selectin(session, country):
    stmt = (select(Customer).where(Customer.country == country).order_by(Customer.id)
            .options(selectinload(Customer.orders)))
    return (await session.scalars(stmt)).all()


async def customers_joined(session, country):
    stmt = (select(Customer).where(Customer.country == country).order_by(Customer.id)
            .options(joinedload(Customer.orders)))
    return (await session.scalars(stmt)).unique().all()


async def customers_no_option(session, country):
    return (await session.scalars(select(Customer).where(Customer.country == country).order_by(Customer.id))).all()


async def customers_explicit_second_select(session, country):
    customers = (await session.scalars(
        select(Customer).where(Customer.country == country).order_by(Customer.id))).all()
    await session.scalars(select(Order).where(Order.customer_id.in_([c.id for c in customers])))
    return customers


async def customers_touch_inside(session, country):
    customers = (await session.scalars(
        select(Customer).where(Customer.country == country).order_by(Customer.id))).all()
    for c in customers:
        len(c.orders)
    return customers


async def customers_refresh_each(session, country):
    customers = (await session.scalars(
        select(Customer).where(Customer.country == country).order_by(Customer.id))).all()
    for c in customers:
        await session.refresh(c, ["orders"])
    return customers


async def customers_joined_no_unique(session, country):
    stmt = (select(Customer).where(Customer.country == country).order_by(Customer.id)
            .options(joinedload(Customer.orders)))
    return (await session.scalars(stmt)).all()


async def customers_no_filter(session, country):
    stmt = select(Customer).order_by(Customer.id).options(selectinload(Customer.orders))
    return (await session.scalars(stmt)).all()


def test_orders_no_io_passes_both_correct_answers():
    fb = check("06-orders-no-io", customers_selectin)
    assert fb.passed and "2 statement(s)" in fb.message, fb
    fb = check("06-orders-no-io", customers_joined)
    assert fb.passed and "1 statement(s)" in fb.message, fb


def test_orders_no_io_rejects_the_mistakes_with_their_cause():
    failed_with(check("06-orders-no-io", customers_no_option), "customer.orders is not loaded")
    failed_with(check("06-orders-no-io", customers_explicit_second_select), "customer.orders is not loaded")
    fb = check("06-orders-no-io", customers_touch_inside)
    failed_with(fb, "a lazy load, which is IO", "customers_touch_inside")
    assert "greenlet_spawn" not in fb.details
    failed_with(check("06-orders-no-io", customers_refresh_each), "At most 2 statements", "N+1")
    failed_with(check("06-orders-no-io", customers_joined_no_unique), "InvalidRequestError")
    failed_with(check("06-orders-no-io", customers_no_filter), "whose country is")


# -- 06-after-commit ------------------------------------------------------------
async def rename_fixed(session_factory, customer_id, new_name):
    async with session_factory(expire_on_commit=False) as session:
        customer = await session.get(Customer, customer_id)
        customer.name = new_name
        await session.commit()
        return customer


async def rename_refresh(session_factory, customer_id, new_name):
    async with session_factory() as session:
        customer = await session.get(Customer, customer_id)
        customer.name = new_name
        await session.commit()
        await session.refresh(customer)
        return customer


async def rename_sync_session_setting(session_factory, customer_id, new_name):
    async with session_factory() as session:
        session.sync_session.expire_on_commit = False
        customer = await session.get(Customer, customer_id)
        customer.name = new_name
        await session.commit()
        return customer


async def rename_begin_then_refresh(session_factory, customer_id, new_name):
    async with session_factory() as session:
        async with session.begin():
            customer = await session.get(Customer, customer_id)
            customer.name = new_name
        await session.refresh(customer)
        return customer


async def rename_original(session_factory, customer_id, new_name):
    async with session_factory() as session:
        customer = await session.get(Customer, customer_id)
        customer.name = new_name
        await session.commit()
        return customer


async def rename_log_after_commit(session_factory, customer_id, new_name):
    async with session_factory() as session:
        customer = await session.get(Customer, customer_id)
        customer.name = new_name
        await session.commit()
        print("renamed", customer.name)
        return customer


async def rename_flush_only(session_factory, customer_id, new_name):
    async with session_factory(expire_on_commit=False) as session:
        customer = await session.get(Customer, customer_id)
        customer.name = new_name
        await session.flush()
        return customer


async def rename_expunged(session_factory, customer_id, new_name):
    async with session_factory() as session:
        customer = await session.get(Customer, customer_id)
        session.expunge(customer)
        customer.name = new_name
        await session.commit()
        return customer


async def rename_configure_factory(session_factory, customer_id, new_name):
    session_factory.configure(expire_on_commit=False)
    return await rename_original(session_factory, customer_id, new_name)


async def rename_factory_kw(session_factory, customer_id, new_name):
    session_factory.kw["expire_on_commit"] = False
    return await rename_original(session_factory, customer_id, new_name)


def test_after_commit_rejects_changing_the_callers_factory_and_the_next_check_is_unaffected():
    fb = check("06-after-commit", rename_configure_factory)
    failed_with(fb, "changed the caller's factory", "session_factory.configure(expire_on_commit=False)",
                "session_factory(expire_on_commit=False)")
    failed_with(check("06-after-commit", rename_factory_kw), "changed the caller's factory")
    # the change reached no factory a later check uses: the unfixed function still fails
    failed_with(check("06-after-commit", rename_original), "expire_on_commit=True")
    assert check("06-after-commit", rename_fixed).passed


def test_after_commit_says_what_was_not_committed_in_one_sentence():
    fb = check("06-after-commit", rename_expunged)
    failed_with(fb, "', and no UPDATE was sent.")
    fb = check("06-after-commit", rename_flush_only)
    failed_with(fb, "', and nothing was committed: a flush")


def test_after_commit_passes_the_correct_answers():
    for fn in (rename_fixed, rename_refresh, rename_sync_session_setting, rename_begin_then_refresh):
        fb = check("06-after-commit", fn)
        assert fb.passed, (fn.__name__, str(fb))


def test_after_commit_rejects_the_mistakes_with_their_cause():
    failed_with(check("06-after-commit", rename_original), "expire_on_commit=True")
    failed_with(check("06-after-commit", rename_log_after_commit), "a lazy load, which is IO")
    failed_with(check("06-after-commit", rename_flush_only), "nothing was committed")
    failed_with(check("06-after-commit", rename_expunged), "no UPDATE was sent")


# -- 06-concurrent-counts --------------------------------------------------------
def _count(customer_id):
    return select(func.count()).select_from(Order).where(Order.customer_id == customer_id)


async def counts_gather(session_factory, customer_ids):
    gate = asyncio.Semaphore(5)

    async def one(customer_id):
        async with gate, session_factory() as session:
            return customer_id, await session.scalar(_count(customer_id))

    return dict(await asyncio.gather(*(one(c) for c in customer_ids)))


async def counts_taskgroup(session_factory, customer_ids):
    gate = asyncio.Semaphore(3)
    out = {}

    async def one(customer_id):
        async with gate:
            async with session_factory() as session:
                out[customer_id] = await session.scalar(
                    select(func.count(Order.id)).where(Order.customer_id == customer_id))

    async with asyncio.TaskGroup() as tg:
        for c in customer_ids:
            tg.create_task(one(c))
    return out


async def counts_sequential(session_factory, customer_ids):
    async with session_factory() as session:
        return {c: await session.scalar(_count(c)) for c in customer_ids}


async def counts_one_session_gather(session_factory, customer_ids):
    async with session_factory() as session:
        async def one(customer_id):
            return customer_id, await session.scalar(_count(customer_id))

        return dict(await asyncio.gather(*(one(c) for c in customer_ids)))


async def counts_unbounded(session_factory, customer_ids):
    async def one(customer_id):
        async with session_factory() as session:
            return customer_id, await session.scalar(_count(customer_id))

    return dict(await asyncio.gather(*(one(c) for c in customer_ids)))


async def counts_str_keys(session_factory, customer_ids):
    return {str(k): v for k, v in (await counts_gather(session_factory, customer_ids)).items()}


def test_concurrent_counts_passes_the_correct_answers():
    fb = check("06-concurrent-counts", counts_gather)
    assert fb.passed and "at most 5 queries" in fb.message, fb
    fb = check("06-concurrent-counts", counts_taskgroup)
    assert fb.passed and "at most 3 queries" in fb.message, fb


def test_concurrent_counts_rejects_the_mistakes_with_their_cause(capfd):
    failed_with(check("06-concurrent-counts", counts_sequential), "made 1 session")
    failed_with(check("06-concurrent-counts", counts_one_session_gather), "one AsyncSession was used by several tasks")
    failed_with(check("06-concurrent-counts", counts_unbounded), "at most 5 are allowed")
    out, err = capfd.readouterr()
    assert "non-checked-in" not in out + err and "never awaited" not in out + err


# -- 06-stream-items --------------------------------------------------------------
def _lines():
    return select(OrderItem).order_by(OrderItem.order_id, OrderItem.product_id)


async def export_partitions(session, sink):
    async for batch in (await session.stream_scalars(_lines().execution_options(yield_per=200))).partitions():
        for item in batch:
            sink(item.order_id, item.product_id, item.quantity * item.unit_price)


async def export_async_for(session, sink):
    async for item in await session.stream_scalars(_lines().execution_options(yield_per=100)):
        sink(item.order_id, item.product_id, item.quantity * item.unit_price)


async def export_rows(session, sink):
    stmt = (select(OrderItem.order_id, OrderItem.product_id, OrderItem.quantity, OrderItem.unit_price)
            .order_by(OrderItem.order_id, OrderItem.product_id).execution_options(yield_per=500))
    async for o, p, q, u in await session.stream(stmt):
        sink(o, p, q * u)


async def export_all(session, sink):
    for item in (await session.scalars(_lines())).all():
        sink(item.order_id, item.product_id, item.quantity * item.unit_price)


async def export_no_yield_per(session, sink):
    async for item in await session.stream_scalars(_lines()):
        sink(item.order_id, item.product_id, item.quantity * item.unit_price)


async def export_no_order_by(session, sink):
    async for item in await session.stream_scalars(select(OrderItem).execution_options(yield_per=200)):
        sink(item.order_id, item.product_id, item.quantity * item.unit_price)


async def export_float(session, sink):
    async for item in await session.stream_scalars(_lines().execution_options(yield_per=200)):
        sink(item.order_id, item.product_id, float(item.quantity * item.unit_price))


async def export_huge_batches(session, sink):
    async for item in await session.stream_scalars(_lines().execution_options(yield_per=5000)):
        sink(item.order_id, item.product_id, item.quantity * item.unit_price)


async def export_collect_all(session, sink):
    stmt = _lines().execution_options(yield_per=200)
    items = [item async for item in await session.stream_scalars(stmt)]
    for item in items:
        sink(item.order_id, item.product_id, item.quantity * item.unit_price)


async def export_unit_price_only(session, sink):
    async for item in await session.stream_scalars(_lines().execution_options(yield_per=200)):
        sink(item.order_id, item.product_id, item.unit_price)


async def export_big_partitions(session, sink):
    async for batch in (await session.stream_scalars(_lines().execution_options(yield_per=500))).partitions():
        for item in batch:
            sink(item.order_id, item.product_id, item.quantity * item.unit_price)


def test_stream_items_names_holding_every_object_not_yield_per():
    fb = check("06-stream-items", export_collect_all)
    failed_with(fb, "objects were in the session", "keeps references", "yield_per=200")
    assert "too many" not in fb.message and "too large" not in fb.message, fb
    failed_with(check("06-stream-items", export_huge_batches), "yield_per=5000 each batch builds 5000 objects", "too many")
    assert check("06-stream-items", export_big_partitions).passed


def test_stream_items_shows_a_line_that_differs():
    fb = check("06-stream-items", export_unit_price_only)
    failed_with(fb, "not expected")
    m = re.search(r"expected (\(.*?\)), which your code did not pass, and your code passed (\(.*?\)), which", fb.message)
    assert m, fb.message
    assert m.group(1) != m.group(2)
    assert m.group(1).startswith(m.group(2).split(", Decimal")[0])  # the same order line, another amount


def test_stream_items_passes_the_correct_answers():
    for fn in (export_partitions, export_async_for, export_rows):
        fb = check("06-stream-items", fn)
        assert fb.passed, (fn.__name__, str(fb))


def test_stream_items_rejects_the_mistakes_with_their_cause():
    failed_with(check("06-stream-items", export_all), "not streamed")
    failed_with(check("06-stream-items", export_no_yield_per), "without yield_per")
    failed_with(check("06-stream-items", export_no_order_by), "ORDER BY")
    failed_with(check("06-stream-items", export_float), "Decimal")
    failed_with(check("06-stream-items", export_huge_batches), "objects were in the session")


# -- 06-strict-insert --------------------------------------------------------------
async def record_ok(session, form):
    order = Order(customer_id=int(form["customer_id"]), status="pending",
                  created_at=dt.datetime.fromisoformat(form["created_at"]))
    session.add(order)
    await session.commit()
    return order.id


async def record_flush_first(session, form):
    order = Order(customer_id=int(form["customer_id"]),
                  created_at=dt.datetime.fromisoformat(form["created_at"]).astimezone(dt.timezone.utc))
    session.add(order)
    await session.flush()
    new_id = order.id
    await session.commit()
    return new_id


async def record_str_id(session, form):
    order = Order(customer_id=form["customer_id"], status="pending",
                  created_at=dt.datetime.fromisoformat(form["created_at"]))
    session.add(order)
    await session.commit()
    return order.id


async def record_str_date(session, form):
    order = Order(customer_id=int(form["customer_id"]), status="pending", created_at=form["created_at"])
    session.add(order)
    await session.commit()
    return order.id


async def record_naive(session, form):
    order = Order(customer_id=int(form["customer_id"]), status="pending",
                  created_at=dt.datetime.fromisoformat(form["created_at"]).replace(tzinfo=None))
    session.add(order)
    await session.commit()
    return order.id


async def record_no_commit(session, form):
    order = Order(customer_id=int(form["customer_id"]), status="pending",
                  created_at=dt.datetime.fromisoformat(form["created_at"]))
    session.add(order)
    await session.flush()
    return order.id


async def _insert_values_returning(session, **values):
    stmt = insert(Order).values(status="pending", **values).returning(Order.id)
    new_id = (await session.execute(stmt)).scalar_one()
    await session.commit()
    return new_id


async def record_core_insert(session, form):
    return await _insert_values_returning(session, customer_id=int(form["customer_id"]),
                                          created_at=dt.datetime.fromisoformat(form["created_at"]))


async def record_core_insert_params(session, form):
    result = await session.execute(insert(Order).returning(Order.id),
                                   [{"customer_id": int(form["customer_id"]), "status": "pending",
                                     "created_at": dt.datetime.fromisoformat(form["created_at"])}])
    new_id = result.scalar_one()
    await session.commit()
    return new_id


async def record_core_insert_str_id(session, form):
    return await _insert_values_returning(session, customer_id=form["customer_id"],
                                          created_at=dt.datetime.fromisoformat(form["created_at"]))


async def record_core_insert_naive(session, form):
    created = dt.datetime.fromisoformat(form["created_at"]).replace(tzinfo=None)
    result = await session.execute(insert(Order).returning(Order.id),
                                   [{"customer_id": int(form["customer_id"]), "created_at": created}])
    new_id = result.scalar_one()
    await session.commit()
    return new_id


def test_strict_insert_accepts_a_core_insert_that_meets_every_requirement():
    """The task asks for an inserted order, its values, a commit and the id: a Core
    insert(Order)...returning(Order.id) meets all of it, and is judged on the same values."""
    for fn in (record_core_insert, record_core_insert_params):
        fb = check("06-strict-insert", fn)
        assert fb.passed, (fn.__name__, str(fb))
    failed_with(check("06-strict-insert", record_core_insert_str_id), "rejects a str", "int()")
    failed_with(check("06-strict-insert", record_core_insert_naive), "naive datetime")


def test_strict_insert_passes_the_correct_answers():
    for fn in (record_ok, record_flush_first):
        fb = check("06-strict-insert", fn)
        assert fb.passed, (fn.__name__, str(fb))


def test_strict_insert_rejects_the_mistakes_with_their_cause():
    failed_with(check("06-strict-insert", record_str_id), "asyncpg (PostgreSQL) rejects a str", "int()")
    failed_with(check("06-strict-insert", record_str_date), "not a datetime")
    failed_with(check("06-strict-insert", record_naive), "naive datetime")
    failed_with(check("06-strict-insert", record_no_commit), "commit it")


def test_the_str_id_is_a_driver_matter_aiosqlite_stores_it_asyncpg_refuses_it():
    """The answer the grader rejects on both backends, run bare: stored on aiosqlite, an error on
    asyncpg (this is what the PostgreSQL phase proves)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from sqlacourse.lesson import fresh_database

    async def run(db):
        engine = db.create_async_engine()
        try:
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                return await record_str_id(session, {"customer_id": "42", "created_at": "2026-03-01T09:30:00+01:00"})
        finally:
            await engine.dispose()

    with fresh_database("t06-strict") as fresh:
        if ON_POSTGRES:
            with pytest.raises(DBAPIError, match="str"):
                asyncio.run(run(fresh.db))
        else:
            assert isinstance(asyncio.run(run(fresh.db)), int)


# -- answers that aiosqlite accepts and asyncpg refuses (a str where an int column is compared) ----
async def customers_str_bound(session, country):
    stmt = (select(Customer).where(Customer.country == country, Customer.id >= "1").order_by(Customer.id)
            .options(selectinload(Customer.orders)))
    return (await session.scalars(stmt)).all()


async def rename_str_id(session_factory, customer_id, new_name):
    async with session_factory(expire_on_commit=False) as session:
        customer = (await session.scalars(select(Customer).where(Customer.id == str(customer_id)))).one()
        customer.name = new_name
        await session.commit()
        return customer


async def counts_str_id(session_factory, customer_ids):
    gate = asyncio.Semaphore(5)

    async def one(customer_id):
        async with gate, session_factory() as session:
            return customer_id, await session.scalar(
                select(func.count()).select_from(Order).where(Order.customer_id == str(customer_id)))

    return dict(await asyncio.gather(*(one(c) for c in customer_ids)))


async def export_str_bound(session, sink):
    stmt = _lines().where(OrderItem.quantity >= "1").execution_options(yield_per=200)
    async for item in await session.stream_scalars(stmt):
        sink(item.order_id, item.product_id, item.quantity * item.unit_price)


@pytest.mark.parametrize("exercise, answer", [
    ("06-orders-no-io", customers_str_bound),
    ("06-after-commit", rename_str_id),
    ("06-concurrent-counts", counts_str_id),
    ("06-stream-items", export_str_bound),
    ("06-strict-insert", record_str_id),
])
def test_an_answer_aiosqlite_accepts_is_refused_on_asyncpg(exercise, answer):
    """A str compared with (or stored in) an Integer column: aiosqlite lets it through, asyncpg
    refuses it. 06-strict-insert's grader rejects its str id on both backends (it looks at the
    object's types, with the asyncpg sentence); the others pass on SQLite and fail on PostgreSQL
    with the driver's error as feedback."""
    fb = check(exercise, answer)
    if ON_POSTGRES:
        failed_with(fb)
        # asyncpg's refusal (DataError: a str bound for an int parameter; ProgrammingError:
        # integer >= character varying) in the course's words
        assert ("rejects a str" in fb.message if exercise == "06-strict-insert" else
                fb.message.startswith("asyncpg (PostgreSQL) refused a value of the wrong Python type")), fb
    elif exercise == "06-strict-insert":
        failed_with(fb, "rejects a str")
    else:
        assert fb.passed, fb


async def record_through_relationship(session, form):
    customer = await session.get(Customer, int(form["customer_id"]))
    order = Order(customer=customer, status="pending",
                  created_at=dt.datetime.fromisoformat(form["created_at"]))
    session.add(order)
    await session.commit()
    return order.id


async def record_float_id(session, form):
    order = Order(customer_id=float(form["customer_id"]), status="pending",
                  created_at=dt.datetime.fromisoformat(form["created_at"]))
    session.add(order)
    await session.commit()
    return order.id


def test_strict_insert_accepts_the_customer_set_through_the_relationship():
    fb = check("06-strict-insert", record_through_relationship)
    assert fb.passed, fb


def test_strict_insert_names_a_float_id_as_a_float():
    fb = check("06-strict-insert", record_float_id)
    assert not fb.passed and "customer_id is a float" in fb.message and "rejects a float" in fb.message, fb


# -- learner walkthrough findings (fix06b) -------------------------------------------
async def export_expunge_all_per_batch(session, sink):
    result = await session.stream_scalars(_lines().execution_options(yield_per=100))
    async for batch in result.partitions():
        for item in batch:
            sink(item.order_id, item.product_id, item.quantity * item.unit_price)
        session.expunge_all()


async def export_expunge_each(session, sink):
    result = await session.stream_scalars(_lines().execution_options(yield_per=100))
    async for batch in result.partitions():
        for item in batch:
            sink(item.order_id, item.product_id, item.quantity * item.unit_price)
            session.expunge(item)


async def export_keywords(session, sink):
    async for item in await session.stream_scalars(_lines().execution_options(yield_per=200)):
        sink(order_id=item.order_id, product_id=item.product_id, amount=item.quantity * item.unit_price)


async def export_wrong_keyword(session, sink):
    async for item in await session.stream_scalars(_lines().execution_options(yield_per=200)):
        sink(item.order_id, item.product_id, total=item.quantity * item.unit_price)


def test_stream_items_names_expunge_all_inside_the_stream():
    fb = check("06-stream-items", export_expunge_all_per_batch)
    failed_with(fb, "expunge_all()", "identity map", "session.expunge(item)")
    assert check("06-stream-items", export_expunge_each).passed


def test_stream_items_accepts_sink_called_with_keywords():
    fb = check("06-stream-items", export_keywords)
    assert fb.passed, fb
    fb = check("06-stream-items", export_wrong_keyword)
    failed_with(fb, "sink(order_id, product_id, amount)", "'total'")
    assert "_sink" not in fb.message and "grader" not in fb.message, fb


async def record_utc_then_naive(session, form):
    created = dt.datetime.fromisoformat(form["created_at"]).astimezone(dt.timezone.utc).replace(tzinfo=None)
    order = Order(customer_id=int(form["customer_id"]), status="pending", created_at=created)
    session.add(order)
    await session.commit()
    return order.id


def test_strict_insert_describes_the_naive_value_it_got():
    fb = check("06-strict-insert", record_utc_then_naive)
    failed_with(fb, "naive", "08:30", "converted to UTC", "local time zone")
    assert "09:30" not in fb.message and "+01:00 was dropped" not in fb.message, fb
    fb = check("06-strict-insert", record_naive)
    failed_with(fb, "naive", "09:30", "+01:00 was dropped", "local time zone")


async def counts_sessions_never_closed(session_factory, customer_ids):
    gate = asyncio.Semaphore(5)

    async def one(customer_id):
        async with gate:
            session = session_factory()
            return customer_id, await session.scalar(_count(customer_id))

    return dict(await asyncio.gather(*(one(c) for c in customer_ids)))


def test_concurrent_counts_names_sessions_never_closed(capfd):
    fb = check("06-concurrent-counts", counts_sessions_never_closed)
    failed_with(fb, "never closed", "checked out", "async with session_factory() as session")
    assert "never ends" not in fb.message and "time limit" not in fb.message, fb
    out, err = capfd.readouterr()
    assert "non-checked-in" not in out + err and "never awaited" not in out + err


async def customers_inner_join_contains_eager(session, country):
    from sqlalchemy.orm import contains_eager
    stmt = (select(Customer).join(Customer.orders).where(Customer.country == country)
            .order_by(Customer.id).options(contains_eager(Customer.orders)))
    return (await session.scalars(stmt)).unique().all()


async def customers_outer_join_contains_eager(session, country):
    from sqlalchemy.orm import contains_eager
    stmt = (select(Customer).outerjoin(Customer.orders).where(Customer.country == country)
            .order_by(Customer.id).options(contains_eager(Customer.orders)))
    return (await session.scalars(stmt)).unique().all()


async def customers_limited(session, country):
    stmt = (select(Customer).where(Customer.country == country).order_by(Customer.id)
            .options(selectinload(Customer.orders)).limit(3))
    return (await session.scalars(stmt)).all()


def test_orders_no_io_names_an_inner_join_and_a_limit():
    fb = check("06-orders-no-io", customers_inner_join_contains_eager)
    failed_with(fb, "no orders", "inner join", "outerjoin")
    assert ".where(Customer.country == country)" not in fb.message, fb
    fb = check("06-orders-no-io", customers_limited)
    failed_with(fb, "LIMIT")
    assert ".where(Customer.country == country)" not in fb.message, fb
    assert check("06-orders-no-io", customers_outer_join_contains_eager).passed


async def customers_upper_country(session, country):
    stmt = (select(Customer).where(func.upper(Customer.country) == country.upper()).order_by(Customer.id)
            .options(selectinload(Customer.orders)))
    return (await session.scalars(stmt)).all()


def test_orders_no_io_names_a_function_of_the_column_as_such():
    fb = check("06-orders-no-io", customers_upper_country)
    failed_with(fb, "upper(customers.country)", "case")
    assert "instead of equality" not in fb.message, fb


async def rename_configure_then_restore(session_factory, customer_id, new_name):
    old = session_factory.kw.get("expire_on_commit", True)
    session_factory.configure(expire_on_commit=False)
    try:
        return await rename_original(session_factory, customer_id, new_name)
    finally:
        session_factory.configure(expire_on_commit=old)


def test_after_commit_names_a_change_that_was_put_back():
    fb = check("06-after-commit", rename_configure_then_restore)
    failed_with(fb, "changed the caller's factory", "put the old value back", "rely on or change it")
    assert "from then on" not in fb.message, fb
    fb = check("06-after-commit", rename_configure_factory)
    failed_with(fb, "from then on")


def test_concurrent_counts_names_str_keys():
    fb = check("06-concurrent-counts", counts_str_keys)
    failed_with(fb, "keys are str", "int")
