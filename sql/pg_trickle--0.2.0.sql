-- pg_trickle 0.1.0 — catalog and SQL API (docs/catalog.md, docs/plan-format.md).
--
-- The extension owns the catalog and the compiler front end; it does no refresh
-- work. The engine (pgtrickle-engine) reads this catalog from a hot standby and
-- writes merges, frontiers, stats and its heartbeat to the primary.
--
-- The control file sets schema = pgtrickle: CREATE EXTENSION creates the schema.

\echo Use "CREATE EXTENSION pg_trickle" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Catalog
-- ---------------------------------------------------------------------------

CREATE TABLE pgtrickle.pgt_stream_tables (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                    text NOT NULL UNIQUE,
    relid                   oid NOT NULL UNIQUE,
    query                   text NOT NULL,
    plan                    jsonb NOT NULL,
    schedule                interval NOT NULL CHECK (schedule > interval '0'),
    sla_tier                text NOT NULL DEFAULT 'standard'
                            CHECK (sla_tier IN ('critical', 'standard', 'batch')),
    status                  text NOT NULL DEFAULT 'INITIALIZING'
                            CHECK (status IN ('INITIALIZING', 'ACTIVE', 'ERROR')),
    frontier                pg_lsn,
    engine_epoch            bigint,
    last_refresh_at         timestamptz,
    rows_changed_last_cycle bigint NOT NULL DEFAULT 0,
    avg_refresh_ms          float8,
    refresh_count           bigint NOT NULL DEFAULT 0,
    pending_change_rows     bigint NOT NULL DEFAULT 0,
    last_error              text,
    created_at              timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE pgtrickle.pgt_stream_tables IS
    'pg_trickle: one row per stream table (docs/catalog.md)';

CREATE TABLE pgtrickle.pgt_sources (
    stream_table_id bigint NOT NULL
                    REFERENCES pgtrickle.pgt_stream_tables (id) ON DELETE CASCADE,
    source_relid    oid NOT NULL,
    source_name     text NOT NULL,
    PRIMARY KEY (stream_table_id, source_relid)
);

CREATE INDEX pgt_sources_source_relid_idx ON pgtrickle.pgt_sources (source_relid);

COMMENT ON TABLE pgtrickle.pgt_sources IS
    'pg_trickle: one row per (stream table, source table)';

CREATE TABLE pgtrickle.pgt_engine (
    id             int PRIMARY KEY CHECK (id = 1),
    epoch          bigint NOT NULL DEFAULT 0,
    decoded_lsn    pg_lsn,
    heartbeat_at   timestamptz,
    -- [{"source_table": text, "pending_rows": int, "oldest_change_at": timestamptz text|null}, ...]
    source_pending jsonb
);

COMMENT ON TABLE pgtrickle.pgt_engine IS
    'pg_trickle: engine singleton (epoch fencing, heartbeat)';

INSERT INTO pgtrickle.pgt_engine (id, epoch) VALUES (1, 0);

-- pg_dump keeps the definitions of stream tables (the storage tables are
-- ordinary tables, dumped anyway).
SELECT pg_catalog.pg_extension_config_dump('pgtrickle.pgt_stream_tables', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrickle.pgt_sources', '');

-- ---------------------------------------------------------------------------
-- SQL API (C)
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgtrickle.create_stream_table(
    name     text,
    query    text,
    schedule interval DEFAULT NULL,
    sla_tier text DEFAULT 'standard')
RETURNS void
AS 'MODULE_PATHNAME', 'pgt_create_stream_table'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION pgtrickle.create_stream_table(text, text, interval, text) IS
    'Compile a query into a stream table; the engine populates it';

CREATE FUNCTION pgtrickle.drop_stream_table(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgt_drop_stream_table'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION pgtrickle.drop_stream_table(text) IS
    'Drop a stream table: its storage table and catalog rows';

-- Creating or dropping stream tables writes the catalog: callers need the
-- privileges below (superuser, or granted explicitly by an administrator).
REVOKE ALL ON FUNCTION pgtrickle.create_stream_table(text, text, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgtrickle.drop_stream_table(text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Status functions (SQL; also run by CNPG's metrics exporter as pg_monitor)
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgtrickle.stream_table_status()
RETURNS TABLE (
    name                    text,
    sla_tier                text,
    status                  text,
    last_refresh_at         timestamptz,
    rows_changed_last_cycle bigint,
    avg_refresh_ms          float8,
    pending_change_rows     bigint,
    frontier                pg_lsn,
    schedule                interval)
LANGUAGE sql STABLE
AS $$
    SELECT st.name, st.sla_tier, st.status, st.last_refresh_at,
           st.rows_changed_last_cycle, st.avg_refresh_ms, st.pending_change_rows,
           st.frontier, st.schedule
      FROM pgtrickle.pgt_stream_tables st
     ORDER BY st.name
$$;

COMMENT ON FUNCTION pgtrickle.stream_table_status() IS
    'One row per stream table: tier, status, freshness and engine stats';

CREATE FUNCTION pgtrickle.change_buffer_status()
RETURNS TABLE (
    source_table     text,
    pending_rows     bigint,
    oldest_change_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT e.elem ->> 'source_table',
           COALESCE((e.elem ->> 'pending_rows')::bigint, 0),
           (e.elem ->> 'oldest_change_at')::timestamptz
      FROM pgtrickle.pgt_engine g
     CROSS JOIN LATERAL jsonb_array_elements(
               CASE WHEN jsonb_typeof(g.source_pending) = 'array'
                    THEN g.source_pending ELSE '[]'::jsonb END) AS e(elem)
     WHERE g.id = 1
     ORDER BY 1
$$;

COMMENT ON FUNCTION pgtrickle.change_buffer_status() IS
    'Per source table: changes decoded by the engine and not merged yet (engine heartbeat)';

-- ---------------------------------------------------------------------------
-- Privileges: monitoring roles (CNPG's exporter runs as a pg_monitor member)
-- read the catalog through the status functions.
-- ---------------------------------------------------------------------------

GRANT USAGE ON SCHEMA pgtrickle TO PUBLIC;
GRANT SELECT ON pgtrickle.pgt_stream_tables, pgtrickle.pgt_sources, pgtrickle.pgt_engine
    TO pg_monitor;
GRANT EXECUTE ON FUNCTION pgtrickle.stream_table_status() TO PUBLIC;
GRANT EXECUTE ON FUNCTION pgtrickle.change_buffer_status() TO PUBLIC;

-- ===========================================================================
-- 0.2.0 additions: exactly sql/pg_trickle--0.1.0--0.2.0.sql
-- ===========================================================================
-- pg_trickle 0.1.0 -> 0.2.0 (ALTER EXTENSION pg_trickle UPDATE).
--
-- Adds: alter/refresh/explain/engine_status functions, drop_stream_table(name, cascade),
-- catalog columns (generation, paused, refresh_requested_at; per-source used columns;
-- engine timeline/version), DDL event triggers on sources, the restore trigger that
-- re-plans dumped stream tables, backpressure's engine-progress function.
-- sql/pg_trickle--0.2.0.sql is the 0.1.0 script followed by exactly this file (see
-- tests/integration/test_upgrade.py, which compares both catalogs).


-- ---------------------------------------------------------------------------
-- Catalog additions (docs/catalog.md)
-- ---------------------------------------------------------------------------

-- generation: bumped when alter_stream_table(query => ...) re-plans a table; the engine drops
-- its state and bootstraps the table again when it sees a new generation.
-- paused: alter_stream_table(status => 'paused'); the engine merges nothing into the table.
-- refresh_requested_at: refresh_stream_table(name, wait => false) asks for a merge.
ALTER TABLE pgtrickle.pgt_stream_tables
    ADD COLUMN generation           bigint NOT NULL DEFAULT 1,
    ADD COLUMN paused               boolean NOT NULL DEFAULT false,
    ADD COLUMN refresh_requested_at timestamptz,
    ADD COLUMN search_path          text;

-- status RESTORING: a row restored from a dump, waiting to be re-planned (restore.c).
ALTER TABLE pgtrickle.pgt_stream_tables
    DROP CONSTRAINT pgt_stream_tables_status_check,
    ADD CONSTRAINT pgt_stream_tables_status_check
        CHECK (status IN ('INITIALIZING', 'ACTIVE', 'ERROR', 'RESTORING'));

-- search_path: the creator's search_path, with which the query is analyzed again (restore,
-- re-plan after source DDL, upgrade); 0.1.0 did not record it: the default is assumed.
UPDATE pgtrickle.pgt_stream_tables SET search_path = '"$user", public';

-- columns: attnums of the source a stream table reads (referenced columns and the key);
-- DDL that drops or retypes one of them is refused (pg_trickle.source_ddl).
-- Added without a default, then filled: an ADD COLUMN with a default stores a "missing value"
-- in pg_attribute, which WAL decoders must then supply for older rows (pgtrickle-waldump
-- describes every table of the database and does not decode array missing values).
ALTER TABLE pgtrickle.pgt_sources ADD COLUMN columns int2[];
UPDATE pgtrickle.pgt_sources SET columns = '{}';
ALTER TABLE pgtrickle.pgt_sources
    ALTER COLUMN columns SET DEFAULT '{}',
    ALTER COLUMN columns SET NOT NULL;

ALTER TABLE pgtrickle.pgt_engine
    ADD COLUMN timeline       int,
    ADD COLUMN engine_version text,
    ADD COLUMN attached_at    timestamptz,
    -- the engine's failover state, written with the heartbeat: {primary, timeline, wal_source,
    -- stream_problem, conditions[], reattaches, resnapshots, rewinds, divergences,
    -- stale_primary_refusals, last_switch_point, last_reattach_to_first_merge_ms,
    -- wal_bytes_stream, wal_bytes_archive}
    ADD COLUMN failover       jsonb;

COMMENT ON COLUMN pgtrickle.pgt_engine.failover IS
    'pg_trickle: engine failover state (WAL source, timeline, conditions, counters), written with the heartbeat';

-- pg_dump keeps the identity sequence too, so restored ids stay unique.
SELECT pg_catalog.pg_extension_config_dump('pgtrickle.pgt_stream_tables_id_seq', '');

-- ---------------------------------------------------------------------------
-- Internal functions (C)
-- ---------------------------------------------------------------------------

-- Attnums of `source` that `query` reads (plus its key): fills pgt_sources.columns.
CREATE FUNCTION pgtrickle._source_columns(query text, source regclass)
RETURNS int2[]
AS 'MODULE_PATHNAME', 'pgt_source_columns_sql'
LANGUAGE C STRICT STABLE;

SELECT pg_catalog.set_config('search_path', '"$user", public', true);
UPDATE pgtrickle.pgt_sources s
   SET columns = pgtrickle._source_columns(st.query, s.source_relid::regclass)
  FROM pgtrickle.pgt_stream_tables st
 WHERE st.id = s.stream_table_id
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = s.source_relid);

-- Called by the engine with its decoded LSN at each heartbeat: backpressure's lag is
-- pg_current_wal_insert_lsn() minus this (shared memory; a no-op without preloading).
CREATE FUNCTION pgtrickle._report_engine_lsn(decoded_lsn pg_lsn)
RETURNS void
AS 'MODULE_PATHNAME', 'pgt_report_engine_lsn'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION pgtrickle._report_engine_lsn(pg_lsn) FROM PUBLIC;

-- Restore (pg_restore / psql of a pg_dump): a catalog row inserted other than by the API is
-- re-planned against the restored tables (new OIDs) and starts over (frontier NULL), so the
-- engine bootstraps it; the dumped pgt_sources rows are replaced by fresh ones.
CREATE FUNCTION pgtrickle._catalog_insert_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgt_catalog_insert_trigger'
LANGUAGE C;

CREATE TRIGGER pgt_restore_before BEFORE INSERT ON pgtrickle.pgt_stream_tables
    FOR EACH ROW EXECUTE FUNCTION pgtrickle._catalog_insert_trigger();
CREATE TRIGGER pgt_restore_after AFTER INSERT ON pgtrickle.pgt_stream_tables
    FOR EACH ROW EXECUTE FUNCTION pgtrickle._catalog_insert_trigger();
CREATE TRIGGER pgt_restore_sources BEFORE INSERT ON pgtrickle.pgt_sources
    FOR EACH ROW EXECUTE FUNCTION pgtrickle._catalog_insert_trigger();

-- ---------------------------------------------------------------------------
-- DDL on sources (event triggers; pg_trickle.source_ddl)
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgtrickle._on_ddl_command_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pgt_on_ddl_command_start'
LANGUAGE C;

CREATE FUNCTION pgtrickle._on_ddl_command_end()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pgt_on_ddl_command_end'
LANGUAGE C;

CREATE FUNCTION pgtrickle._on_sql_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pgt_on_sql_drop'
LANGUAGE C;

CREATE EVENT TRIGGER pgt_ddl_command_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'ALTER SCHEMA')
    EXECUTE FUNCTION pgtrickle._on_ddl_command_start();
CREATE EVENT TRIGGER pgt_ddl_command_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER SCHEMA')
    EXECUTE FUNCTION pgtrickle._on_ddl_command_end();
CREATE EVENT TRIGGER pgt_sql_drop ON sql_drop
    EXECUTE FUNCTION pgtrickle._on_sql_drop();

-- ---------------------------------------------------------------------------
-- SQL API additions
-- ---------------------------------------------------------------------------

DROP FUNCTION pgtrickle.drop_stream_table(text);

CREATE FUNCTION pgtrickle.drop_stream_table(name text, cascade boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'pgt_drop_stream_table'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION pgtrickle.drop_stream_table(text, boolean) IS
    'Drop a stream table: its storage table (with cascade: and objects depending on it) and catalog rows';

CREATE FUNCTION pgtrickle.alter_stream_table(
    name     text,
    schedule interval DEFAULT NULL,
    sla_tier text DEFAULT NULL,
    status   text DEFAULT NULL,
    query    text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgt_alter_stream_table'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION pgtrickle.alter_stream_table(text, interval, text, text, text) IS
    'Change schedule, SLA tier, status (paused/active) or query of a stream table';

CREATE FUNCTION pgtrickle.refresh_stream_table(
    name    text,
    wait    boolean DEFAULT true,
    timeout interval DEFAULT '60 seconds')
RETURNS void
AS 'MODULE_PATHNAME', 'pgt_refresh_stream_table'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION pgtrickle.refresh_stream_table(text, boolean, interval) IS
    'Ask the engine to merge a stream table now; with wait, return once everything committed before the call is merged';

REVOKE ALL ON FUNCTION pgtrickle.drop_stream_table(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgtrickle.alter_stream_table(text, interval, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgtrickle.refresh_stream_table(text, boolean, interval) FROM PUBLIC;

CREATE FUNCTION pgtrickle.explain_stream_table(name text)
RETURNS TABLE (property text, value text)
LANGUAGE plpgsql STABLE STRICT
AS $$
DECLARE
    st pgtrickle.pgt_stream_tables;
BEGIN
    SELECT * INTO st FROM pgtrickle.pgt_stream_tables s
     WHERE s.relid = to_regclass(explain_stream_table.name) OR s.name = explain_stream_table.name
     LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stream table "%" does not exist', explain_stream_table.name
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN QUERY VALUES
        ('name', st.name),
        ('query', st.query),
        ('generation', st.generation::text),
        ('status', CASE WHEN st.paused AND st.status <> 'ERROR' THEN 'PAUSED' ELSE st.status END),
        ('schedule', st.schedule::text),
        ('sla_tier', st.sla_tier),
        ('frontier', st.frontier::text),
        ('plan_version', st.plan ->> 'version'),
        ('sources', (SELECT string_agg(s.source_name || ' (columns ' || array_to_string(s.columns, ',') || ')',
                                       ', ' ORDER BY s.source_name)
                       FROM pgtrickle.pgt_sources s WHERE s.stream_table_id = st.id)),
        -- The operator tree in pre-order (plan v2 nodes have input, left/right or inputs[]).
        ('operators', (WITH RECURSIVE ops(op, depth, path) AS (
                           SELECT st.plan -> 'root', 0, ARRAY[]::int[]
                           UNION ALL
                           SELECT c.child, o.depth + 1, o.path || c.ord
                           FROM ops o CROSS JOIN LATERAL (
                               SELECT o.op -> 'input' AS child, 1 AS ord WHERE o.op ? 'input'
                               UNION ALL SELECT o.op -> 'left', 1 WHERE o.op ? 'left'
                               UNION ALL SELECT o.op -> 'right', 2 WHERE o.op ? 'right'
                               UNION ALL SELECT e.value, e.ordinality::int
                                 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(o.op -> 'inputs') = 'array'
                                                                THEN o.op -> 'inputs' ELSE '[]' END)
                                      WITH ORDINALITY e) c)
                       SELECT string_agg(repeat('  ', depth) || (op ->> 'op'), E'\n' ORDER BY path) FROM ops)),
        ('plan', jsonb_pretty(st.plan));
END
$$;

COMMENT ON FUNCTION pgtrickle.explain_stream_table(text) IS
    'The plan the engine runs for a stream table, with its generation, sources and state';

CREATE FUNCTION pgtrickle.engine_status()
RETURNS TABLE (
    epoch          bigint,
    attached       boolean,
    engine_version text,
    timeline       int,
    decoded_lsn    pg_lsn,
    lag_bytes      numeric,
    heartbeat_at   timestamptz,
    attached_at    timestamptz,
    failover       jsonb)
LANGUAGE sql STABLE
AS $$
    SELECT e.epoch,
           e.heartbeat_at IS NOT NULL AND e.heartbeat_at > now() - interval '30 seconds',
           e.engine_version, e.timeline, e.decoded_lsn,
           CASE WHEN e.decoded_lsn IS NULL OR pg_catalog.pg_is_in_recovery() THEN NULL
                ELSE GREATEST(pg_catalog.pg_current_wal_lsn() - e.decoded_lsn, 0) END,
           e.heartbeat_at, e.attached_at, e.failover
      FROM pgtrickle.pgt_engine e
     WHERE e.id = 1
$$;

COMMENT ON FUNCTION pgtrickle.engine_status() IS
    'The attached engine: epoch, version, timeline, decoded LSN, lag behind the primary, heartbeat, failover state';

GRANT EXECUTE ON FUNCTION pgtrickle.engine_status() TO PUBLIC;

-- stream_table_status(): a paused table reports status PAUSED.
CREATE OR REPLACE FUNCTION pgtrickle.stream_table_status()
RETURNS TABLE (
    name                    text,
    sla_tier                text,
    status                  text,
    last_refresh_at         timestamptz,
    rows_changed_last_cycle bigint,
    avg_refresh_ms          float8,
    pending_change_rows     bigint,
    frontier                pg_lsn,
    schedule                interval)
LANGUAGE sql STABLE
AS $$
    SELECT st.name, st.sla_tier,
           CASE WHEN st.paused AND st.status <> 'ERROR' THEN 'PAUSED' ELSE st.status END,
           st.last_refresh_at,
           st.rows_changed_last_cycle, st.avg_refresh_ms, st.pending_change_rows,
           st.frontier, st.schedule
      FROM pgtrickle.pgt_stream_tables st
     ORDER BY st.name
$$;
