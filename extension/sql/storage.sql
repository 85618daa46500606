--
-- storage: the storage table of a stream table, and what the extension
-- leaves alone (no triggers on sources, replica identity unchanged, no rows)
--
CREATE TABLE accounts (
    id       bigint PRIMARY KEY,
    owner    varchar(20) NOT NULL,
    label    text COLLATE "en-x-icu",
    balance  numeric(12,2) DEFAULT 0,
    opened   date
);
CREATE TABLE accounts_full (id int PRIMARY KEY, v int);
ALTER TABLE accounts_full REPLICA IDENTITY FULL;
INSERT INTO accounts VALUES (1, 'ann', 'a', 10, '2024-01-01'), (2, 'bob', 'b', 20, NULL);

SELECT relname, relreplident FROM pg_class
 WHERE oid IN ('accounts'::regclass, 'accounts_full'::regclass) ORDER BY 1;

SELECT pgtrickle.create_stream_table('account_view',
    'SELECT id, owner, label, balance, balance * 2 AS doubled, opened FROM accounts WHERE id > 0');
SELECT pgtrickle.create_stream_table('account_full_view', 'SELECT id, v FROM accounts_full');

-- user columns with the query's types (incl. typmod and collation), then the row id
SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull, c.collname
  FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation
 WHERE a.attrelid = 'account_view'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;
SELECT conname, contype, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE conrelid = 'account_view'::regclass;
SELECT relkind, relpersistence, relowner::regrole FROM pg_class WHERE oid = 'account_view'::regclass;

-- not populated: the engine bootstraps it from a standby snapshot
SELECT count(*) FROM account_view;

-- no triggers anywhere, replica identities unchanged
SELECT count(*) AS triggers FROM pg_trigger
 WHERE tgrelid IN ('accounts'::regclass, 'accounts_full'::regclass,
                   'account_view'::regclass, 'account_full_view'::regclass);
SELECT relname, relreplident FROM pg_class
 WHERE oid IN ('accounts'::regclass, 'accounts_full'::regclass) ORDER BY 1;

-- plan output = storage columns (minus the row id)
SELECT string_agg(o->>'name' || ' ' || (o->>'type_sql'), ', ' ORDER BY i)
  FROM pgtrickle.pgt_stream_tables,
       jsonb_array_elements(plan->'output') WITH ORDINALITY AS x(o, i)
 WHERE name = 'public.account_view';

-- sources listed in the plan: every live column, key attnums
SELECT plan#>'{sources,0,key}' AS key, plan#>>'{sources,0,schema}' AS schema,
       plan#>>'{sources,0,name}' AS name,
       jsonb_path_query_array(plan, '$.sources[0].columns[*].name') AS columns
  FROM pgtrickle.pgt_stream_tables WHERE name = 'public.account_view';

SELECT pgtrickle.drop_stream_table('account_view');
SELECT pgtrickle.drop_stream_table('account_full_view');
