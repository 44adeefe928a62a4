-- Tables of the vault (duckdb), generated from the model.

CREATE TABLE dv_batch (
	batch_id BIGINT NOT NULL, 
	source VARCHAR NOT NULL, 
	input VARCHAR NOT NULL, 
	loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	applied_at TIMESTAMP WITHOUT TIME ZONE, 
	snapshot_at TIMESTAMP WITHOUT TIME ZONE, 
	rows_read BIGINT, 
	rows_staged BIGINT, 
	rows_quarantined BIGINT, 
	status VARCHAR NOT NULL, 
	checksum VARCHAR, 
	input_bytes BIGINT, 
	entities VARCHAR, 
	started_at TIMESTAMP WITHOUT TIME ZONE, 
	finished_at TIMESTAMP WITHOUT TIME ZONE, 
	message VARCHAR, 
	PRIMARY KEY (batch_id), 
	UNIQUE (loaded_at)
);

CREATE TABLE dv_contract (
	item VARCHAR NOT NULL, 
	definition VARCHAR NOT NULL, 
	PRIMARY KEY (item)
);

CREATE TABLE dv_load_audit (
	batch_id BIGINT NOT NULL, 
	entity VARCHAR NOT NULL, 
	started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	source VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	rows_staged BIGINT NOT NULL, 
	rows_inserted BIGINT NOT NULL, 
	rows_quarantined BIGINT NOT NULL, 
	finished_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	status VARCHAR NOT NULL, 
	message VARCHAR, 
	rows_deleted BIGINT, 
	PRIMARY KEY (batch_id, entity, started_at)
);

CREATE TABLE dv_quarantine (
	batch_id BIGINT NOT NULL, 
	entity VARCHAR NOT NULL, 
	row_number BIGINT NOT NULL, 
	source VARCHAR NOT NULL, 
	reason VARCHAR NOT NULL, 
	data VARCHAR, 
	PRIMARY KEY (batch_id, entity, row_number)
);

CREATE TABLE hub_account (
	account_hk BYTEA NOT NULL, 
	account_number VARCHAR, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (account_hk)
);

CREATE TABLE hub_customer (
	customer_hk BYTEA NOT NULL, 
	customer_number VARCHAR, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk)
);

CREATE TABLE nhl_payment (
	payment_hk BYTEA NOT NULL, 
	customer_hk BYTEA NOT NULL, 
	account_hk BYTEA NOT NULL, 
	payment_number VARCHAR, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	amount VARCHAR, 
	currency VARCHAR, 
	note VARCHAR, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (payment_hk)
);

CREATE INDEX ix_nhl_payment_account ON nhl_payment (account_hk);

CREATE INDEX ix_nhl_payment_customer ON nhl_payment (customer_hk);

CREATE TABLE stg_payments (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	payment_no VARCHAR, 
	customer_id VARCHAR, 
	account_no VARCHAR, 
	paid_at TIMESTAMP WITHOUT TIME ZONE, 
	amount VARCHAR, 
	currency VARCHAR, 
	note VARCHAR, 
	dv_hk_account BYTEA NOT NULL, 
	dv_hk_customer BYTEA NOT NULL, 
	dv_hk_payment BYTEA NOT NULL, 
	dv_hk_payment__customer BYTEA NOT NULL, 
	dv_hk_payment__account BYTEA NOT NULL, 
	dv_hd_payment BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
