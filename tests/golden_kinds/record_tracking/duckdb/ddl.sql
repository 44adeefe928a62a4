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

CREATE TABLE hub_customer (
	customer_hk BYTEA NOT NULL, 
	k VARCHAR, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk)
);

CREATE TABLE rts_customer_in_book (
	customer_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts)
);

CREATE TABLE rts_customer_in_feed (
	customer_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts)
);

CREATE TABLE stg_book (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	k VARCHAR, 
	day TIMESTAMP WITHOUT TIME ZONE, 
	dv_hk_customer BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_feed (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	k VARCHAR, 
	day TIMESTAMP WITHOUT TIME ZONE, 
	op VARCHAR, 
	dv_deleted SMALLINT, 
	dv_hk_customer BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
