"""Each grader of lessons 00 and 01 accepts correct answers (not only the one in
solutions/) and rejects the mistakes learners really make."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqlacourse import check
from sqlacourse.shop import Customer


# -- 00-count-customers -------------------------------------------------------
def count_scalar(session):
    return session.scalar(select(func.count()).select_from(Customer))


def count_by_id(session):  # alternative: count a column
    return session.execute(select(func.count(Customer.id))).scalar_one()


def count_in_python(session):  # wrong: loads every row
    return len(session.scalars(select(Customer)).all())


def count_wrong_table(session):
    return session.scalar(text("SELECT count(*) FROM orders"))


def count_returns_row(session):
    return session.execute(select(func.count()).select_from(Customer)).one()


@pytest.mark.parametrize("fn", [count_scalar, count_by_id])
def test_count_customers_accepts(fn):
    assert check("00-count-customers", fn).passed


@pytest.mark.parametrize("fn, says", [
    (count_in_python, "did not count"),
    (count_wrong_table, "Expected"),
    (count_returns_row, "should return a number"),
])
def test_count_customers_rejects(fn, says):
    fb = check("00-count-customers", fn)
    assert not fb.passed and says in fb.message, fb


# -- 01-product-model ---------------------------------------------------------
def product_class(**overrides):
    class Base(DeclarativeBase):
        pass

    ns = {
        "__tablename__": "products",
        "__annotations__": {"id": Mapped[int], "sku": Mapped[str], "name": Mapped[str],
                            "price": Mapped[Decimal], "description": Mapped[str | None]},
        "id": mapped_column(primary_key=True),
        "sku": mapped_column(String(20), unique=True),
        "name": mapped_column(String(200)),
        "price": mapped_column(Numeric(10, 2)),
        "description": mapped_column(Text),
    }
    ns.update(overrides)
    return type("Product", (Base,), ns)


def test_product_model_accepts_annotation_style_and_explicit_style():
    assert check("01-product-model", product_class()).passed
    explicit = product_class(
        id=mapped_column(Integer, primary_key=True),
        sku=mapped_column(String(20), nullable=False, unique=True, index=True),
        description=mapped_column(Text, nullable=True),
    )
    fb = check("01-product-model", explicit)
    assert fb.passed, fb


@pytest.mark.parametrize("overrides, says", [
    ({"price": mapped_column(Float)}, "Numeric(10, 2)"),
    ({"sku": mapped_column(String(20))}, "unique"),
    ({"id": mapped_column(primary_key=True, index=True)}, "redundant"),
    ({"description": mapped_column(Text, nullable=False)}, "optional"),
    ({"__tablename__": "product"}, "'products'"),
])
def test_product_model_rejects(overrides, says):
    fb = check("01-product-model", product_class(**overrides))
    assert not fb.passed and says in fb.message, fb


# -- 01-timestamp-mixin -------------------------------------------------------
class TimestampDB:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), onupdate=func.now())


class TimestampPython:  # alternative: aware Python-side onupdate
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp())
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), onupdate=lambda: dt.datetime.now(dt.timezone.utc))


class TimestampUtcnow:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), onupdate=dt.datetime.utcnow)


class TimestampNaive:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime | None] = mapped_column(onupdate=func.now())


class TimestampDefaultNotOnupdate:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), default=func.now(), onupdate=func.now())


@pytest.mark.parametrize("mixin", [TimestampDB, TimestampPython])
def test_timestamp_mixin_accepts(mixin):
    fb = check("01-timestamp-mixin", mixin)
    assert fb.passed, fb


@pytest.mark.parametrize("mixin, says", [
    (TimestampUtcnow, "naive"),
    (TimestampNaive, "timezone=True"),
    (TimestampDefaultNotOnupdate, "stay NULL"),
])
def test_timestamp_mixin_rejects(mixin, says):
    fb = check("01-timestamp-mixin", mixin)
    assert not fb.passed and says in fb.message, fb


def test_timestamp_mixin_rejects_a_mapped_model():
    fb = check("01-timestamp-mixin", product_class())
    assert not fb.passed and "plain mixin" in fb.message


# -- 01-review-constraints ----------------------------------------------------
def review_class(table_args=None, **overrides):
    class Base(DeclarativeBase):
        pass

    ns = {
        "__tablename__": "reviews",
        "__annotations__": {"id": Mapped[int], "product_sku": Mapped[str], "reviewer": Mapped[str],
                            "rating": Mapped[int], "body": Mapped[str | None]},
        "id": mapped_column(primary_key=True),
        "product_sku": mapped_column(String(20)),
        "reviewer": mapped_column(String(100)),
        "rating": mapped_column(),
        "body": mapped_column(Text),
        "__table_args__": table_args if table_args is not None else (
            CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating"),
            UniqueConstraint("product_sku", "reviewer"),
        ),
    }
    ns.update(overrides)
    return type("Review", (Base,), ns)


def test_review_constraints_accepts_both_spellings():
    assert check("01-review-constraints", review_class()).passed
    alt = review_class((CheckConstraint("rating >= 1 AND rating <= 5"),
                        UniqueConstraint("reviewer", "product_sku", name="uq_one_review")))
    fb = check("01-review-constraints", alt)
    assert fb.passed, fb


@pytest.mark.parametrize("table_args, overrides, says", [
    ((UniqueConstraint("product_sku", "reviewer"),), {}, "rating of 0"),
    ((CheckConstraint("rating BETWEEN 1 AND 5"),), {}, "second review"),
    ((CheckConstraint("rating BETWEEN 0 AND 5"), UniqueConstraint("product_sku", "reviewer")), {}, "rating of 0"),
    ((CheckConstraint("rating BETWEEN 1 AND 5"),), {"reviewer": mapped_column(String(100), unique=True)},
     "alone is unique"),
])
def test_review_constraints_rejects(table_args, overrides, says):
    fb = check("01-review-constraints", review_class(table_args, **overrides))
    assert not fb.passed and says in fb.message, fb


# -- 01-shipment-indexes ------------------------------------------------------
def shipment_class(table_args=None, **overrides):
    class Base(DeclarativeBase):
        pass

    ns = {
        "__tablename__": "shipments",
        "__annotations__": {"id": Mapped[int], "carrier": Mapped[str], "tracking_code": Mapped[str],
                            "shipped_at": Mapped[dt.datetime]},
        "id": mapped_column(primary_key=True),
        "carrier": mapped_column(String(30)),
        "tracking_code": mapped_column(String(40), unique=True),
        "shipped_at": mapped_column(DateTime(timezone=True)),
        "__table_args__": table_args if table_args is not None else (
            Index("ix_shipments_carrier_shipped", "carrier", "shipped_at"),),
    }
    ns.update(overrides)
    return type("Shipment", (Base,), ns)


def test_shipment_indexes_accepts_unique_index_spelling():
    assert check("01-shipment-indexes", shipment_class()).passed
    alt = shipment_class(tracking_code=mapped_column(String(40), index=True, unique=True))
    fb = check("01-shipment-indexes", alt)
    assert fb.passed, fb


@pytest.mark.parametrize("table_args, overrides, says", [
    ((Index("ix_shipments_carrier_shipped", "shipped_at", "carrier"),), {}, "other way round"),
    ((Index("ix_shipments_carrier_shipped", "carrier", "shipped_at"),),
     {"id": mapped_column(primary_key=True, index=True)}, "primary key"),
    ((), {}, "composite index"),
    ((Index("ix_shipments_carrier_shipped", "carrier", "shipped_at"),),
     {"tracking_code": mapped_column(String(40), index=True)}, "unique"),
])
def test_shipment_indexes_rejects(table_args, overrides, says):
    fb = check("01-shipment-indexes", shipment_class(table_args, **overrides))
    assert not fb.passed and says in fb.message, fb


# -- 01-soft-delete -----------------------------------------------------------
class SoftDelete:
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    def soft_delete(self):
        self.deleted_at = dt.datetime.now(dt.timezone.utc)

    @property
    def is_deleted(self):
        return self.deleted_at is not None


class SoftDeleteOtherZone(SoftDelete):  # aware, but not UTC: SQLite would drop the offset
    def soft_delete(self):
        self.deleted_at = dt.datetime.now(dt.timezone(dt.timedelta(hours=2)))


class SoftDeleteZoneInfoUTC(SoftDelete):  # alternative: another spelling of UTC
    def soft_delete(self):
        from zoneinfo import ZoneInfo

        self.deleted_at = dt.datetime.now(ZoneInfo("UTC"))


class SoftDeleteNaive(SoftDelete):
    def soft_delete(self):
        self.deleted_at = dt.datetime.now()


class SoftDeleteReallyDeletes(SoftDelete):
    def soft_delete(self):
        from sqlalchemy.orm import object_session
        self.deleted_at = dt.datetime.now(dt.timezone.utc)
        object_session(self).delete(self)


class SoftDeleteNoProperty:
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    def soft_delete(self):
        self.deleted_at = dt.datetime.now(dt.timezone.utc)


@pytest.mark.parametrize("mixin", [SoftDelete, SoftDeleteZoneInfoUTC])
def test_soft_delete_accepts(mixin):
    fb = check("01-soft-delete", mixin)
    assert fb.passed, fb


@pytest.mark.parametrize("mixin, says", [
    (SoftDeleteNaive, "aware"),
    (SoftDeleteOtherZone, "the time in UTC"),
    (SoftDeleteReallyDeletes, "deleted the row"),
    (SoftDeleteNoProperty, "is_deleted"),
])
def test_soft_delete_rejects(mixin, says):
    fb = check("01-soft-delete", mixin)
    assert not fb.passed and says in fb.message, fb


# -- mistakes found by a learner walkthrough ----------------------------------
def test_count_customers_rejects_a_hard_coded_number():
    fb = check("00-count-customers", lambda session: 200)
    assert not fb.passed and "sent no SQL" in fb.message


def test_product_model_rejects_a_float_annotation_on_numeric():
    fb = check("01-product-model", product_class(
        __annotations__={"id": Mapped[int], "sku": Mapped[str], "name": Mapped[str],
                         "price": Mapped[float], "description": Mapped[str | None]}))
    assert not fb.passed and "Mapped[Decimal]" in fb.message, fb


def test_shipment_indexes_rejects_a_redundant_index_on_the_leading_column():
    fb = check("01-shipment-indexes", shipment_class(carrier=mapped_column(String(30), index=True)))
    assert not fb.passed and "carrier alone" in fb.message, fb


class TimestampServerDefaultUpdated:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


def test_timestamp_mixin_names_the_server_default():
    fb = check("01-timestamp-mixin", TimestampServerDefaultUpdated)
    assert not fb.passed and "server_default" in fb.details, fb


class SoftDeleteMethod:
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    def soft_delete(self):
        self.deleted_at = dt.datetime.now(dt.timezone.utc)

    def is_deleted(self):
        return self.deleted_at is not None


def test_soft_delete_asks_for_a_property():
    fb = check("01-soft-delete", SoftDeleteMethod)
    assert not fb.passed and "@property" in fb.message, fb
