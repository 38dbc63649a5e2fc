"""Alembic environment: migrations run on the connection handed over by ``Records.migrate``."""

from alembic import context

from videoassist.store.records import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through videoassist (Records.migrate), not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
