"""Choosing the database, and refusing one that is not the course's."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from sqlacourse.backend import (
    CourseDatabase,
    CourseDatabaseError,
    learner,
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
    proc.stdout.close()
    for _ in range(60):
        if not os.path.exists(datadir):
            break
        time.sleep(0.5)
    assert not os.path.exists(datadir), "the embedded PostgreSQL outlived its owner"


@pytest.mark.postgres
def test_embedded_server_leaks_no_resource_warning():
    """`python -W default`: starting the server (and its watchdog, which must outlive this
    process) and stopping it at exit print no ResourceWarning."""
    code = "from sqlacourse import embedded\nembedded.start()\nprint('started', flush=True)\n"
    done = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "started" in done.stdout, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr


# -- namespaces: per learner, per notebook, per check; names never collide ----
@pytest.mark.parametrize("a, b", [
    (("jane.doe", "03-querying"), ("jane-doe", "03-querying")),
    (("José", "03-querying"), ("Jose", "03-querying")),
    (("李雷", "03-querying"), ("韩梅梅", "03-querying")),
    (("jovyan", "check_03-" + "x" * 80 + "a"), ("jovyan", "check_03-" + "x" * 80 + "b")),
    (("a_b", "c"), ("a", "b_c")),
])
def test_schema_names_never_collide_and_fit_postgresql(a, b):
    one, two = schema_name(a[1], user=a[0]), schema_name(b[1], user=b[0])
    assert one != two
    for name in (one, two):
        assert len(name) <= 63 and re.fullmatch(r"sqlacourse_[a-z0-9_]+", name), name


def test_the_learner_is_the_hub_user_or_the_override(monkeypatch):
    monkeypatch.delenv("SQLACOURSE_USER", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    assert learner() == "ada"
    ada = schema_name("03-querying")
    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    assert schema_name("03-querying") != ada
    monkeypatch.setenv("SQLACOURSE_USER", "team-7")
    assert learner() == "team-7"


def test_every_check_gets_a_database_of_its_own():
    target = parse_target("postgresql://u@h/db")
    names = {CourseDatabase("check_x", target, unique=True).schema for _ in range(20)}
    assert len(names) == 20
    paths = {CourseDatabase("check_x", parse_target(""), unique=True).path for _ in range(20)}
    assert len(paths) == 20


# -- passwords: never printed, in any URL form --------------------------------
SECRET_URLS = [
    ("postgresql://me:Zk7Qv4w@127.0.0.1:1/db", ["Zk7Qv4w"]),
    ("postgresql://me@127.0.0.1:1/db?password=Zk7Qv4w", ["Zk7Qv4w"]),
    ("postgresql://me:Zk7@Qv4w@127.0.0.1:1/db", ["Zk7", "Qv4w"]),
    ("postgresql://me:Zk7@:/Qv4w@127.0.0.1:1/db", ["Zk7", "Qv4w"]),
    ("postgresql://me:Zk7%40Qv4w@127.0.0.1:1/db", ["Zk7", "Qv4w"]),
    ("postgresql://me:Zk7Qv4w@127.0.0.1:notaport/db", ["Zk7Qv4w"]),
    # SQLAlchemy's own repr of an engine shows query parameters other than password=:
    # the course's messages and labels hide them, the test below checks those.
    ("postgresql://me@127.0.0.1:1/db?sslpassword=Zk7Qv4w", ["Zk7Qv4w"]),
]


@pytest.mark.parametrize("url, pieces", SECRET_URLS)
def test_no_password_in_any_output_error_or_traceback(url, pieces, monkeypatch, capsys):
    import traceback

    from sqlacourse import setup

    monkeypatch.setenv("SQLACOURSE_DATABASE_URL", url)
    monkeypatch.setenv("SQLACOURSE_CONNECT_TIMEOUT", "2")
    with pytest.raises(CourseDatabaseError) as info:
        setup("password-test")
    shown = "".join(traceback.format_exception(info.value)) + capsys.readouterr().out
    try:
        target = parse_target(None)
        shown += safe_url(target.server_url) + target.label + CourseDatabase("x", target).label
        if "sslpassword" not in url:
            shown += repr(target.server_url) + repr(create_engine(target.server_url))
    except CourseDatabaseError as exc:
        shown += "".join(traceback.format_exception(exc))
    shown += safe_url(url)
    for piece in pieces:
        assert piece not in shown, shown


def test_a_password_with_at_colon_slash_reaches_the_driver_whole():
    target = parse_target("postgresql://me:Zk7@:/Qv4w@db.example:5432/course")
    assert target.server_url.password == "Zk7@:/Qv4w"
    assert target.server_url.host == "db.example" and target.server_url.database == "course"
    query_form = parse_target("postgresql://me@db.example/course?password=Zk7Qv4w")
    assert query_form.server_url.password == "Zk7Qv4w" and "password" not in query_form.server_url.query


# -- a server that accepts connections and never answers ----------------------
@pytest.fixture
def silent_server():
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])  # accepted, never answered
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    srv.close()


def test_a_server_that_never_answers_gives_a_clear_error_in_time(silent_server, monkeypatch):
    from sqlacourse import check, setup

    monkeypatch.setenv("SQLACOURSE_DATABASE_URL", f"postgresql://me:Zk7Qv4w@127.0.0.1:{silent_server}/db")
    monkeypatch.setenv("SQLACOURSE_CONNECT_TIMEOUT", "2")
    t0 = time.monotonic()
    with pytest.raises(CourseDatabaseError, match="did not answer within 2 s") as info:
        setup("silent-test")
    assert time.monotonic() - t0 < 15 and "Zk7Qv4w" not in str(info.value)
    t0 = time.monotonic()
    fb = check("00-count-customers", lambda session: 0)
    assert time.monotonic() - t0 < 20, "check() hung on a server that never answers"
    assert not fb.passed and "Zk7Qv4w" not in str(fb)


# -- PostgreSQL: only what the course provably created is ever dropped --------
def _server_engine():
    target = parse_target(None)
    assert target.kind == "postgresql", "run with --backend embedded"
    return create_engine(CourseDatabase("probe", target).target.server_url)


@pytest.mark.postgres
def test_a_foreign_table_in_a_schema_named_like_the_courses_makes_it_refuse():
    engine = _server_engine()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA sqlacourse_payroll")
            conn.exec_driver_sql("CREATE TABLE sqlacourse_payroll.salaries AS SELECT g AS id FROM generate_series(1, 37) g")
        db = CourseDatabase("payroll-test")
        with pytest.raises(CourseDatabaseError, match="sqlacourse_payroll.salaries") as info:
            db.reset()
        assert "changed nothing" in str(info.value)
        assert db.schema not in inspect(engine).get_schema_names()
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM sqlacourse_payroll.salaries")) == 37
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS sqlacourse_payroll CASCADE")
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("comment", [None, "'sqlacourse schema 0123456789abcdef0123456789abcdef ns 000000000000'"])
def test_a_schema_with_the_courses_name_that_it_did_not_create_is_never_dropped(comment):
    engine = _server_engine()
    db = CourseDatabase("not-mine-test")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{db.schema}"')
            if comment:
                conn.exec_driver_sql(f'COMMENT ON SCHEMA "{db.schema}" IS {comment}')
            conn.exec_driver_sql(f'CREATE TABLE "{db.schema}".notes AS SELECT 1 AS id')
        for action in (db.reset, db.drop):
            with pytest.raises(CourseDatabaseError, match="did not create|not the course's"):
                action()
            with engine.connect() as conn:
                assert conn.scalar(text(f'SELECT count(*) FROM "{db.schema}".notes')) == 1
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE')
        engine.dispose()


@pytest.mark.postgres
def test_one_learners_setup_never_touches_anothers_schema(monkeypatch):
    from sqlacourse import setup

    monkeypatch.setenv("SQLACOURSE_USER", "jovyan")
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    ada = setup("03-querying", quiet=True)
    with ada.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO categories (id, name) VALUES (9001, 'ada''s row')")
    monkeypatch.delenv("SQLACOURSE_USER")
    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    grace = setup("03-querying", quiet=True)
    assert grace.db.schema != ada.db.schema
    with ada.engine.connect() as conn:
        assert conn.scalar(text("SELECT name FROM categories WHERE id = 9001")) == "ada's row"
    ada.close(), grace.close()
    ada.db.drop(), grace.db.drop()


@pytest.mark.postgres
def test_another_installations_schema_is_refused(monkeypatch):
    from sqlacourse import backend

    db = CourseDatabase("other-installation-test")
    db.reset()
    monkeypatch.setattr(backend, "_installation_key", lambda: b"another home, another key" * 2)
    with pytest.raises(CourseDatabaseError, match="did not create"):
        db.reset()
    monkeypatch.undo()
    db.drop()


@pytest.mark.postgres
def test_objects_outside_the_schema_that_use_it_make_it_refuse():
    mine, other = CourseDatabase("depend-test"), CourseDatabase("depend-other")
    mine.reset(), other.reset()
    engine = _server_engine()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE TABLE "{mine.schema}".t (id int)')
            conn.exec_driver_sql(f'CREATE VIEW "{other.schema}".v AS SELECT id FROM "{mine.schema}".t')
        with pytest.raises(CourseDatabaseError, match="used by objects outside it"):
            mine.reset()
        assert other.schema in inspect(engine).get_schema_names()
        assert "v" in inspect(engine).get_view_names(schema=other.schema)
    finally:
        other.drop()
        mine.drop()
        engine.dispose()


@pytest.mark.postgres
def test_rerunning_setup_while_a_session_is_open_works():
    from sqlacourse import setup

    course = setup("03-querying", quiet=True)
    session = course.Session()
    session.execute(text("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"))  # held until commit
    t0 = time.monotonic()
    again = setup("03-querying", quiet=True)
    assert time.monotonic() - t0 < 10
    with again.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM customers")) > 0
    with contextlib.suppress(Exception):
        session.close()
    again.close()


@pytest.mark.postgres
def test_the_setup_banner_hides_a_query_string_password(capsys):
    from sqlacourse import setup

    url = parse_target(None).server_url
    if url is None:
        url = CourseDatabase("x").target.server_url
    query = dict(url.query) | {"password": "Zk7Qv4w"}
    os.environ["SQLACOURSE_DATABASE_URL"], saved = (
        url.set(query=query).render_as_string(hide_password=False), os.environ["SQLACOURSE_DATABASE_URL"])
    try:
        course = setup("banner-test")
        shown = capsys.readouterr().out + repr(course) + repr(course.engine) + repr(course.async_engine)
        assert "Zk7Qv4w" not in shown and "shop data loaded" in shown
        course.close()
        course.db.drop()
    finally:
        os.environ["SQLACOURSE_DATABASE_URL"] = saved


# -- the embedded PostgreSQL, as root, opens no folder to other users ----------
def test_pgserver_is_never_allowed_to_open_a_closed_folder(tmp_path):
    from sqlacourse import embedded

    private = tmp_path / "home"
    (private / "course").mkdir(parents=True)
    private.chmod(0o700)
    with pytest.raises(RuntimeError, match="closed to other users") as info:
        embedded._refuse_widening(private / "course" / "pginstall" / "bin")
    assert str(private) in str(info.value)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700


@pytest.mark.postgres
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="pgserver widens folders only when run as root")
def test_as_root_the_embedded_server_leaves_every_folder_as_it_was(tmp_path):
    private = tmp_path / "private-tmp"
    private.mkdir()
    private.chmod(0o700)
    watched = [private, *private.parents]
    before = {p: stat.S_IMODE(p.stat().st_mode) for p in watched}
    code = ("import sys\nfrom sqlacourse import embedded\nembedded.start()\n"
            "print(embedded._datadir, flush=True)\nsys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, TMPDIR=str(private)))
    try:
        datadir = proc.stdout.readline().strip()
        assert datadir and os.path.exists(os.path.join(datadir, "postmaster.pid"))
        after = {p: stat.S_IMODE(p.stat().st_mode) for p in watched}
        assert after == before, "a folder was opened to other users"
        assert not datadir.startswith(str(private))
        for parent in Path(datadir).parents:
            assert stat.S_IMODE(parent.stat().st_mode) & 0o022 == 0 or parent.stat().st_mode & stat.S_ISVTX
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        proc.stdout.close()


def test_the_courses_engines_give_up_on_a_server_that_never_answers(silent_server, monkeypatch):
    import asyncio

    monkeypatch.setenv("SQLACOURSE_CONNECT_TIMEOUT", "2")
    db = CourseDatabase("x", parse_target(f"postgresql://me:Zk7Qv4w@127.0.0.1:{silent_server}/db"))

    async def connect_async():
        engine = db.create_async_engine()
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    for connect in (lambda: db.create_engine().connect(), lambda: asyncio.run(connect_async())):
        t0 = time.monotonic()
        with pytest.raises(Exception) as info:
            connect()
        assert time.monotonic() - t0 < 10, "an engine waited past its connect timeout"
        assert "Zk7Qv4w" not in str(info.value)


@pytest.mark.parametrize("url", [u for u, _ in SECRET_URLS[:5]])
def test_the_data_load_command_prints_no_password(url):
    out = subprocess.run([sys.executable, "-m", "sqlacourse", "data", "load", "--url", url],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, SQLACOURSE_CONNECT_TIMEOUT="2"))
    assert out.returncode != 0
    for piece in ("Zk7", "Qv4w"):
        assert piece not in out.stdout + out.stderr


@pytest.mark.postgres
def test_a_lock_held_by_someone_else_gives_a_clear_message_not_a_hang(monkeypatch):
    from sqlacourse import backend, setup

    course = setup("lock-test", quiet=True)
    other = _server_engine()  # not one of the course's connections: it is never ended
    conn = other.connect()
    try:
        conn.exec_driver_sql(f'LOCK TABLE "{course.db.schema}".customers IN ACCESS EXCLUSIVE MODE')
        monkeypatch.setattr(backend, "ADMIN_LOCK_TIMEOUT_MS", 1000)
        t0 = time.monotonic()
        with pytest.raises(CourseDatabaseError, match="locked by another connection"):
            setup("lock-test", quiet=True)
        assert time.monotonic() - t0 < 10
        assert conn.scalar(text(f'SELECT count(*) FROM "{course.db.schema}".customers')) > 0
    finally:
        conn.close()
        other.dispose()
        course.close()
        course.db.drop()


@pytest.mark.both_backends
def test_rerunning_setup_after_async_queries_closes_them_quietly(capfd, caplog):
    """In a notebook the kernel's event loop runs every cell: re-running the setup cell after an
    `await` on course.async_engine must close those connections on that loop, with nothing
    printed (it printed a MissingGreenlet traceback per connection)."""
    import asyncio
    import logging

    from sqlalchemy import event

    from sqlacourse import setup

    events: list[str] = []

    async def notebook() -> None:
        course = setup("06-async", quiet=True, echo=False)
        old = course.async_engine
        event.listen(old.sync_engine, "connect", lambda *a: events.append("connect"))
        event.listen(old.sync_engine, "close", lambda *a: events.append("close"))
        async with old.connect() as conn:  # a cell with top-level await
            assert await conn.scalar(text("SELECT count(*) FROM customers")) > 0
        again = setup("06-async", quiet=True, echo=False)  # the setup cell, run again
        await asyncio.sleep(0.5)  # the kernel's loop goes on between cells
        async with again.async_engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM customers")) > 0
        await again.async_engine.dispose()
        again.engine.dispose()

    with caplog.at_level(logging.WARNING, logger="sqlalchemy"):
        asyncio.run(notebook())
    out, err = capfd.readouterr()
    assert events == ["connect", "close"], events
    assert "MissingGreenlet" not in out + err and "Exception closing" not in out + err
    assert not [r for r in caplog.records if r.name.startswith("sqlalchemy")], caplog.records
