-- Tables of the vault (sqlite), generated from the model.

CREATE TABLE dv_batch (
	batch_id BIGINT NOT NULL, 
	source TEXT NOT NULL, 
	input TEXT NOT NULL, 
	loaded_at DATETIME NOT NULL, 
	applied_at DATETIME, 
	snapshot_at DATETIME, 
	rows_read BIGINT, 
	rows_staged BIGINT, 
	rows_quarantined BIGINT, 
	status TEXT NOT NULL, 
	checksum TEXT, 
	input_bytes BIGINT, 
	entities TEXT, 
	started_at DATETIME, 
	finished_at DATETIME, 
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
	started_at DATETIME NOT NULL, 
	source TEXT NOT NULL, 
	kind TEXT NOT NULL, 
	rows_staged BIGINT NOT NULL, 
	rows_inserted BIGINT NOT NULL, 
	rows_quarantined BIGINT NOT NULL, 
	finished_at DATETIME NOT NULL, 
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
	customer_hk BLOB NOT NULL, 
	customer_id TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk)
);

CREATE TABLE hub_store (
	store_hk BLOB NOT NULL, 
	store_code TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (store_hk)
);

CREATE TABLE link_customer_store (
	customer_store_hk BLOB NOT NULL, 
	customer_hk BLOB NOT NULL, 
	store_hk BLOB NOT NULL, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_store_hk)
);

CREATE INDEX ix_link_customer_store_customer ON link_customer_store (customer_hk);

CREATE INDEX ix_link_customer_store_store ON link_customer_store (store_hk);

CREATE TABLE msat_customer_phones (
	customer_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	member_hash_diff BLOB NOT NULL, 
	hash_diff BLOB NOT NULL, 
	phone_type TEXT, 
	phone_number TEXT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts, load_ts, member_hash_diff)
);

CREATE TABLE msat_customer_phones__obs (
	customer_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts, load_ts)
);

CREATE TABLE msat_customer_store_addresses (
	customer_store_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	member_hash_diff BLOB NOT NULL, 
	hash_diff BLOB NOT NULL, 
	address TEXT, 
	floor BIGINT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_store_hk, applied_ts, load_ts, member_hash_diff)
);

CREATE TABLE msat_customer_store_addresses__obs (
	customer_store_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	PRIMARY KEY (customer_store_hk, applied_ts, load_ts)
);

CREATE TABLE stg_crm_phones (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	customer_id TEXT, 
	phone_type TEXT, 
	phone_number TEXT, 
	changed_at DATETIME, 
	revision BIGINT, 
	dv_hk_customer BLOB NOT NULL, 
	dv_hd_customer_phones BLOB NOT NULL, 
	dv_hs_customer_phones BLOB, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_store_register (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	customer_id TEXT, 
	store_code TEXT, 
	address TEXT, 
	floor BIGINT, 
	extracted_at DATETIME, 
	dv_hk_customer BLOB NOT NULL, 
	dv_hk_store BLOB NOT NULL, 
	dv_hk_customer_store BLOB NOT NULL, 
	dv_hk_customer_store__customer BLOB NOT NULL, 
	dv_hk_customer_store__store BLOB NOT NULL, 
	dv_hd_customer_store_addresses BLOB NOT NULL, 
	dv_hs_customer_store_addresses BLOB, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
