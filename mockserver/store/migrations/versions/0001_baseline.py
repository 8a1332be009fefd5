"""The schema of sevis-mock before migrations (git f903775): every table as ``create_all`` made it.

A database made before migrations (that release or an earlier one) gets what it lacks of these tables and indexes,
as ``create_all`` gave it before; ``sevis_mock.server.migrations`` first checks that the tables it has hold every
column of theirs.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


_present: dict[str, set[str]] = {}


def _existing() -> dict[str, set[str]]:
    """Each table already in the database with the names of its indexes."""
    found = sa.inspect(op.get_bind())
    return {table: {str(ix["name"]) for ix in found.get_indexes(table)} for table in found.get_table_names()}


def _create_table(name: str, *columns, **kw) -> None:
    # a database made before migrations has some of the tables (their columns are checked before this runs):
    # only what it lacks is made, as create_all did
    if name not in _present:
        op.create_table(name, *columns, **kw)
        _present[name] = set()


def _create_index(name: str, table: str, columns: list[str], **kw) -> None:
    if name not in _present.get(table, set()):
        op.create_index(name, table, columns, **kw)


def upgrade() -> None:
    global _present
    _present = _existing()
    _create_table(
        "batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=15), nullable=False),
        sa.Column("batch_id", sa.String(length=14), nullable=False),
        sa.Column("user_id", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=3), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.Column("process_code", sa.String(length=5), nullable=True),
        sa.Column("results", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("environment", "org_id", "batch_id"),
    )
    _create_index("ix_batches_due", "batches", ["state", "due_at"], unique=False)
    _create_index(op.f("ix_batches_due_at"), "batches", ["due_at"], unique=False)
    _create_index("ix_batches_list", "batches", ["org_id", "environment", "uploaded_at", "id"], unique=False)
    _create_index(op.f("ix_batches_org_id"), "batches", ["org_id"], unique=False)
    _create_index(op.f("ix_batches_state"), "batches", ["state"], unique=False)
    _create_table(
        "faults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("last_hit_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_table(
        "organizations",
        sa.Column("org_id", sa.String(length=15), nullable=False),
        sa.Column("kind", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("batch_registered", sa.Boolean(), nullable=False),
        sa.Column("agreement_on_file", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("org_id"),
    )
    _create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=10), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("smtp_status", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(op.f("ix_outbox_messages_to_address"), "outbox_messages", ["to_address"], unique=False)
    _create_table(
        "request_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("client_subject", sa.Text(), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("process_code", sa.String(length=5), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("faults", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(op.f("ix_request_journal_at"), "request_journal", ["at"], unique=False)
    _create_index(op.f("ix_request_journal_batch_id"), "request_journal", ["batch_id"], unique=False)
    _create_index(op.f("ix_request_journal_org_id"), "request_journal", ["org_id"], unique=False)
    _create_table(
        "rti_accounts",
        sa.Column("user_id", sa.String(length=10), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("first_name", sa.String(length=60), nullable=False),
        sa.Column("last_name", sa.String(length=60), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("session_generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    _create_index(op.f("ix_rti_accounts_email"), "rti_accounts", ["email"], unique=False)
    _create_table(
        "rti_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    _create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    _create_table(
        "batch_forms",
        sa.Column("batch_pk", sa.Integer(), nullable=False),
        sa.Column("sevis_id", sa.String(length=11), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_pk"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("batch_pk", "sevis_id"),
    )
    _create_table(
        "batch_plan_forms",
        sa.Column("batch_pk", sa.Integer(), nullable=False),
        sa.Column("sevis_id", sa.String(length=11), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_pk"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("batch_pk", "sevis_id"),
    )
    _create_table(
        "batch_print_jobs",
        sa.Column("batch_pk", sa.Integer(), nullable=False),
        sa.Column("jobs", sa.Text(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_pk"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("batch_pk"),
    )
    _create_index(op.f("ix_batch_print_jobs_lease_until"), "batch_print_jobs", ["lease_until"], unique=False)
    _create_table(
        "batch_progress",
        sa.Column("batch_pk", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.Column("carried", sa.Text(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_pk"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("batch_pk"),
    )
    _create_index(op.f("ix_batch_progress_lease_until"), "batch_progress", ["lease_until"], unique=False)
    _create_table(
        "fault_batches",
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column("batch_pk", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["fault_id"], ["faults.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("fault_id", "batch_pk"),
    )
    _create_table(
        "officials",
        sa.Column("user_id", sa.String(length=10), nullable=False),
        sa.Column("org_id", sa.String(length=15), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("batch_registered", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.org_id"],
        ),
        sa.PrimaryKeyConstraint("user_id"),
    )
    _create_table(
        "organization_profiles",
        sa.Column("org_id", sa.String(length=15), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.org_id"],
        ),
        sa.PrimaryKeyConstraint("org_id"),
    )
    _create_table(
        "records",
        sa.Column("sevis_id", sa.String(length=11), nullable=False),
        sa.Column("org_id", sa.String(length=15), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=3), nullable=False),
        sa.Column("principal_sevis_id", sa.String(length=11), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("surname", sa.String(length=60), nullable=False),
        sa.Column("given_name", sa.String(length=60), nullable=False),
        sa.Column("birth_date", sa.String(length=10), nullable=False),
        sa.Column("birth_country", sa.String(length=4), nullable=False),
        sa.Column("gender", sa.String(length=2), nullable=False),
        sa.Column("relationship_code", sa.String(length=4), nullable=False),
        sa.Column("request_id", sa.String(length=20), nullable=False),
        sa.Column("created_batch_pk", sa.Integer(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_batch_pk"],
            ["batches.id"],
        ),
        sa.PrimaryKeyConstraint("sevis_id"),
    )
    _create_index(
        "ix_records_duplicate",
        "records",
        ["org_id", "environment", "surname", "given_name", "birth_date"],
        unique=False,
    )
    _create_index(
        "ix_records_list",
        "records",
        ["org_id", "environment", "principal_sevis_id", "created_at", "sevis_id"],
        unique=False,
    )
    _create_index("ix_records_newest", "records", ["principal_sevis_id", "created_at", "sevis_id"], unique=False)
    _create_index(op.f("ix_records_org_id"), "records", ["org_id"], unique=False)
    _create_index(op.f("ix_records_principal_sevis_id"), "records", ["principal_sevis_id"], unique=False)
    _create_table(
        "rti_designations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("owner_user_id", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("program_number", sa.String(length=9), nullable=True),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["rti_accounts.user_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(op.f("ix_rti_designations_owner_user_id"), "rti_designations", ["owner_user_id"], unique=False)
    _create_table(
        "rti_password_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["rti_accounts.user_id"],
        ),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    _create_index(op.f("ix_rti_password_links_user_id"), "rti_password_links", ["user_id"], unique=False)
    _create_table(
        "rti_petitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("owner_user_id", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("school_code", sa.String(length=15), nullable=True),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["rti_accounts.user_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(op.f("ix_rti_petitions_owner_user_id"), "rti_petitions", ["owner_user_id"], unique=False)
    _create_table(
        "certificates",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=15), nullable=False),
        sa.Column("user_id", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.org_id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["officials.user_id"],
        ),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    _create_table(
        "record_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sevis_id", sa.String(length=11), nullable=False),
        sa.Column("batch_pk", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_pk"],
            ["batches.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sevis_id"],
            ["records.sevis_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(op.f("ix_record_events_sevis_id"), "record_events", ["sevis_id"], unique=False)
    _create_table(
        "rti_help_desk_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("designation_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["designation_id"],
            ["rti_designations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(
        op.f("ix_rti_help_desk_tickets_designation_id"), "rti_help_desk_tickets", ["designation_id"], unique=False
    )
    _create_table(
        "rti_response_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["rti_petitions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    _create_index(op.f("ix_rti_response_tickets_petition_id"), "rti_response_tickets", ["petition_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rti_response_tickets_petition_id"), table_name="rti_response_tickets")
    op.drop_table("rti_response_tickets")
    op.drop_index(op.f("ix_rti_help_desk_tickets_designation_id"), table_name="rti_help_desk_tickets")
    op.drop_table("rti_help_desk_tickets")
    op.drop_index(op.f("ix_record_events_sevis_id"), table_name="record_events")
    op.drop_table("record_events")
    op.drop_table("certificates")
    op.drop_index(op.f("ix_rti_petitions_owner_user_id"), table_name="rti_petitions")
    op.drop_table("rti_petitions")
    op.drop_index(op.f("ix_rti_password_links_user_id"), table_name="rti_password_links")
    op.drop_table("rti_password_links")
    op.drop_index(op.f("ix_rti_designations_owner_user_id"), table_name="rti_designations")
    op.drop_table("rti_designations")
    op.drop_index(op.f("ix_records_principal_sevis_id"), table_name="records")
    op.drop_index(op.f("ix_records_org_id"), table_name="records")
    op.drop_index("ix_records_newest", table_name="records")
    op.drop_index("ix_records_list", table_name="records")
    op.drop_index("ix_records_duplicate", table_name="records")
    op.drop_table("records")
    op.drop_table("organization_profiles")
    op.drop_table("officials")
    op.drop_table("fault_batches")
    op.drop_index(op.f("ix_batch_progress_lease_until"), table_name="batch_progress")
    op.drop_table("batch_progress")
    op.drop_index(op.f("ix_batch_print_jobs_lease_until"), table_name="batch_print_jobs")
    op.drop_table("batch_print_jobs")
    op.drop_table("batch_plan_forms")
    op.drop_table("batch_forms")
    op.drop_table("settings")
    op.drop_table("rti_tokens")
    op.drop_index(op.f("ix_rti_accounts_email"), table_name="rti_accounts")
    op.drop_table("rti_accounts")
    op.drop_index(op.f("ix_request_journal_org_id"), table_name="request_journal")
    op.drop_index(op.f("ix_request_journal_batch_id"), table_name="request_journal")
    op.drop_index(op.f("ix_request_journal_at"), table_name="request_journal")
    op.drop_table("request_journal")
    op.drop_index(op.f("ix_outbox_messages_to_address"), table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_table("organizations")
    op.drop_table("faults")
    op.drop_index(op.f("ix_batches_state"), table_name="batches")
    op.drop_index(op.f("ix_batches_org_id"), table_name="batches")
    op.drop_index("ix_batches_list", table_name="batches")
    op.drop_index(op.f("ix_batches_due_at"), table_name="batches")
    op.drop_index("ix_batches_due", table_name="batches")
    op.drop_table("batches")
