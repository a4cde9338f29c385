"""Each grader of lesson 02 accepts correct answers (not only the one in
solutions/) and rejects the mistakes learners really make."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import exc, func, select, text, update

from sqlacourse import check
from sqlacourse.shop import Customer, CustomerProfile, Order, Product, Review


def now():
    return dt.datetime.now(dt.timezone.utc)


# -- 02-add-customer ----------------------------------------------------------
def add_reference(Session, email, name, country):
    with Session.begin() as session:
        customer = Customer(email=email, name=name, country=country, created_at=now())
        customer.profile = CustomerProfile(newsletter=True)
        session.add(customer)
        session.flush()
        return customer.id


def add_commit_then_read(Session, email, name, country):  # alternative: commit() in the session
    with Session() as session:
        customer = Customer(email=email, name=name, country=country, created_at=now())
        session.add_all([customer, CustomerProfile(customer=customer, newsletter=True)])
        session.commit()
        return customer.id  # reloaded inside the still-open session


def add_foreign_key(Session, email, name, country):  # alternative: flush, then the foreign key
    with Session.begin() as session:
        customer = Customer(email=email, name=name, country=country, created_at=now())
        session.add(customer)
        session.flush()
        session.add(CustomerProfile(customer_id=customer.id, newsletter=True))
        return customer.id


def add_commit_in_begin(Session, email, name, country):
    with Session.begin() as session:
        customer = Customer(email=email, name=name, country=country, created_at=now(),
                            profile=CustomerProfile(newsletter=True))
        session.add(customer)
        session.commit()  # the block commits by itself; reading the id now needs a new SELECT
        return customer.id  # InvalidRequestError: closed transaction inside context manager


def add_naive_now(Session, email, name, country):
    with Session.begin() as session:
        customer = Customer(email=email, name=name, country=country, created_at=dt.datetime.now(),
                            profile=CustomerProfile(newsletter=True))
        session.add(customer)
        session.flush()
        return customer.id


def add_aware_paris(Session, email, name, country):  # aware, but not UTC: SQLite drops the offset
    paris = dt.timezone(dt.timedelta(hours=2))
    with Session.begin() as session:
        customer = Customer(email=email, name=name, country=country,
                            created_at=dt.datetime.now(paris),
                            profile=CustomerProfile(newsletter=True))
        session.add(customer)
        session.flush()
        return customer.id


def add_zoneinfo_utc(Session, email, name, country):  # alternative: another spelling of UTC
    from zoneinfo import ZoneInfo

    with Session.begin() as session:
        customer = Customer(email=email, name=name, country=country,
                            created_at=dt.datetime.now().astimezone(ZoneInfo("UTC")),
                            profile=CustomerProfile(newsletter=True))
        session.add(customer)
        session.flush()
        return customer.id


def add_flush_only(Session, email, name, country):
    with Session() as session:
        customer = Customer(email=email, name=name, country=country, created_at=now(),
                            profile=CustomerProfile(newsletter=True))
        session.add(customer)
        session.flush()
        return customer.id


def add_two_commits(Session, email, name, country):
    with Session() as session:
        customer = Customer(email=email, name=name, country=country, created_at=now())
        session.add(customer)
        session.commit()
        session.add(CustomerProfile(customer_id=customer.id, newsletter=True))
        session.commit()
        return customer.id


def add_id_after_block(Session, email, name, country):
    with Session.begin() as session:
        customer = Customer(email=email, name=name, country=country, created_at=now(),
                            profile=CustomerProfile(newsletter=True))
        session.add(customer)
    return customer.id  # expired and detached: DetachedInstanceError


def add_without_profile(Session, email, name, country):
    with Session.begin() as session:
        customer = Customer(email=email, name=name, country=country, created_at=now())
        session.add(customer)
        session.flush()
        return customer.id


@pytest.mark.parametrize("fn", [add_reference, add_commit_then_read, add_foreign_key,
                                add_zoneinfo_utc])
def test_add_customer_accepts(fn):
    fb = check("02-add-customer", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (add_flush_only, "never committed"),
    (add_two_commits, "2 commits"),
    (add_id_after_block, "inside the block"),
    (add_without_profile, "without a profile"),
    (add_commit_in_begin, "don't call commit() inside"),
    (add_naive_now, "naive datetime"),
    (add_aware_paris, "not in UTC (offset +02:00)"),
])
def test_add_customer_rejects(fn, says):
    fb = check("02-add-customer", fn)
    assert not fb.passed and says in fb.message + fb.details, fb


# -- 02-set-statuses ----------------------------------------------------------
def statuses_reference(Session, changes):
    with Session.begin() as session:
        for order_id, status in changes.items():
            session.get_one(Order, order_id).status = status


def statuses_core_update(Session, changes):  # alternative: UPDATE statements, explicit commit
    with Session() as session:
        try:
            for order_id, status in changes.items():
                result = session.execute(
                    update(Order).where(Order.id == order_id).values(status=status))
                if result.rowcount != 1:
                    raise LookupError(f"no order {order_id}")
            session.commit()
        except Exception:
            session.rollback()
            raise


def statuses_commit_each(Session, changes):
    with Session() as session:
        for order_id, status in changes.items():
            session.get_one(Order, order_id).status = status
            session.commit()


def statuses_swallow(Session, changes):
    with Session() as session:
        try:
            for order_id, status in changes.items():
                session.get_one(Order, order_id).status = status
            session.commit()
        except Exception:
            session.rollback()


def statuses_no_commit(Session, changes):
    with Session() as session:
        for order_id, status in changes.items():
            session.get_one(Order, order_id).status = status
        session.flush()


def statuses_skip_bad(Session, changes):  # savepoints: keeps the good ones, hides the failure
    with Session.begin() as session:
        for order_id, status in changes.items():
            try:
                with session.begin_nested():
                    session.get_one(Order, order_id).status = status
            except Exception:
                pass


def statuses_skip_missing(Session, changes):  # one commit, but a missing id is silently skipped
    with Session.begin() as session:
        for order_id, status in changes.items():
            order = session.get(Order, order_id)
            if order:
                order.status = status


@pytest.mark.parametrize("fn", [statuses_reference, statuses_core_update])
def test_set_statuses_accepts(fn):
    fb = check("02-set-statuses", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (statuses_commit_each, "partial commit"),
    (statuses_swallow, "returned normally"),
    (statuses_no_commit, "never committed"),
    (statuses_skip_bad, "skipped the failing change"),
    (statuses_skip_missing, "Order 999999 does not exist, and your function skipped it"),
])
def test_set_statuses_rejects(fn, says):
    fb = check("02-set-statuses", fn)
    assert not fb.passed and says in fb.message, fb


# -- 02-find-customer ---------------------------------------------------------
def find_reference(session, customer_id):
    return session.get(Customer, customer_id)


def find_by_dict(session, customer_id):  # alternative: the primary key as a dict
    return session.get(Customer, {"id": customer_id})


def find_select(session, customer_id):
    return session.scalars(select(Customer).where(Customer.id == customer_id)).one_or_none()


def find_legacy_query(session, customer_id):
    return session.query(Customer).filter_by(id=customer_id).one_or_none()


def find_get_one(session, customer_id):
    return session.get_one(Customer, customer_id)


def find_row(session, customer_id):
    return session.execute(select(Customer).where(Customer.id == customer_id)).first()


@pytest.mark.parametrize("fn", [find_reference, find_by_dict])
def test_find_customer_accepts(fn):
    fb = check("02-find-customer", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (find_select, "identity map"),
    (find_legacy_query, "identity map"),
    (find_get_one, "raised NoResultFound"),
    (find_row, "a Row"),
])
def test_find_customer_rejects(fn, says):
    fb = check("02-find-customer", fn)
    assert not fb.passed and says in fb.message, fb


# -- 02-import-reviews --------------------------------------------------------
def import_reference(Session, rows):
    saved = 0
    with Session.begin() as session:
        for row in rows:
            try:
                with session.begin_nested():
                    session.add(Review(**row, created_at=now()))
            except exc.IntegrityError:
                continue
            saved += 1
    return saved


def import_explicit_savepoint(Session, rows):  # alternative: savepoint object, flush, commit()
    saved = 0
    with Session() as session:
        for row in rows:
            savepoint = session.begin_nested()
            try:
                session.add(Review(created_at=now(), **row))
                session.flush()
            except exc.IntegrityError:
                savepoint.rollback()
            else:
                savepoint.commit()
                saved += 1
        session.commit()
    return saved


def import_all_at_once(Session, rows):
    with Session.begin() as session:
        session.add_all([Review(**row, created_at=now()) for row in rows])
    return len(rows)


def import_rollback_on_error(Session, rows):
    saved = 0
    with Session() as session:
        for row in rows:
            session.add(Review(**row, created_at=now()))
            try:
                session.flush()
                saved += 1
            except exc.IntegrityError:
                session.rollback()
        session.commit()
    return saved


def import_commit_each(Session, rows):
    saved = 0
    for row in rows:
        try:
            with Session.begin() as session:
                session.add(Review(**row, created_at=now()))
            saved += 1
        except exc.IntegrityError:
            pass
    return saved


def import_no_commit(Session, rows):
    saved = 0
    with Session() as session:
        for row in rows:
            try:
                with session.begin_nested():
                    session.add(Review(**row, created_at=now()))
                saved += 1
            except exc.IntegrityError:
                pass
    return saved


def import_checked_in_python(Session, rows):  # right rows, but no savepoint at all
    saved = 0
    with Session.begin() as session:
        for row in rows:
            if not 1 <= row["rating"] <= 5 or session.get(Product, row["product_id"]) is None:
                continue
            taken = session.scalar(select(func.count()).select_from(Review).where(
                Review.product_id == row["product_id"], Review.customer_id == row["customer_id"]))
            if taken:
                continue
            session.add(Review(**row, created_at=now()))
            saved += 1
    return saved


def import_prefiltered_savepoints(Session, rows):  # savepoints, but the database refuses nothing
    saved = 0
    with Session.begin() as session:
        for row in rows:
            with session.begin_nested():
                if not 1 <= row["rating"] <= 5 or session.get(Product, row["product_id"]) is None:
                    continue
                if session.scalar(select(Review.id).filter_by(product_id=row["product_id"],
                                                              customer_id=row["customer_id"])):
                    continue
                session.add(Review(**row, created_at=now()))
                saved += 1
    return saved


def import_wrong_count(Session, rows):
    import_reference(Session, rows)
    return len(rows)


@pytest.mark.parametrize("fn", [import_reference, import_explicit_savepoint])
def test_import_reviews_accepts(fn):
    fb = check("02-import-reviews", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (import_all_at_once, "nothing was saved"),
    (import_rollback_on_error, "1 of the 3 valid reviews is"),
    (import_commit_each, "3 commits"),
    (import_no_commit, "No COMMIT"),
    (import_wrong_count, "returned 6"),
    (import_checked_in_python, "checked the rules in Python"),
    (import_prefiltered_savepoints, "never reached the database"),
])
def test_import_reviews_rejects(fn, says):
    fb = check("02-import-reviews", fn)
    assert not fb.passed and says in fb.message, fb


# -- 02-customer-by-name ------------------------------------------------------
def by_name_reference(session, name):
    return session.scalars(select(Customer).where(Customer.name == name)).one_or_none()


def by_name_execute(session, name):  # alternative: execute + scalar_one_or_none
    return session.execute(select(Customer).filter_by(name=name)).scalar_one_or_none()


def by_name_legacy(session, name):  # alternative: the legacy Query API still works
    return session.query(Customer).filter(Customer.name == name).one_or_none()


def by_name_first(session, name):
    return session.scalars(select(Customer).where(Customer.name == name)).first()


def by_name_scalar(session, name):
    return session.scalar(select(Customer).where(Customer.name == name))


def by_name_one(session, name):
    return session.scalars(select(Customer).where(Customer.name == name)).one()


def by_name_in_python(session, name):
    matches = [c for c in session.scalars(select(Customer)) if c.name == name]
    if len(matches) > 1:
        raise exc.MultipleResultsFound("several")
    return matches[0] if matches else None


def by_name_text(session, name):  # wrong kind: returns a Row
    return session.execute(text("SELECT * FROM customers WHERE name = :n"), {"n": name}).one_or_none()


@pytest.mark.parametrize("fn", [by_name_reference, by_name_execute, by_name_legacy])
def test_customer_by_name_accepts(fn):
    fb = check("02-customer-by-name", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (by_name_first, "without complaint"),
    (by_name_scalar, "without complaint"),
    (by_name_one, "raised NoResultFound"),
    (by_name_in_python, "did not filter"),
    (by_name_text, "a Row"),
])
def test_customer_by_name_rejects(fn, says):
    fb = check("02-customer-by-name", fn)
    assert not fb.passed and says in fb.message, fb


def test_stubs_report_not_implemented():
    def stub(*args):
        raise NotImplementedError

    for ex_id in ("02-add-customer", "02-set-statuses", "02-find-customer", "02-import-reviews",
                  "02-customer-by-name"):
        fb = check(ex_id, stub)
        assert not fb.passed and "Not implemented yet" in fb.message, fb
