-- Tables of the vault (sqlite), generated from the model.

CREATE TABLE dv_batch (
	batch_id BIGINT NOT NULL, 
	source TEXT NOT NULL, 
	input TEXT NOT NULL, 
	loaded_at DATETIME NOT NULL, 
	applied_at DATETIME, 
	snapshot_at DATETIME, 
	rows_read BIGINT, 
	rows_staged BIGINT, 
	rows_quarantined BIGINT, 
	status TEXT NOT NULL, 
	checksum TEXT, 
	input_bytes BIGINT, 
	entities TEXT, 
	started_at DATETIME, 
	finished_at DATETIME, 
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
	started_at DATETIME NOT NULL, 
	source TEXT NOT NULL, 
	kind TEXT NOT NULL, 
	rows_staged BIGINT NOT NULL, 
	rows_inserted BIGINT NOT NULL, 
	rows_quarantined BIGINT NOT NULL, 
	finished_at DATETIME NOT NULL, 
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

CREATE TABLE hub_account (
	account_hk BLOB NOT NULL, 
	account_number TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (account_hk)
);

CREATE TABLE hub_customer (
	customer_hk BLOB NOT NULL, 
	customer_number TEXT, 
	load_ts DATETIME NOT NULL, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (customer_hk)
);

CREATE TABLE nhl_payment (
	payment_hk BLOB NOT NULL, 
	customer_hk BLOB NOT NULL, 
	account_hk BLOB NOT NULL, 
	payment_number TEXT, 
	applied_ts DATETIME NOT NULL, 
	load_ts DATETIME NOT NULL, 
	hash_diff BLOB NOT NULL, 
	amount TEXT, 
	currency TEXT, 
	note TEXT, 
	record_source TEXT NOT NULL, 
	batch_id BIGINT NOT NULL, 
	PRIMARY KEY (payment_hk)
);

CREATE INDEX ix_nhl_payment_account ON nhl_payment (account_hk);

CREATE INDEX ix_nhl_payment_customer ON nhl_payment (customer_hk);

CREATE TABLE stg_payments (
	dv_batch_id BIGINT NOT NULL, 
	dv_row BIGINT NOT NULL, 
	dv_loaded_at DATETIME NOT NULL, 
	dv_applied_at DATETIME NOT NULL, 
	payment_no TEXT, 
	customer_id TEXT, 
	account_no TEXT, 
	paid_at DATETIME, 
	amount TEXT, 
	currency TEXT, 
	note TEXT, 
	dv_hk_account BLOB NOT NULL, 
	dv_hk_customer BLOB NOT NULL, 
	dv_hk_payment BLOB NOT NULL, 
	dv_hk_payment__customer BLOB NOT NULL, 
	dv_hk_payment__account BLOB NOT NULL, 
	dv_hd_payment BLOB NOT NULL, 
	PRIMARY KEY (dv_batch_id, dv_row)
);
