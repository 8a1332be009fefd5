"""Alembic's environment: the migrations run on the connection that sevis_mock.server.store.migrations.upgrade hands
over (``config.attributes["connection"]``); there is no alembic.ini."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
