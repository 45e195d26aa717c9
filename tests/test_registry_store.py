"""The registry's storage and start-up: migrations (a database made at the first revision is
upgraded and keeps its channels), seeding from the YAML baseline once, the token file, the
one-time login link and its cookie."""

from __future__ import annotations

import stat
import time

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from services.registry import create_app, login_link
from services.registry.auth import COOKIE, load_token, login_nonce
from services.registry.db import Database, UsedLoginRow, database_url
from services.registry.migrate import upgrade
from speeddata.config import SettingsError
from tests.registrytools import AUTH, TOKEN, registry_settings
from tests.test_registry_api import API, assert_error


def test_upgrade_from_first_revision_keeps_channels(tmp_path, db_url, monkeypatch):
    monkeypatch.setenv("SPEEDDATA_TOKEN", TOKEN)
    settings = registry_settings(tmp_path / "data", db_url)
    settings.data_dir.mkdir(parents=True)
    db = Database(database_url(settings))
    upgrade(db.engine, "0001")
    schema = '{"type": "record", "name": "old", "fields": [{"name": "x", "type": "int"}]}'
    with db.writing() as session:
        session.execute(
            text(
                "INSERT INTO channels (name, port, schema_text, schema_path, schema_version, "
                "fingerprint, time_field, time_unit, config, mcast_full, mcast_dec, created_ns, "
                "updated_ns) VALUES ('old', 26800, :s, NULL, 1, '0123456789abcdef', NULL, 'ns', "
                "'{\"decimation\": 2}', '239.1.1.1:36800', '239.1.1.2:37800', 1, 1)"
            ),
            {"s": schema},
        )
        session.execute(
            text(
                "INSERT INTO schema_versions (channel_id, version, fingerprint, schema_text, "
                "created_ns) SELECT id, 1, '0123456789abcdef', :s, 1 FROM channels"
            ),
            {"s": schema},
        )
    db.close()
    with TestClient(create_app(settings)) as client:
        channels = client.get(f"{API}/channels").json()["channels"]
        # kept, and the registry was not empty: no baseline seeded into it
        assert [c["name"] for c in channels] == ["old"]
        assert channels[0]["config"] == {"decimation": 2}
        assert client.get(f"{API}/channels/old/schemas").json()["versions"][0]["version"] == 1
        r = client.post(f"{API}/channels", json={"name": "new", "port": 26801,
                        "schema": "config/agents/example.avsc"}, headers=AUTH)  # fmt: skip
        assert r.status_code == 201, r.text


def test_seeded_once_and_deleted_baseline_stays_deleted(make_client):
    client = make_client()
    assert [c["name"] for c in client.get(f"{API}/channels").json()["channels"]] == [
        "example", "temperature"]  # fmt: skip
    assert client.delete(f"{API}/channels/example", headers=AUTH).status_code == 200
    assert client.delete(f"{API}/channels/temperature", headers=AUTH).status_code == 200
    again = make_client()  # a restart on the same database
    assert again.get(f"{API}/channels").json() == {"channels": []}


def test_token_file(tmp_path):
    settings = registry_settings(tmp_path / "data")
    token = load_token(settings, environ={})
    path = settings.data_dir / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 32 and path.read_text().strip() == token
    assert load_token(settings, environ={}) == token  # kept
    assert load_token(settings, environ={"SPEEDDATA_TOKEN": "abc"}) == "abc"


def test_login_link_sets_a_cookie_once(make_client, tmp_path):
    client: TestClient = make_client()
    settings = client.app.state.settings  # type: ignore[attr-defined]
    link = login_link(settings, port=8080, token=TOKEN)
    assert link.startswith("http://127.0.0.1:8080/login?token=")
    path = link.removeprefix("http://127.0.0.1:8080")
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert_error(client.get(path, follow_redirects=False), 401)  # one time only
    assert_error(client.get("/login?token=forged", follow_redirects=False), 401)
    assert_error(client.get("/login", follow_redirects=False), 401)
    body = {"name": "bycookie", "port": 26900, "schema": "config/agents/example.avsc"}
    # the cookie is in the client's jar now; without a matching Origin it is refused
    assert_error(client.post(f"{API}/channels", json=body), 403, "bad_origin")
    evil = {"Origin": "http://evil.example"}
    assert_error(client.post(f"{API}/channels", json=body, headers=evil), 403, "bad_origin")
    same = {"Origin": "http://127.0.0.1:8080"}
    r = client.post(f"{API}/channels", json=body, headers=same)
    assert r.status_code == 201, r.text
    db = client.app.state.registry.db  # type: ignore[attr-defined]
    with db.writing() as session:  # a nonce used long ago: forgotten at the next login
        session.add(UsedLoginRow(nonce="old", used_ns=1))
    next_link = login_link(settings, port=8080, token=TOKEN)
    assert client.get(next_link.removeprefix("http://127.0.0.1:8080"), follow_redirects=False)
    with db.reading() as session:
        assert {r.nonce for r in session.scalars(select(UsedLoginRow))} == {
            login_nonce(TOKEN, path.partition("token=")[2], 3600),
            login_nonce(TOKEN, next_link.partition("token=")[2], 3600),
        }
    client.cookies.set(COOKIE, "tampered")
    assert_error(client.delete(f"{API}/channels/bycookie", headers=same), 401)


def test_old_login_link_is_refused(make_client, monkeypatch):
    client: TestClient = make_client(login_ttl_s=1)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    link = login_link(settings, port=8080, token=TOKEN)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 5)
    assert_error(client.get(link.removeprefix("http://127.0.0.1:8080")), 401)


@pytest.mark.parametrize("auth", ["token", "none"])
def test_settings_are_checked(tmp_path, auth):
    bad = registry_settings(tmp_path / "d", auth="maybe")
    with pytest.raises(SettingsError):
        create_app(bad)
    with pytest.raises(SettingsError):
        create_app(registry_settings(tmp_path / "d").override(bus={"linger_ms": 5000}))
    create_app(registry_settings(tmp_path / "d", auth=auth))


def test_database_away_is_503(tmp_path, pg_server, monkeypatch):
    import psycopg

    monkeypatch.setenv("SPEEDDATA_TOKEN", TOKEN)
    with pg_server.database() as url:
        settings = registry_settings(tmp_path / "data", url)
        with TestClient(create_app(settings)) as client:
            assert client.get(f"{API}/channels").status_code == 200
            name = url.rsplit("/", 1)[1]
            admin = pg_server.url().replace("+psycopg", "")
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            assert_error(client.get(f"{API}/channels"), 503, "database_unavailable")
            body = {"name": "x", "port": 26000 + 77, "schema": "config/agents/example.avsc"}
            assert_error(client.post(f"{API}/channels", json=body, headers=AUTH), 503)


def test_sqlite_wal_and_immediate_writes(tmp_path):
    import sqlite3

    from services.registry.db import MetaRow

    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(db.engine)
    try:
        with db.reading() as session:
            mode = session.execute(text("PRAGMA journal_mode")).scalar()
            busy = session.execute(text("PRAGMA busy_timeout")).scalar()
        assert (mode, busy) == ("wal", 10_000)
        other = sqlite3.connect(tmp_path / "r.db", timeout=0, isolation_level=None)
        with db.writing() as session:
            session.scalar(select(MetaRow).limit(1))  # a write transaction that only read yet
            # it holds the write lock from its start (BEGIN IMMEDIATE): nobody else may begin
            # one, so two writers never both read and then fail to upgrade to writing
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with db.reading() as session:  # a reader leaves writers free (WAL)
            session.scalar(select(MetaRow).limit(1))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        other.close()
    finally:
        db.close()
