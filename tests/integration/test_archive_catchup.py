"""Slot lost: the engine is stopped, its slot on the standby dropped and the WAL it needs
recycled there. Restarted with --archive it must catch up from the archive (no re-snapshot),
switch back to the stream, and keep every stream table equal to its query."""
import os
import re
import time

from common import Harness, TestFailure, Workload, log
import streams

TABLES = streams.ALL[:2]
CONF = {"wal_keep_size": "0", "max_wal_size": "'32MB'", "min_wal_size": "'32MB'",
        "checkpoint_timeout": "'30s'"}


def main():
    with Harness.from_argv(cluster_kwargs={"extra_conf": CONF}) as h:
        c = h.cluster
        archive = ["--archive", c.archive_dir]
        wl = Workload(c.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(30)
        for name, query in TABLES:
            streams.create(h, name, query)
        h.start_engine(archive)
        streams.check_all(h, TABLES)
        h.stop_engine()
        frontier = h.primary_sql("SELECT min(frontier)::text FROM pgtrickle.pgt_stream_tables")[0][0]
        needed = h.primary_sql("SELECT pg_walfile_name(%s::pg_lsn)", (frontier,))[0][0]
        c.standby_sql("SELECT pg_drop_replication_slot('pgtrickle_engine')")
        # Changes the engine must see, then enough WAL to recycle the segment it needs.
        Workload(c.primary_dsn, seed=h.seed + 1).load_ids().run(60)
        c.primary_sql("CREATE TABLE filler (x text)")
        for _ in range(6):
            c.primary_sql("INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 12000)")
            c.primary_sql("TRUNCATE filler")
            c.primary_sql("SELECT pg_switch_wal()")
        c.primary_sql("CHECKPOINT")
        c.wait_standby_caught_up()
        c.standby_sql("CHECKPOINT")
        present = os.path.exists(os.path.join(c.standby_dir, "pg_wal", needed))
        log(f"engine frontier {frontier} in segment {needed}; still in the standby's pg_wal: {present}")
        if present:
            raise TestFailure(f"segment {needed} was not recycled on the standby: the test proves nothing")
        deadline = time.time() + 60
        while not os.path.exists(os.path.join(c.archive_dir, needed)):
            if time.time() > deadline:
                raise TestFailure(f"segment {needed} never reached the archive")
            time.sleep(0.2)
        Workload(c.primary_dsn, seed=h.seed + 2).load_ids().run(20)
        mark = os.path.getsize(h.engine.log_path)
        h.start_engine(archive)
        streams.check_all(h, TABLES, timeout=180)
        with open(h.engine.log_path) as f:
            f.seek(mark)
            text = f.read()
        if "reading WAL from the archive" not in text:
            raise TestFailure("the engine did not read WAL from the archive")
        if "reading WAL from the stream" not in text:
            raise TestFailure("the engine did not switch back to the stream after the archive")
        if re.search(r"re-snapshot of |bootstrap of ", text):
            raise TestFailure("the engine snapshotted a stream table again instead of catching up")
        Workload(c.primary_dsn, seed=h.seed + 3).load_ids().run(20)
        streams.check_all(h, TABLES)
        log("PASS test_archive_catchup")


if __name__ == "__main__":
    main()
