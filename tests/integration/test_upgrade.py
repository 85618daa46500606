"""Upgrade 0.1.0 -> 0.2.0 with stream tables live and the engine running (issue 12), and the
engine/extension version check.

- CREATE EXTENSION pg_trickle VERSION '0.1.0' (the released script), two stream tables, the engine
  (which runs 0.1.0 catalogs with the 0.2.0 features off) merges them under load;
- ALTER EXTENSION pg_trickle UPDATE while a workload runs; the engine notices the new version and
  the 0.2.0 features work at once (refresh_stream_table waits for a merge, engine_status()
  reports the engine's version); the oracle holds throughout;
- the upgraded catalog equals a fresh 0.2.0 install (columns, defaults, constraints, functions,
  privileges, triggers, event triggers, pg_dump configuration);
- a mismatched pair: an extension version this engine does not support makes the engine refuse
  to start (exit 1) with a message naming both versions.
"""
import threading
import time

from common import Harness, TestFailure, Workload, log
import streams

SNAPSHOT = """
SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' ||
       a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || a.attidentity::text
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'pgtrickle'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'fn ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) || ' ' || p.provolatile::text || ' ' ||
       p.proisstrict || ' ' || pg_get_function_result(p.oid) || ' ' ||
       coalesce(pg_get_function_arguments(p.oid), '') || ' ' || coalesce(array_to_string(p.proacl, ','), '')
  FROM pg_proc p WHERE p.pronamespace = 'pgtrickle'::regnamespace
UNION ALL
SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'pgtrickle'::regnamespace
UNION ALL
SELECT 'idx ' || indexrelid::regclass || ' ' || pg_get_indexdef(indexrelid)
  FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'pgtrickle'::regnamespace)
UNION ALL
SELECT 'trg ' || pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'pgtrickle'::regnamespace) AND NOT tgisinternal
UNION ALL
SELECT 'evt ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc || ' ' || coalesce(array_to_string(evttags, ','), '')
  FROM pg_event_trigger
UNION ALL
SELECT 'cfg ' || x::regclass::text FROM pg_extension, unnest(extconfig) x WHERE extname = 'pg_trickle'
UNION ALL
SELECT 'acl ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(array_to_string(c.relacl, ','), '')
  FROM pg_class c WHERE c.relnamespace = 'pgtrickle'::regnamespace
UNION ALL
SELECT 'ver ' || extversion FROM pg_extension WHERE extname = 'pg_trickle'
ORDER BY 1"""


def catalog_snapshot(h, db):
    return [r[0] for r in h.cluster.primary_sql(SNAPSHOT, dbname=db)]


def main():
    with Harness.from_argv(create_extension=False) as h:
        h.primary_sql("CREATE EXTENSION pg_trickle VERSION '0.1.0'")
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        streams.create(h, *streams.FILTER_PROJECT)
        streams.create(h, *streams.GROUP_BY)
        h.start_engine()
        streams.check_all(h, [streams.FILTER_PROJECT, streams.GROUP_BY])

        load = Workload(h.cluster.primary_dsn, seed=h.seed + 1).load_ids()
        stop = threading.Event()
        errors = []

        def run_load():
            try:
                while not stop.is_set():
                    load.run(5)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        t = threading.Thread(target=run_load)
        t.start()
        time.sleep(1)
        h.primary_sql("ALTER EXTENSION pg_trickle UPDATE")
        time.sleep(1)
        stop.set()
        t.join()
        if errors:
            raise TestFailure(f"workload failed across the update: {errors[0]}")
        version = h.primary_sql("SELECT extversion FROM pg_extension WHERE extname = 'pg_trickle'")[0][0]
        if version != "0.2.0":
            raise TestFailure(f"ALTER EXTENSION UPDATE left version {version}")
        streams.check_all(h, [streams.FILTER_PROJECT, streams.GROUP_BY])

        # 0.2.0 features with the same engine process
        wl.load_ids().run(20)
        h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, schedule => '1 hour')", (streams.GROUP_BY[0],))
        time.sleep(1)
        wl.run(20)
        h.primary_sql("SELECT pgtrickle.refresh_stream_table(%s, timeout => '30 seconds')", (streams.GROUP_BY[0],))
        h.assert_stream_table_matches_query(*streams.GROUP_BY)
        st = h.primary_sql("SELECT engine_version, attached FROM pgtrickle.engine_status()")[0]
        if st != ("0.2.0", True):
            raise TestFailure(f"engine_status() after the update: {st}")
        log("updated with the engine running; 0.2.0 features work")

        h.primary_sql("CREATE DATABASE fresh")
        h.cluster.primary_sql("CREATE EXTENSION pg_trickle", dbname="fresh")
        up, fresh = catalog_snapshot(h, "postgres"), catalog_snapshot(h, "fresh")
        if up != fresh:
            only_up = sorted(set(up) - set(fresh))
            only_fresh = sorted(set(fresh) - set(up))
            raise TestFailure("the upgraded catalog differs from a fresh 0.2.0 install:\n  upgraded only: " +
                              "\n    ".join(only_up) + "\n  fresh only: " + "\n    ".join(only_fresh))
        log(f"upgraded catalog == fresh 0.2.0 catalog ({len(up)} facts)")

        h.stop_engine()
        h.primary_sql("UPDATE pg_extension SET extversion = '0.9.0' WHERE extname = 'pg_trickle'")
        h.start_engine()
        deadline = time.time() + 60
        while h.engine.proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        rc = h.engine.proc.poll()
        h.engine.proc = None
        text = open(h.engine.log_path, errors="replace").read()
        if rc != 1 or "pgtrickle-engine 0.2.0 cannot run against extension pg_trickle 0.9.0" not in text:
            raise TestFailure(f"a mismatched extension was not refused (rc={rc})")
        log("engine 0.2.0 refused extension 0.9.0, naming both")
        h.primary_sql("UPDATE pg_extension SET extversion = '0.2.0' WHERE extname = 'pg_trickle'")
        h.start_engine()
        wl.run(20)
        h.primary_sql("SELECT pgtrickle.refresh_stream_table(%s, timeout => '60 seconds')", (streams.GROUP_BY[0],))
        h.assert_stream_table_matches_query(*streams.GROUP_BY)
        h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, schedule => '200 milliseconds')", (streams.GROUP_BY[0],))
        streams.check_all(h, [streams.FILTER_PROJECT, streams.GROUP_BY])
        log("PASS test_upgrade")


if __name__ == "__main__":
    main()
