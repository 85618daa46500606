"""No replica reachable: the engine's standby is stopped while the primary keeps writing. The
engine must keep decoding from the archive alone (catalog descriptors are cached), keep merging
into the primary, then return to the stream when the standby is back; every stream table equals
its query throughout."""
import time

from common import Harness, TestFailure, Workload, log
import streams

TABLES = streams.ALL[:2]


def main():
    with Harness.from_argv() as h:
        c = h.cluster
        wl = Workload(c.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(30)
        for name, query in TABLES:
            streams.create(h, name, query)
        h.start_engine(["--archive", c.archive_dir])
        streams.check_all(h, TABLES)

        c.stop_server(c.standby_dir)
        log("standby stopped (immediate): no replica reachable")
        for round_ in range(2):
            Workload(c.primary_dsn, seed=h.seed + 1 + round_).load_ids().run(40)
            lsn = c.primary_lsn()
            c.primary_sql("SELECT pg_switch_wal()")   # complete the segment: it is archived
            for name, _ in TABLES:
                h.wait_for_frontier(name, lsn, timeout=60)
            for name, query in TABLES:
                h.assert_stream_table_matches_query(name, query)
            log(f"round {round_}: merged up to {lsn} from the archive alone")
        with open(h.engine.log_path) as f:
            text = f.read()
        if "reading WAL from the archive" not in text:
            raise TestFailure("the engine never read WAL from the archive")

        c._pg_ctl_start(c.standby_dir, c.standby_log)
        c.wait_streaming()
        Workload(c.primary_dsn, seed=h.seed + 5).load_ids().run(30)
        streams.check_all(h, TABLES)   # the current segment is not archived: only the stream has it
        h.engine.check_alive()
        log("PASS test_archive_only")


if __name__ == "__main__":
    main()
