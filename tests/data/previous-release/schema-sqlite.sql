-- The tables of sevis-mock at git f903775 (the last release before migrations), as its create_all made
-- them on sqlite: tests/test_migrations.py builds a database of that release from this file.

CREATE TABLE batches (
	id INTEGER NOT NULL,
	org_id VARCHAR(15) NOT NULL,
	batch_id VARCHAR(14) NOT NULL,
	user_id VARCHAR(10) NOT NULL,
	kind VARCHAR(3) NOT NULL,
	environment VARCHAR(16) NOT NULL,
	file_name VARCHAR(255) NOT NULL,
	document BLOB NOT NULL,
	uploaded_at DATETIME NOT NULL,
	due_at DATETIME NOT NULL,
	state VARCHAR(12) NOT NULL,
	processed_at DATETIME,
	process_code VARCHAR(5),
	results TEXT,
	PRIMARY KEY (id),
	UNIQUE (environment, org_id, batch_id)
);

CREATE INDEX ix_batches_due ON batches (state, due_at);

CREATE INDEX ix_batches_due_at ON batches (due_at);

CREATE INDEX ix_batches_list ON batches (org_id, environment, uploaded_at, id);

CREATE INDEX ix_batches_org_id ON batches (org_id);

CREATE INDEX ix_batches_state ON batches (state);

CREATE TABLE faults (
	id INTEGER NOT NULL,
	name VARCHAR(200) NOT NULL,
	kind VARCHAR(24) NOT NULL,
	rule TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	seen INTEGER NOT NULL,
	hits INTEGER NOT NULL,
	last_hit_at DATETIME,
	PRIMARY KEY (id)
);

CREATE TABLE organizations (
	org_id VARCHAR(15) NOT NULL,
	kind VARCHAR(3) NOT NULL,
	name VARCHAR(200) NOT NULL,
	batch_registered BOOLEAN NOT NULL,
	agreement_on_file BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (org_id)
);

CREATE TABLE outbox_messages (
	id INTEGER NOT NULL,
	to_address VARCHAR(200) NOT NULL,
	subject VARCHAR(300) NOT NULL,
	body TEXT NOT NULL,
	kind VARCHAR(32) NOT NULL,
	user_id VARCHAR(10),
	sent_at DATETIME NOT NULL,
	smtp_status TEXT NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_outbox_messages_to_address ON outbox_messages (to_address);

CREATE TABLE request_journal (
	id INTEGER NOT NULL,
	at DATETIME NOT NULL,
	received_at DATETIME NOT NULL,
	action VARCHAR(8) NOT NULL,
	environment VARCHAR(16) NOT NULL,
	method VARCHAR(8) NOT NULL,
	client_subject TEXT NOT NULL,
	org_id VARCHAR(64) NOT NULL,
	user_id VARCHAR(64) NOT NULL,
	batch_id VARCHAR(64) NOT NULL,
	file_name TEXT NOT NULL,
	size INTEGER NOT NULL,
	http_status INTEGER NOT NULL,
	disposition VARCHAR(16) NOT NULL,
	process_code VARCHAR(5) NOT NULL,
	detail TEXT NOT NULL,
	faults VARCHAR(200) NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_request_journal_at ON request_journal (at);

CREATE INDEX ix_request_journal_batch_id ON request_journal (batch_id);

CREATE INDEX ix_request_journal_org_id ON request_journal (org_id);

CREATE TABLE rti_accounts (
	user_id VARCHAR(10) NOT NULL,
	environment VARCHAR(16) NOT NULL,
	role VARCHAR(8) NOT NULL,
	first_name VARCHAR(60) NOT NULL,
	last_name VARCHAR(60) NOT NULL,
	email VARCHAR(200) NOT NULL,
	phone VARCHAR(40) NOT NULL,
	password_hash TEXT,
	failed_logins INTEGER NOT NULL,
	locked_until DATETIME,
	last_login_at DATETIME,
	created_at DATETIME NOT NULL,
	session_generation INTEGER NOT NULL,
	PRIMARY KEY (user_id)
);

CREATE INDEX ix_rti_accounts_email ON rti_accounts (email);

CREATE TABLE rti_tokens (
	token_hash VARCHAR(64) NOT NULL,
	kind VARCHAR(8) NOT NULL,
	subject VARCHAR(40) NOT NULL,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (token_hash)
);

CREATE TABLE settings (
	"key" VARCHAR(64) NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY ("key")
);

CREATE TABLE batch_forms (
	batch_pk INTEGER NOT NULL,
	sevis_id VARCHAR(11) NOT NULL,
	pdf BLOB NOT NULL,
	PRIMARY KEY (batch_pk, sevis_id),
	FOREIGN KEY(batch_pk) REFERENCES batches (id)
);

CREATE TABLE batch_plan_forms (
	batch_pk INTEGER NOT NULL,
	sevis_id VARCHAR(11) NOT NULL,
	pdf BLOB NOT NULL,
	PRIMARY KEY (batch_pk, sevis_id),
	FOREIGN KEY(batch_pk) REFERENCES batches (id)
);

CREATE TABLE batch_print_jobs (
	batch_pk INTEGER NOT NULL,
	jobs TEXT NOT NULL,
	lease_until DATETIME NOT NULL,
	PRIMARY KEY (batch_pk),
	FOREIGN KEY(batch_pk) REFERENCES batches (id)
);

CREATE INDEX ix_batch_print_jobs_lease_until ON batch_print_jobs (lease_until);

CREATE TABLE batch_progress (
	batch_pk INTEGER NOT NULL,
	applied INTEGER NOT NULL,
	results TEXT NOT NULL,
	carried TEXT NOT NULL,
	lease_until DATETIME NOT NULL,
	PRIMARY KEY (batch_pk),
	FOREIGN KEY(batch_pk) REFERENCES batches (id)
);

CREATE INDEX ix_batch_progress_lease_until ON batch_progress (lease_until);

CREATE TABLE fault_batches (
	fault_id INTEGER NOT NULL,
	batch_pk INTEGER NOT NULL,
	applied_at DATETIME NOT NULL,
	PRIMARY KEY (fault_id, batch_pk),
	FOREIGN KEY(fault_id) REFERENCES faults (id) ON DELETE CASCADE
);

CREATE TABLE officials (
	user_id VARCHAR(10) NOT NULL,
	org_id VARCHAR(15) NOT NULL,
	name VARCHAR(200) NOT NULL,
	email VARCHAR(200) NOT NULL,
	role VARCHAR(8) NOT NULL,
	batch_registered BOOLEAN NOT NULL,
	last_login_at DATETIME,
	PRIMARY KEY (user_id),
	FOREIGN KEY(org_id) REFERENCES organizations (org_id)
);

CREATE TABLE organization_profiles (
	org_id VARCHAR(15) NOT NULL,
	profile TEXT NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (org_id),
	FOREIGN KEY(org_id) REFERENCES organizations (org_id)
);

CREATE TABLE records (
	sevis_id VARCHAR(11) NOT NULL,
	org_id VARCHAR(15) NOT NULL,
	environment VARCHAR(16) NOT NULL,
	kind VARCHAR(3) NOT NULL,
	principal_sevis_id VARCHAR(11),
	status VARCHAR(16) NOT NULL,
	surname VARCHAR(60) NOT NULL,
	given_name VARCHAR(60) NOT NULL,
	birth_date VARCHAR(10) NOT NULL,
	birth_country VARCHAR(4) NOT NULL,
	gender VARCHAR(2) NOT NULL,
	relationship_code VARCHAR(4) NOT NULL,
	request_id VARCHAR(20) NOT NULL,
	created_batch_pk INTEGER,
	document TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (sevis_id),
	FOREIGN KEY(created_batch_pk) REFERENCES batches (id)
);

CREATE INDEX ix_records_duplicate ON records (org_id, environment, surname, given_name, birth_date);

CREATE INDEX ix_records_list ON records (org_id, environment, principal_sevis_id, created_at, sevis_id);

CREATE INDEX ix_records_newest ON records (principal_sevis_id, created_at, sevis_id);

CREATE INDEX ix_records_org_id ON records (org_id);

CREATE INDEX ix_records_principal_sevis_id ON records (principal_sevis_id);

CREATE TABLE rti_designations (
	id INTEGER NOT NULL,
	environment VARCHAR(16) NOT NULL,
	owner_user_id VARCHAR(10) NOT NULL,
	state VARCHAR(12) NOT NULL,
	body TEXT NOT NULL,
	program_number VARCHAR(9),
	decision TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	submitted_at DATETIME,
	decided_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(owner_user_id) REFERENCES rti_accounts (user_id)
);

CREATE INDEX ix_rti_designations_owner_user_id ON rti_designations (owner_user_id);

CREATE TABLE rti_password_links (
	token_hash VARCHAR(64) NOT NULL,
	user_id VARCHAR(10) NOT NULL,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	used_at DATETIME,
	PRIMARY KEY (token_hash),
	FOREIGN KEY(user_id) REFERENCES rti_accounts (user_id)
);

CREATE INDEX ix_rti_password_links_user_id ON rti_password_links (user_id);

CREATE TABLE rti_petitions (
	id INTEGER NOT NULL,
	environment VARCHAR(16) NOT NULL,
	owner_user_id VARCHAR(10) NOT NULL,
	state VARCHAR(12) NOT NULL,
	body TEXT NOT NULL,
	school_code VARCHAR(15),
	decision TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	submitted_at DATETIME,
	decided_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(owner_user_id) REFERENCES rti_accounts (user_id)
);

CREATE INDEX ix_rti_petitions_owner_user_id ON rti_petitions (owner_user_id);

CREATE TABLE certificates (
	fingerprint VARCHAR(64) NOT NULL,
	org_id VARCHAR(15) NOT NULL,
	user_id VARCHAR(10) NOT NULL,
	subject TEXT NOT NULL,
	not_before DATETIME NOT NULL,
	not_after DATETIME NOT NULL,
	pem TEXT NOT NULL,
	registered_at DATETIME NOT NULL,
	PRIMARY KEY (fingerprint),
	FOREIGN KEY(org_id) REFERENCES organizations (org_id),
	FOREIGN KEY(user_id) REFERENCES officials (user_id)
);

CREATE TABLE record_events (
	id INTEGER NOT NULL,
	sevis_id VARCHAR(11) NOT NULL,
	batch_pk INTEGER,
	event VARCHAR(64) NOT NULL,
	detail TEXT NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(sevis_id) REFERENCES records (sevis_id),
	FOREIGN KEY(batch_pk) REFERENCES batches (id)
);

CREATE INDEX ix_record_events_sevis_id ON record_events (sevis_id);

CREATE TABLE rti_help_desk_tickets (
	id INTEGER NOT NULL,
	environment VARCHAR(16) NOT NULL,
	designation_id INTEGER NOT NULL,
	body TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(designation_id) REFERENCES rti_designations (id)
);

CREATE INDEX ix_rti_help_desk_tickets_designation_id ON rti_help_desk_tickets (designation_id);

CREATE TABLE rti_response_tickets (
	id INTEGER NOT NULL,
	environment VARCHAR(16) NOT NULL,
	petition_id INTEGER NOT NULL,
	body TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(petition_id) REFERENCES rti_petitions (id)
);

CREATE INDEX ix_rti_response_tickets_petition_id ON rti_response_tickets (petition_id);
