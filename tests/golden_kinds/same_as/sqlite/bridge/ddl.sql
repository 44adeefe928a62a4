-- Tables of the marts (sqlite), made by `datavault marts build`.

CREATE TABLE bridge_merged_parent (
	duplicate_hk BLOB NOT NULL, 
	customer_same_as_hk BLOB NOT NULL, 
	survivor_hk BLOB NOT NULL, 
	customer_tree_hk BLOB NOT NULL, 
	parent_hk BLOB NOT NULL, 
	snapshot_ts DATETIME NOT NULL, 
	PRIMARY KEY (customer_same_as_hk, customer_tree_hk, snapshot_ts)
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
