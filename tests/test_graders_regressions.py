"""Regression tests for grader faults found by a learner, an expert and the mutation harness
(issue 6): crashes on plausible wrong answers, feedback that named the wrong cause, checks that
let a wrong answer pass, and warnings printed into the learner's output."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from sqlalchemy import DateTime, ForeignKey, Index, String, func, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    noload,
    raiseload,
    relationship,
    selectinload,
)

from sqlacourse import check
from sqlacourse.grading import Feedback
from sqlacourse.shop import Category, Customer, Order, OrderItem, Product

CRASH = "The grader itself failed"
_KEEP: list = []  # classes named by strings in relationships must outlive the factory


def rejected(fb: Feedback, says: str) -> None:
    assert not fb.passed, fb
    assert not fb.message.startswith(CRASH), fb
    assert says in fb.message, fb


# -- crashes -------------------------------------------------------------------
def carts(cascade: str, unique_fk: bool = False):
    class Base(DeclarativeBase):
        pass

    class Cart(Base):
        __tablename__ = "carts"
        id: Mapped[int] = mapped_column(primary_key=True)
        owner: Mapped[str] = mapped_column(String(50))
        lines: Mapped[list[CartLine]] = relationship(back_populates="cart", cascade=cascade)

    class CartLine(Base):
        __tablename__ = "cart_lines"
        id: Mapped[int] = mapped_column(primary_key=True)
        cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id"), unique=unique_fk)
        sku: Mapped[str] = mapped_column(String(20))
        quantity: Mapped[int]
        cart: Mapped[Cart] = relationship(back_populates="lines")

    _KEEP.append((Cart, CartLine))
    return Cart


@pytest.mark.filterwarnings("ignore:The 'delete-orphan' cascade option requires 'delete'")
@pytest.mark.parametrize("cascade", ["delete-orphan", "delete"])
def test_cart_orphans_cascade_without_save_update_is_feedback_not_a_crash(cascade):
    rejected(check("04-cart-orphans", carts(cascade)), "save-update")


def test_cart_orphans_unique_foreign_key_is_feedback_not_a_crash():
    rejected(check("04-cart-orphans", carts("all, delete-orphan", unique_fk=True)), "failed with your classes")


def test_timestamp_mixin_required_updated_at_is_feedback_not_a_crash():
    class Stamps:
        created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
        updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), onupdate=func.now())

    rejected(check("01-timestamp-mixin", Stamps), "'updated_at' should be optional")


def customers_raiseload(session):
    return session.scalars(select(Customer).order_by(Customer.id).options(raiseload(Customer.orders))).all()


def lines_noload_product(session, customer_id):
    stmt = (select(Order).where(Order.customer_id == customer_id).order_by(Order.id)
            .options(selectinload(Order.items).noload(OrderItem.product)))
    return session.scalars(stmt).all()


def order_raiseload_customer(session, order_id):
    return session.scalars(select(Order).where(Order.id == order_id).options(raiseload(Order.customer))).one()


def strict_noload_items(session, status):
    stmt = (select(Order).where(Order.status == status).order_by(Order.id)
            .options(noload(Order.items), raiseload("*")))
    return session.scalars(stmt).all()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # noload() is deprecated: the learner's choice
@pytest.mark.parametrize("exercise, fn, says", [
    ("05-customers-orders", customers_raiseload, "raiseload"),
    ("05-order-lines", lines_noload_product, "noload"),
    ("05-raiseload", strict_noload_items, "noload"),
    ("05-order-customer", order_raiseload_customer, "raiseload"),
])
def test_loading_graders_do_not_crash_on_raiseload_or_noload(exercise, fn, says):
    rejected(check(exercise, fn), says)


# -- feedback naming the real cause -------------------------------------------
def count_with_sum(session):  # no rows fetched, no COUNT: the right number by another way
    return session.scalar(select(func.sum(1)).select_from(Customer))


def count_with_max_id(session):  # right only while the ids have no gap
    return session.scalar(select(func.max(Customer.id)))


def test_count_customers_does_not_say_counted_in_python_when_no_rows_were_fetched():
    fb = check("00-count-customers", count_with_sum)
    rejected(fb, "has no COUNT")
    assert "in Python" not in fb.message, fb


def count_returns_an_expired_customer(session):  # a commit expired the object the grader describes
    customer = session.scalars(select(Customer)).first()
    session.commit()
    return customer


def test_count_customers_describes_an_expired_object_without_crashing():
    rejected(check("00-count-customers", count_returns_an_expired_customer), "should return a number")


def test_count_customers_rejects_the_highest_id():
    rejected(check("00-count-customers", count_with_max_id), "Expected")


def import_commits_each_row(Session, rows):
    from sqlalchemy import exc

    from sqlacourse.shop import Review

    saved = 0
    with Session.begin() as session:
        for row in rows:
            try:
                with session.begin_nested():
                    session.add(Review(**row, created_at=dt.datetime.now(dt.timezone.utc)))
            except exc.IntegrityError:
                continue
            saved += 1
            session.commit()
    return saved


def test_import_reviews_names_a_commit_inside_begin_not_savepoints():
    fb = check("02-import-reviews", import_commits_each_row)
    rejected(fb, "inside `with Session.begin()")
    assert "savepoint" not in fb.message.lower(), fb


def never_ordered_outer_join_wrong_filter(session):
    stmt = (select(Customer).outerjoin(Customer.orders).where(Order.id.is_(None))
            .where(Order.status == "paid").order_by(Customer.id))
    return session.scalars(stmt).all()


def test_never_ordered_does_not_tell_an_outer_join_to_use_outerjoin():
    fb = check("03-never-ordered", never_ordered_outer_join_wrong_filter)
    rejected(fb, "expected the")
    assert "use outerjoin" not in fb.message, fb


def strict_noload_customer(session, status):
    stmt = (select(Order).where(Order.status == status).order_by(Order.id)
            .options(selectinload(Order.items).raiseload(OrderItem.product), noload(Order.customer)))
    return session.scalars(stmt).all()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_raiseload_names_noload_not_loaded_by_your_query():
    fb = check("05-raiseload", strict_noload_customer)
    rejected(fb, "noload")
    assert "loaded by your query" not in fb.message, fb


# -- wrong answers that passed --------------------------------------------------
def shipment_with_redundant_index():
    class Base(DeclarativeBase):
        pass

    class Shipment(Base):
        __tablename__ = "shipments"
        id: Mapped[int] = mapped_column(primary_key=True)
        carrier: Mapped[str] = mapped_column(String(30))
        tracking_code: Mapped[str] = mapped_column(String(40), unique=True)
        shipped_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
        __table_args__ = (Index("ix_shipments_carrier_shipped", "carrier", "shipped_at"),
                          Index("ix_shipments_tracking", "tracking_code"))

    _KEEP.append(Shipment)
    return Shipment


def test_shipment_indexes_rejects_a_second_index_on_tracking_code():
    rejected(check("01-shipment-indexes", shipment_with_redundant_index()), "redundant")


def import_checks_ratings_in_python(Session, rows):
    from sqlalchemy import exc

    from sqlacourse.shop import Review

    saved = 0
    now = dt.datetime.now(dt.timezone.utc)
    with Session.begin() as session:
        for row in rows:
            if not 1 <= row["rating"] <= 5:  # a rule the database enforces, checked in Python
                continue
            try:
                with session.begin_nested():
                    session.add(Review(**row, created_at=now))
            except exc.IntegrityError:
                continue
            saved += 1
    return saved


def test_import_reviews_rejects_python_side_checks_even_with_savepoints():
    rejected(check("02-import-reviews", import_checks_ratings_in_python), "checked the rules in Python")


def customer_by_partial_name(session, name):
    return session.scalars(select(Customer).where(Customer.name.contains(name))).one_or_none()


def test_customer_by_name_rejects_a_partial_match():
    rejected(check("02-customer-by-name", customer_by_partial_name), "not a partial match")


def revenue_without_tie_break(session, min_revenue):
    revenue = func.sum(OrderItem.quantity * OrderItem.unit_price)
    stmt = (select(Category.name, revenue).join(Category.products).join(Product.order_items)
            .join(OrderItem.order).where(Order.status != "cancelled").group_by(Category.id, Category.name)
            .having(revenue >= min_revenue).order_by(revenue.desc()))
    return session.execute(stmt).all()


def test_category_revenue_requires_the_tie_break():
    rejected(check("03-category-revenue", revenue_without_tie_break), "tie-break by name")


# -- no warnings into the learner's output -------------------------------------
def revenue_cartesian(session, min_revenue):  # a missing join: SQLAlchemy warns of a cartesian product
    revenue = func.sum(OrderItem.quantity * OrderItem.unit_price)
    stmt = (select(Category.name, revenue).join(Category.products).join(Product.order_items)
            .where(Order.status != "cancelled").group_by(Category.id, Category.name)
            .having(revenue >= min_revenue).order_by(revenue.desc(), Category.name))
    return session.execute(stmt).all()


def test_grading_prints_no_warnings(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fb = check("03-category-revenue", revenue_cartesian)
    assert not fb.passed and not fb.message.startswith(CRASH), fb
    assert [str(w.message) for w in caught] == []
    assert capsys.readouterr().err == ""


# -- correct spellings the stricter checks must still accept ---------------------
def import_with_core_insert(Session, rows):  # a Core INSERT per row, each in its savepoint
    from sqlalchemy import exc, insert

    from sqlacourse.shop import Review

    saved = 0
    now = dt.datetime.now(dt.timezone.utc)
    with Session.begin() as session:
        for row in rows:
            try:
                with session.begin_nested():
                    session.execute(insert(Review), [dict(row, created_at=now)])
            except exc.IntegrityError:
                continue
            saved += 1
    return saved


def revenue_by_labels(session, min_revenue):  # the tie-break through the SELECT's labels
    from sqlalchemy import desc

    revenue = func.sum(OrderItem.quantity * OrderItem.unit_price).label("revenue")
    stmt = (select(Category.name.label("category"), revenue).join(Category.products).join(Product.order_items)
            .join(OrderItem.order).where(Order.status != "cancelled").group_by(Category.id, Category.name)
            .having(revenue >= min_revenue).order_by(desc("revenue"), "category"))
    return session.execute(stmt).all()


def review_with_unbounded_string_body():
    from sqlalchemy import CheckConstraint, UniqueConstraint

    class Base(DeclarativeBase):
        pass

    class Review(Base):
        __tablename__ = "reviews"
        id: Mapped[int] = mapped_column(primary_key=True)
        product_sku: Mapped[str] = mapped_column(String(20))
        reviewer: Mapped[str] = mapped_column(String(100))
        rating: Mapped[int]
        body: Mapped[str | None]  # String() without a length: text of any length
        __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5"), UniqueConstraint("product_sku", "reviewer"))

    _KEEP.append(Review)
    return Review


@pytest.mark.parametrize("exercise, make", [
    ("02-import-reviews", lambda: import_with_core_insert),
    ("03-category-revenue", lambda: revenue_by_labels),
    ("01-review-constraints", review_with_unbounded_string_body),
])
def test_stricter_graders_still_accept_other_correct_spellings(exercise, make):
    fb = check(exercise, make())
    assert fb.passed, fb
