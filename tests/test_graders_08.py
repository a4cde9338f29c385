"""Each grader of lesson 08 runs the candidate migration through Alembic against a fresh course
database: the reference answers pass, other correct migrations pass, and the mistakes learners
really make are rejected with the reason.  The suite runs on both backends; a requirement that
exists only on PostgreSQL (lock_timeout, NOT VALID, CONCURRENTLY) is asserted to reject there
and to pass on SQLite, where the lesson says it does not apply."""

from __future__ import annotations

import types

import pytest
import sqlalchemy as sa
from alembic import op

from sqlacourse import check
from sqlacourse.backend import current_target

PG = current_target().is_postgresql


def pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def passed(exercise, candidate):
    fb = check(exercise, candidate)
    assert fb.passed, str(fb)
    return fb


def rejected(exercise, candidate, *words):
    fb = check(exercise, candidate)
    assert not fb.passed, str(fb)
    assert "grader itself failed" not in fb.message, str(fb)
    text = fb.message + "\n" + fb.details
    for word in words:
        assert word in text, str(fb)
    return fb


# -- shape of the candidate -----------------------------------------------------
def test_shape_errors_are_explained():
    rejected("08-expand-title", lambda: None, "the pair (upgrade, downgrade)")
    rejected("08-expand-title", (up_title, down_title, up_title), "a tuple of 3")
    rejected("08-expand-title", (up_title, "drop"), "downgrade part", "str")


def test_stub_says_not_implemented():
    def up():
        raise NotImplementedError

    rejected("08-order-total", (up, down_total), "Not implemented yet")


# -- 08-order-total --------------------------------------------------------------
ORDERS = sa.table("orders", sa.column("id", sa.Integer), sa.column("total", sa.Numeric(10, 2)))
ITEMS = sa.table("order_items", sa.column("order_id", sa.Integer), sa.column("quantity", sa.Integer),
                 sa.column("unit_price", sa.Numeric(10, 2)))


def _fill(expr_factory=None):
    value = (ITEMS.c.quantity * ITEMS.c.unit_price) if expr_factory is None else expr_factory()
    total = (sa.select(sa.func.coalesce(sa.func.sum(value), 0))
             .where(ITEMS.c.order_id == ORDERS.c.id).scalar_subquery())
    op.execute(ORDERS.update().values(total=total))


def up_total():
    op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=True))
    _fill()
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("total", existing_type=sa.Numeric(10, 2), nullable=False)


def down_total():
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("total")


def up_total_default_then_drop_it():  # another correct spelling: a default, removed at the end
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("total", sa.Numeric(10, 2), nullable=False, server_default="0"))
    op.execute("UPDATE orders SET total = (SELECT coalesce(sum(quantity * unit_price), 0) "
               "FROM order_items WHERE order_items.order_id = orders.id)")
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("total", existing_type=sa.Numeric(10, 2), server_default=None)


def up_total_not_null_at_once():
    op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=False))
    _fill()


def up_total_prices_only():
    op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=True))
    _fill(lambda: ITEMS.c.unit_price)
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("total", existing_type=sa.Numeric(10, 2), nullable=False)


def up_total_left_nullable():
    op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=True))
    _fill()


def up_total_keeps_default():
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("total", sa.Numeric(10, 2), nullable=False, server_default="0"))
    _fill()


def up_total_alter_without_batch():
    op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=True))
    _fill()
    op.alter_column("orders", "total", existing_type=sa.Numeric(10, 2), nullable=False)


def up_total_float():
    op.add_column("orders", sa.Column("total", sa.Float, nullable=True))
    _fill()
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("total", existing_type=sa.Float, nullable=False)


def down_nothing():
    pass


def test_order_total_reference_and_alternative():
    passed("08-order-total", (up_total, down_total))
    passed("08-order-total", types.SimpleNamespace(upgrade=up_total_default_then_drop_it, downgrade=down_total))


def test_order_total_mistakes():
    rejected("08-order-total", (up_total_not_null_at_once, down_total), "upgrade() failed", "fill every row")
    rejected("08-order-total", (up_total_prices_only, down_total), "wrong total", "quantity * unit_price")
    rejected("08-order-total", (up_total_left_nullable, down_total), "still nullable")
    rejected("08-order-total", (up_total_keeps_default, down_total), "server default")
    rejected("08-order-total", (up_total_float, down_total), "Numeric(10, 2)")
    rejected("08-order-total", (up_total, down_nothing), "downgrade()", "left the column(s) total behind")


def up_total_no_coalesce():  # the learner's: NULL for an order without items
    op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=True))
    sub = (sa.select(sa.func.sum(ITEMS.c.quantity * ITEMS.c.unit_price))
           .where(ITEMS.c.order_id == ORDERS.c.id).scalar_subquery())
    op.execute(ORDERS.update().values(total=sub))
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("total", existing_type=sa.Numeric(10, 2), nullable=False)


def up_total_python_loop():  # the learner's: one UPDATE per order, summed in Python
    op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=True))
    bind = op.get_bind()
    sums = dict(bind.execute(sa.select(ITEMS.c.order_id, sa.func.sum(ITEMS.c.quantity * ITEMS.c.unit_price))
                             .group_by(ITEMS.c.order_id)).all())
    for (oid,) in bind.execute(sa.select(ORDERS.c.id)).all():
        op.execute(ORDERS.update().where(ORDERS.c.id == oid).values(total=sums.get(oid, 0)))
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("total", existing_type=sa.Numeric(10, 2), nullable=False)


def test_order_total_order_without_items_needs_coalesce():
    rejected("08-order-total", (up_total_no_coalesce, down_total), "upgrade() failed", "coalesce")


def test_order_total_one_update():
    rejected("08-order-total", (up_total_python_loop, down_total), "one UPDATE", "computing the totals in Python")


def test_order_total_alter_without_batch():
    if PG:  # PostgreSQL alters the column in place: correct there
        passed("08-order-total", (up_total_alter_without_batch, down_total))
    else:
        rejected("08-order-total", (up_total_alter_without_batch, down_total), "batch_alter_table")


# -- 08-split-name ---------------------------------------------------------------
CUSTOMERS = sa.table("customers", sa.column("id", sa.Integer), sa.column("name", sa.String),
                     sa.column("first_name", sa.String), sa.column("last_name", sa.String))


def _split_with(rule):
    op.add_column("customers", sa.Column("first_name", sa.String(100)))
    op.add_column("customers", sa.Column("last_name", sa.String(100)))
    conn = op.get_bind()
    params = [{"cid": cid, "f": rule(name)[0], "l": rule(name)[1]}
              for cid, name in conn.execute(sa.select(CUSTOMERS.c.id, CUSTOMERS.c.name))]
    conn.execute(CUSTOMERS.update().where(CUSTOMERS.c.id == sa.bindparam("cid"))
                 .values(first_name=sa.bindparam("f"), last_name=sa.bindparam("l")), params)
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("first_name", existing_type=sa.String(100), nullable=False)
        batch.alter_column("last_name", existing_type=sa.String(100), nullable=False)
        batch.drop_column("name")


def up_split():
    _split_with(lambda name: name.partition(" ")[::2])


def up_split_second_word():
    _split_with(lambda name: (name.split()[0], name.split()[1]))


def up_split_rsplit():
    _split_with(lambda name: tuple(name.rsplit(" ", 1)))


def up_split_keeps_name():
    op.add_column("customers", sa.Column("first_name", sa.String(100)))
    op.add_column("customers", sa.Column("last_name", sa.String(100)))
    conn = op.get_bind()
    for cid, name in conn.execute(sa.select(CUSTOMERS.c.id, CUSTOMERS.c.name)).all():
        first, _, last = name.partition(" ")
        conn.execute(CUSTOMERS.update().where(CUSTOMERS.c.id == cid).values(first_name=first, last_name=last))
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("first_name", existing_type=sa.String(100), nullable=False)
        batch.alter_column("last_name", existing_type=sa.String(100), nullable=False)


def _down_split(value):
    op.add_column("customers", sa.Column("name", sa.String(100)))
    op.execute(CUSTOMERS.update().values(name=value()))
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("name", existing_type=sa.String(100), nullable=False)
        batch.drop_column("first_name")
        batch.drop_column("last_name")


def down_split():
    _down_split(lambda: CUSTOMERS.c.first_name + " " + CUSTOMERS.c.last_name)


def down_split_first_only():
    _down_split(lambda: CUSTOMERS.c.first_name)


class SplitAsClass:  # another spelling: a class with the two functions
    upgrade = staticmethod(up_split)
    downgrade = staticmethod(down_split)


def test_split_reference_and_alternative():
    passed("08-split-name", (up_split, down_split))
    passed("08-split-name", SplitAsClass)


def test_split_mistakes():
    rejected("08-split-name", (up_split_second_word, down_split), "'Daan de Vries'", "split wrongly")
    rejected("08-split-name", (up_split_rsplit, down_split), "'Daan de Vries'")
    rejected("08-split-name", (up_split_keeps_name, down_split), "still has the column name")
    rejected("08-split-name", (up_split, down_split_first_only), "After downgrade() the data is not as before")


# -- 08-expand-title -------------------------------------------------------------
PRODUCTS = sa.table("products", sa.column("name", sa.String), sa.column("title", sa.String))


def up_title():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("products", sa.Column("title", sa.String(200), nullable=True))
    op.execute(PRODUCTS.update().values(title=PRODUCTS.c.name))


def down_title():
    op.drop_column("products", "title")


def up_title_set_config():  # another spelling of the lock timeout, and a SQL UPDATE
    op.execute(sa.text("SELECT set_config('lock_timeout', '3s', true)") if pg() else sa.text("SELECT 1"))
    op.add_column("products", sa.Column("title", sa.String(200)))
    op.execute("UPDATE products SET title = name")


def up_title_rename():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
    op.alter_column("products", "name", new_column_name="title", existing_type=sa.String(200))


def down_title_rename():
    op.alter_column("products", "title", new_column_name="name", existing_type=sa.String(200))


def up_title_batch():
    if pg():  # batch mode cannot copy products on PostgreSQL (foreign keys point at it): a volatile default
        op.execute("SET LOCAL lock_timeout = '2s'")
        op.add_column("products", sa.Column("title", sa.String(200), server_default=sa.text("md5(random()::text)")))
        op.alter_column("products", "title", server_default=None)
    else:
        with op.batch_alter_table("products", recreate="always") as batch:
            batch.add_column(sa.Column("title", sa.String(200)))
    op.execute(PRODUCTS.update().values(title=PRODUCTS.c.name))


def up_title_not_null():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("products", sa.Column("title", sa.String(200), nullable=False, server_default=""))
    op.execute(PRODUCTS.update().values(title=PRODUCTS.c.name))


def up_title_no_copy():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("products", sa.Column("title", sa.String(200)))


def up_title_no_timeout():
    op.add_column("products", sa.Column("title", sa.String(200)))
    op.execute(PRODUCTS.update().values(title=PRODUCTS.c.name))


def test_expand_reference_and_alternative():
    passed("08-expand-title", (up_title, down_title))
    passed("08-expand-title", (up_title_set_config, down_title))


def test_expand_mistakes():
    rejected("08-expand-title", (up_title_rename, down_title_rename), "renames a column")
    rejected("08-expand-title", (up_title_batch, down_title),
             "rewrote the whole products table" if PG else "copies the whole products table")
    rejected("08-expand-title", (up_title_not_null, down_title), "must be nullable")
    rejected("08-expand-title", (up_title_no_copy, down_title), "wrong title")
    rejected("08-expand-title", (up_title, down_nothing), "left the column(s) title behind")


OFFLINE = "Checked on the SQL your migration renders for PostgreSQL"


def test_expand_lock_timeout_checked_on_both_backends():
    # PostgreSQL: on the statements sent; SQLite: on the SQL the migration renders for PostgreSQL in
    # Alembic's offline mode (the learner's code takes its PostgreSQL branch there).
    fb = rejected("08-expand-title", (up_title_no_timeout, down_title), "lock_timeout")
    assert (OFFLINE in fb.message) != PG, str(fb)
    fb = passed("08-expand-title", (up_title, down_title))
    if not PG:
        assert "Checked on the SQL your migration renders for PostgreSQL (Alembic's offline mode)" in fb.message, str(fb)


def up_title_session_timeout():  # the learner's: SET without LOCAL stays on the connection
    if pg():
        op.execute("SET lock_timeout = '2s'")
    op.add_column("products", sa.Column("title", sa.String(200), nullable=True))
    products = sa.table("products", sa.column("name", sa.String), sa.column("title", sa.String))
    op.execute(products.update().values(title=products.c.name))


def test_expand_lock_timeout_must_be_local():
    rejected("08-expand-title", (up_title_session_timeout, down_title), "SET LOCAL lock_timeout",
             "stays set after the migration")


def up_title_reads_rows():  # reads with op.get_bind(): cannot render offline, so SQLite says what it skipped
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("products", sa.Column("title", sa.String(200), nullable=True))
    bind = op.get_bind()
    names = bind.execute(sa.text("SELECT id, name FROM products")).all()
    products = sa.table("products", sa.column("id", sa.Integer), sa.column("title", sa.String))
    for pid, name in names:
        op.execute(products.update().where(products.c.id == pid).values(title=name))


def test_expand_unrenderable_migration_says_what_was_not_checked():
    fb = passed("08-expand-title", (up_title_reads_rows, down_title))
    if not PG:
        assert "Not checked here: the lock timeout before the ALTER on PostgreSQL" in fb.message, str(fb)
        assert "The check on PostgreSQL" in fb.message, str(fb)


# -- 08-fk-not-valid -------------------------------------------------------------
FK = "fk_shipments_order_id_orders"


def up_fk():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
        op.create_foreign_key(FK, "shipments", "orders", ["order_id"], ["id"], postgresql_not_valid=True)
        op.execute(f"ALTER TABLE shipments VALIDATE CONSTRAINT {FK}")
    else:
        with op.batch_alter_table("shipments") as batch:
            batch.create_foreign_key(FK, "orders", ["order_id"], ["id"])


def down_fk():
    with op.batch_alter_table("shipments") as batch:
        batch.drop_constraint(FK, type_="foreignkey")


def up_fk_plain():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
        op.create_foreign_key(FK, "shipments", "orders", ["order_id"], ["id"])
    else:
        with op.batch_alter_table("shipments") as batch:
            batch.create_foreign_key(FK, "orders", ["order_id"], ["id"])


def up_fk_never_validated():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
        op.create_foreign_key(FK, "shipments", "orders", ["order_id"], ["id"], postgresql_not_valid=True)
    else:
        with op.batch_alter_table("shipments") as batch:
            batch.create_foreign_key(FK, "orders", ["order_id"], ["id"])


def up_fk_no_timeout():
    if pg():
        op.create_foreign_key(FK, "shipments", "orders", ["order_id"], ["id"], postgresql_not_valid=True)
        op.execute(f"ALTER TABLE shipments VALIDATE CONSTRAINT {FK}")
    else:
        with op.batch_alter_table("shipments") as batch:
            batch.create_foreign_key(FK, "orders", ["order_id"], ["id"])


def up_fk_no_batch():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
    op.create_foreign_key(FK, "shipments", "orders", ["order_id"], ["id"], postgresql_not_valid=True)
    op.execute(f"ALTER TABLE shipments VALIDATE CONSTRAINT {FK}")


def up_fk_unnamed_pg():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
        op.execute("ALTER TABLE shipments ADD FOREIGN KEY (order_id) REFERENCES orders (id) NOT VALID")
    else:
        with op.batch_alter_table("shipments") as batch:
            batch.create_foreign_key("fk_order", "orders", ["order_id"], ["id"])


def test_fk_reference():
    passed("08-fk-not-valid", (up_fk, down_fk))


def test_fk_mistakes():
    rejected("08-fk-not-valid", (up_fk, down_nothing), "still has its foreign key")
    rejected("08-fk-not-valid", (up_fk_unnamed_pg, down_nothing), "the task names it")


@pytest.mark.parametrize("up, says", [
    (up_fk_plain, "NOT VALID"),
    (up_fk_never_validated, "never validated"),
    (up_fk_no_timeout, "lock timeout"),
])
def test_fk_postgresql_requirements_on_both_backends(up, says):
    # SQLite: judged on the SQL rendered for PostgreSQL offline (the learner's findings: these passed)
    fb = rejected("08-fk-not-valid", (up, down_fk), says)
    assert (OFFLINE in fb.message) != PG, str(fb)


def test_fk_batch_mode():
    if PG:
        passed("08-fk-not-valid", (up_fk_no_batch, down_fk))  # PostgreSQL needs no batch
    else:  # without batch mode SQLite refuses
        rejected("08-fk-not-valid", (up_fk_no_batch, down_fk), "batch_alter_table", "AlembicNotSupported")


def up_fk_cascade():  # the learner's: deleting an order would delete its shipments
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
        op.create_foreign_key(FK, "shipments", "orders", ["order_id"], ["id"], ondelete="CASCADE",
                              postgresql_not_valid=True)
        op.execute(f"ALTER TABLE shipments VALIDATE CONSTRAINT {FK}")
    else:
        with op.batch_alter_table("shipments") as batch:
            batch.create_foreign_key(FK, "orders", ["order_id"], ["id"], ondelete="CASCADE")


def test_fk_on_delete_cascade_is_rejected():
    rejected("08-fk-not-valid", (up_fk_cascade, down_fk), "ON DELETE CASCADE", "plain foreign key")


# -- 08-index-concurrently -------------------------------------------------------
def up_ix():
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_status", "orders", ["status"], postgresql_concurrently=True)


def down_ix():
    with op.get_context().autocommit_block():
        op.drop_index("ix_orders_status", table_name="orders", postgresql_concurrently=True)


def up_ix_sql():  # another spelling: raw SQL in the block
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY ix_orders_status ON orders (status)" if pg()
                   else "CREATE INDEX ix_orders_status ON orders (status)")


def up_ix_in_transaction():
    op.create_index("ix_orders_status", "orders", ["status"], postgresql_concurrently=True)


def up_ix_plain():
    op.create_index("ix_orders_status", "orders", ["status"])


def down_ix_plain():
    op.drop_index("ix_orders_status", table_name="orders")


def up_ix_wrong_name():
    with op.get_context().autocommit_block():
        op.create_index("orders_status_idx", "orders", ["status"], postgresql_concurrently=True)


def up_ix_unique_pair():
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_status", "orders", ["status", "id"], postgresql_concurrently=True)


def test_index_reference_and_alternative():
    passed("08-index-concurrently", (up_ix, down_ix))
    passed("08-index-concurrently", (up_ix_sql, down_ix))


def test_index_mistakes():
    rejected("08-index-concurrently", (up_ix_wrong_name, down_nothing), "orders_status_idx")
    rejected("08-index-concurrently", (up_ix_unique_pair, down_ix), "should index (status)")
    rejected("08-index-concurrently", (up_ix, down_nothing), "After downgrade()")


@pytest.mark.parametrize("up, down, says", [
    (up_ix_in_transaction, down_ix, "autocommit_block"),
    (up_ix_plain, down_ix, "CONCURRENTLY"),
    (up_ix, down_ix_plain, "drop the index CONCURRENTLY"),
])
def test_index_postgresql_requirements_on_both_backends(up, down, says):
    # SQLite: judged on the SQL rendered for PostgreSQL offline (the learner's findings: these passed)
    fb = rejected("08-index-concurrently", (up, down), says)
    assert (OFFLINE in fb.message) != PG, str(fb)


def test_index_pass_on_sqlite_says_how_postgresql_was_checked():
    fb = passed("08-index-concurrently", (up_ix, down_ix))
    if not PG:
        assert "Checked on the SQL your migration renders for PostgreSQL (Alembic's offline mode)" in fb.message, str(fb)


@pytest.mark.parametrize("where", [("postgresql_where",), ("postgresql_where", "sqlite_where"),
                                   ("sqlite_where",)])
def test_index_partial_is_rejected(where):  # the learner's: a partial index passed on both backends
    if where == ("sqlite_where",) and PG:
        pytest.skip("sqlite_where alone makes a plain index on PostgreSQL (the option is SQLite's)")

    def up_partial():
        with op.get_context().autocommit_block():
            op.create_index("ix_orders_status", "orders", ["status"], postgresql_concurrently=True,
                            **{w: sa.text("status = 'pending'") for w in where})

    rejected("08-index-concurrently", (up_partial, down_ix), "partial index", "plain index")


@pytest.mark.parametrize("exercise", ["08-order-total", "08-split-name", "08-expand-title",
                                      "08-fk-not-valid", "08-index-concurrently"])
def test_learner_exception_is_feedback(exercise):
    def broken():
        raise ValueError("oops")

    rejected(exercise, (broken, down_nothing), "Your upgrade() failed", "ValueError")


# -- types the task states, and no warning in the learner's output -----------------
def up_split_text():
    op.add_column("customers", sa.Column("first_name", sa.Text))
    op.add_column("customers", sa.Column("last_name", sa.Text))
    op.execute("UPDATE customers SET first_name = '', last_name = ''")
    conn = op.get_bind()
    for cid, name in conn.execute(sa.select(CUSTOMERS.c.id, CUSTOMERS.c.name)).all():
        first, _, last = name.partition(" ")
        conn.execute(CUSTOMERS.update().where(CUSTOMERS.c.id == cid).values(first_name=first, last_name=last))
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("first_name", existing_type=sa.Text, nullable=False)
        batch.alter_column("last_name", existing_type=sa.Text, nullable=False)
        batch.drop_column("name")


def down_split_short_name():
    op.add_column("customers", sa.Column("name", sa.String(50)))
    op.execute(CUSTOMERS.update().values(name=CUSTOMERS.c.first_name + " " + CUSTOMERS.c.last_name))
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("name", existing_type=sa.String(50), nullable=False)
        batch.drop_column("first_name")
        batch.drop_column("last_name")


def up_title_text():
    if pg():
        op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("products", sa.Column("title", sa.Text))
    op.execute(PRODUCTS.update().values(title=PRODUCTS.c.name))


def up_split_no_params():
    op.add_column("customers", sa.Column("first_name", sa.String(100)))
    op.add_column("customers", sa.Column("last_name", sa.String(100)))
    op.get_bind().execute(CUSTOMERS.update().where(CUSTOMERS.c.id == sa.bindparam("cid"))
                          .values(first_name=sa.bindparam("f"), last_name=sa.bindparam("l")), [])
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("first_name", existing_type=sa.String(100), nullable=False)


def down_split_name_200():  # the learner's: name re-created as String(200) (it was String(100))
    customers = sa.table("customers", sa.column("name", sa.String), sa.column("first_name", sa.String),
                         sa.column("last_name", sa.String))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("name", sa.String(200), nullable=True))
    op.execute(customers.update().values(name=customers.c.first_name + " " + customers.c.last_name))
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("name", existing_type=sa.String(200), nullable=False)
        batch.drop_column("first_name")
        batch.drop_column("last_name")


def test_split_downgrade_names_the_column_and_types():
    fb = rejected("08-split-name", (up_split, down_split_name_200), "customers.name is VARCHAR(200) NOT NULL",
                  "it was VARCHAR(100) NOT NULL")
    assert "a column's type or nullability" not in fb.message, str(fb)


def down_split_name_nullable():  # the learner's: name back, but nullable
    customers = sa.table("customers", sa.column("name", sa.String), sa.column("first_name", sa.String),
                         sa.column("last_name", sa.String))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("name", sa.String(100), nullable=True))
    op.execute(customers.update().values(name=customers.c.first_name + " " + customers.c.last_name))
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("first_name")
        batch.drop_column("last_name")


def test_split_downgrade_names_the_nullable_column():
    rejected("08-split-name", (up_split, down_split_name_nullable), "customers.name is VARCHAR(100) NULL",
             "it was VARCHAR(100) NOT NULL")


def test_stated_types_are_checked():
    rejected("08-split-name", (up_split_text, down_split), "String(100)")
    rejected("08-split-name", (up_split, down_split_short_name), "not as it was before")
    rejected("08-expand-title", (up_title_text, down_title), "String(200)")


def test_no_warning_reaches_the_learner():
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rejected("08-split-name", (up_split_no_params, down_split), "upgrade() failed")
    assert not seen, [str(w.message) for w in seen]


def up_split_forgot_last_name():
    op.add_column("customers", sa.Column("first_name", sa.String(100)))
    conn = op.get_bind()
    params = [{"cid": cid, "f": name.partition(" ")[0], "l": name.partition(" ")[2]}
              for cid, name in conn.execute(sa.select(CUSTOMERS.c.id, CUSTOMERS.c.name))]
    conn.execute(CUSTOMERS.update().where(CUSTOMERS.c.id == sa.bindparam("cid"))
                 .values(first_name=sa.bindparam("f"), last_name=sa.bindparam("l")), params)


def test_failed_executemany_leaves_nothing_on_stderr(capsys):
    # psycopg logs "error ignored terminating <Pipeline>" after a failed executemany on PostgreSQL
    rejected("08-split-name", (up_split_forgot_last_name, down_split), "upgrade() failed")
    assert capsys.readouterr().err == ""
