"""The registry's tables (SQLAlchemy 2, typed) and its engine: SQLite under the data dir by
default (WAL, a busy timeout, write transactions begun IMMEDIATE), any SQLAlchemy URL by
``registry.database_url`` (PostgreSQL for fleets). Alembic migrations make the tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from speeddata.config import Settings

BUSY_TIMEOUT_MS = 10_000


class Base(DeclarativeBase):
    pass


class ChannelRow(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    port: Mapped[int] = mapped_column(Integer, unique=True)
    schema_text: Mapped[str] = mapped_column(Text)
    schema_path: Mapped[str | None] = mapped_column(String(1024))
    schema_version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(16))
    time_field: Mapped[str | None] = mapped_column(String(255))
    time_unit: Mapped[str] = mapped_column(String(2))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    mcast_full: Mapped[str] = mapped_column(String(64))
    mcast_dec: Mapped[str] = mapped_column(String(64))
    created_ns: Mapped[int] = mapped_column(BigInteger)
    updated_ns: Mapped[int] = mapped_column(BigInteger)
    versions: Mapped[list[SchemaVersionRow]] = relationship(
        back_populates="channel",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SchemaVersionRow.version",
    )


class SchemaVersionRow(Base):
    __tablename__ = "schema_versions"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(16))
    schema_text: Mapped[str] = mapped_column(Text)
    created_ns: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[ChannelRow] = relationship(back_populates="versions")


class MetaRow(Base):
    """What the registry remembers about itself (``seeded``: the YAML baseline went in)."""

    __tablename__ = "registry_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class UsedLoginRow(Base):
    """One-time login links already used (by their nonce)."""

    __tablename__ = "used_logins"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_ns: Mapped[int] = mapped_column(BigInteger)


def database_url(settings: Settings) -> str:
    """``registry.database_url``, or the SQLite file ``<data dir>/registry.db``."""
    url = settings.registry.database_url
    return url or f"sqlite:///{settings.data_dir / 'registry.db'}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite: WAL, busy timeout, foreign keys, and transactions
    begun by the registry (IMMEDIATE for writes, so two writers never deadlock upgrading)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver begins nothing by itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get("registry_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """The engine and sessions of one process: ``reading()`` and ``writing()`` give a session
    in a transaction that is committed (writes) and closed on every path."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._writer = self.engine.execution_options(registry_write=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
