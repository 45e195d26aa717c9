"""Alembic environment of the registry: run by services.registry.migrate with a connection in
``config.attributes["connection"]`` (no alembic.ini, no logging set-up of its own)."""

from alembic import context

from services.registry.db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
