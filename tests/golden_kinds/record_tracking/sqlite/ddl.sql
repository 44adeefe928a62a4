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
	k TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk)
);

CREATE TABLE rts_customer_in_book (
	customer_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts)
);

CREATE TABLE rts_customer_in_feed (
	customer_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts)
);

CREATE TABLE stg_book (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	k TEXT, 
	day DATETIME, 
	dv_hk_customer BLOB NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_feed (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	k TEXT, 
	day DATETIME, 
	op TEXT, 
	dv_deleted SMALLINT, 
	dv_hk_customer BLOB NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
