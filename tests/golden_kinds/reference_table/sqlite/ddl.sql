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

CREATE TABLE hub_money (
	money_hk BLOB NOT NULL, 
	currency_code TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (money_hk)
);

CREATE TABLE hub_order (
	order_hk BLOB NOT NULL, 
	order_number TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_hk)
);

CREATE TABLE link_order_money (
	order_money_hk BLOB NOT NULL, 
	order_hk BLOB NOT NULL, 
	money_hk BLOB NOT NULL, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_money_hk)
);

CREATE INDEX ix_link_order_money_money ON link_order_money (money_hk);

CREATE INDEX ix_link_order_money_order ON link_order_money (order_hk);

CREATE TABLE ref_currency (
	dv_code TEXT NOT NULL, 
	currency_code TEXT NOT NULL, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code)
);

CREATE TABLE ref_currency__desc (
	dv_code TEXT NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	numeric_code BIGINT, 
	currency_name TEXT, 
	minor_units BIGINT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_currency__obs (
	dv_code TEXT NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_unit (
	dv_code TEXT NOT NULL, 
	unit_system TEXT NOT NULL, 
	symbol TEXT NOT NULL, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code)
);

CREATE TABLE ref_unit__desc (
	dv_code TEXT NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	unit_name TEXT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_unit__obs (
	dv_code TEXT NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE sat_order_details (
	order_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	currency_code TEXT, 
	weight_system TEXT, 
	weight_unit TEXT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_hk, applied_ts, load_ts)
);

CREATE TABLE sat_order_details__obs (
	order_hk BLOB NOT NULL, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	PRIMARY KEY (order_hk, applied_ts, load_ts)
);

CREATE TABLE stg_currencies (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	currency_code TEXT, 
	numeric_code BIGINT, 
	currency_name TEXT, 
	minor_units BIGINT, 
	extracted_at DATETIME, 
	dv_code_currency TEXT, 
	dv_hd_currency BLOB NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_orders (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	order_number TEXT, 
	currency_code TEXT, 
	weight_system TEXT, 
	weight_unit TEXT, 
	changed_at DATETIME, 
	dv_hk_money BLOB NOT NULL, 
	dv_hk_order BLOB NOT NULL, 
	dv_hk_order_money BLOB NOT NULL, 
	dv_hk_order_money__order BLOB NOT NULL, 
	dv_hk_order_money__money BLOB NOT NULL, 
	dv_hd_order_details BLOB NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_units (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	unit_system TEXT, 
	symbol TEXT, 
	unit_name TEXT, 
	changed_at DATETIME, 
	dv_code_unit TEXT, 
	dv_hd_unit BLOB NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
