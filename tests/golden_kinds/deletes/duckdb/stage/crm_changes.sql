-- Stage source crm_changes: add the batch landed in dv_land_crm_changes to stg_crm_changes as batch
-- :batch_id, computing the hash keys and hash diffs of every hub, link and satellite it feeds.

INSERT INTO stg_crm_changes (
    dv_batch_id, dv_row, dv_loaded_at, dv_applied_at,
    customer_id,
    changed_at,
    name,
    op,
    seq,
    dv_deleted,
    dv_hk_customer,
    dv_hd_customer_details,
    dv_hd_customer_status
)
SELECT
    getvariable('batch_id'), l.dv_row, CAST(getvariable('loaded_at') AS TIMESTAMP), COALESCE(l.dv_applied_at, CAST(getvariable('applied_at') AS TIMESTAMP)),
    l.customer_id,
    l.changed_at,
    l.name,
    l.op,
    l.seq,
    CASE WHEN l.op IN ('d') THEN 1 ELSE 0 END,
    COALESCE(from_hex(md5(replace(replace(NULLIF(CASE WHEN strlen(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) = length(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) THEN upper(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)))) ELSE translate(trim(l.customer_id, (' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, ''), '\', '\\'), '|', '\|'))), from_hex('00000000000000000000000000000000')),
    from_hex(md5(concat_ws('|', 'name=' || replace(replace(l.name, '\', '\\'), '|', '\|')))),
    from_hex(md5(''))
FROM dv_land_crm_changes l;
