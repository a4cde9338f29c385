"""Choosing the database, and refusing one that is not the course's."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, inspect, text

from sqlacourse.backend import (
    CourseDatabase,
    CourseDatabaseError,
    parse_target,
    safe_url,
    schema_name,
)


def test_default_is_sqlite():
    assert parse_target("").kind == "sqlite"
    assert parse_target("sqlite").kind == "sqlite"


def test_one_url_gives_psycopg_for_sync_and_asyncpg_for_async():
    target = parse_target("postgresql://me:secret@db.example:5432/course")
    db = CourseDatabase("02-sessions", target)
    assert db.url.drivername == "postgresql+psycopg"
    assert db.async_url.drivername == "postgresql+asyncpg"
    assert db.schema == schema_name("02-sessions")
    assert "secret" not in db.label and "***" in db.label


@pytest.mark.parametrize("value, says", [
    ("mysql://u:secret@h/db", "SQLite and PostgreSQL only"),
    ("sqlite:///some.db", "unset the variable"),
    ("not a url with secret", "not a database URL"),
])
def test_bad_urls_get_a_clear_message_without_the_password(value, says):
    with pytest.raises(CourseDatabaseError, match=says) as info:
        parse_target(value)
    assert "secret" not in str(info.value)


def test_safe_url_hides_the_password():
    assert safe_url("postgresql://me:pw@h/db") == "postgresql://me:***@h/db"


def test_schema_names_fit_postgresql():
    name = schema_name("x" * 100, user="Some User")
    assert name.startswith("sqlacourse_some_user_") and len(name) <= 63


def test_sqlite_databases_are_separate_files():
    a, b = CourseDatabase("a"), CourseDatabase("b")
    assert a.path != b.path and a.path.parent == b.path.parent


@pytest.mark.postgres
def test_refuses_a_database_with_foreign_tables_and_changes_nothing():
    target = parse_target(None)
    assert target.kind == "postgresql", "run with --backend embedded"
    server = CourseDatabase("probe", target).target.server_url
    engine = create_engine(server)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE public.customer_data (id int)")
        db = CourseDatabase("refusal-test", target)
        with pytest.raises(CourseDatabaseError, match="not the course's") as info:
            db.reset()
        assert "public.customer_data" in str(info.value) and "changed nothing" in str(info.value)
        assert db.schema not in inspect(engine).get_schema_names()
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM public.customer_data")) == 0
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS public.customer_data")
        engine.dispose()


@pytest.mark.postgres
def test_each_notebook_gets_its_own_schema_via_search_path():
    db = CourseDatabase("schema-test")
    db.reset()
    engine = db.create_engine()
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SHOW search_path")) == db.schema
    finally:
        engine.dispose()
        db.drop()


@pytest.mark.postgres
def test_wrong_password_is_a_clear_error_without_the_password():
    target = parse_target(None)
    url = target.server_url if target.server_url else CourseDatabase("x").target.server_url
    bad = parse_target(url.set(password="wrong-secret", host="127.0.0.1", port=1,
                               query={}).render_as_string(hide_password=False))
    with pytest.raises(CourseDatabaseError, match="Could not connect") as info:
        CourseDatabase("x", bad).reset()
    assert "wrong-secret" not in str(info.value)


@pytest.mark.postgres
def test_embedded_server_is_stopped_when_its_owner_is_killed(tmp_path):
    code = ("import sys, time\nfrom sqlacourse import embedded\n"
            "print(embedded.start(), flush=True)\nprint(embedded._datadir, flush=True)\ntime.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    datadir = proc.stdout.readline().strip()
    assert os.path.exists(os.path.join(datadir, "postmaster.pid"))
    proc.kill()  # no atexit, no cleanup: only the watchdog can stop the server
    proc.wait()
    for _ in range(60):
        if not os.path.exists(datadir):
            break
        time.sleep(0.5)
    assert not os.path.exists(datadir), "the embedded PostgreSQL outlived its owner"
