--
-- plan_projection: plans of filters and projections (docs/plan-format.md)
--
CREATE TABLE items (
    id       bigint PRIMARY KEY,
    name     varchar(40),
    note     text,
    price    numeric(12,3),
    qty      int2,
    stock    int4,
    active   bool,
    added    date,
    updated  timestamp,
    payload  jsonb            -- unsupported type, never referenced below
);
ALTER TABLE items DROP COLUMN note;  -- dropped columns keep their positions

-- a filter and a projection with arithmetic, casts and constants
SELECT pgtrickle.create_stream_table('items_view', $$
    SELECT id, name, price * qty AS value, stock - 1 AS stock_left, -stock AS neg,
           stock::bigint % 7 AS m, added::timestamp AS added_ts
      FROM items
     WHERE active AND price >= 2.5 AND (qty IS NOT NULL OR NOT (stock <> 3))
$$);

-- the whole plan, without the source OID (it differs between runs)
SELECT jsonb_pretty(plan #- '{sources,0,relid}')
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.items_view';

-- the same checks, with jsonb operators
SELECT plan->'root'->>'op' AS root_op,
       plan#>>'{root,input,op}' AS input_op,
       plan#>>'{root,input,input,op}' AS scan_op,
       plan#>'{root,input,predicate,fn}' AS predicate_fn,
       jsonb_array_length(plan#>'{root,exprs}') AS n_exprs,
       plan#>'{sources,0,key}' AS key,
       (plan#>>'{sources,0,relid}')::oid = 'items'::regclass AS relid_ok
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.items_view';
SELECT e->>'kind' AS kind, e->>'fn' AS fn, e->>'pg_fn' AS pg_fn, e->>'typoid' AS typoid
  FROM pgtrickle.pgt_stream_tables,
       jsonb_array_elements(plan#>'{root,exprs}') WITH ORDINALITY AS x(e, i)
 WHERE name = 'public.items_view' ORDER BY i;
SELECT o->>'name' AS name, o->>'type_sql' AS type_sql, o->>'typmod' AS typmod
  FROM pgtrickle.pgt_stream_tables,
       jsonb_array_elements(plan->'output') WITH ORDINALITY AS x(o, i)
 WHERE name = 'public.items_view' ORDER BY i;

-- no WHERE: project(scan); SELECT * is expanded when every column is supported
CREATE TABLE simple (k int PRIMARY KEY, v text, d date);
SELECT pgtrickle.create_stream_table('simple_all', 'SELECT * FROM simple');
SELECT jsonb_pretty(plan->'root') FROM pgtrickle.pgt_stream_tables WHERE name = 'public.simple_all';

-- text comparisons: = and <> under any deterministic collation, ordering under "C"
SELECT pgtrickle.create_stream_table('simple_text', $$
    SELECT k, v FROM simple WHERE v = 'a''b "c"' OR v <> 'x' OR v < 'm' OR v COLLATE "C" >= 'n'
$$);
SELECT jsonb_pretty(plan#>'{root,input,predicate}')
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.simple_text';

-- constants are printed in ISO format whatever DateStyle is; NULL constants
SET datestyle = 'German, DMY';
SELECT pgtrickle.create_stream_table('simple_dates', $$
    SELECT k, d, NULL::int AS nothing, true AS yes
      FROM simple WHERE d > '31.12.2023' AND d::timestamp < '2025-06-30 12:00'
$$);
RESET datestyle;
SELECT jsonb_pretty(plan#>'{root,input,predicate}'), jsonb_pretty(plan#>'{root,exprs}')
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.simple_dates';

-- varchar <-> text and cross-type integer/date comparisons
SELECT pgtrickle.create_stream_table('items_mixed', $$
    SELECT id, name::text AS name_text, 'n'::text::varchar AS v,
           qty + stock AS qs, qty < id AS small, added <= updated AS before
      FROM items WHERE name = 'widget'
$$);
SELECT e->>'fn' AS fn, e->>'pg_fn' AS pg_fn, e->>'typoid' AS typoid,
       e#>>'{args,0,pg_fn}' AS arg0_pg_fn
  FROM pgtrickle.pgt_stream_tables,
       jsonb_array_elements(plan#>'{root,exprs}') WITH ORDINALITY AS x(e, i)
 WHERE name = 'public.items_mixed' ORDER BY i;
SELECT plan#>'{root,input,predicate}'
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.items_mixed';

SELECT pgtrickle.drop_stream_table(name) FROM pgtrickle.pgt_stream_tables ORDER BY id;
