--
-- create_drop: the extension, its catalog, creating and dropping stream tables
--
CREATE EXTENSION pg_trickle;

-- schema and catalog objects
SELECT nspname FROM pg_namespace WHERE nspname = 'pgtrickle';
SELECT c.relname, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'pgtrickle' AND c.relkind = 'r'
 ORDER BY 1;
SELECT id, epoch, decoded_lsn, heartbeat_at, source_pending FROM pgtrickle.pgt_engine;
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
       pg_get_function_result(p.oid) AS result
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'pgtrickle'
 ORDER BY 1;

-- a source table
CREATE TABLE public.orders (
    id      int PRIMARY KEY,
    region  text,
    amount  numeric(10,2),
    qty     int,
    placed  date
);
INSERT INTO public.orders VALUES (1, 'eu', 12.50, 2, '2024-01-02'),
                                 (2, 'us', 5.00, 1, '2024-01-03');

SELECT pgtrickle.create_stream_table('big_orders',
    'SELECT id, region, amount FROM public.orders WHERE amount > 10');

-- catalog row: INITIALIZING, no frontier, default schedule and tier
SELECT name, relid = 'public.big_orders'::regclass AS relid_ok, query,
       schedule, sla_tier, status, frontier, engine_epoch, last_refresh_at,
       rows_changed_last_cycle, avg_refresh_ms, refresh_count,
       pending_change_rows, last_error, created_at <= now() AS created_ok,
       plan->>'version' AS plan_version
  FROM pgtrickle.pgt_stream_tables;
SELECT st.name, s.source_relid = 'public.orders'::regclass AS source_ok, s.source_name
  FROM pgtrickle.pgt_sources s JOIN pgtrickle.pgt_stream_tables st ON st.id = s.stream_table_id;

-- the extension does not populate the stream table (the engine bootstraps it)
SELECT count(*) FROM public.big_orders;

-- explicit schedule and tier, schema-qualified and quoted names
CREATE SCHEMA "Reports";
SELECT pgtrickle.create_stream_table('"Reports"."Qty By Region"',
    'SELECT region, sum(qty) AS qty FROM orders GROUP BY region',
    schedule => '1 minute', sla_tier => 'critical');
SELECT name, schedule, sla_tier, status FROM pgtrickle.pgt_stream_tables ORDER BY id;
SELECT count(*) FROM "Reports"."Qty By Region";

-- duplicate names
SELECT pgtrickle.create_stream_table('big_orders', 'SELECT id FROM orders');
SELECT pgtrickle.create_stream_table('public.big_orders', 'SELECT id FROM orders');
SELECT pgtrickle.create_stream_table('orders', 'SELECT id FROM orders');

-- NULL arguments
SELECT pgtrickle.create_stream_table(NULL, 'SELECT id FROM orders');
SELECT pgtrickle.create_stream_table('x', NULL);

-- drop
SELECT pgtrickle.drop_stream_table('"Reports"."Qty By Region"');
SELECT to_regclass('"Reports"."Qty By Region"');
SELECT pgtrickle.drop_stream_table('big_orders');
SELECT to_regclass('public.big_orders');
SELECT count(*) FROM pgtrickle.pgt_stream_tables;
SELECT count(*) FROM pgtrickle.pgt_sources;
SELECT pgtrickle.drop_stream_table('big_orders');
SELECT pgtrickle.drop_stream_table('no_such_schema.nothing');

-- a storage table dropped by hand: the catalog row is still removable by name
SELECT pgtrickle.create_stream_table('tmp_st', 'SELECT id FROM orders');
DROP TABLE tmp_st;
SELECT pgtrickle.drop_stream_table('tmp_st');
SELECT count(*) FROM pgtrickle.pgt_stream_tables;

-- create + drop in a transaction that rolls back leaves nothing
BEGIN;
SELECT pgtrickle.create_stream_table('rolled_back', 'SELECT id FROM orders');
ROLLBACK;
SELECT to_regclass('rolled_back'), count(*) FROM pgtrickle.pgt_stream_tables;

DROP SCHEMA "Reports";
