"""pg_dump / pg_restore of a database with stream tables (issue 12), with the real tools.

The catalog is dumped (pg_extension_config_dump: pgt_stream_tables, its id sequence, pgt_sources)
together with the sources and the storage tables. The dump is taken while the engine is stopped
and the sources moved on, so the dumped storage tables are stale. pg_restore into a new database
fires the catalog's restore trigger: each row is re-planned against the restored tables (new
OIDs, the creator's search_path although pg_restore runs with an empty one) and starts over
(frontier NULL). An engine attached to the restored database bootstraps the tables, its first
merge replaces the stale restored rows, and the oracle holds, also after more DML.
"""
import os
import subprocess
import time

from common import Harness, TestFailure, Workload, log   # (puts tests/harness on sys.path)
from cluster import PG_BIN, Cluster  # noqa: E402
import streams

TABLES = [streams.FILTER_PROJECT, streams.GROUP_BY]


def oracle(h, db, name, query):
    cols = [r[0] for r in h.cluster.primary_sql(
        "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attname <> '__pgt_row_id' ORDER BY attnum", (name,), dbname=db)]
    collist = ", ".join(cols)
    n = h.cluster.primary_sql(f"SELECT count(*) FROM ((SELECT {collist} FROM {name} EXCEPT ALL ({query})) "
                              f"UNION ALL (({query}) EXCEPT ALL SELECT {collist} FROM {name})) d", dbname=db)[0][0]
    if n:
        raise TestFailure(f"{db}: {name} differs from its query in {n} row(s)")
    log(f"{db}: {name} matches its query")


def wait_frontiers(h, db, engine, timeout=120):
    lsn = h.cluster.primary_lsn()
    deadline = time.time() + timeout
    while True:
        rows = h.cluster.primary_sql("SELECT name, frontier >= %s::pg_lsn, status, last_error "
                                     "FROM pgtrickle.pgt_stream_tables", (lsn,), dbname=db)
        if rows and all(r[1] for r in rows):
            return
        for r in rows:
            if r[2] == "ERROR":
                raise TestFailure(f"{db}: {r[0]} is in ERROR: {r[3]}")
        engine.check_alive()
        if time.time() > deadline:
            raise TestFailure(f"{db}: frontiers did not reach {lsn}: {rows}")
        time.sleep(0.2)


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise TestFailure(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr}")
    return p


def main():
    with Harness.from_argv() as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        for t in TABLES:
            streams.create(h, *t)
        h.start_engine()
        streams.check_all(h, TABLES)
        h.stop_engine()
        wl.run(40)                      # the dumped storage tables are now stale

        dump = os.path.join(h.cluster.data_root, "db.dump")
        run([os.path.join(PG_BIN, "pg_dump"), "-Fc", "-f", dump, "-d", h.cluster.primary_dsn])
        h.primary_sql("CREATE DATABASE restored")
        restored_dsn = Cluster.dsn(h.cluster.primary_port, "restored")
        run([os.path.join(PG_BIN, "pg_restore"), "--exit-on-error", "-d", restored_dsn, dump])
        rows = h.cluster.primary_sql(
            "SELECT st.name, st.relid = to_regclass(st.name), st.frontier, st.status, "
            "(SELECT bool_and(s.source_relid = 'public.src'::regclass) FROM pgtrickle.pgt_sources s "
            " WHERE s.stream_table_id = st.id) FROM pgtrickle.pgt_stream_tables st ORDER BY st.id",
            dbname="restored")
        if len(rows) != len(TABLES) or not all(r[1] and r[2] is None and r[3] == "INITIALIZING" and r[4]
                                               for r in rows):
            raise TestFailure(f"restored catalog rows were not re-planned: {rows}")
        stale = h.cluster.primary_sql(f"SELECT count(*) FROM {streams.FILTER_PROJECT[0]}", dbname="restored")[0][0]
        log(f"restored: {rows}; {stale} stale rows in {streams.FILTER_PROJECT[0]}")

        e2 = h.new_engine("engine-restored", extra_args=[
            "--primary", restored_dsn, "--standby", Cluster.dsn(h.cluster.standby_port, "restored"),
            "--slot", "engine_restored"])
        e2.start()
        wait_frontiers(h, "restored", e2)
        for name, query in TABLES:
            oracle(h, "restored", name, query)
        Workload(restored_dsn, seed=h.seed + 7).load_ids().run(40)
        wait_frontiers(h, "restored", e2)
        for name, query in TABLES:
            oracle(h, "restored", name, query)
        # the original database is unaffected and carries on with its own engine
        h.start_engine()
        streams.check_all(h, TABLES)
        log("PASS test_dump_restore")


if __name__ == "__main__":
    main()
