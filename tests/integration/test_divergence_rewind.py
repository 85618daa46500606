"""Asynchronous divergence: the engine applied and merged WAL that the promoted server never
received. Phase 1: the engine follows the standby S (checkpoints every second). Phase 2: S stops
receiving WAL; the engine now streams from the primary P and merges changes S never sees.
Phase 3: P dies, S is promoted: its timeline forked before what the engine applied. The engine
must detect the divergence, rewind its state to a checkpoint at or before the switch point,
replay S's timeline, never re-snapshot (S is no hot standby: a snapshot could not even be
taken), and every stream table must equal its query on S."""
import re
import time

from common import Harness, TestFailure, Workload, log
import streams

TABLES = streams.ALL


def pin_engine_argv(engine, primaries, standbys, extra):
    def argv(more=None):
        return [engine.binary, "--primary", primaries, "--standby", standbys,
                "--state-dir", engine.state_dir, "--slot", "pgtrickle_engine"] + extra + list(more or [])
    engine.argv = argv


def main():
    with Harness.from_argv() as h:
        c = h.cluster
        p_port, s_port = c.primary_port, c.standby_port
        both = f"host=127.0.0.1,127.0.0.1 port={p_port},{s_port} user=postgres dbname=postgres"
        ckpt = ["--checkpoint-interval-s", "1", "--checkpoint-keep", "100"]
        wl = Workload(c.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        for name, query in TABLES:
            streams.create(h, name, query)
        pin_engine_argv(h.engine, both, c.dsn(s_port), ckpt)
        h.start_engine()
        streams.check_all(h, TABLES)
        Workload(c.primary_dsn, seed=h.seed + 1).load_ids().run(30)
        streams.check_all(h, TABLES)
        time.sleep(2.5)   # a checkpoint of this state
        h.stop_engine()

        # Phase 2: S stops receiving WAL; the engine reads P directly and merges there.
        c.wait_standby_caught_up()
        c._append(c.standby_dir + "/postgresql.conf", "primary_conninfo = ''\n")
        c.standby_sql("SELECT pg_reload_conf()")
        time.sleep(1)
        s_lsn = c.standby_sql("SELECT pg_last_wal_replay_lsn()::text")[0][0]
        pin_engine_argv(h.engine, both, both, ckpt)
        h.start_engine()
        Workload(c.primary_dsn, seed=h.seed + 2).load_ids().run(60)
        frontier = h.wait_all_frontiers()
        log(f"engine merged up to {frontier} on P; S stopped at {s_lsn}")

        # Phase 3: P dies, S is promoted on a timeline that forked before the engine's position.
        c.stop_server(c.primary_dir)
        t0 = time.time()
        run_promote = c.promote_standby(stop_primary=False)
        log(f"S promoted to timeline {run_promote}")
        Workload(c.primary_dsn, seed=h.seed + 3).load_ids().run(40)
        streams.check_all(h, TABLES, timeout=90)
        log(f"stream tables correct on the promoted server {time.time() - t0:.1f}s after the promotion")
        with open(h.engine.log_path) as f:
            text = f.read()
        for needle in ("divergence: ", "rewound state to checkpoint at "):
            if needle not in text:
                raise TestFailure(f"no {needle!r} line in the engine log")
        if re.search(r"re-snapshot of ", text):
            raise TestFailure("the engine re-snapshotted a table instead of rewinding")
        log(re.search(r".*rewound state to checkpoint at .*", text).group(0))
        log("PASS test_divergence_rewind")


if __name__ == "__main__":
    main()
