-- Tables of the marts (sqlite), made by `datavault marts build`.

CREATE TABLE bridge_customer_orders (
	customer_hk BLOB NOT NULL, 
	order_customer_hk BLOB NOT NULL, 
	order_hk BLOB NOT NULL, 
	snapshot_ts DATETIME NOT NULL, 
	PRIMARY KEY (order_customer_hk, snapshot_ts)
);

CREATE TABLE dv_mart (
	mart TEXT NOT NULL, 
	kind TEXT NOT NULL, 
	definition TEXT NOT NULL, 
	views_digest TEXT, 
	last_batch_id BIGINT NOT NULL, 
	last_loaded_at DATETIME, 
	built_at DATETIME NOT NULL, 
	refreshed_at DATETIME NOT NULL, 
	PRIMARY KEY (mart)
);

CREATE TABLE dv_mart_spine (
	mart TEXT NOT NULL, 
	snapshot_ts DATETIME NOT NULL, 
	position BIGINT NOT NULL, 
	PRIMARY KEY (mart, snapshot_ts)
);

CREATE TABLE pit_customers (
	customer_hk BLOB NOT NULL, 
	snapshot_ts DATETIME NOT NULL, 
	customer_details_hk BLOB NOT NULL, 
	customer_details_applied_ts DATETIME NOT NULL, 
	customer_details_load_ts DATETIME NOT NULL, 
	PRIMARY KEY (customer_hk, snapshot_ts)
);

CREATE TABLE pit_orders (
	order_hk BLOB NOT NULL, 
	snapshot_ts DATETIME NOT NULL, 
	order_status_hk BLOB NOT NULL, 
	order_status_applied_ts DATETIME NOT NULL, 
	order_status_load_ts DATETIME NOT NULL, 
	order_customer_eff_hk BLOB NOT NULL, 
	order_customer_eff_applied_ts DATETIME NOT NULL, 
	order_customer_eff_load_ts DATETIME NOT NULL, 
	PRIMARY KEY (order_hk, snapshot_ts)
);
