-- Plan format 2: joins, subqueries in FROM, WITH, DISTINCT, UNION [ALL], HAVING
CREATE EXTENSION IF NOT EXISTS pg_trickle;
CREATE TABLE d_customers (id int PRIMARY KEY, name text, region text);
CREATE TABLE d_orders (id int PRIMARY KEY, customer_id int, amount numeric(10,2), status text);
CREATE TABLE d_lines (order_id int, line int, qty int, PRIMARY KEY (order_id, line));

-- inner join: the equality becomes the join's keys, the rest its residual condition
SELECT pgtrickle.create_stream_table('d_join',
  $$SELECT o.id, c.name, o.amount FROM d_orders o JOIN d_customers c ON o.customer_id = c.id AND o.amount > 10$$);
SELECT jsonb_pretty(plan->'root') FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_join';
SELECT plan->'version' AS version, jsonb_array_length(plan->'sources') AS sources
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_join';

-- comma join: WHERE equalities become keys, the rest stays a filter above the joins
SELECT pgtrickle.create_stream_table('d_comma',
  $$SELECT o.id, l.line FROM d_orders o, d_lines l, d_customers c
    WHERE l.order_id = o.id AND c.id = o.customer_id AND c.region = 'eu'$$);
SELECT jsonb_pretty(plan->'root') FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_comma';

-- every other accepted shape: the operators each produces
CREATE FUNCTION d_ops(j jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(DISTINCT v #>> '{}', ',' ORDER BY v #>> '{}')
  FROM jsonb_path_query(j, 'strict $.**.op') v $$;
SELECT pgtrickle.create_stream_table('d_left', 'SELECT c.id, o.id AS oid FROM d_customers c LEFT JOIN d_orders o ON o.customer_id = c.id');
SELECT pgtrickle.create_stream_table('d_right', 'SELECT c.id, o.id AS oid FROM d_customers c RIGHT JOIN d_orders o ON o.customer_id = c.id');
SELECT pgtrickle.create_stream_table('d_full', 'SELECT id, c.name FROM d_customers c FULL JOIN d_orders o USING (id)');
SELECT pgtrickle.create_stream_table('d_self', 'SELECT a.id, b.id AS bid FROM d_orders a JOIN d_orders b ON a.customer_id = b.customer_id AND a.id < b.id');
SELECT pgtrickle.create_stream_table('d_cross', 'SELECT a.id, b.id AS bid FROM d_customers a CROSS JOIN d_customers b');
SELECT pgtrickle.create_stream_table('d_sub', 'SELECT s.customer_id, s.n FROM (SELECT customer_id, count(*) AS n FROM d_orders GROUP BY customer_id) s WHERE s.n > 1');
SELECT pgtrickle.create_stream_table('d_cte', 'WITH big AS (SELECT * FROM d_orders WHERE amount > 100) SELECT c.name, count(*) AS n FROM big JOIN d_customers c ON c.id = big.customer_id GROUP BY c.name');
SELECT pgtrickle.create_stream_table('d_distinct', 'SELECT DISTINCT region FROM d_customers');
SELECT pgtrickle.create_stream_table('d_union', 'SELECT id FROM d_orders UNION SELECT id FROM d_customers');
SELECT pgtrickle.create_stream_table('d_union_all', 'SELECT id, status AS s FROM d_orders UNION ALL SELECT id, region FROM d_customers');
SELECT pgtrickle.create_stream_table('d_having', 'SELECT customer_id, sum(amount) AS total FROM d_orders GROUP BY customer_id HAVING count(*) > 2 AND sum(amount) > 0');
-- expressions: CASE (searched and simple), COALESCE, NULLIF, GREATEST/LEAST, IN lists
SELECT pgtrickle.create_stream_table('d_expr', $$SELECT id, CASE WHEN amount > 100 THEN 'big' WHEN amount IS NULL THEN NULL ELSE 'small' END AS size,
  CASE status WHEN 'paid' THEN 1 WHEN 'new' THEN 2 END AS s, COALESCE(customer_id, -1) AS cid, NULLIF(status, 'new') AS st,
  GREATEST(amount, 10, NULL) AS g, LEAST(customer_id, id) AS l FROM d_orders WHERE status IN ('new', 'paid') AND id NOT IN (1, 2)$$);
SELECT jsonb_pretty(plan#>'{root,input,predicate}') FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_expr';
-- [NOT] EXISTS and [NOT] IN (SELECT ...) ANDed into WHERE: semi / anti joins
SELECT pgtrickle.create_stream_table('d_exists', $$SELECT c.id, c.name FROM d_customers c
  WHERE EXISTS (SELECT 1 FROM d_orders o WHERE o.customer_id = c.id AND o.amount > c.id AND o.status = 'paid')
    AND NOT EXISTS (SELECT 1 FROM d_lines l JOIN d_orders o2 ON o2.id = l.order_id WHERE o2.customer_id = c.id)$$);
SELECT jsonb_pretty(plan#>'{root,input}') FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_exists';
SELECT pgtrickle.create_stream_table('d_in', $$SELECT id FROM d_orders WHERE customer_id IN (SELECT id FROM d_customers WHERE region = 'eu')
  AND customer_id NOT IN (SELECT order_id FROM d_lines)$$);
SELECT plan#>>'{root,input,kind}' AS outer_kind, plan#>>'{root,input,left,kind}' AS inner_kind
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_in';
-- correlated IN: a semi join keyed by the IN column and the correlation
SELECT pgtrickle.create_stream_table('d_in_corr', $$SELECT id FROM d_orders o WHERE o.customer_id IN
  (SELECT c.id FROM d_customers c WHERE c.region = o.status AND c.id > 0)$$);
SELECT plan#>>'{root,input,kind}' AS kind, jsonb_array_length(plan#>'{root,input,left_keys}') AS keys,
  plan#>'{root,input,right_keys,0}'->>'kind' AS first_right_key
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_in_corr';
-- ILIKE (LC_CTYPE C): LIKE over ASCII-lowercased operands
SELECT pgtrickle.create_stream_table('d_ilike', $$SELECT id FROM d_customers WHERE name ILIKE 'A%' AND name NOT ILIKE '%Z'$$);
SELECT jsonb_path_query_array(plan->'root', 'strict $.**.fn') AS fns FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_ilike';
-- INTERSECT [ALL], EXCEPT [ALL]
SELECT pgtrickle.create_stream_table('d_setops', $$(SELECT customer_id FROM d_orders INTERSECT ALL SELECT id FROM d_customers)
  EXCEPT SELECT order_id FROM d_lines$$);
SELECT jsonb_path_query_array(plan->'root', 'strict $.**.kind ? (@ like_regex "^(intersect|except)")') AS setops
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_setops';
-- scalar subqueries: uncorrelated aggregates without GROUP BY, cross-joined as one column
SELECT pgtrickle.create_stream_table('d_scalar', $$SELECT id, amount - (SELECT avg(amount) FROM d_orders) AS diff
  FROM d_orders WHERE amount > (SELECT avg(amount) FROM d_orders)$$);
SELECT plan#>>'{root,input,input,kind}' AS cross_join, jsonb_array_length(plan#>'{root,input,input,left_keys}') AS keys
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_scalar';
-- correlated scalar subqueries (one aggregate, correlated by equalities): LEFT JOIN to the
-- aggregate grouped by the correlation; count over no rows reads COALESCE(value, 0)
SELECT pgtrickle.create_stream_table('d_scalar_corr', $$SELECT c.id, (SELECT count(*) FROM d_orders o WHERE o.customer_id = c.id AND o.amount > 10) AS n,
  (SELECT max(amount) FROM d_orders o WHERE o.customer_id = c.id) AS top FROM d_customers c
  WHERE (SELECT sum(amount) FROM d_orders o WHERE o.customer_id = c.id) IS NOT NULL$$);
SELECT jsonb_path_query_array(plan->'root', 'strict $.**.kind ? (@ == "left" || @ == "coalesce")') AS kinds,
  plan#>>'{root,exprs,1,kind}' AS n_expr FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_scalar_corr';
-- correlated NOT IN: anti join on the correlation, residual y = x OR y IS NULL OR x IS NULL
SELECT pgtrickle.create_stream_table('d_not_in_corr', $$SELECT id FROM d_orders o WHERE o.customer_id NOT IN
  (SELECT c.id FROM d_customers c WHERE c.region = o.status)$$);
SELECT plan#>>'{root,input,kind}' AS kind, jsonb_array_length(plan#>'{root,input,left_keys}') AS keys,
  plan#>>'{root,input,residual,fn}' AS residual FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_not_in_corr';
-- EXISTS under OR / in the select list: COALESCE(count(*) per correlation key, 0) > 0
SELECT pgtrickle.create_stream_table('d_exists_or', $$SELECT c.id, EXISTS (SELECT 1 FROM d_lines l) AS any_line,
  NOT EXISTS (SELECT 1 FROM d_orders o WHERE o.customer_id = c.id) AS idle
  FROM d_customers c WHERE c.region = 'eu' OR EXISTS (SELECT 1 FROM d_orders o WHERE o.customer_id = c.id AND o.amount > 5)$$);
SELECT jsonb_path_query_array(plan->'root', 'strict $.**.kind ? (@ == "left" || @ == "inner")') AS joins,
  plan#>>'{root,exprs,1,fn}' AS any_line FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_exists_or';
-- text ordering under glibc's C.utf8 (code point order = byte order): accepted
SELECT pgtrickle.create_stream_table('d_cutf8', $$SELECT region, max(name COLLATE "C.utf8") AS last_name, count(*) AS n
  FROM d_customers WHERE name COLLATE "C.utf8" > 'b' GROUP BY region$$);
-- x IN (subquery) under OR (no NOT above): "a correlated row has y = x", x = y one more key
SELECT pgtrickle.create_stream_table('d_in_or', $$SELECT id FROM d_orders o WHERE o.amount > 100 OR o.customer_id IN
  (SELECT c.id FROM d_customers c WHERE c.region = o.status)$$);
SELECT jsonb_array_length(plan#>'{root,input,input,left_keys}') AS keys, plan#>>'{root,input,input,kind}' AS kind
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_in_or';
-- x <> ALL (subquery) is NOT IN
SELECT pgtrickle.create_stream_table('d_all', $$SELECT id FROM d_orders WHERE customer_id <> ALL (SELECT id FROM d_customers WHERE region = 'eu')$$);
SELECT plan#>>'{root,input,kind}' AS kind FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_all';
-- COUNT/SUM/AVG(DISTINCT)
SELECT pgtrickle.create_stream_table('d_aggdistinct', $$SELECT customer_id, count(DISTINCT status) AS statuses,
  sum(DISTINCT amount) AS s, avg(DISTINCT amount) AS a, count(*) AS n FROM d_orders GROUP BY customer_id$$);
SELECT jsonb_path_query_array(plan, 'strict $.**.aggs[*].distinct') AS distinct_flags
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_aggdistinct';
-- text functions and LIKE
SELECT pgtrickle.create_stream_table('d_text', $$SELECT id, lower(name) AS l, upper(region) AS u, length(name) AS n,
  substr(name, 2, 3) AS s3, substring(name from 2) AS s, name || '/' || region AS label, btrim(name) AS b,
  ltrim(name) AS lt, rtrim(name) AS rt, trim(name) AS t FROM d_customers WHERE name LIKE 'a\_%' OR name NOT LIKE '%z'$$);
SELECT jsonb_path_query_array(plan, 'strict $.**.fn ? (@ like_regex "^(length|substr|concat|lower|upper|btrim|ltrim|rtrim|like|not_like)$")') AS text_fns
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_text';
-- float8: arithmetic, comparisons, casts, MIN/MAX, join keys (SUM/AVG rejected, see rejections)
SELECT pgtrickle.create_stream_table('d_float', $$SELECT o.id, o.amount::float8 * 1.5 AS f, (o.id / 2.0::float8)::int AS back
  FROM d_orders o JOIN d_customers c ON c.id::float8 = o.customer_id::float8 WHERE o.amount::float8 > 2.5$$);
SELECT plan#>'{output}' -> 1 ->> 'type_sql' AS f_type FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_float';
-- date/time: EXTRACT, date_trunc, date ± integer
CREATE TABLE d_events (id int PRIMARY KEY, d date, ts timestamp);
SELECT pgtrickle.create_stream_table('d_dates', $$SELECT id, EXTRACT(YEAR FROM d) AS y, extract(isodow from d) AS dow,
  extract(second from ts) AS s, date_trunc('Month', ts) AS m, d + 7 AS next_week, d - 1 AS prev FROM d_events$$);
SELECT jsonb_path_query_array(plan, 'strict $.**.args[0] ? (@.kind == "const" && @.typoid == 25).value') AS fields
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_dates';
SELECT pgtrickle.create_stream_table('d_bad', 'SELECT id, extract(hour from d) AS h FROM d_events');
SELECT pgtrickle.create_stream_table('d_bad', 'SELECT id, extract(epoch from ts) AS e FROM d_events');
SELECT pgtrickle.create_stream_table('d_bad', 'SELECT id, date_trunc(''month'', d) AS m FROM d_events');
-- timestamp|date ± a constant interval: the interval's fields as integer arguments
SELECT pgtrickle.create_stream_table('d_interval', $$SELECT id, ts + interval '1 mon 2 days 03:00' AS a, ts - interval '1 day' AS b FROM d_events$$);
SELECT jsonb_path_query_array(plan->'root', 'lax $.exprs[1 to 2].args[1 to 3].value') AS fields
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_interval';
-- timestamptz functions need TimeZone UTC; constants are written as UTC instants
CREATE TABLE d_tz (id int PRIMARY KEY, at timestamptz);
SELECT pgtrickle.create_stream_table('d_tstz_la', $$SELECT id, extract(hour from at) AS h FROM d_tz$$);
SET TimeZone = 'UTC';
SELECT pgtrickle.create_stream_table('d_tstz', $$SELECT id, date_trunc('month', at) AS m, extract(hour from at) AS h, at + interval '1 day' AS n
  FROM d_tz WHERE at > timestamptz '2024-01-01 00:00+05'$$);
SELECT plan#>>'{root,input,predicate,args,1,value}' AS const FROM pgtrickle.pgt_stream_tables WHERE name = 'public.d_tstz';
RESET TimeZone;
SELECT name, d_ops(plan->'root') AS ops, jsonb_array_length(plan->'sources') AS sources
  FROM pgtrickle.pgt_stream_tables WHERE name LIKE 'public.d\_%' ORDER BY id;

SELECT pgtrickle.drop_stream_table(name) FROM pgtrickle.pgt_stream_tables WHERE name LIKE 'public.d\_%';
DROP FUNCTION d_ops(jsonb);
DROP TABLE d_customers, d_orders, d_lines, d_events, d_tz;
