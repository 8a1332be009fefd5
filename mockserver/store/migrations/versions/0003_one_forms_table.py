"""One forms table: every PDF of a batch in ``batch_pdfs`` under its name in the download zip (``<SEVIS ID>`` for an
I-20 / DS-2019, ``<SEVIS ID>-7002`` for a DS-7002); the rows of ``batch_forms`` and ``batch_plan_forms`` move there
and those tables go.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# each old table and the expression of a row's name in the zip
OLD_TABLES = {"batch_forms": "sevis_id", "batch_plan_forms": "sevis_id || '-7002'"}


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "batch_pdfs" not in present:  # (a data dir of the few hours when create_all made it has it already)
        op.create_table(
            "batch_pdfs",
            sa.Column("batch_pk", sa.Integer(), nullable=False),
            sa.Column("name", sa.String(length=16), nullable=False),
            sa.Column("pdf", sa.LargeBinary(), nullable=False),
            sa.ForeignKeyConstraint(["batch_pk"], ["batches.id"]),
            sa.PrimaryKeyConstraint("batch_pk", "name"),
        )
    for table, name in OLD_TABLES.items():
        if table in present:
            op.execute(f"INSERT INTO batch_pdfs (batch_pk, name, pdf) SELECT batch_pk, {name}, pdf FROM {table}")
            op.drop_table(table)


def downgrade() -> None:
    for table in OLD_TABLES:
        op.create_table(
            table,
            sa.Column("batch_pk", sa.Integer(), nullable=False),
            sa.Column("sevis_id", sa.String(length=11), nullable=False),
            sa.Column("pdf", sa.LargeBinary(), nullable=False),
            sa.ForeignKeyConstraint(["batch_pk"], ["batches.id"]),
            sa.PrimaryKeyConstraint("batch_pk", "sevis_id"),
        )
    op.execute(
        "INSERT INTO batch_plan_forms (batch_pk, sevis_id, pdf) SELECT batch_pk, substr(name, 1, 11), pdf "
        "FROM batch_pdfs WHERE name LIKE '%-7002'"
    )
    op.execute(
        "INSERT INTO batch_forms (batch_pk, sevis_id, pdf) SELECT batch_pk, name, pdf FROM batch_pdfs "
        "WHERE name NOT LIKE '%-7002'"
    )
    op.drop_table("batch_pdfs")
