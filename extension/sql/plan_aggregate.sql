--
-- plan_aggregate: GROUP BY and global aggregates (docs/plan-format.md)
--
CREATE TABLE sales (
    id      int PRIMARY KEY,
    region  text,
    shop    varchar(20),
    amount  numeric(10,2),
    qty     int,
    day     date
);

-- all five aggregates, grouped, over a filter (the engine author's example)
SELECT pgtrickle.create_stream_table('sales_by_region', $$
    SELECT region, count(*) AS n, sum(amount) AS total, avg(amount),
           min(amount), max(amount)
      FROM public.sales WHERE amount > 10 GROUP BY region
$$);
SELECT plan#>>'{root,op}' AS root, plan#>>'{root,input,op}' AS agg,
       plan#>>'{root,input,input,op}' AS filter,
       plan#>>'{root,input,input,input,op}' AS scan,
       plan#>'{root,input,group_by}' AS group_by
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.sales_by_region';
SELECT a->>'fn' AS fn, a->'arg' AS arg, a->>'typoid' AS typoid
  FROM pgtrickle.pgt_stream_tables,
       jsonb_array_elements(plan#>'{root,input,aggs}') WITH ORDINALITY AS x(a, i)
 WHERE name = 'public.sales_by_region' ORDER BY i;
-- the final projection reads group keys, then aggregates, by position
SELECT e->>'kind' AS kind, e->>'col' AS col, e->>'typoid' AS typoid
  FROM pgtrickle.pgt_stream_tables,
       jsonb_array_elements(plan#>'{root,exprs}') WITH ORDINALITY AS x(e, i)
 WHERE name = 'public.sales_by_region' ORDER BY i;
SELECT o->>'name' AS name, o->>'type_sql' AS type_sql
  FROM pgtrickle.pgt_stream_tables,
       jsonb_array_elements(plan->'output') WITH ORDINALITY AS x(o, i)
 WHERE name = 'public.sales_by_region' ORDER BY i;
SELECT plan#>'{root,input,input,predicate}'
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.sales_by_region';

-- a global aggregate: empty group_by; result types follow PostgreSQL
SELECT pgtrickle.create_stream_table('sales_totals', $$
    SELECT count(*) AS n, count(shop) AS shops, sum(qty) AS qty, avg(qty) AS avg_qty,
           sum(qty::bigint) AS qty8, min(day) AS first_day, max(shop) AS last_shop
      FROM sales
$$);
SELECT plan#>'{root,input,group_by}' AS group_by,
       plan#>>'{root,input,input,op}' AS input
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.sales_totals';
SELECT a->>'fn' AS fn, a#>>'{arg,kind}' AS arg_kind, a#>>'{arg,col}' AS arg_col,
       a#>>'{arg,pg_fn}' AS arg_pg_fn, a->>'typoid' AS typoid,
       format_type((a->>'typoid')::oid, NULL) AS type
  FROM pgtrickle.pgt_stream_tables,
       jsonb_array_elements(plan#>'{root,input,aggs}') WITH ORDINALITY AS x(a, i)
 WHERE name = 'public.sales_totals' ORDER BY i;

-- expressions over group keys and aggregates; a key that is not output;
-- one plan aggregate for repeated identical calls
SELECT pgtrickle.create_stream_table('sales_by_day', $$
    SELECT day, qty % 10 AS bucket, sum(amount) * 2 AS double_total,
           sum(amount) AS total, count(*) - 1 AS n_minus_one
      FROM sales GROUP BY day, qty % 10, shop
$$);
SELECT jsonb_pretty(plan#>'{root,input,group_by}') AS group_by,
       jsonb_array_length(plan#>'{root,input,aggs}') AS n_aggs
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.sales_by_day';
SELECT jsonb_pretty(plan#>'{root,exprs}')
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.sales_by_day';

-- GROUP BY without aggregates: an aggregate operator with no aggregates
SELECT pgtrickle.create_stream_table('sales_regions',
    'SELECT region FROM sales GROUP BY region');
SELECT plan#>'{root,input,aggs}' AS aggs, plan#>'{root,input,group_by}' AS group_by
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.sales_regions';

-- MIN/MAX over text need collation "C": fine in this C database
SELECT pgtrickle.create_stream_table('sales_text_minmax',
    'SELECT day, min(region) AS lo, max(shop) AS hi FROM sales GROUP BY day');

-- storage tables of aggregates have the aggregate result types
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'sales_totals'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;

SELECT pgtrickle.drop_stream_table(name) FROM pgtrickle.pgt_stream_tables ORDER BY id;
