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

CREATE TABLE eff_order_customer_booked (
	driving_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	order_customer_hk BLOB, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (driving_hk, applied_ts, load_ts)
);

CREATE TABLE eff_order_customer_booked__obs (
	driving_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	PRIMARY KEY (driving_hk, applied_ts, load_ts)
);

CREATE TABLE eff_order_customer_eff (
	driving_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	order_customer_hk BLOB, 
	customer_hk BLOB, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (driving_hk, applied_ts, load_ts)
);

CREATE TABLE eff_order_customer_eff__obs (
	driving_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	PRIMARY KEY (driving_hk, applied_ts, load_ts)
);

CREATE TABLE hub_customer (
	customer_hk BLOB NOT NULL, 
	customer_id TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk)
);

CREATE TABLE hub_order (
	order_hk BLOB NOT NULL, 
	order_no TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_hk)
);

CREATE TABLE link_order_customer (
	order_customer_hk BLOB NOT NULL, 
	order_hk BLOB NOT NULL, 
	customer_hk BLOB NOT NULL, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_customer_hk)
);

CREATE INDEX ix_link_order_customer_customer ON link_order_customer (customer_hk);

CREATE INDEX ix_link_order_customer_order ON link_order_customer (order_hk);

CREATE TABLE stg_order_customers (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	order_no TEXT, 
	customer_id TEXT, 
	extracted_at DATETIME, 
	dv_hk_customer BLOB NOT NULL, 
	dv_hk_order BLOB NOT NULL, 
	dv_hk_order_customer BLOB NOT NULL, 
	dv_hk_order_customer__order BLOB NOT NULL, 
	dv_hk_order_customer__customer BLOB NOT NULL, 
	dv_hk_order_customer_booked BLOB NOT NULL, 
	dv_hk_order_customer_eff BLOB NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
