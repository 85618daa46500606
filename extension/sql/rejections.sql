--
-- rejections: every construct the engine cannot maintain is refused at
-- create time, naming it (ERRCODE_FEATURE_NOT_SUPPORTED unless noted)
--
CREATE TABLE r_src (
    id  int PRIMARY KEY,
    t   text,
    n   int,
    d   date,
    j   jsonb,
    f   float8,
    ts  timestamptz
);
\set ON_ERROR_STOP 0
\set VERBOSITY default

-- statements
SELECT pgtrickle.create_stream_table('st', 'INSERT INTO r_src (id) VALUES (1)');
SELECT pgtrickle.create_stream_table('st', 'SELECT 1; SELECT 2');
SELECT pgtrickle.create_stream_table('st', '');
SELECT pgtrickle.create_stream_table('st', 'SELECT id INTO r_copy FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELEC id FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT nope FROM r_src');

-- FROM clause
SELECT pgtrickle.create_stream_table('st', 'SELECT 1 AS one');
SELECT pgtrickle.create_stream_table('st', 'SELECT g FROM generate_series(1, 3) g');
SELECT pgtrickle.create_stream_table('st', 'SELECT x FROM (VALUES (1)) v(x)');
SELECT pgtrickle.create_stream_table('st', 'SELECT a.id, s.m FROM r_src a, LATERAL (SELECT max(n) AS m FROM r_src b WHERE b.n < a.n) s');
SELECT pgtrickle.create_stream_table('st', 'SELECT a.id FROM r_src a JOIN r_src b ON a.t ~ b.t');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src TABLESAMPLE SYSTEM (10)');

-- query-level constructs
SELECT pgtrickle.create_stream_table('st', 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) SELECT x FROM c');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src UNION ALL SELECT id::bigint FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src a WHERE n IN (SELECT id + a.n FROM r_src b WHERE b.n = a.id)');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src a WHERE NOT (n = 1 OR n IN (SELECT id FROM r_src b))');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, n IN (SELECT id FROM r_src b) AS found FROM r_src a');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src a WHERE n = 1 OR EXISTS (SELECT 1 FROM r_src b WHERE b.n > a.id)');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src a WHERE EXISTS (SELECT max(n) FROM r_src b WHERE b.n = a.id)');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src a WHERE (id, n) IN (SELECT id, n FROM r_src)');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src a WHERE n > ALL (SELECT id FROM r_src)');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src a WHERE n = ALL (SELECT id FROM r_src)');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, (SELECT max(n) + 1 FROM r_src b WHERE b.id = a.n) AS m FROM r_src a');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, (SELECT n FROM r_src b WHERE b.id = 1) AS m FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, (SELECT max(n) FROM r_src b WHERE b.n < a.n) AS m FROM r_src a');
SELECT pgtrickle.create_stream_table('st', 'SELECT DISTINCT ON (n) n, id FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, row_number() OVER (ORDER BY id) FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, sum(n) OVER () FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src ORDER BY id');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src LIMIT 10');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src FETCH FIRST 3 ROWS ONLY');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src OFFSET 5');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src FOR UPDATE');
SELECT pgtrickle.create_stream_table('st', 'SELECT n, d, count(*) FROM r_src GROUP BY GROUPING SETS ((n), (d))');
SELECT pgtrickle.create_stream_table('st', 'SELECT n, count(*) FROM r_src GROUP BY ROLLUP (n)');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, generate_series(1, n) FROM r_src');

-- functions and operators outside the allow-list, volatile functions
SELECT pgtrickle.create_stream_table('st', 'SELECT id, random() AS r FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src WHERE d < now()');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, abs(n) AS a FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, n & 1 AS bit FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, +n AS p FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, d + n * interval ''1 day'' AS later FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, interval ''1 day'' * n AS span FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, n::numeric(5,1) AS x FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, t::int AS x FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, t::varchar(3) AS x FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src WHERE d > CURRENT_DATE');

-- expression constructs
SELECT pgtrickle.create_stream_table('st', 'SELECT id, CASE WHEN n > 0 THEN f::real ELSE 0 END AS c FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src WHERE n = ANY (ARRAY(SELECT id FROM r_src))');
SELECT pgtrickle.create_stream_table('st', $$SELECT id, GREATEST(t, 'b' COLLATE "en-x-icu") AS g FROM r_src$$);
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src WHERE n IS DISTINCT FROM 1');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src WHERE (n > 1) IS TRUE');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, ARRAY[n] AS a FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src WHERE (id, n) < (1, 2)');

-- system columns, whole-row references
SELECT pgtrickle.create_stream_table('st', 'SELECT id, xmin FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src WHERE ctid > ''(0,1)''');
SELECT pgtrickle.create_stream_table('st', 'SELECT r_src AS whole FROM r_src');

-- unsupported types (named with the column)
SELECT pgtrickle.create_stream_table('st', 'SELECT id, j FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT * FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src WHERE ts::date IS NULL');

-- aggregates
SELECT pgtrickle.create_stream_table('st', 'SELECT sum(n) FILTER (WHERE n > 0) AS s FROM r_src');
SELECT pgtrickle.create_stream_table('st', $$SELECT string_agg(t, ',' ORDER BY t) AS s FROM r_src$$);
SELECT pgtrickle.create_stream_table('st', 'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS p FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT sum(f) AS s FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT avg(f) AS s FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, f::real AS r FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT max(ts::timestamp) AS m FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT bool_and(n > 0) AS b FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT min(n ORDER BY n) AS m FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT count(j) AS c FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id, t FROM r_src GROUP BY id');

-- collations: ordering of text needs "C"; equality needs a deterministic collation
CREATE COLLATION regress_pgt_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE r_coll (id int PRIMARY KEY, t text COLLATE "en-x-icu");
SELECT pgtrickle.create_stream_table('st', $$SELECT id FROM r_src WHERE t < 'm' COLLATE "en-x-icu"$$);
SELECT pgtrickle.create_stream_table('st', $$SELECT id FROM r_coll WHERE t >= 'm'$$);
SELECT pgtrickle.create_stream_table('st', $$SELECT min(t) AS m FROM r_coll$$);
SELECT pgtrickle.create_stream_table('st', $$SELECT id FROM r_src WHERE t = 'a' COLLATE regress_pgt_ci$$);
SELECT pgtrickle.create_stream_table('st', 'SELECT count(DISTINCT t COLLATE regress_pgt_ci) AS c FROM r_src');
SELECT pgtrickle.create_stream_table('st', $$SELECT id, upper(t COLLATE "en-x-icu") AS u FROM r_src$$);
SELECT pgtrickle.create_stream_table('st', $$SELECT id FROM r_src WHERE t COLLATE regress_pgt_ci LIKE 'a%'$$);
SELECT pgtrickle.create_stream_table('st', $$SELECT id FROM r_src WHERE t COLLATE "en-x-icu" ILIKE 'a%'$$);
SELECT pgtrickle.create_stream_table('st', $$SELECT id, t || n AS tn FROM r_src$$);
SELECT pgtrickle.create_stream_table('st', $$SELECT t COLLATE regress_pgt_ci AS tc, count(*) AS c FROM r_src GROUP BY 1$$);
-- accepted: equality under a deterministic non-C collation, ordering under "C"
SELECT pgtrickle.create_stream_table('st_coll_ok', $$SELECT id FROM r_coll WHERE t = 'm' AND t COLLATE "C" > 'a'$$);
SELECT pgtrickle.drop_stream_table('st_coll_ok');

-- source relations
CREATE TABLE r_nokey (a int, b text);
SELECT pgtrickle.create_stream_table('st', 'SELECT a FROM r_nokey');
CREATE TABLE r_ident_nothing (id int PRIMARY KEY);
ALTER TABLE r_ident_nothing REPLICA IDENTITY NOTHING;
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_ident_nothing');
CREATE TABLE r_part (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE r_part_1 PARTITION OF r_part FOR VALUES FROM (0) TO (100);
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_part');
CREATE VIEW r_view AS SELECT id, n FROM r_src;
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_view');
CREATE MATERIALIZED VIEW r_mview AS SELECT id FROM r_src;
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_mview');
CREATE FOREIGN DATA WRAPPER regress_pgt_fdw;
CREATE SERVER regress_pgt_server FOREIGN DATA WRAPPER regress_pgt_fdw;
CREATE FOREIGN TABLE r_foreign (id int) SERVER regress_pgt_server;
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_foreign');
CREATE UNLOGGED TABLE r_unlogged (id int PRIMARY KEY);
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_unlogged');
CREATE TEMP TABLE r_temp (id int PRIMARY KEY);
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_temp');
CREATE TABLE r_parent (id int PRIMARY KEY);
CREATE TABLE r_child (id int PRIMARY KEY) INHERITS (r_parent);
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_parent');
CREATE TABLE r_rls (id int PRIMARY KEY);
ALTER TABLE r_rls ENABLE ROW LEVEL SECURITY;
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_rls');
SELECT pgtrickle.create_stream_table('st', 'SELECT oid FROM pg_catalog.pg_class');
SELECT pgtrickle.create_stream_table('st_first', 'SELECT id, n FROM r_src');
-- a DAG of stream tables: accepted, but no cycles, and no drop of an upstream with dependants
SELECT pgtrickle.create_stream_table('st_second', 'SELECT id, n FROM st_first WHERE n > 0');
SELECT plan::jsonb #> '{sources,0,stream_table_id}' = to_jsonb((SELECT id FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_first'))
  AS reads_upstream FROM pgtrickle.pgt_stream_tables WHERE name = 'public.st_second';
SELECT pgtrickle.alter_stream_table('st_first', query => 'SELECT id, n FROM st_second');
SELECT pgtrickle.alter_stream_table('st_second', query => 'SELECT id, n FROM st_second');
SELECT pgtrickle.drop_stream_table('st_first');
SELECT pgtrickle.drop_stream_table('st_first', cascade => true);
SELECT count(*) FROM pgtrickle.pgt_stream_tables WHERE name IN ('public.st_first', 'public.st_second');
-- accepted: FROM ONLY an inheritance parent; a REPLICA IDENTITY USING INDEX key
SELECT pgtrickle.create_stream_table('st_only', 'SELECT id FROM ONLY r_parent');
CREATE TABLE r_ident_index (a int NOT NULL, b int NOT NULL, c text);
CREATE UNIQUE INDEX r_ident_index_ab ON r_ident_index (b, a);
ALTER TABLE r_ident_index REPLICA IDENTITY USING INDEX r_ident_index_ab;
SELECT pgtrickle.create_stream_table('st_ident', 'SELECT a, c FROM r_ident_index');
SELECT name, plan#>'{sources,0,key}' AS key FROM pgtrickle.pgt_stream_tables ORDER BY id;
SELECT pgtrickle.drop_stream_table('st_only');
SELECT pgtrickle.drop_stream_table('st_ident');

-- output columns
SELECT pgtrickle.create_stream_table('st', 'SELECT id, n AS id FROM r_src');
SELECT pgtrickle.create_stream_table('st', 'SELECT id AS __pgt_row_id FROM r_src');

-- arguments: schedule, sla_tier, names
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src', schedule => '0 seconds');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src', schedule => '-1 minute');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src', sla_tier => 'gold');
SELECT pgtrickle.create_stream_table('st', 'SELECT id FROM r_src', sla_tier => NULL);
SELECT pgtrickle.create_stream_table('pg_temp.st', 'SELECT id FROM r_src');
SELECT pgtrickle.create_stream_table('no_such_schema.st', 'SELECT id FROM r_src');

-- nothing was left behind by the failures
SELECT count(*) FROM pgtrickle.pgt_stream_tables;
SELECT to_regclass('st');

DROP FOREIGN TABLE r_foreign;
DROP SERVER regress_pgt_server;
DROP FOREIGN DATA WRAPPER regress_pgt_fdw;
DROP TABLE r_coll;
DROP COLLATION regress_pgt_ci;
