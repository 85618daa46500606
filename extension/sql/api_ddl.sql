--
-- api_ddl: 0.2.0 API without an engine — default_schedule, alter_stream_table,
-- explain_stream_table, drop_stream_table(cascade), refresh_stream_table errors,
-- engine_status, DDL rules on sources (event triggers, pg_trickle.source_ddl),
-- the restore trigger.
--
DROP EXTENSION IF EXISTS pg_trickle;
CREATE EXTENSION pg_trickle;
SELECT extversion FROM pg_extension WHERE extname = 'pg_trickle';

CREATE TABLE src (id int PRIMARY KEY, grp int, amount numeric(10,2), note text, extra int);
INSERT INTO src VALUES (1, 1, 10.00, 'a', 0), (2, 2, 20.00, 'b', 0);

-- default_schedule is used when no schedule is given (and only then)
SET pg_trickle.default_schedule = '250 milliseconds';
SELECT pgtrickle.create_stream_table('st_g', 'SELECT grp, sum(amount) AS total FROM src GROUP BY grp');
SELECT pgtrickle.create_stream_table('st_p', 'SELECT id, note FROM src WHERE amount > 5', schedule => '2 seconds');
RESET pg_trickle.default_schedule;
SELECT name, schedule, generation, paused FROM pgtrickle.pgt_stream_tables ORDER BY name;

-- the columns each stream table reads (referenced ones and the key)
SELECT st.name, s.source_name, s.columns
  FROM pgtrickle.pgt_sources s JOIN pgtrickle.pgt_stream_tables st ON st.id = s.stream_table_id
 ORDER BY 1;

-- alter_stream_table: schedule, tier, status
SELECT pgtrickle.alter_stream_table('st_g', schedule => '1 minute', sla_tier => 'critical');
SELECT pgtrickle.alter_stream_table('st_g', status => 'paused');
SELECT name, schedule, sla_tier, status FROM pgtrickle.stream_table_status() ORDER BY name;
SELECT pgtrickle.alter_stream_table('st_g', status => 'ACTIVE');
SELECT name, status FROM pgtrickle.stream_table_status() ORDER BY name;
SELECT pgtrickle.alter_stream_table('st_g', status => 'sleeping');
SELECT pgtrickle.alter_stream_table('st_g', schedule => '0 seconds');
SELECT pgtrickle.alter_stream_table('st_g', sla_tier => 'gold');
SELECT pgtrickle.alter_stream_table('nope', schedule => '1 second');
SELECT pgtrickle.alter_stream_table(NULL);

-- alter query: same output columns keep the storage table, new ones replace it
UPDATE pgtrickle.pgt_stream_tables SET frontier = '0/1000', status = 'ACTIVE' WHERE name = 'public.st_p';
SELECT 'public.st_p'::regclass::oid AS old_relid \gset
SELECT pgtrickle.alter_stream_table('st_p', query => 'SELECT id, note FROM src WHERE amount > 15');
SELECT name, generation, status, frontier, relid = :old_relid AS same_storage, query
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_p';
SELECT pgtrickle.alter_stream_table('st_p', query => 'SELECT id, note, extra FROM src');
SELECT name, generation, relid = :old_relid AS same_storage, relid = 'public.st_p'::regclass AS relid_ok
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_p';
SELECT attname FROM pg_attribute WHERE attrelid = 'public.st_p'::regclass AND attnum > 0 ORDER BY attnum;
SELECT st.name, s.columns FROM pgtrickle.pgt_sources s JOIN pgtrickle.pgt_stream_tables st ON st.id = s.stream_table_id
 WHERE st.name = 'public.st_p';
-- a query that does not compile leaves everything as it was
SELECT pgtrickle.alter_stream_table('st_p', query => 'SELECT id, note FROM src ORDER BY id');
SELECT generation FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_p';

-- explain_stream_table
SELECT property, value FROM pgtrickle.explain_stream_table('st_g') WHERE property <> 'plan';
SELECT count(*) FROM pgtrickle.explain_stream_table('public.st_g') WHERE property = 'plan' AND value LIKE '%"aggregate"%';
SELECT * FROM pgtrickle.explain_stream_table('nope');
-- a plan v2 tree: both inputs of a join and every branch of a UNION ALL, one source row each
CREATE TABLE src_lbl (grp int PRIMARY KEY, label text);
SELECT pgtrickle.create_stream_table('st_j',
  'SELECT s.id, l.label FROM src s JOIN src_lbl l ON l.grp = s.grp UNION ALL SELECT grp, label FROM src_lbl');
SELECT property, value FROM pgtrickle.explain_stream_table('st_j') WHERE property IN ('sources', 'operators');
SELECT pgtrickle.drop_stream_table('st_j');
DROP TABLE src_lbl;

-- refresh_stream_table without an engine: requests, errors, timeout
SELECT pgtrickle.refresh_stream_table('st_g', wait => false);
SELECT refresh_requested_at IS NOT NULL AS requested FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_g';
DO $$ BEGIN
    PERFORM pgtrickle.refresh_stream_table('st_g', timeout => '200 milliseconds');
EXCEPTION WHEN query_canceled THEN
    RAISE NOTICE '%', regexp_replace(SQLERRM, '[0-9A-F]+/[0-9A-F]+$', 'X/X');
END $$;
SELECT pgtrickle.alter_stream_table('st_g', status => 'paused');
SELECT pgtrickle.refresh_stream_table('st_g');
SELECT pgtrickle.alter_stream_table('st_g', status => 'active');
SELECT pgtrickle.refresh_stream_table('nope');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pgtrickle.refresh_stream_table('st_g');
ROLLBACK;

-- engine_status before any engine attached
SELECT epoch, attached, engine_version, timeline, decoded_lsn, lag_bytes FROM pgtrickle.engine_status();

-- DDL on sources: refused when a stream table uses the column
ALTER TABLE src DROP COLUMN amount;
ALTER TABLE src ALTER COLUMN grp TYPE bigint;
ALTER TABLE src DROP COLUMN id CASCADE;
ALTER TABLE src SET UNLOGGED;
DROP TABLE src;
DROP TABLE src CASCADE;
-- allowed: columns no stream table reads, renames, indexes, new columns
ALTER TABLE src ADD COLUMN added int DEFAULT 7;
ALTER TABLE src DROP COLUMN added;
ALTER TABLE src RENAME COLUMN note TO remark;
ALTER TABLE src RENAME COLUMN remark TO note;
-- renames keep the stored query text valid: a re-plan after them still compiles,
-- the output column keeps its name, the storage table its columns
SELECT generation AS gen_before FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_p' \gset
ALTER TABLE src RENAME COLUMN note TO memo;
CREATE SCHEMA other_ns;
ALTER TABLE src SET SCHEMA other_ns;
ALTER SCHEMA other_ns RENAME TO renamed_ns;
ALTER TABLE renamed_ns.src RENAME TO src_moved;
ALTER TABLE st_p RENAME TO st_p2;
SELECT name, query, generation = :gen_before AS not_replanned
  FROM pgtrickle.pgt_stream_tables ORDER BY name;
SELECT pgtrickle.alter_stream_table('st_p2', schedule => '3 seconds');
SET pg_trickle.source_ddl = 'rebootstrap';
ALTER TABLE renamed_ns.src_moved ALTER COLUMN memo TYPE varchar(40);   -- re-plans st_p2 from the stored text
RESET pg_trickle.source_ddl;
SELECT name, status, last_error, generation > :gen_before AS replanned
  FROM pgtrickle.pgt_stream_tables ORDER BY name;
SELECT attname FROM pg_attribute WHERE attrelid = 'public.st_p2'::regclass AND attnum > 0 ORDER BY attnum;
-- a rename rolled back leaves the stored text as it was
BEGIN;
ALTER TABLE renamed_ns.src_moved RENAME COLUMN memo TO memo2;
ROLLBACK;
SELECT query FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_p2';
SELECT count(*) AS leftover_views FROM pg_class WHERE relname LIKE 'pgt\_def\_%';
ALTER TABLE renamed_ns.src_moved RENAME TO src;
ALTER TABLE renamed_ns.src SET SCHEMA public;
ALTER TABLE src RENAME COLUMN memo TO note;
ALTER TABLE st_p2 RENAME TO st_p;
DROP SCHEMA renamed_ns;
SELECT name, query FROM pgtrickle.pgt_stream_tables ORDER BY name;
-- a source change that fails in rebootstrap mode re-plans nothing, now or at a later ALTER
SELECT string_agg(name || ':' || generation, ', ' ORDER BY name) AS gens_before FROM pgtrickle.pgt_stream_tables \gset
SET pg_trickle.source_ddl = 'rebootstrap';
ALTER TABLE src ALTER COLUMN note TYPE int;
RESET pg_trickle.source_ddl;
ALTER TABLE src ADD COLUMN unused_col int;
ALTER TABLE src DROP COLUMN unused_col;
SELECT string_agg(name || ':' || generation, ', ' ORDER BY name) = :'gens_before' AS unchanged
  FROM pgtrickle.pgt_stream_tables;
CREATE INDEX src_grp_idx ON src (grp);
DROP INDEX src_grp_idx;
SELECT count(*) FROM pgtrickle.pgt_stream_tables;

-- source_ddl = rebootstrap: the change runs and the dependants are re-planned
SET pg_trickle.source_ddl = 'rebootstrap';
ALTER TABLE src ALTER COLUMN grp TYPE bigint;
SELECT name, generation, status, plan->'output'->0->>'type_sql' AS grp_type
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_g';
ALTER TABLE src DROP COLUMN extra;
SELECT name, status, last_error FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_p';
DROP TABLE src;
RESET pg_trickle.source_ddl;

-- a storage table dropped by hand takes its catalog row along
DROP TABLE st_p;
SELECT name FROM pgtrickle.pgt_stream_tables ORDER BY name;

-- drop_stream_table(cascade): dependent views
CREATE VIEW st_g_view AS SELECT * FROM st_g;
SELECT pgtrickle.drop_stream_table('st_g');
SELECT pgtrickle.drop_stream_table('st_g', cascade => true);
SELECT to_regclass('st_g_view') AS view_left, count(*) AS rows_left FROM pgtrickle.pgt_stream_tables;

-- restore: a catalog row inserted other than by the API is re-planned and starts over
SELECT pgtrickle.create_stream_table('st_r', 'SELECT id, grp FROM src WHERE grp > 1');
CREATE TEMP TABLE saved AS SELECT * FROM pgtrickle.pgt_stream_tables;
CREATE TEMP TABLE saved_src AS SELECT * FROM pgtrickle.pgt_sources;
DELETE FROM pgtrickle.pgt_stream_tables;   -- as in a fresh restore target
UPDATE saved SET relid = 1, plan = '{"version": 1}', frontier = '0/42', status = 'ACTIVE', refresh_count = 9;
UPDATE saved_src SET source_relid = 1, columns = '{}';
INSERT INTO pgtrickle.pgt_sources SELECT * FROM saved_src;       -- skipped (re-derived)
INSERT INTO pgtrickle.pgt_stream_tables OVERRIDING SYSTEM VALUE SELECT * FROM saved;
SELECT name, relid = 'public.st_r'::regclass AS relid_ok, plan->'sources'->0->>'name' AS source,
       frontier, status, refresh_count FROM pgtrickle.pgt_stream_tables;
SELECT s.source_relid = 'src'::regclass AS source_ok, s.columns FROM pgtrickle.pgt_sources s;
SELECT pgtrickle.drop_stream_table('st_r');
DROP TABLE src;
DROP EXTENSION pg_trickle;
