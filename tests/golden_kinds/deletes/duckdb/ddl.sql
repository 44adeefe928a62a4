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
	customer_id VARCHAR, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk)
);

CREATE TABLE hub_order (
	order_hk BYTEA NOT NULL, 
	order_id VARCHAR, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_hk)
);

CREATE TABLE link_order_customer (
	order_customer_hk BYTEA NOT NULL, 
	order_hk BYTEA NOT NULL, 
	customer_hk BYTEA NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (order_customer_hk)
);

CREATE INDEX ix_link_order_customer_customer ON link_order_customer (customer_hk);

CREATE INDEX ix_link_order_customer_order ON link_order_customer (order_hk);

CREATE TABLE sat_customer_details (
	customer_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	name VARCHAR, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts, load_ts)
);

CREATE TABLE sat_customer_details__obs (
	customer_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts, load_ts)
);

CREATE TABLE sat_customer_status (
	customer_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	record_source VARCHAR NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts, load_ts)
);

CREATE TABLE sat_customer_status__obs (
	customer_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	PRIMARY KEY (customer_hk, applied_ts, load_ts)
);

CREATE TABLE sat_order_details (
	order_hk BYTEA NOT NULL, 
	applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	hash_diff BYTEA NOT NULL, 
	amount VARCHAR, 
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

CREATE TABLE stg_crm_changes (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	customer_id VARCHAR, 
	changed_at TIMESTAMP WITHOUT TIME ZONE, 
	name VARCHAR, 
	op VARCHAR, 
	seq BIGINT, 
	dv_deleted SMALLINT, 
	dv_hk_customer BYTEA NOT NULL, 
	dv_hd_customer_details BYTEA NOT NULL, 
	dv_hd_customer_status BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);

CREATE TABLE stg_shop_orders (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	dv_applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	order_id VARCHAR, 
	customer_id VARCHAR, 
	ordered_at TIMESTAMP WITHOUT TIME ZONE, 
	amount VARCHAR, 
	cancelled BOOLEAN, 
	dv_deleted SMALLINT, 
	dv_hk_customer BYTEA NOT NULL, 
	dv_hk_order BYTEA NOT NULL, 
	dv_hk_order_customer BYTEA NOT NULL, 
	dv_hk_order_customer__order BYTEA NOT NULL, 
	dv_hk_order_customer__customer BYTEA NOT NULL, 
	dv_hd_order_details BYTEA NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
