-- Tables of the marts (sqlite), made by `datavault marts build`.

CREATE TABLE bridge_order_currencies (
	order_hk BLOB NOT NULL, 
	order_money_hk BLOB NOT NULL, 
	money_hk BLOB NOT NULL, 
	snapshot_ts DATETIME NOT NULL, 
	PRIMARY KEY (order_money_hk, snapshot_ts)
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

CREATE TABLE pit_orders (
	order_hk BLOB NOT NULL, 
	snapshot_ts DATETIME NOT NULL, 
	order_details_hk BLOB NOT NULL, 
	order_details_applied_ts DATETIME NOT NULL, 
	order_details_load_ts DATETIME NOT NULL, 
	PRIMARY KEY (order_hk, snapshot_ts)
);
