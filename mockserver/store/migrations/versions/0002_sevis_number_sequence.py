"""PostgreSQL: SEVIS numbers from a sequence, so that instances sharing the database never hand out one twice.

It starts where the counter row (setting ``next_sevis_number``, which SQLite keeps using under its write lock)
had got to, so the records already stored keep their IDs and no new one repeats them. Nothing changes on SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEQUENCE = "sevis_number_seq"
FIRST = 1_000_001


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    counter = bind.execute(sa.text("SELECT value FROM settings WHERE key = 'next_sevis_number'")).scalar()
    start = max(FIRST, int(counter)) if counter and str(counter).isdigit() else FIRST
    op.execute(sa.schema.CreateSequence(sa.Sequence(SEQUENCE, start=start)))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    following = bind.execute(sa.text(f"SELECT nextval('{SEQUENCE}')")).scalar()
    bind.execute(sa.text("DELETE FROM settings WHERE key = 'next_sevis_number'"))
    bind.execute(
        sa.text("INSERT INTO settings (key, value) VALUES ('next_sevis_number', :value)"), {"value": str(following)}
    )
    op.execute(sa.schema.DropSequence(sa.Sequence(SEQUENCE)))
