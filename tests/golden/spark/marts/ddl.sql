-- Tables of the marts (spark), made by `datavault marts build`.

CREATE TABLE bridge_customer_orders (
	customer_hk BINARY, 
	order_customer_hk BINARY, 
	order_hk BINARY, 
	snapshot_ts TIMESTAMP_NTZ
) USING parquet;

CREATE TABLE dv_mart (
	mart STRING, 
	kind STRING, 
	definition STRING, 
	views_digest STRING, 
	last_batch_id BIGINT, 
	last_loaded_at TIMESTAMP_NTZ, 
	built_at TIMESTAMP_NTZ, 
	refreshed_at TIMESTAMP_NTZ
) USING parquet;

CREATE TABLE dv_mart_spine (
	mart STRING, 
	snapshot_ts TIMESTAMP_NTZ, 
	position BIGINT
) USING parquet;

CREATE TABLE pit_customers (
	customer_hk BINARY, 
	snapshot_ts TIMESTAMP_NTZ, 
	customer_details_hk BINARY, 
	customer_details_applied_ts TIMESTAMP_NTZ, 
	customer_details_load_ts TIMESTAMP_NTZ
) USING parquet;

CREATE TABLE pit_orders (
	order_hk BINARY, 
	snapshot_ts TIMESTAMP_NTZ, 
	order_status_hk BINARY, 
	order_status_applied_ts TIMESTAMP_NTZ, 
	order_status_load_ts TIMESTAMP_NTZ, 
	order_customer_eff_hk BINARY, 
	order_customer_eff_applied_ts TIMESTAMP_NTZ, 
	order_customer_eff_load_ts TIMESTAMP_NTZ
) USING parquet;
