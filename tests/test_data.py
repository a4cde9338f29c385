"""Tests of the sample data: the generator, the committed CSVs and the loader."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, text

from sqlacourse import data, shop

REPO_DATA = Path(__file__).resolve().parents[1] / "data"


def _csv_rows(directory: Path) -> dict[str, int]:
    """Data rows per table, counted from the files (no quoted newlines in our data)."""
    return {
        name: len((directory / f"{name}.csv").read_text(encoding="utf-8").splitlines()) - 1
        for name in shop.TABLES
    }


def _make_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _foreign_keys_on(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    shop.Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def engine(tmp_path):
    engine = _make_engine(tmp_path / "shop.db")
    yield engine
    engine.dispose()


@pytest.fixture
def loaded(engine):
    data.load(engine, REPO_DATA)
    return engine


def _count(conn, sql: str) -> int:
    return conn.execute(text(sql)).scalar_one()


# -- the committed files -------------------------------------------------------


def test_committed_csvs_equal_a_fresh_generate(tmp_path):
    counts = data.generate(tmp_path)
    assert sorted(p.name for p in REPO_DATA.glob("*.csv")) == sorted(f"{name}.csv" for name in shop.TABLES)
    for name in shop.TABLES:
        committed = (REPO_DATA / f"{name}.csv").read_bytes()
        fresh = (tmp_path / f"{name}.csv").read_bytes()
        assert committed == fresh, (
            f"data/{name}.csv differs from the generator: run `python -m sqlacourse data generate`"
        )
    assert counts == _csv_rows(tmp_path)


def test_headers_are_the_table_columns_in_order():
    for table in shop.Base.metadata.sorted_tables:
        with open(REPO_DATA / f"{table.name}.csv", encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split(",")
        assert header == [c.name for c in table.columns]


def test_row_totals_at_scale_1():
    counts = _csv_rows(REPO_DATA)
    assert all(n > 0 for n in counts.values()), counts
    assert sum(counts.values()) < 4000
    assert counts["tags"] == len(data.TAGS)
    assert 10 <= counts["categories"] <= 14
    assert counts["customers"] == 200
    assert 0.6 < counts["customer_profiles"] / counts["customers"] < 0.9


# -- loading ---------------------------------------------------------------------


def test_load_into_sqlite_with_foreign_keys(engine):
    counts = data.load(engine, REPO_DATA)
    assert counts == _csv_rows(REPO_DATA)
    assert list(counts) == shop.TABLES  # parents first
    with engine.connect() as conn:
        assert _count(conn, "PRAGMA foreign_keys") == 1
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        for table in shop.Base.metadata.sorted_tables:
            assert conn.scalar(select(func.count()).select_from(table)) == counts[table.name]


def test_types_round_trip(loaded):
    with loaded.connect() as conn:
        price, created_at = conn.execute(
            select(shop.Product.price, shop.Product.created_at).order_by(shop.Product.id)
        ).first()
        assert isinstance(price, Decimal) and price == price.quantize(Decimal("0.01"))
        assert isinstance(created_at, dt.datetime)
        newsletter = conn.scalar(select(shop.CustomerProfile.newsletter).limit(1))
        assert isinstance(newsletter, bool)
        assert conn.scalar(select(shop.Category.parent_id).where(shop.Category.id == 1)) is None
        quantity = conn.scalar(select(shop.OrderItem.quantity).limit(1))
        assert isinstance(quantity, int)


def test_the_data_has_the_shapes_the_lessons_need(loaded):
    with loaded.connect() as conn:
        customers_without_orders = _count(
            conn,
            "SELECT count(*) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL",
        )
        products_without_reviews = _count(
            conn,
            "SELECT count(*) FROM products p LEFT JOIN reviews r ON r.product_id = p.id WHERE r.id IS NULL",
        )
        products_without_tags = _count(
            conn,
            "SELECT count(*) FROM products p LEFT JOIN product_tags pt"
            " ON pt.product_id = p.id WHERE pt.tag_id IS NULL",
        )
        assert customers_without_orders > 0
        assert products_without_reviews > 0
        assert products_without_tags > 0

        # 1-5 distinct products per order, positive quantities, sensible prices
        per_order = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT product_id), min(quantity)"
                " FROM order_items GROUP BY order_id"
            )
        ).all()
        assert len(per_order) == _count(conn, "SELECT count(*) FROM orders")
        assert all(1 <= n <= 5 and distinct == n and q >= 1 for n, distinct, q in per_order)
        assert (
            _count(
                conn,
                "SELECT count(*) FROM order_items oi JOIN products p ON p.id = oi.product_id"
                " WHERE oi.unit_price > p.price",
            )
            == 0
        )
        assert _count(conn, "SELECT count(*) FROM products WHERE price < 1 OR price > 500") == 0

        statuses = dict(conn.execute(text("SELECT status, count(*) FROM orders GROUP BY 1")).all())
        assert set(statuses) == {"pending", "paid", "shipped", "cancelled"}
        assert max(statuses, key=statuses.get) == "shipped"

        ratings = dict(conn.execute(text("SELECT rating, count(*) FROM reviews GROUP BY 1")).all())
        assert set(ratings) <= {1, 2, 3, 4, 5}
        assert ratings[4] + ratings[5] > ratings[1] + ratings[2] + ratings[3]
        assert _count(conn, "SELECT count(*) FROM reviews WHERE body IS NULL") > 0

        # Products belong to leaf categories; top-level categories have 2-3 children.
        assert (
            _count(
                conn,
                "SELECT count(*) FROM products p JOIN categories c ON c.parent_id = p.category_id",
            )
            == 0
        )
        children = (
            conn.execute(
                text(
                    "SELECT count(child.id) FROM categories top"
                    " JOIN categories child ON child.parent_id = top.id"
                    " WHERE top.parent_id IS NULL GROUP BY top.id"
                )
            )
            .scalars()
            .all()
        )
        assert len(children) == 4 and all(2 <= n <= 3 for n in children)

        # Unique emails at example domains; two-letter countries.
        emails = conn.execute(select(shop.Customer.email)).scalars().all()
        assert len(set(emails)) == len(emails)
        assert all(e.endswith(("@example.com", "@example.org")) for e in emails)
        countries = conn.execute(select(shop.Customer.country)).scalars().all()
        assert all(len(c) == 2 and c.isupper() for c in countries)

        # Nothing happens before the customer or product exists.
        assert (
            _count(
                conn,
                "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id"
                " WHERE o.created_at < c.created_at",
            )
            == 0
        )
        assert (
            _count(
                conn,
                "SELECT count(*) FROM reviews r JOIN products p ON p.id = r.product_id"
                " WHERE r.created_at < p.created_at",
            )
            == 0
        )


def test_load_into_a_connection_does_not_commit(engine):
    with engine.connect() as conn:
        counts = data.load(conn, REPO_DATA)
        assert counts["customers"] > 0
        assert conn.in_transaction()
        assert conn.scalar(select(func.count()).select_from(shop.Customer)) > 0
        conn.rollback()
    with engine.connect() as conn:
        for table in shop.Base.metadata.sorted_tables:
            assert conn.scalar(select(func.count()).select_from(table)) == 0


def test_load_in_small_chunks_and_sees_changed_files(tmp_path):
    source = tmp_path / "csv"
    shutil.copytree(REPO_DATA, source)
    first = _make_engine(tmp_path / "first.db")
    expected = _csv_rows(source)
    assert data.load(first, source, chunk_size=7) == expected
    first.dispose()

    # Drop the last review: the cached rows must not be reused.
    reviews = source / "reviews.csv"
    lines = reviews.read_text(encoding="utf-8").splitlines(keepends=True)
    reviews.write_text("".join(lines[:-1]), encoding="utf-8")
    stat = reviews.stat()
    os.utime(reviews, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = _make_engine(tmp_path / "second.db")
    assert data.load(second, source)["reviews"] == expected["reviews"] - 1
    second.dispose()


def test_load_rejects_unknown_files(tmp_path, engine):
    (tmp_path / "bogus.csv").write_text("id\n1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bogus"):
        data.load(engine, tmp_path)


# -- generating ------------------------------------------------------------------


def test_generate_scale_2_is_deterministic_and_twice_as_big(tmp_path):
    one = _csv_rows(REPO_DATA)
    a = data.generate(tmp_path / "a", scale=2)
    b = data.generate(tmp_path / "b", scale=2)
    assert a == b
    for name in shop.TABLES:
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() == (tmp_path / "b" / f"{name}.csv").read_bytes()
    assert a["customers"] == 2 * one["customers"]
    assert a["products"] == 2 * one["products"]
    assert a["orders"] == 2 * one["orders"]
    assert a["categories"] == one["categories"] and a["tags"] == one["tags"]

    other = data.generate(tmp_path / "c", scale=2, seed=7)
    assert (tmp_path / "c" / "customers.csv").read_bytes() != (tmp_path / "a" / "customers.csv").read_bytes()
    assert other["customers"] == a["customers"]


def test_generate_rejects_a_bad_scale(tmp_path):
    with pytest.raises(ValueError):
        data.generate(tmp_path, scale=0)


# -- progress bars and the command line ------------------------------------------


def test_progress_bar_goes_to_stderr(engine, tmp_path, capsys):
    data.load(engine, REPO_DATA, progress=True)
    err = capsys.readouterr().err
    assert "load" in err and "100%" in err

    data.generate(tmp_path, progress=True)
    assert "generate" in capsys.readouterr().err


def test_no_progress_bar_for_small_jobs(engine, tmp_path, capsys):
    data.load(engine, REPO_DATA)  # progress=None: 3,000-odd rows stay quiet
    data.generate(tmp_path)
    assert capsys.readouterr().err == ""


def test_cli_generate_and_load(tmp_path, capsys):
    out = tmp_path / "generated"
    assert data.cli(["generate", "--out", str(out)]) == 0
    assert "total" in capsys.readouterr().out
    assert data.cli(["load", "--url", f"sqlite:///{tmp_path / 'cli.db'}", "--source", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "customers" in printed and "200" in printed


# -- PostgreSQL (run by the test command's PostgreSQL phase) ----------------------


@pytest.mark.postgres
def test_load_into_postgresql_resets_the_id_sequences():
    from sqlalchemy import make_url
    from sqlalchemy.orm import Session

    url = os.environ.get("SQLACOURSE_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("SQLACOURSE_DATABASE_URL is not a PostgreSQL URL")
    url = make_url(url).set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    # One schema found through search_path, one through schema_translate_map.
    schemas = ["sqlacourse_test_data_path", "sqlacourse_test_data_map"]
    try:
        with admin.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        engines = [
            create_engine(url, connect_args={"options": f"-c search_path={schemas[0]}"}),
            create_engine(url, execution_options={"schema_translate_map": {None: schemas[1]}}),
        ]
        for engine in engines:
            shop.Base.metadata.create_all(engine)
            with engine.connect() as conn:  # a Connection: nothing is committed
                data.load(conn, REPO_DATA)
                conn.rollback()
                assert conn.scalar(select(func.count()).select_from(shop.Customer)) == 0
            counts = data.load(engine, REPO_DATA)
            assert counts == _csv_rows(REPO_DATA)
            with Session(engine) as session:
                customer = shop.Customer(
                    email="new@example.com",
                    name="New Customer",
                    country="NL",
                    created_at=dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
                )
                tag = shop.Tag(name="brand-new")
                session.add_all([customer, tag])
                session.flush()  # ids from the sequences, past the loaded ones
                assert customer.id == counts["customers"] + 1
                assert tag.id == counts["tags"] + 1
                price = session.scalar(select(shop.Product.price).limit(1))
                assert isinstance(price, Decimal)
                session.rollback()
            engine.dispose()
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
