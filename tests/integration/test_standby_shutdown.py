"""A fast shutdown of the standby the engine streams from must not wait for the engine
(wal_sender_timeout = 20 s here): the engine reports the received WAL as flushed and keeps its
slot inactive (advanced by SQL). Then the standby comes back and the stream tables still equal
their queries."""
import os
import time

from common import Harness, TestFailure, Workload, log
from cluster import PG_BIN, run_as_server_user
import streams

TABLES = streams.ALL[:1]


def main():
    with Harness.from_argv(cluster_kwargs={"extra_conf": {"wal_sender_timeout": "'20s'"}}) as h:
        c = h.cluster
        wl = Workload(c.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(30)
        for name, query in TABLES:
            streams.create(h, name, query)
        h.start_engine()
        streams.check_all(h, TABLES)
        time.sleep(2)   # idle: the engine's stream is caught up
        slot = c.standby_sql("SELECT active, restart_lsn IS NOT NULL FROM pg_replication_slots "
                             "WHERE slot_name = 'pgtrickle_engine'")
        log(f"engine slot on the standby (active, reserved): {slot}")
        if not slot or slot[0][0]:
            raise TestFailure(f"the engine's slot should exist and be inactive: {slot}")
        senders = c.standby_sql("SELECT count(*) FROM pg_stat_replication")[0][0]
        if senders < 1:
            raise TestFailure("the engine is not streaming from the standby")
        t0 = time.time()
        p = run_as_server_user([os.path.join(PG_BIN, "pg_ctl"), "-D", c.standby_dir, "-m", "fast",
                                "-w", "-t", "25", "stop"], check=False, timeout=60)
        took = time.time() - t0
        log(f"fast shutdown of the standby took {took:.2f}s (wal_sender_timeout 20s)")
        if p.returncode != 0 or took > 8:
            raise TestFailure(f"fast shutdown of the standby took {took:.1f}s (pg_ctl exit {p.returncode}): "
                              f"it waited for the engine")
        c._pg_ctl_start(c.standby_dir, c.standby_log)
        c.wait_streaming()
        Workload(c.primary_dsn, seed=h.seed + 1).load_ids().run(30)
        streams.check_all(h, TABLES)
        h.engine.check_alive()
        log("PASS test_standby_shutdown")


if __name__ == "__main__":
    main()
