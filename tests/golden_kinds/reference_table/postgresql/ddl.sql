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

CREATE TABLE hub_money (
	money_hk BYTEA NOT NULL, 
	currency_code TEXT, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (money_hk)
);

CREATE TABLE hub_order (
	order_hk BYTEA NOT NULL, 
	order_number TEXT, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_hk)
);

CREATE TABLE link_order_money (
	order_money_hk BYTEA NOT NULL, 
	order_hk BYTEA NOT NULL, 
	money_hk BYTEA NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_money_hk)
);

CREATE INDEX ix_link_order_money_money ON link_order_money (money_hk);

CREATE INDEX ix_link_order_money_order ON link_order_money (order_hk);

CREATE TABLE ref_currency (
	dv_code TEXT NOT NULL, 
	currency_code TEXT NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code)
);

CREATE TABLE ref_currency__desc (
	dv_code TEXT NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	numeric_code BIGINT, 
	currency_name TEXT, 
	minor_units BIGINT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_currency__obs (
	dv_code TEXT NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_unit (
	dv_code TEXT NOT NULL, 
	unit_system TEXT NOT NULL, 
	symbol TEXT NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code)
);

CREATE TABLE ref_unit__desc (
	dv_code TEXT NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	unit_name TEXT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_unit__obs (
	dv_code TEXT NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE sat_order_details (
	order_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	currency_code TEXT, 
	weight_system TEXT, 
	weight_unit TEXT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_hk, applied_ts, load_ts)
);

CREATE TABLE sat_order_details__obs (
	order_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	PRIMARY KEY (order_hk, applied_ts, load_ts)
);

CREATE TABLE stg_currencies (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	currency_code TEXT, 
	numeric_code BIGINT, 
	currency_name TEXT, 
	minor_units BIGINT, 
	extracted_at TIMESTAMP WITHOUT TIME ZONE, 
	dv_code_currency TEXT, 
	dv_hd_currency BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_orders (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	order_number TEXT, 
	currency_code TEXT, 
	weight_system TEXT, 
	weight_unit TEXT, 
	changed_at TIMESTAMP WITHOUT TIME ZONE, 
	dv_hk_money BYTEA NOT NULL, 
	dv_hk_order BYTEA NOT NULL, 
	dv_hk_order_money BYTEA NOT NULL, 
	dv_hk_order_money__order BYTEA NOT NULL, 
	dv_hk_order_money__money BYTEA NOT NULL, 
	dv_hd_order_details BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_units (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	unit_system TEXT, 
	symbol TEXT, 
	unit_name TEXT, 
	changed_at TIMESTAMP WITHOUT TIME ZONE, 
	dv_code_unit TEXT, 
	dv_hd_unit BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
