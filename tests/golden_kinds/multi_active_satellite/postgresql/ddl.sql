-- Tables of the vault (postgresql), generated from the model.

CREATE TABLE dv_batch (
	batch_id BIGINT NOT NULL, 
	source TEXT NOT NULL, 
	input TEXT NOT NULL, 
	loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	applied_at TIMESTAMP WITHOUT TIME ZONE, 
	snapshot_at TIMESTAMP WITHOUT TIME ZONE, 
	rows_read BIGINT, 
	rows_staged BIGINT, 
	rows_quarantined BIGINT, 
	status TEXT NOT NULL, 
	checksum TEXT, 
	input_bytes BIGINT, 
	entities TEXT, 
	started_at TIMESTAMP WITHOUT TIME ZONE, 
	finished_at TIMESTAMP WITHOUT TIME ZONE, 
	message TEXT, 
	PRIMARY KEY (batch_id), 
	UNIQUE (loaded_at)
);

CREATE TABLE dv_contract (
	item TEXT NOT NULL, 
	definition TEXT NOT NULL, 
	PRIMARY KEY (item)
);

CREATE TABLE dv_load_audit (
	batch_id BIGINT NOT NULL, 
	entity TEXT NOT NULL, 
	started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	source TEXT NOT NULL, 
	kind TEXT NOT NULL, 
	rows_staged BIGINT NOT NULL, 
	rows_inserted BIGINT NOT NULL, 
	rows_quarantined BIGINT NOT NULL, 
	finished_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	status TEXT NOT NULL, 
	message TEXT, 
	rows_deleted BIGINT, 
	PRIMARY KEY (batch_id, entity, started_at)
);

CREATE TABLE dv_quarantine (
	batch_id BIGINT NOT NULL, 
	entity TEXT NOT NULL, 
	row_number BIGINT NOT NULL, 
	source TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	data TEXT, 
	PRIMARY KEY (batch_id, entity, row_number)
);

CREATE TABLE hub_customer (
	customer_hk BYTEA NOT NULL, 
	customer_id TEXT, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk)
);

CREATE TABLE hub_store (
	store_hk BYTEA NOT NULL, 
	store_code TEXT, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (store_hk)
);

CREATE TABLE link_customer_store (
	customer_store_hk BYTEA NOT NULL, 
	customer_hk BYTEA NOT NULL, 
	store_hk BYTEA NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_store_hk)
);

CREATE INDEX ix_link_customer_store_customer ON link_customer_store (customer_hk);

CREATE INDEX ix_link_customer_store_store ON link_customer_store (store_hk);

CREATE TABLE msat_customer_phones (
	customer_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	member_hash_diff BYTEA NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	phone_type TEXT, 
	phone_number TEXT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts, load_ts, member_hash_diff)
);

CREATE TABLE msat_customer_phones__obs (
	customer_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts, load_ts)
);

CREATE TABLE msat_customer_store_addresses (
	customer_store_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	member_hash_diff BYTEA NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	address TEXT, 
	floor BIGINT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_store_hk, applied_ts, load_ts, member_hash_diff)
);

CREATE TABLE msat_customer_store_addresses__obs (
	customer_store_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	PRIMARY KEY (customer_store_hk, applied_ts, load_ts)
);

CREATE TABLE stg_crm_phones (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	customer_id TEXT, 
	phone_type TEXT, 
	phone_number TEXT, 
	changed_at TIMESTAMP WITHOUT TIME ZONE, 
	revision BIGINT, 
	dv_hk_customer BYTEA NOT NULL, 
	dv_hd_customer_phones BYTEA NOT NULL, 
	dv_hs_customer_phones BYTEA, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_store_register (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	customer_id TEXT, 
	store_code TEXT, 
	address TEXT, 
	floor BIGINT, 
	extracted_at TIMESTAMP WITHOUT TIME ZONE, 
	dv_hk_customer BYTEA NOT NULL, 
	dv_hk_store BYTEA NOT NULL, 
	dv_hk_customer_store BYTEA NOT NULL, 
	dv_hk_customer_store__customer BYTEA NOT NULL, 
	dv_hk_customer_store__store BYTEA NOT NULL, 
	dv_hd_customer_store_addresses BYTEA NOT NULL, 
	dv_hs_customer_store_addresses BYTEA, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
