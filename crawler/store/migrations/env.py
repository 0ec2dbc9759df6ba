"""Alembic environment: bantin always hands over an open connection."""

from __future__ import annotations

from alembic import context

from crawler.store.index import include_object
from crawler.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("bantin's migrations run through crawler.store.upgrade(), which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
