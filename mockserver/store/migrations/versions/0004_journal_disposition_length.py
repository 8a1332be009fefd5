"""The request journal's ``disposition`` holds 32 characters (16 before): what a fault that drops the connection
records ("body cut mid-stream") is longer than 16, which PostgreSQL refused, losing the entry. SQLite, which does
not check lengths, gets the same column type (its table is copied once).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_journal") as table:
        table.alter_column("disposition", type_=sa.String(length=32), existing_type=sa.String(length=16))


def downgrade() -> None:
    with op.batch_alter_table("request_journal") as table:
        table.alter_column("disposition", type_=sa.String(length=16), existing_type=sa.String(length=32))
