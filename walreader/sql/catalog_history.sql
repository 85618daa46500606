-- In-band catalog history for walreader (see walreader/README.md, "Catalog history").
--
-- An external WAL decoder has no historic catalog snapshots: catalog rows are not logically
-- logged, so pg_class/pg_attribute changes cannot be replayed from the WAL. This file makes the
-- DDL transactions themselves write the descriptors they produce into an ordinary table, so that
-- every descriptor version is in the WAL at the DDL's commit and readable over SQL afterwards,
-- each stamped with the WAL insert position at which it became valid.
--
-- Rows of pgtrickle_catalog.relation_version:
--   kind 'install'  : one row, when this file ran; the decoder refuses ranges starting earlier.
--   kind 'baseline' : every user table's descriptor at install time.
--   kind 'ddl'      : at ddl_command_end, every user table whose descriptor (name, schema,
--                     relfilenode, TOAST relation, key, attributes) differs from its latest row.
--                     `rewritten` = the command rewrote the table (table_rewrite fired): the new
--                     relfilenode was filled by the transient heap inserts that test_decoding
--                     skips.
--   kind 'truncate' : after TRUNCATE of a table (statement trigger): its new relfilenode.
--   kind 'storage'  : before a DML statement on a table whose relfilenode changed since its
--                     latest row (VACUUM FULL, CLUSTER: statement trigger).
-- `lsn` = pg_current_wal_insert_lsn() when the row was made: the descriptor is valid for WAL
-- records of the table from there on. All DDL commands before it in the transaction are complete,
-- and no other transaction can write the table until the DDL commits (AccessExclusiveLock).
--
-- VACUUM FULL and CLUSTER fire no trigger: their new relfilenode is recorded by the next DML
-- statement on the table (or the next DDL), before that statement writes anything.
--
-- Triggers on user tables: pgtrickle_catalog_truncate (AFTER TRUNCATE) and pgtrickle_catalog_dml
-- (BEFORE INSERT/UPDATE/DELETE, FOR EACH STATEMENT), added to new tables by the DDL trigger. The
-- trigger functions are SECURITY DEFINER, so roles without rights on this schema can write.
--
-- Install as a superuser in every database to be decoded, before the WAL range to decode:
--   psql -d DB -f catalog_history.sql
-- Idempotent (re-running re-creates the functions and triggers and adds an 'install' row).

create schema if not exists pgtrickle_catalog;

create table if not exists pgtrickle_catalog.relation_version (
  id bigserial primary key,
  lsn bigint not null,                 -- pg_current_wal_insert_lsn() - '0/0'
  xid bigint not null default txid_current(),
  kind text not null,
  relid oid not null,
  rewritten boolean not null default false,
  descr jsonb not null,
  -- probed by the DML trigger: a column, so that the probe does not detoast descr
  relfilenode oid generated always as ((descr->>'relfilenode')::oid) stored
);
create index if not exists relation_version_relid on pgtrickle_catalog.relation_version (relid, id);

-- Descriptor of one table, in the fields walreader's RelationDesc needs.
create or replace function pgtrickle_catalog.describe(rel oid) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'nspname', n.nspname, 'relname', c.relname,
    'relfilenode', pg_relation_filenode(c.oid), 'reltablespace', c.reltablespace,
    'toastrelid', c.reltoastrelid,
    'toastfilenode', coalesce(pg_relation_filenode(t.oid), 0),
    'toastspc', coalesce(t.reltablespace, 0),
    'key', (select array_to_string(i.indkey::int2[], ',') from pg_index i
            where i.indrelid = c.oid and (i.indisprimary or i.indisreplident)
            order by i.indisprimary desc limit 1),
    'attrs', (select jsonb_agg(jsonb_build_object(
                'attnum', a.attnum, 'attname', a.attname, 'atttypid', a.atttypid,
                'attlen', a.attlen, 'attalign', a.attalign, 'attbyval', a.attbyval,
                'attisdropped', a.attisdropped, 'atthasmissing', a.atthasmissing,
                'attmissingval', a.attmissingval::text) order by a.attnum)
              from pg_attribute a where a.attrelid = c.oid and a.attnum > 0))
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  left join pg_class t on t.oid = c.reltoastrelid
  where c.oid = rel
$$;

-- The tables whose history is kept: ordinary tables (partition leaves included) outside the
-- system schemas and this one.
create or replace function pgtrickle_catalog.user_tables() returns setof oid
language sql stable as $$
  select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'r' and c.relpersistence = 'p'
    and n.nspname not in ('pg_catalog', 'information_schema', 'pgtrickle_catalog')
    and n.nspname not like 'pg\_toast%' and n.nspname not like 'pg\_temp%'
$$;

create or replace function pgtrickle_catalog.insert_lsn() returns bigint
language sql volatile as $$ select (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint $$;

-- TRUNCATE gives the table a new relfilenode without any event trigger: a statement trigger on
-- each table records it.
create or replace function pgtrickle_catalog.on_truncate() returns trigger
language plpgsql security definer set search_path = pg_catalog, pgtrickle_catalog as $$
begin
  insert into pgtrickle_catalog.relation_version(lsn, kind, relid, descr)
  values (pgtrickle_catalog.insert_lsn(), 'truncate', tg_relid, pgtrickle_catalog.describe(tg_relid));
  return null;
end $$;

-- VACUUM FULL and CLUSTER give a table a new relfilenode without any trigger firing. Before each
-- DML statement, a statement trigger compares the relfilenode of the target (of every leaf, for a
-- partitioned target: statements through the parent fire only the parent's triggers) with the
-- latest history row and records a changed one; so every committed change of a table is preceded
-- in the WAL by a row naming the relfilenode it is written to. A row only after a rewrite.
--
-- note_storage records `rel`'s relfilenode `fn` unless its latest row has it. The session remembers a
-- relfilenode known from a row committed by another transaction (pgtrickle_catalog.seen_<oid>);
-- one this transaction wrote only until its end (it may roll back).
create or replace function pgtrickle_catalog.note_storage(rel oid, fn oid) returns void
language plpgsql security definer set search_path = pg_catalog, pgtrickle_catalog as $$
declare
  latest record;
begin
  select v.relfilenode, v.xid into latest from pgtrickle_catalog.relation_version v
  where v.relid = rel order by v.id desc limit 1;
  if latest.relfilenode is distinct from fn then
    insert into pgtrickle_catalog.relation_version(lsn, kind, relid, descr)
    values (pgtrickle_catalog.insert_lsn(), 'storage', rel, pgtrickle_catalog.describe(rel));
    perform set_config('pgtrickle_catalog.seen_' || rel::text, fn::text, true);
  else
    perform set_config('pgtrickle_catalog.seen_' || rel::text, fn::text,
                       coalesce(latest.xid = txid_current_if_assigned(), false));
  end if;
end $$;

-- The fast path (relfilenode as remembered) costs one pg_relation_filenode() and one setting
-- lookup per statement; no search_path is pinned here (every name is schema-qualified and
-- pg_catalog comes first) because a per-call setting costs more than the rest.
create or replace function pgtrickle_catalog.on_dml() returns trigger
language plpgsql security definer as $$
declare
  rel oid;
  fn oid := pg_catalog.pg_relation_filenode(tg_relid);
begin
  if fn is not null then   -- a table or a leaf
    if pg_catalog.current_setting('pgtrickle_catalog.seen_' || tg_relid::text, true)
       is distinct from fn::text then
      perform pgtrickle_catalog.note_storage(tg_relid, fn);
    end if;
    return null;
  end if;
  -- A partitioned target: statements through it fire no trigger of its leaves.
  for rel, fn in select t.relid, pg_catalog.pg_relation_filenode(t.relid)
                 from pg_catalog.pg_partition_tree(tg_relid) t where t.isleaf loop
    if pg_catalog.current_setting('pgtrickle_catalog.seen_' || rel::text, true)
       is distinct from fn::text then
      perform pgtrickle_catalog.note_storage(rel, fn);
    end if;
  end loop;
  return null;
end $$;

create or replace function pgtrickle_catalog.ensure_triggers(rel oid) returns void
language plpgsql as $$
begin
  if not exists (select 1 from pg_trigger where tgrelid = rel and tgname = 'pgtrickle_catalog_truncate')
     and (select relkind from pg_class where oid = rel) = 'r' then
    execute format('create trigger pgtrickle_catalog_truncate after truncate on %s'
                   ' for each statement execute function pgtrickle_catalog.on_truncate()',
                   rel::regclass);
    execute format('alter table %s enable always trigger pgtrickle_catalog_truncate', rel::regclass);
  end if;
  if not exists (select 1 from pg_trigger where tgrelid = rel and tgname = 'pgtrickle_catalog_dml') then
    execute format('create trigger pgtrickle_catalog_dml before insert or update or delete on %s'
                   ' for each statement execute function pgtrickle_catalog.on_dml()',
                   rel::regclass);
    execute format('alter table %s enable always trigger pgtrickle_catalog_dml', rel::regclass);
  end if;
end $$;

-- Tables that get the triggers: the history's tables and the partitioned tables above them.
create or replace function pgtrickle_catalog.trigger_tables() returns setof oid
language sql stable as $$
  select * from pgtrickle_catalog.user_tables()
  union all
  select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'p' and n.nspname not in ('pg_catalog', 'information_schema', 'pgtrickle_catalog')
$$;

create or replace function pgtrickle_catalog.on_table_rewrite() returns event_trigger
language plpgsql as $$
begin
  perform set_config('pgtrickle_catalog.rewritten',
                     coalesce(current_setting('pgtrickle_catalog.rewritten', true), '') || ',' ||
                     pg_event_trigger_table_rewrite_oid()::text || ',', true);
end $$;

-- Records every user table whose descriptor changed (cheap enough for DDL: one describe() per
-- table). Nested DDL (the CREATE TRIGGER below) re-enters; the guard setting stops that.
create or replace function pgtrickle_catalog.on_ddl_end() returns event_trigger
language plpgsql security definer set search_path = pg_catalog, pgtrickle_catalog as $$
declare
  rel oid;
  d jsonb;
  rw text := coalesce(current_setting('pgtrickle_catalog.rewritten', true), '');
begin
  if coalesce(current_setting('pgtrickle_catalog.busy', true), '') = 'on' then return; end if;
  perform set_config('pgtrickle_catalog.busy', 'on', true);
  for rel in select * from pgtrickle_catalog.user_tables() loop
    d := pgtrickle_catalog.describe(rel);
    if d is distinct from (select v.descr from pgtrickle_catalog.relation_version v
                           where v.relid = rel order by v.id desc limit 1) then
      insert into pgtrickle_catalog.relation_version(lsn, kind, relid, rewritten, descr)
      values (pgtrickle_catalog.insert_lsn(), 'ddl', rel, position(',' || rel::text || ',' in rw) > 0, d);
    end if;
  end loop;
  for rel in select * from pgtrickle_catalog.trigger_tables() loop
    perform pgtrickle_catalog.ensure_triggers(rel);
  end loop;
  perform set_config('pgtrickle_catalog.rewritten', '', true);
  perform set_config('pgtrickle_catalog.busy', '', true);
end $$;

-- ENABLE ALWAYS: also with session_replication_role = replica (logical replication apply,
-- pg_restore --disable-triggers...), which otherwise silences triggers.
drop event trigger if exists pgtrickle_catalog_ddl_end;
create event trigger pgtrickle_catalog_ddl_end on ddl_command_end
  execute function pgtrickle_catalog.on_ddl_end();
alter event trigger pgtrickle_catalog_ddl_end enable always;
drop event trigger if exists pgtrickle_catalog_rewrite;
create event trigger pgtrickle_catalog_rewrite on table_rewrite
  execute function pgtrickle_catalog.on_table_rewrite();
alter event trigger pgtrickle_catalog_rewrite enable always;

-- Baseline: every user table as it is now, then the install marker (its LSN is after them).
do $$
declare rel oid;
begin
  perform set_config('pgtrickle_catalog.busy', 'on', true);
  for rel in select * from pgtrickle_catalog.trigger_tables() loop
    perform pgtrickle_catalog.ensure_triggers(rel);
  end loop;
  for rel in select * from pgtrickle_catalog.user_tables() loop
    insert into pgtrickle_catalog.relation_version(lsn, kind, relid, descr)
    values (pgtrickle_catalog.insert_lsn(), 'baseline', rel, pgtrickle_catalog.describe(rel));
  end loop;
  insert into pgtrickle_catalog.relation_version(lsn, kind, relid, descr)
  values (pgtrickle_catalog.insert_lsn(), 'install', 0, '{}');
  perform set_config('pgtrickle_catalog.busy', '', true);
end $$;
