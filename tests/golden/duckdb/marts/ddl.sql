-- Tables of the marts (duckdb), made by `datavault marts build`.

CREATE TABLE bridge_customer_orders (
	customer_hk BYTEA NOT NULL, 
	order_customer_hk BYTEA NOT NULL, 
	order_hk BYTEA NOT NULL, 
	snapshot_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (order_customer_hk, snapshot_ts)
);

CREATE TABLE dv_mart (
	mart VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	definition VARCHAR NOT NULL, 
	views_digest VARCHAR, 
	last_batch_id BIGINT NOT NULL, 
	last_loaded_at TIMESTAMP WITHOUT TIME ZONE, 
	built_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	refreshed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (mart)
);

CREATE TABLE dv_mart_spine (
	mart VARCHAR NOT NULL, 
	snapshot_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	position BIGINT NOT NULL, 
	PRIMARY KEY (mart, snapshot_ts)
);

CREATE TABLE pit_customers (
	customer_hk BYTEA NOT NULL, 
	snapshot_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	customer_details_hk BYTEA NOT NULL, 
	customer_details_applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	customer_details_load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (customer_hk, snapshot_ts)
);

CREATE TABLE pit_orders (
	order_hk BYTEA NOT NULL, 
	snapshot_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	order_status_hk BYTEA NOT NULL, 
	order_status_applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	order_status_load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	order_customer_eff_hk BYTEA NOT NULL, 
	order_customer_eff_applied_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	order_customer_eff_load_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (order_hk, snapshot_ts)
);
