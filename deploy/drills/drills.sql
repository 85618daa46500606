-- pg_trickle failover drills: the SQL shared by the local drills (tests/failover/drills.py)
-- and the CloudNativePG drill script (deploy/drills/cnpg-drill.sh). Run it on the primary, as
-- a superuser, after CREATE EXTENSION pg_trickle; it is idempotent (safe to run again).
--
--   pgt_drill.shapes               the stream tables of the drills: one row per shape (name,
--                                  defining query). Add a shape here (and its sources + load
--                                  statements in tests/failover/load.py) and every drill uses it.
--   pgt_drill.create_sources()     the source tables
--   pgt_drill.seed_sources(n, s)   n rows per source, reproducible from seed s in [-1, 1]
--   pgt_drill.create_stream_tables(schedule)   the shapes not created yet
--   pgt_drill.probe(tag)           inserts a probe row into every source (commit it, then read
--                                  pg_current_wal_lsn(): the probe LSN)
--   pgt_drill.lagging(lsn)         stream tables whose frontier has not passed lsn yet
--   pgt_drill.oracle()             per stream table: rows, rows only in the stream table, rows
--                                  only in its query (two-way EXCEPT ALL, all columns but
--                                  __pgt_row_id) — both counts must be 0
--   pgt_drill.oracle_diff(name, n) up to n differing rows, '+' stream table only, '-' query only
--   pgt_drill.load_step(n)         n random writes over the sources (CNPG script load)
--   pgt_drill.catalog_fingerprint()  frontiers, epochs, heartbeat and stream table contents
--                                  (md5): a stale primary's fingerprint must never change

CREATE SCHEMA IF NOT EXISTS pgt_drill;

CREATE TABLE IF NOT EXISTS pgt_drill.shapes (
    name  text PRIMARY KEY,     -- quoted qualified name, as pgtrickle.pgt_stream_tables.name
    query text NOT NULL,
    ord   int NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS pgt_drill.probe_seq;

CREATE OR REPLACE FUNCTION pgt_drill.create_sources() RETURNS void LANGUAGE sql AS $$
    CREATE TABLE IF NOT EXISTS public.drill_orders (
        id     bigint PRIMARY KEY,
        grp    int,
        amount numeric(12,2),
        qty    int,
        cat    text,
        flag   bool,
        ts     timestamp
    );
    CREATE TABLE IF NOT EXISTS public.drill_items (
        id       bigint PRIMARY KEY,
        order_id bigint,
        kind     int,
        price    numeric(10,2),
        qty      int,
        note     text
    );
$$;
SELECT pgt_drill.create_sources();

-- The shapes the engine maintains today (README "SQL supported today"): filter + projection
-- with arithmetic, aggregates with and without GROUP BY, over two sources.
INSERT INTO pgt_drill.shapes (name, query, ord) VALUES
 ('public.drill_filter',
  'SELECT id, grp, amount, qty::bigint * 2 AS q2, amount * qty AS amount_x_qty, cat, ts '
  'FROM public.drill_orders WHERE amount > 10 AND (flag OR qty IS NULL) AND NOT (cat IS NULL)', 1),
 ('public.drill_by_grp',
  'SELECT grp, count(*) AS n, count(qty) AS nq, sum(amount) AS total, avg(amount) AS avg_amount, '
  'avg(qty) AS avg_qty, min(amount) AS min_amount, max(amount) AS max_amount, min(cat) AS min_cat, '
  'max(ts) AS max_ts FROM public.drill_orders GROUP BY grp', 2),
 ('public.drill_totals',
  'SELECT count(*) AS n, count(cat) AS n_cat, sum(amount) AS total, avg(amount) AS avg_amount, '
  'min(qty) AS min_qty, max(qty) AS max_qty, min(ts) AS first_ts FROM public.drill_orders', 3),
 ('public.drill_items_by_kind',
  'SELECT kind, count(*) AS n, sum(price) AS total_price, sum(qty) AS total_qty, '
  'avg(price) AS avg_price, min(price) AS min_price, max(note) AS max_note '
  'FROM public.drill_items GROUP BY kind', 4),
 ('public.drill_items_big',
  'SELECT id, order_id, kind, price, qty, price * qty AS value FROM public.drill_items '
  'WHERE qty >= 5 OR price IS NULL', 5)
ON CONFLICT (name) DO UPDATE SET query = EXCLUDED.query, ord = EXCLUDED.ord;

CREATE OR REPLACE FUNCTION pgt_drill.seed_sources(n int, seed float8 DEFAULT 0.42)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM setseed(seed);
    INSERT INTO public.drill_orders
    SELECT i, 1 + (random() * 20)::int,
           CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 1000 - 100)::numeric, 2) END,
           CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 100)::int END,
           CASE WHEN random() < 0.05 THEN NULL ELSE (ARRAY['a','b','c','d','x y',''])[1 + (random() * 5)::int] END,
           random() < 0.5,
           timestamp '2024-01-01' + random() * interval '365 days'
    FROM generate_series(1, n) i ON CONFLICT (id) DO NOTHING;
    INSERT INTO public.drill_items
    SELECT i, 1 + (random() * n)::int, (random() * 10)::int,
           CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 500)::numeric, 2) END,
           (random() * 10)::int, 'note ' || (random() * 50)::int
    FROM generate_series(1, n) i ON CONFLICT (id) DO NOTHING;
END $$;

CREATE OR REPLACE FUNCTION pgt_drill.create_stream_tables(sched interval DEFAULT '500 milliseconds')
RETURNS int LANGUAGE plpgsql AS $$
DECLARE s record; n int := 0;
BEGIN
    FOR s IN SELECT sh.name, sh.query FROM pgt_drill.shapes sh
             WHERE NOT EXISTS (SELECT 1 FROM pgtrickle.pgt_stream_tables t WHERE t.name = sh.name)
             ORDER BY sh.ord LOOP
        PERFORM pgtrickle.create_stream_table(s.name, s.query, sched);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION pgt_drill.probe(tag text DEFAULT 'probe') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE i bigint := 1000000000 + nextval('pgt_drill.probe_seq');
BEGIN
    INSERT INTO public.drill_orders VALUES (i, 0, 123.45, 7, tag, true, now()::timestamp);
    INSERT INTO public.drill_items VALUES (i, i, 0, 9.99, 7, tag);
    RETURN i;
END $$;

CREATE OR REPLACE FUNCTION pgt_drill.lagging(target pg_lsn)
RETURNS TABLE (name text, frontier pg_lsn, status text, last_error text)
LANGUAGE sql STABLE AS $$
    SELECT sh.name, t.frontier, coalesce(t.status, 'MISSING'), t.last_error
    FROM pgt_drill.shapes sh LEFT JOIN pgtrickle.pgt_stream_tables t ON t.name = sh.name
    WHERE t.frontier IS NULL OR t.frontier < target
    ORDER BY sh.ord
$$;

CREATE OR REPLACE FUNCTION pgt_drill.columns_of(st text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
    WHERE attrelid = st::regclass AND attnum > 0 AND NOT attisdropped
      AND attname <> '__pgt_row_id'
$$;

-- STABLE: every statement sees the snapshot of the calling query, so both directions of
-- every comparison see the same data even while merges land.
CREATE OR REPLACE FUNCTION pgt_drill.oracle()
RETURNS TABLE (stream_table text, n_rows bigint, only_in_stream_table bigint, only_in_query bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE s record; cols text;
BEGIN
    FOR s IN SELECT sh.name, sh.query FROM pgt_drill.shapes sh ORDER BY sh.ord LOOP
        cols := pgt_drill.columns_of(s.name);
        stream_table := s.name;
        EXECUTE format('SELECT count(*) FROM %s', s.name) INTO n_rows;
        EXECUTE format('SELECT count(*) FROM (SELECT %s FROM %s EXCEPT ALL (%s)) d',
                       cols, s.name, s.query) INTO only_in_stream_table;
        EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL SELECT %s FROM %s) d',
                       s.query, cols, s.name) INTO only_in_query;
        RETURN NEXT;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION pgt_drill.oracle_diff(st text, lim int DEFAULT 20)
RETURNS TABLE (side text, row_value text) LANGUAGE plpgsql STABLE AS $$
DECLARE q text := (SELECT sh.query FROM pgt_drill.shapes sh WHERE sh.name = st);
        cols text := pgt_drill.columns_of(st);
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT * FROM (SELECT ''+''::text, d::text FROM (SELECT %1$s FROM %2$s EXCEPT ALL (%3$s)) d '
        'UNION ALL SELECT ''-''::text, d::text FROM ((%3$s) EXCEPT ALL SELECT %1$s FROM %2$s) d) x '
        'ORDER BY 2, 1 LIMIT %4$s', cols, st, q, lim);
END $$;

CREATE OR REPLACE FUNCTION pgt_drill.catalog_fingerprint() RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE s record; contents jsonb := '{}'; h text;
BEGIN
    FOR s IN SELECT name FROM pgtrickle.pgt_stream_tables ORDER BY id LOOP
        EXECUTE format('SELECT md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) '
                       'FROM %s t', s.name) INTO h;
        contents := contents || jsonb_build_object(s.name, h);
    END LOOP;
    RETURN jsonb_build_object(
        'engine', (SELECT to_jsonb(e) FROM pgtrickle.pgt_engine e WHERE id = 1),
        'stream_tables', (SELECT jsonb_agg(jsonb_build_object(
                'name', name, 'frontier', frontier::text, 'engine_epoch', engine_epoch,
                'last_refresh_at', last_refresh_at, 'refresh_count', refresh_count,
                'status', status, 'last_error', last_error,
                'pending_change_rows', pending_change_rows) ORDER BY id)
            FROM pgtrickle.pgt_stream_tables),
        'contents', contents);
END $$;

-- One step of write load for the CNPG drill script (a loop of `SELECT pgt_drill.load_step(20)`
-- through the -rw service): n random INSERT/UPDATE/DELETE statements over the sources, one
-- transaction. The local drills run a multi-client load with the same shape (tests/failover/load.py).
CREATE OR REPLACE FUNCTION pgt_drill.load_step(n int DEFAULT 20) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE i bigint; x float8;
BEGIN
    FOR k IN 1..n LOOP
        i := 1 + (random() * 5999)::bigint;
        x := random();
        IF x < 0.25 THEN
            INSERT INTO public.drill_orders VALUES (i, 1 + (random() * 20)::int,
                round((random() * 1100 - 100)::numeric, 2), (random() * 100)::int,
                (ARRAY['a','b','c','d','x y',''])[1 + (random() * 5)::int], random() < 0.5,
                now()::timestamp)
            ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount, qty = drill_orders.qty + 1;
        ELSIF x < 0.45 THEN
            UPDATE public.drill_orders SET amount = amount + 1, flag = NOT flag,
                   qty = coalesce(qty, 0) + 1 WHERE id BETWEEN i AND i + 3;
        ELSIF x < 0.55 THEN
            UPDATE public.drill_orders SET grp = 1 + (random() * 20)::int WHERE id = i;
        ELSIF x < 0.65 THEN
            DELETE FROM public.drill_orders WHERE id BETWEEN i AND i + 2;
        ELSIF x < 0.85 THEN
            INSERT INTO public.drill_items VALUES (i, i, (random() * 10)::int,
                round((random() * 500)::numeric, 2), (random() * 10)::int,
                'note ' || (random() * 50)::int)
            ON CONFLICT (id) DO UPDATE SET price = EXCLUDED.price, qty = EXCLUDED.qty;
        ELSE
            DELETE FROM public.drill_items WHERE id BETWEEN i AND i + 2;
        END IF;
    END LOOP;
END $$;
