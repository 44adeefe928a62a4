-- Tables of the marts (duckdb), made by `datavault marts build`.

CREATE TABLE bridge_merged_parent (
	duplicate_hk BYTEA NOT NULL, 
	customer_same_as_hk BYTEA NOT NULL, 
	survivor_hk BYTEA NOT NULL, 
	customer_tree_hk BYTEA NOT NULL, 
	parent_hk BYTEA NOT NULL, 
	snapshot_ts TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (customer_same_as_hk, customer_tree_hk, snapshot_ts)
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
