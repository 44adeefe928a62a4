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

CREATE TABLE hub_money (
	money_hk BYTEA NOT NULL, 
	currency_code VARCHAR, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (money_hk)
);

CREATE TABLE hub_order (
	order_hk BYTEA NOT NULL, 
	order_number VARCHAR, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_hk)
);

CREATE TABLE link_order_money (
	order_money_hk BYTEA NOT NULL, 
	order_hk BYTEA NOT NULL, 
	money_hk BYTEA NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_money_hk)
);

CREATE INDEX ix_link_order_money_money ON link_order_money (money_hk);

CREATE INDEX ix_link_order_money_order ON link_order_money (order_hk);

CREATE TABLE ref_currency (
	dv_code VARCHAR NOT NULL, 
	currency_code VARCHAR NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code)
);

CREATE TABLE ref_currency__desc (
	dv_code VARCHAR NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	numeric_code BIGINT, 
	currency_name VARCHAR, 
	minor_units BIGINT, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_currency__obs (
	dv_code VARCHAR NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_unit (
	dv_code VARCHAR NOT NULL, 
	unit_system VARCHAR NOT NULL, 
	symbol VARCHAR NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code)
);

CREATE TABLE ref_unit__desc (
	dv_code VARCHAR NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	unit_name VARCHAR, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (dv_code, applied_ts, load_ts)
);

CREATE TABLE ref_unit__obs (
	dv_code VARCHAR NOT NULL, 
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
	currency_code VARCHAR, 
	weight_system VARCHAR, 
	weight_unit VARCHAR, 
	record_source VARCHAR NOT NULL, 
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
	currency_code VARCHAR, 
	numeric_code BIGINT, 
	currency_name VARCHAR, 
	minor_units BIGINT, 
	extracted_at TIMESTAMP WITHOUT TIME ZONE, 
	dv_code_currency VARCHAR, 
	dv_hd_currency BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_orders (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	order_number VARCHAR, 
	currency_code VARCHAR, 
	weight_system VARCHAR, 
	weight_unit VARCHAR, 
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
	unit_system VARCHAR, 
	symbol VARCHAR, 
	unit_name VARCHAR, 
	changed_at TIMESTAMP WITHOUT TIME ZONE, 
	dv_code_unit VARCHAR, 
	dv_hd_unit BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
