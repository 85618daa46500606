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

-- ---------------------------------------------------------------------------
-- issue 8 additions (failover): the engine's failover state, written with the
-- heartbeat: {primary, timeline, wal_source, stream_problem, conditions[],
-- reattaches, resnapshots, rewinds, divergences, stale_primary_refusals,
-- last_switch_point, last_reattach_to_first_merge_ms, wal_bytes_stream,
-- wal_bytes_archive}. The engine skips it when the column does not exist.
-- ---------------------------------------------------------------------------
ALTER TABLE pgtrickle.pgt_engine ADD COLUMN failover jsonb;
COMMENT ON COLUMN pgtrickle.pgt_engine.failover IS
    'pg_trickle: engine failover state (WAL source, timeline, conditions, counters), written with the heartbeat';
