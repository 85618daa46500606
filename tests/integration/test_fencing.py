"""Fencing (DESIGN §5 "Lease and fencing"): once a newer engine epoch is registered, a merge by
the older engine is rejected by the epoch check inside the merge transaction and that engine
stops (exit 1) without writing; a restarted engine (new epoch) carries on exactly."""
import time

from common import Harness, TestFailure, Workload, log
import streams


def main():
    with Harness.from_argv() as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(30)
        streams.create(h, *streams.GROUP_BY)
        h.start_engine()
        streams.check_all(h, [streams.GROUP_BY])
        # As a newer engine would. A merge in flight holds the engine row FOR SHARE, so the bump
        # waits for it: the frontier read after the bump is the last one the old epoch may write.
        h.primary_sql("UPDATE pgtrickle.pgt_engine SET epoch = epoch + 1")
        before = h.primary_sql("SELECT frontier::text FROM pgtrickle.pgt_stream_tables")[0][0]
        Workload(h.cluster.primary_dsn, seed=h.seed + 1).load_ids().run(20)
        deadline = time.time() + 20
        while h.engine.proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        rc = h.engine.proc.poll()
        if rc != 1:
            raise TestFailure(f"fenced engine did not stop with exit 1 (rc={rc})")
        h.engine.proc = None
        text = open(h.engine.log_path).read()
        if "fenced" not in text:
            raise TestFailure("the fenced engine did not say why it stopped")
        after = h.primary_sql("SELECT frontier::text FROM pgtrickle.pgt_stream_tables")[0][0]
        if after != before:
            raise TestFailure(f"a fenced engine moved the frontier: {before} -> {after}")
        log(f"fenced engine stopped (rc=1), frontier stayed at {after}")
        h.start_engine()
        streams.check_all(h, [streams.GROUP_BY])
        log("PASS test_fencing")


if __name__ == "__main__":
    main()
