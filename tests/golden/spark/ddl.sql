-- Tables of the vault (spark), generated from the model.

CREATE TABLE dv_batch (
	batch_id BIGINT, 
	source STRING, 
	input STRING, 
	loaded_at TIMESTAMP_NTZ, 
	applied_at TIMESTAMP_NTZ, 
	snapshot_at TIMESTAMP_NTZ, 
	rows_read BIGINT, 
	rows_staged BIGINT, 
	rows_quarantined BIGINT, 
	status STRING, 
	checksum STRING, 
	input_bytes BIGINT, 
	entities STRING, 
	started_at TIMESTAMP_NTZ, 
	finished_at TIMESTAMP_NTZ, 
	message STRING
) USING parquet;

CREATE TABLE dv_check (
	batch_id BIGINT, 
	check_name STRING, 
	source STRING, 
	test STRING, 
	severity STRING, 
	status STRING, 
	measured STRING, 
	expected STRING, 
	rows_failed BIGINT, 
	message STRING, 
	profile STRING, 
	checked_at TIMESTAMP_NTZ
) USING parquet;

CREATE TABLE dv_contract (
	item STRING, 
	definition STRING
) USING parquet;

CREATE TABLE dv_load_audit (
	batch_id BIGINT, 
	entity STRING, 
	started_at TIMESTAMP_NTZ, 
	source STRING, 
	kind STRING, 
	rows_staged BIGINT, 
	rows_inserted BIGINT, 
	rows_quarantined BIGINT, 
	finished_at TIMESTAMP_NTZ, 
	status STRING, 
	message STRING, 
	rows_deleted BIGINT
) USING parquet;

CREATE TABLE dv_quarantine (
	batch_id BIGINT, 
	entity STRING, 
	row_number BIGINT, 
	source STRING, 
	reason STRING, 
	data STRING
) USING parquet;

CREATE TABLE eff_order_customer_eff (
	driving_hk BINARY, 
	applied_ts TIMESTAMP_NTZ, 
	load_ts TIMESTAMP_NTZ, 
	hash_diff BINARY, 
	order_customer_hk BINARY, 
	customer_hk BINARY, 
	record_source STRING, 
	batch_id BIGINT
) USING parquet;

CREATE TABLE eff_order_customer_eff__obs (
	driving_hk BINARY, 
	applied_ts TIMESTAMP_NTZ, 
	load_ts TIMESTAMP_NTZ, 
	hash_diff BINARY
) USING parquet;

CREATE TABLE hub_customer (
	customer_hk BINARY, 
	customer_number STRING, 
	load_ts TIMESTAMP_NTZ, 
	record_source STRING, 
	batch_id BIGINT
) USING parquet;

CREATE TABLE hub_order (
	order_hk BINARY, 
	order_number STRING, 
	load_ts TIMESTAMP_NTZ, 
	record_source STRING, 
	batch_id BIGINT
) USING parquet;

CREATE TABLE link_order_customer (
	order_customer_hk BINARY, 
	order_hk BINARY, 
	customer_hk BINARY, 
	load_ts TIMESTAMP_NTZ, 
	record_source STRING, 
	batch_id BIGINT
) USING parquet;

;

;

CREATE TABLE msat_customer_phones (
	customer_hk BINARY, 
	applied_ts TIMESTAMP_NTZ, 
	load_ts TIMESTAMP_NTZ, 
	member_hash_diff BINARY, 
	hash_diff BINARY, 
	phone_type STRING, 
	phone_number STRING, 
	record_source STRING, 
	batch_id BIGINT
) USING parquet;

CREATE TABLE msat_customer_phones__obs (
	customer_hk BINARY, 
	applied_ts TIMESTAMP_NTZ, 
	load_ts TIMESTAMP_NTZ, 
	hash_diff BINARY
) USING parquet;

CREATE TABLE sat_customer_details (
	customer_hk BINARY, 
	applied_ts TIMESTAMP_NTZ, 
	load_ts TIMESTAMP_NTZ, 
	hash_diff BINARY, 
	name STRING, 
	email STRING, 
	city STRING, 
	record_source STRING, 
	batch_id BIGINT
) USING parquet;

CREATE TABLE sat_customer_details__obs (
	customer_hk BINARY, 
	applied_ts TIMESTAMP_NTZ, 
	load_ts TIMESTAMP_NTZ, 
	hash_diff BINARY
) USING parquet;

CREATE TABLE sat_order_status (
	order_hk BINARY, 
	applied_ts TIMESTAMP_NTZ, 
	load_ts TIMESTAMP_NTZ, 
	hash_diff BINARY, 
	status STRING, 
	amount STRING, 
	ordered_at TIMESTAMP_NTZ, 
	record_source STRING, 
	batch_id BIGINT
) USING parquet;

CREATE TABLE sat_order_status__obs (
	order_hk BINARY, 
	applied_ts TIMESTAMP_NTZ, 
	load_ts TIMESTAMP_NTZ, 
	hash_diff BINARY
) USING parquet;

CREATE TABLE stg_crm_customers (
	dv_batch_id BIGINT, 
	dv_row BIGINT, 
	dv_loaded_at TIMESTAMP_NTZ, 
	dv_applied_at TIMESTAMP_NTZ, 
	customer_id STRING, 
	name STRING, 
	email STRING, 
	city STRING, 
	extracted_at TIMESTAMP_NTZ, 
	dv_hk_customer BINARY, 
	dv_hd_customer_details BINARY
) USING parquet;

CREATE TABLE stg_crm_phones (
	dv_batch_id BIGINT, 
	dv_row BIGINT, 
	dv_loaded_at TIMESTAMP_NTZ, 
	dv_applied_at TIMESTAMP_NTZ, 
	customer_id STRING, 
	phone_type STRING, 
	phone_number STRING, 
	extracted_at TIMESTAMP_NTZ, 
	dv_hk_customer BINARY, 
	dv_hd_customer_phones BINARY, 
	dv_hs_customer_phones BINARY
) USING parquet;

CREATE TABLE stg_shop_orders (
	dv_batch_id BIGINT, 
	dv_row BIGINT, 
	dv_loaded_at TIMESTAMP_NTZ, 
	dv_applied_at TIMESTAMP_NTZ, 
	order_id STRING, 
	customer_ref STRING, 
	status STRING, 
	amount STRING, 
	ordered_at TIMESTAMP_NTZ, 
	changed_at TIMESTAMP_NTZ, 
	dv_hk_customer BINARY, 
	dv_hk_order BINARY, 
	dv_hk_order_customer BINARY, 
	dv_hk_order_customer__order BINARY, 
	dv_hk_order_customer__customer BINARY, 
	dv_hd_order_status BINARY, 
	dv_hk_order_customer_eff BINARY
) USING parquet;
