"""Lesson 01 (models): graders that inspect a learner's mapped classes and
try them against a fresh database."""

from __future__ import annotations

import datetime as dt
import inspect as pyinspect
import warnings
from decimal import Decimal

from sqlalchemy import DateTime, Float, Integer, Numeric, String, Text, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..grading import Grading
from ..recorder import record_queries
from ..registry import Fail, exercise
from ._common import copy_tables, create_sql, expect_mapped_class, expect_string, mapping_errors

LESSON = "01-models"


def _column(table, name: str, what: str):
    if name not in table.c:
        have = ", ".join(table.c.keys())
        raise Fail(f"{what} needs a column named {name!r}; the table has: {have}.")
    return table.c[name]


def _expect_type(col, kind, label: str) -> None:
    if not isinstance(col.type, kind):
        raise Fail(f"Column {col.name!r} should be {label}, it is {col.type!r}.")


def _expect_nullable(col, nullable: bool) -> None:
    if col.nullable != nullable:
        want = "optional (NULL allowed)" if nullable else "required (NOT NULL)"
        hint = ("Mapped[X | None] makes a column optional" if nullable
                else "Mapped[X] without None makes it NOT NULL")
        raise Fail(f"Column {col.name!r} should be {want}.", hint + ".")


def _create(g: Grading, fresh, *tables):
    md = copy_tables(*tables)
    with record_queries(fresh.engine) as rec:
        md.create_all(fresh.engine)
    return rec


def _is_unique(table, column_name: str) -> bool:
    col = table.c[column_name]
    if col.unique:
        return True
    for cons in table.constraints:
        if getattr(cons, "columns", None) is not None and cons.__class__.__name__ == "UniqueConstraint":
            if [c.name for c in cons.columns] == [column_name]:
                return True
    return any(ix.unique and [c.name for c in ix.columns] == [column_name] for ix in table.indexes)


def _expect_integrity_error(g: Grading, engine, make, what: str) -> None:
    with Session(engine) as s:
        g.call(lambda: s.add(make()))
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            return
        s.rollback()
    raise Fail(f"The database accepted {what}; the table should refuse it.")


# ---------------------------------------------------------------------------
@exercise(
    "01-product-model",
    lesson=LESSON,
    title="Map a Product class with typed columns",
    expects="class",
    hints=[
        "Start from `class Product(Base):` with `__tablename__ = \"products\"` and one "
        "`Mapped[...]` annotation per column.",
        "Money is exact: `price: Mapped[Decimal] = mapped_column(Numeric(10, 2))`. "
        "A string length goes in `String(20)`.",
        "`unique=True` on `sku`; `description: Mapped[str | None] = mapped_column(Text)` "
        "is optional because of `| None`. Do not add `index=True` to the primary key.",
    ],
)
def product_model(candidate, g: Grading) -> str:
    expect_mapped_class(candidate, "Product")
    table = candidate.__table__
    if table.name != "products":
        raise Fail(f"The table should be called 'products', it is {table.name!r}.")
    pk = [c.name for c in table.primary_key.columns]
    if pk != ["id"]:
        raise Fail(f"The primary key should be the one column 'id', it is {pk}.")
    _expect_type(_column(table, "id", "Product"), Integer, "an Integer")
    sku = _column(table, "sku", "Product")
    _expect_type(sku, String, "a String(20)")
    if sku.type.length != 20:
        raise Fail(f"'sku' should be String(20), its length is {sku.type.length}.")
    _expect_nullable(sku, False)
    if not _is_unique(table, "sku"):
        raise Fail("'sku' should be unique: two products must not share a SKU.")
    name = _column(table, "name", "Product")
    _expect_type(name, String, "a String(200)")
    if name.type.length != 200:
        raise Fail(f"'name' should be String(200), its length is {name.type.length}.")
    _expect_nullable(name, False)
    price = _column(table, "price", "Product")
    if not isinstance(price.type, Numeric) or isinstance(price.type, Float) \
            or (price.type.precision, price.type.scale) != (10, 2) or not price.type.asdecimal:
        raise Fail(
            f"'price' should be Numeric(10, 2) (exact decimal money), it is {price.type!r}.",
            "Float stores binary approximations: 0.1 + 0.2 != 0.3." if isinstance(price.type, Float) else "",
        )
    annotation = pyinspect.get_annotations(candidate).get("price")
    if annotation is not None and "float" in str(annotation):
        raise Fail("'price' is annotated Mapped[float], but Numeric(10, 2) gives Decimal values: "
                   "annotate it Mapped[Decimal] so the type says what the code gets.")
    _expect_nullable(price, False)
    desc = _column(table, "description", "Product")
    _expect_type(desc, Text, "Text")
    _expect_nullable(desc, True)
    redundant = [ix.name for ix in table.indexes if [c.name for c in ix.columns] == ["id"]]
    if redundant:
        raise Fail(f"The index {redundant[0]} on the primary key is redundant: the primary "
                   "key is indexed already. Remove index=True from 'id'.")

    with g.database(data=False) as fresh, mapping_errors("Storing products"):
        rec = _create(g, fresh, table)
        with Session(fresh.engine) as s:
            item = g.call(candidate, sku="MUG-001", name="Mug", price=Decimal("19.99"))
            s.add(item)
            s.commit()
            pid = item.id
        with Session(fresh.engine) as s:
            back = s.get(candidate, pid)
            got = back.price
        if got != Decimal("19.99") or not isinstance(got, Decimal):
            raise Fail(f"A price of Decimal('19.99') came back as {got!r}.")
        with Session(fresh.engine) as s:
            s.add_all([g.call(candidate, sku=sku, name="Mug", price=Decimal("19.99"), description="Blue.")
                       for sku in ("MUG-002", "MUG-003")])
            try:
                s.commit()
            except IntegrityError as exc:
                raise Fail("Two products with different SKUs but the same name, price and "
                           "description were refused: only the SKU is unique.", str(exc.orig)) from None
        _expect_integrity_error(
            g, fresh.engine, lambda: candidate(sku="MUG-001", name="Other", price=Decimal("1")),
            "a second product with the same SKU")
        _expect_integrity_error(
            g, fresh.engine, lambda: candidate(sku="MUG-002", price=Decimal("1")),
            "a product without a name")
    return ("Product maps 'products' with exact Decimal prices, a unique SKU and an optional "
            "description. The database created it with:\n" + create_sql(rec)[0])


# ---------------------------------------------------------------------------
def _probe_class(mixin, g: Grading):
    """A small model that uses the learner's mixin, in a registry of its own."""

    class ProbeBase(DeclarativeBase):
        pass

    try:
        probe = type(
            "Probe",
            (mixin, ProbeBase),
            {
                "__tablename__": "probe",
                "__annotations__": {"id": Mapped[int], "name": Mapped[str]},
                "id": mapped_column(primary_key=True),
                "name": mapped_column(String(50)),
            },
        )
    except Exception as exc:
        raise Fail(
            f"A model that uses your mixin could not be mapped: {type(exc).__name__}: {exc}",
            "A mixin is a plain class (not a subclass of Base) whose attributes are "
            "Mapped[...] = mapped_column(...).",
        ) from None
    return probe


def _aware_callable_default(col, what: str) -> None:
    """A Python-side default/onupdate must produce aware datetimes (not utcnow())."""
    for label, spec in (("default", col.default), ("onupdate", col.onupdate)):
        if spec is None or not getattr(spec, "is_callable", False):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = spec.arg(None)  # SQLAlchemy wraps callables as fn(context)
        except Exception:
            continue
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            raise Fail(f"{what}: the {label} of {col.name!r} produces a naive datetime "
                       f"({value!r}), as datetime.utcnow() does (deprecated since Python "
                       "3.12). Use datetime.now(timezone.utc) or func.now().")


@exercise(
    "01-timestamp-mixin",
    lesson=LESSON,
    title="A TimestampMixin with created_at and updated_at",
    expects="class",
    hints=[
        "A mixin is a plain class: `class TimestampMixin:` with two `Mapped[datetime]` "
        "attributes. Models use it as `class Order(TimestampMixin, Base)`.",
        "`DateTime(timezone=True)` keeps the time zone; `server_default=func.now()` lets the "
        "database fill `created_at` when the row is inserted.",
        "`updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), "
        "onupdate=func.now())` stays NULL until the first UPDATE.",
    ],
)
def timestamp_mixin(candidate, g: Grading) -> str:
    if hasattr(candidate, "__table__"):
        raise Fail("TimestampMixin should be a plain mixin class, not a mapped model: "
                   "do not derive it from Base and do not give it a __tablename__.")
    probe = _probe_class(candidate, g)
    table = probe.__table__
    created = _column(table, "created_at", "A model using TimestampMixin")
    updated = _column(table, "updated_at", "A model using TimestampMixin")
    for col in (created, updated):
        if not isinstance(col.type, DateTime) or not col.type.timezone:
            raise Fail(f"{col.name!r} should be DateTime(timezone=True), it is {col.type!r}.")
    _expect_nullable(created, False)
    _expect_nullable(updated, True)
    if created.server_default is None:
        raise Fail("created_at should be filled by the database at INSERT: give it a "
                   "server_default (for example func.now()).",
                   "A Python-side default= works too, but then rows inserted with plain SQL "
                   "get no timestamp.")
    if updated.onupdate is None and updated.server_onupdate is None:
        raise Fail("updated_at should change on every UPDATE: give it onupdate=... .")
    _aware_callable_default(created, "TimestampMixin")
    _aware_callable_default(updated, "TimestampMixin")

    with g.database(data=False, metadata=table.metadata) as fresh, mapping_errors("Inserting rows"):
        with Session(fresh.engine) as s:
            row = probe(name="first")
            s.add_all([row, probe(name="second, inserted at the same time")])
            s.commit()
            if row.created_at is None:
                raise Fail("After an INSERT, created_at is still NULL.")
            if row.updated_at is not None:
                fix = ("Remove its server_default: that fills it at INSERT."
                       if updated.server_default is not None
                       else "Use onupdate=..., not default=..., for updated_at.")
                raise Fail("updated_at should stay NULL until the row is first updated; "
                           "after the INSERT it already has a value.", fix)
            row.name = "renamed"
            other = s.scalars(select(probe).where(probe.id != row.id)).one()
            other.name = "renamed too"   # two rows updated at the same time
            with record_queries(fresh.engine) as rec:
                s.commit()
            update = [st.one_line for st in rec.of_kind("UPDATE")]
            if not update or "updated_at" not in update[0]:
                raise Fail("Changing a column should also set updated_at in the same UPDATE.",
                           sql=[st.one_line for st in rec])
            s.refresh(row)
            if row.updated_at is None:
                raise Fail("After an UPDATE, updated_at is still NULL.")
    return ("created_at is set by the database on INSERT, updated_at on each UPDATE: "
            + update[0])


# ---------------------------------------------------------------------------
@exercise(
    "01-review-constraints",
    lesson=LESSON,
    title="Constraints: a rating from 1 to 5, one review per reviewer and product",
    expects="class",
    hints=[
        "Table-level constraints go in `__table_args__ = (...)`, a tuple (mind the comma "
        "when it holds one item).",
        "`CheckConstraint(\"rating BETWEEN 1 AND 5\", name=\"ck_reviews_rating\")` is "
        "enforced by the database on every INSERT and UPDATE.",
        "`UniqueConstraint(\"product_sku\", \"reviewer\")` refuses a second row with the same "
        "pair; `unique=True` on a single column would be too strict.",
    ],
)
def review_constraints(candidate, g: Grading) -> str:
    expect_mapped_class(candidate, "Review")
    table = candidate.__table__
    if table.name != "reviews":
        raise Fail(f"The table should be called 'reviews', it is {table.name!r}.")
    for name in ("id", "product_sku", "reviewer", "rating", "body"):
        _column(table, name, "Review")
    expect_string(table, "product_sku", 20, nullable=False)
    expect_string(table, "reviewer", 100, nullable=False)
    _expect_type(table.c.rating, Integer, "an Integer")
    _expect_nullable(table.c.rating, False)
    body = table.c.body
    if not (isinstance(body.type, Text) or (isinstance(body.type, String) and body.type.length is None)):
        raise Fail(f"'body' should be text of any length (Text, or String without a length), it is {body.type!r}.")
    _expect_nullable(body, True)
    for single in ("product_sku", "reviewer"):
        if _is_unique(table, single):
            raise Fail(f"{single!r} alone is unique, so a reviewer could review only one "
                       "product ever (or a product get one review). Make the pair unique.")

    def review(sku="MUG-001", who="ada@example.com", rating=5):
        return g.call(candidate, product_sku=sku, reviewer=who, rating=rating, body="Fine.")

    with g.database(data=False) as fresh, mapping_errors("Storing reviews"):
        _create(g, fresh, table)
        with Session(fresh.engine) as s:
            s.add_all([review(), review(who="bob@example.com", rating=1),
                       review(sku="PEN-002", rating=3)])
            try:
                s.commit()
            except IntegrityError as exc:
                raise Fail("Three valid reviews (ratings 5, 1, 3; different reviewer or "
                           "product) were refused.", str(exc.orig)) from None
        for bad in (0, 6, -1):
            _expect_integrity_error(g, fresh.engine, lambda bad=bad: review(sku="X", rating=bad),
                                    f"a rating of {bad}")
        _expect_integrity_error(g, fresh.engine, lambda: review(rating=4),
                                "a second review of the same product by the same reviewer")
    return ("The database refuses ratings outside 1..5 and a second review of a product by "
            "the same reviewer, and accepts the rest.")


# ---------------------------------------------------------------------------
@exercise(
    "01-shipment-indexes",
    lesson=LESSON,
    title="Indexes: a composite index, a unique index, and none on the primary key",
    expects="class",
    hints=[
        "A composite index is declared in `__table_args__`: "
        "`Index(\"ix_shipments_carrier_shipped\", \"carrier\", \"shipped_at\")`. "
        "The order of the columns matters.",
        "`mapped_column(String(40), unique=True)` or `index=True, unique=True` makes the "
        "tracking code unique; both give the database an index it can search.",
        "The primary key is indexed already; `index=True` on `id` adds a second, useless index.",
    ],
)
def shipment_indexes(candidate, g: Grading) -> str:
    expect_mapped_class(candidate, "Shipment")
    table = candidate.__table__
    if table.name != "shipments":
        raise Fail(f"The table should be called 'shipments', it is {table.name!r}.")
    for name in ("id", "carrier", "tracking_code", "shipped_at"):
        _column(table, name, "Shipment")
    _expect_type(table.c.id, Integer, "an Integer")
    expect_string(table, "carrier", 30, nullable=False)
    expect_string(table, "tracking_code", 40, nullable=False)
    shipped = table.c.shipped_at
    if not isinstance(shipped.type, DateTime) or not shipped.type.timezone:
        raise Fail(f"'shipped_at' should be DateTime(timezone=True) (timezone-aware), it is {shipped.type!r}.")
    _expect_nullable(shipped, False)
    with g.database(data=False) as fresh, mapping_errors("Storing shipments"):
        rec = _create(g, fresh, table)
        insp = inspect(fresh.engine)
        indexes = insp.get_indexes("shipments")
        uniques = insp.get_unique_constraints("shipments")
        when = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone.utc)
        with Session(fresh.engine) as s:
            s.add_all([g.call(candidate, carrier="DHL", tracking_code=code, shipped_at=when)
                       for code in ("JD0001", "JD0002")])
            try:
                s.commit()
            except IntegrityError as exc:
                raise Fail("Two shipments of the same carrier, shipped at the same time, with "
                           "different tracking codes were refused: only tracking_code is unique "
                           "(a carrier has many shipments).", str(exc.orig)) from None
        _expect_integrity_error(
            g, fresh.engine, lambda: candidate(carrier="UPS", tracking_code="JD0001", shipped_at=when),
            "a second shipment with the same tracking code (tracking_code should be unique)")
    cols = {ix["name"]: list(ix["column_names"]) for ix in indexes}
    ddl = create_sql(rec)
    keyed = [(ix["name"], list(ix["column_names"])) for ix in indexes]
    keyed += [(u["name"], list(u["column_names"])) for u in uniques if u["name"] not in cols]
    for i, (name_a, cols_a) in enumerate(keyed):
        for name_b, cols_b in keyed[i + 1:]:
            if cols_a == cols_b:
                why = (" unique=True already gives tracking_code its index." if cols_a == ["tracking_code"]
                       else "")
                raise Fail(f"Two indexes on the same columns {cols_a} ({name_a or 'unnamed'} and "
                           f"{name_b or 'unnamed'}): one is redundant.{why}", sql=ddl)
    if any(c == ["id"] for c in cols.values()):
        raise Fail("There is an index on the primary key 'id', which is indexed already: "
                   "remove index=True from it.", sql=ddl)
    if any(c == ["carrier"] for c in cols.values()):
        raise Fail("There is an index on carrier alone, which is redundant: the composite index "
                   "(carrier, shipped_at) already serves WHERE carrier = ?.", sql=ddl)
    composite = [n for n, c in cols.items() if c == ["carrier", "shipped_at"]]
    if not composite:
        reversed_ = [n for n, c in cols.items() if c == ["shipped_at", "carrier"]]
        if reversed_:
            raise Fail("The composite index has its columns the other way round: "
                       "(carrier, shipped_at) serves 'WHERE carrier = ? ORDER BY shipped_at'.",
                       sql=ddl)
        raise Fail("Expected a composite index on (carrier, shipped_at); found "
                   f"{cols or 'no indexes'}.", sql=ddl)
    if composite[0] != "ix_shipments_carrier_shipped":
        raise Fail(f"The composite index should be named 'ix_shipments_carrier_shipped', "
                   f"it is {composite[0]!r}.", sql=ddl)
    tracking_unique = any(ix["unique"] and list(ix["column_names"]) == ["tracking_code"]
                          for ix in indexes) or any(
        list(u["column_names"]) == ["tracking_code"] for u in uniques)
    if not tracking_unique:
        raise Fail("tracking_code should be unique (and so indexed).", sql=ddl)
    return ("Indexes: (carrier, shipped_at) composite, tracking_code unique, nothing extra "
            "on the primary key.")


# ---------------------------------------------------------------------------
@exercise(
    "01-soft-delete",
    lesson=LESSON,
    title="A SoftDeleteMixin that hides rows instead of deleting them",
    expects="class",
    hints=[
        "The mixin adds `deleted_at: Mapped[datetime | None] = "
        "mapped_column(DateTime(timezone=True))`: NULL means the row is live.",
        "`soft_delete(self)` only sets `self.deleted_at = datetime.now(timezone.utc)`; "
        "the next flush turns that into an UPDATE. Never call session.delete().",
        "`is_deleted` can be a `@property` returning `self.deleted_at is not None`.",
    ],
)
def soft_delete(candidate, g: Grading) -> str:
    if hasattr(candidate, "__table__"):
        raise Fail("SoftDeleteMixin should be a plain mixin class, not a mapped model.")
    for attr in ("soft_delete", "is_deleted"):
        if not hasattr(candidate, attr):
            raise Fail(f"SoftDeleteMixin should have {attr!r}.")
    if not isinstance(pyinspect.getattr_static(candidate, "is_deleted"), property):
        raise Fail("is_deleted should be a property, read as row.is_deleted (no parentheses): "
                   "put @property on the line above `def is_deleted(self):`.")
    if not callable(candidate.soft_delete) or pyinspect.iscoroutinefunction(candidate.soft_delete):
        raise Fail("soft_delete should be a plain method: def soft_delete(self): ...")
    probe = _probe_class(candidate, g)
    col = _column(probe.__table__, "deleted_at", "A model using SoftDeleteMixin")
    if not isinstance(col.type, DateTime) or not col.type.timezone:
        raise Fail(f"'deleted_at' should be DateTime(timezone=True), it is {col.type!r}.")
    _expect_nullable(col, True)
    with g.database(data=False, metadata=probe.__table__.metadata) as fresh, \
            mapping_errors("Soft-deleting a row"):
        with Session(fresh.engine) as s:
            row = probe(name="keep me")
            s.add(row)
            s.commit()
            if g.call(lambda: row.is_deleted) is not False:
                raise Fail(f"A new row should have is_deleted == False, it is {row.is_deleted!r}.")
            g.call(row.soft_delete)
            stamp = row.deleted_at
            if not isinstance(stamp, dt.datetime) or stamp.utcoffset() is None:
                raise Fail(f"soft_delete() should set deleted_at to an aware datetime, it set "
                           f"{stamp!r}.", "datetime.now(timezone.utc)")
            if stamp.utcoffset() != dt.timedelta(0):
                raise Fail(f"soft_delete() should set deleted_at to the time in UTC, it set "
                           f"{stamp.isoformat()} (another zone). On SQLite the offset is "
                           "dropped, so the row would be stored with the wrong time.",
                           "datetime.now(timezone.utc)")
            with record_queries(fresh.engine) as rec:
                s.commit()
            if rec.of_kind("DELETE"):
                raise Fail("soft_delete() deleted the row; it should only mark it.",
                           sql=[st.one_line for st in rec])
            if not rec.of_kind("UPDATE"):
                raise Fail("soft_delete() should lead to an UPDATE of deleted_at at the next "
                           "flush; no UPDATE was emitted.", sql=[st.one_line for st in rec])
            if g.call(lambda: row.is_deleted) is not True:
                raise Fail("After soft_delete(), is_deleted should be True.")
            if abs(dt.datetime.now(dt.timezone.utc) - stamp) > dt.timedelta(minutes=5):
                raise Fail(f"soft_delete() set deleted_at to {stamp.isoformat()}, not the current time: "
                           "use datetime.now(timezone.utc).")
        with Session(fresh.engine) as s:
            still = s.scalar(select(probe).where(probe.deleted_at.is_not(None)))
            if still is None:
                raise Fail("The row is gone from the table; it should still be there, marked.")
    return ("soft_delete() marks the row with an aware timestamp and the flush emits "
            f"{rec.of_kind('UPDATE')[0].one_line}")
