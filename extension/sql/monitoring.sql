--
-- monitoring: the seed's two Prometheus queries (CNPG custom queries), run as
-- a role that is only a member of pg_monitor
--
CREATE ROLE regress_pgt_exporter LOGIN IN ROLE pg_monitor;
SELECT rolname FROM pg_roles r JOIN pg_auth_members m ON m.roleid = r.oid
 WHERE m.member = 'regress_pgt_exporter'::regrole;

CREATE TABLE mon_src (id int PRIMARY KEY, region text, amount numeric);
SELECT pgtrickle.create_stream_table('mon_fresh', 'SELECT id, amount FROM mon_src',
                                     sla_tier => 'critical');
SELECT pgtrickle.create_stream_table('mon_agg',
    'SELECT region, sum(amount) AS total FROM mon_src GROUP BY region',
    schedule => '30 seconds', sla_tier => 'batch');

-- before the engine ever merged: no refresh time, empty heartbeat
SET ROLE regress_pgt_exporter;
SELECT
  name,
  sla_tier,
  EXTRACT(EPOCH FROM (NOW() - last_refresh_at))::float AS staleness_seconds,
  rows_changed_last_cycle,
  avg_refresh_ms / 1000.0 AS avg_refresh_seconds,
  pending_change_rows
FROM pgtrickle.stream_table_status();
SELECT
  source_table,
  pending_rows,
  EXTRACT(EPOCH FROM (NOW() - oldest_change_at))::float AS backlog_age_seconds
FROM pgtrickle.change_buffer_status();
RESET ROLE;

-- what the engine writes: stats and its heartbeat (one transaction, so that
-- NOW() is the same in the updates and in the queries)
BEGIN;
UPDATE pgtrickle.pgt_stream_tables
   SET status = 'ACTIVE', frontier = '0/1234ABC', engine_epoch = 1,
       last_refresh_at = NOW() - interval '90 seconds',
       rows_changed_last_cycle = 17, avg_refresh_ms = 250, refresh_count = 3,
       pending_change_rows = 5
 WHERE name = 'public.mon_agg';
UPDATE pgtrickle.pgt_engine
   SET epoch = 1, decoded_lsn = '0/1234ABC', heartbeat_at = NOW(),
       source_pending = jsonb_build_array(
           jsonb_build_object('source_table', 'public.mon_src', 'pending_rows', 42,
                              'oldest_change_at', NOW() - interval '10 minutes'),
           jsonb_build_object('source_table', 'public.other', 'pending_rows', 0,
                              'oldest_change_at', NULL))
 WHERE id = 1;
SET LOCAL ROLE regress_pgt_exporter;
SELECT
  name,
  sla_tier,
  EXTRACT(EPOCH FROM (NOW() - last_refresh_at))::float AS staleness_seconds,
  rows_changed_last_cycle,
  avg_refresh_ms / 1000.0 AS avg_refresh_seconds,
  pending_change_rows
FROM pgtrickle.stream_table_status();
SELECT
  source_table,
  pending_rows,
  EXTRACT(EPOCH FROM (NOW() - oldest_change_at))::float AS backlog_age_seconds
FROM pgtrickle.change_buffer_status();
SELECT name, status, frontier, schedule FROM pgtrickle.stream_table_status();
COMMIT;

-- the exporter reads, and nothing more
SET ROLE regress_pgt_exporter;
SELECT pgtrickle.create_stream_table('mon_x', 'SELECT id FROM mon_src');
SELECT pgtrickle.drop_stream_table('mon_fresh');
UPDATE pgtrickle.pgt_engine SET epoch = 99;
RESET ROLE;

-- a malformed heartbeat does not break the exporter
UPDATE pgtrickle.pgt_engine SET source_pending = '{"not": "an array"}';
SELECT * FROM pgtrickle.change_buffer_status();
UPDATE pgtrickle.pgt_engine SET source_pending = NULL, epoch = 0, decoded_lsn = NULL,
       heartbeat_at = NULL;

SELECT pgtrickle.drop_stream_table('mon_fresh');
SELECT pgtrickle.drop_stream_table('mon_agg');
DROP ROLE regress_pgt_exporter;
