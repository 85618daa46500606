"""Failover onto the engine's own standby, then the old primary started again read-write on its
old address (split brain). The engine, given both addresses for --primary, must re-attach to the
promoted server, refuse the old one ("refusing to write to stale primary"), and never write to it
(no heartbeat, no epoch, no status, no merge), also across an engine restart that tries the old
address first. Oracle on the new primary at the end."""
import re
import time

from common import Harness, TestFailure, Workload, log
import streams

TABLES = streams.ALL[:2]


def writes_on(h, port):
    """What the engine would change on a server: the engine row and the stream tables' catalog
    rows and contents (row counts + frontiers)."""
    dsn_port = h.cluster.primary_port
    h.cluster.primary_port = port
    try:
        eng = h.primary_sql("SELECT epoch, heartbeat_at::text, decoded_lsn::text FROM pgtrickle.pgt_engine")
        cat = h.primary_sql("SELECT name, frontier::text, status, last_refresh_at::text, pending_change_rows "
                            "FROM pgtrickle.pgt_stream_tables ORDER BY id")
        rows = [h.primary_sql(f"SELECT count(*), sum(hashtext(t::text)) FROM {n} t")[0] for n, _ in TABLES]
        upd = h.primary_sql("SELECT sum(n_tup_upd + n_tup_ins + n_tup_del) FROM pg_stat_user_tables "
                            "WHERE schemaname = 'pgtrickle' OR relname LIKE 'st\\_%'")[0][0]
        return eng, cat, rows, upd
    finally:
        h.cluster.primary_port = dsn_port


def pin_engine_argv(engine, primaries, standby):
    """The engine's conninfos stay what a Deployment would get (both addresses), whatever the
    harness's idea of the current primary/standby is after the promotion."""
    def argv(extra=None):
        return [engine.binary, "--primary", primaries, "--standby", standby,
                "--state-dir", engine.state_dir, "--slot", "pgtrickle_engine"] + list(extra or [])
    engine.argv = argv


def main():
    with Harness.from_argv() as h:
        c = h.cluster
        old_port, new_port = c.primary_port, c.standby_port
        primaries = f"host=127.0.0.1,127.0.0.1 port={old_port},{new_port} user=postgres dbname=postgres"
        pin_engine_argv(h.engine, primaries, c.dsn(new_port))
        args = []
        wl = Workload(c.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        for name, query in TABLES:
            streams.create(h, name, query)
        h.start_engine(args)
        streams.check_all(h, TABLES)

        # Unplanned failover onto the engine's own standby.
        c.wait_standby_caught_up()
        t0 = time.time()
        tli = c.promote_standby(stop_primary=True)
        log(f"standby promoted to timeline {tli} in {time.time() - t0:.1f}s; old primary down")
        Workload(c.primary_dsn, seed=h.seed + 1).load_ids().run(40)
        streams.check_all(h, TABLES)

        # The old primary comes back read-write on its old address, on timeline 1.
        c._pg_ctl_start(c.primary_dir, c.primary_log)
        before = writes_on(h, old_port)
        log(f"old primary back on port {old_port}: engine row {before[0]}")
        # Restart the engine: it tries the old address first and must refuse it.
        h.stop_engine()
        h.start_engine(args)
        Workload(c.primary_dsn, seed=h.seed + 2).load_ids().run(60)
        streams.check_all(h, TABLES)
        h.kill_engine()          # and after a crash too
        h.start_engine(args)
        Workload(c.primary_dsn, seed=h.seed + 3).load_ids().run(30)
        streams.check_all(h, TABLES)
        time.sleep(2)            # a few heartbeats' worth
        after = writes_on(h, old_port)
        if before != after:
            raise TestFailure(f"the engine wrote to the stale primary on port {old_port}:\n"
                              f"before {before}\nafter  {after}")
        with open(h.engine.log_path) as f:
            text = f.read()
        refusals = re.findall(r"refusing to write to stale primary 127\.0\.0\.1:%d: .*" % old_port, text)
        if not refusals:
            raise TestFailure("no 'refusing to write to stale primary' line in the engine log")
        log(f"refusal logged: {refusals[0]}")
        fo = h.primary_sql("SELECT failover FROM pgtrickle.pgt_engine")[0][0]
        log(f"pgt_engine.failover on the new primary: {fo}")
        if not fo or fo.get("stale_primary_refusals", 0) < 1 or fo.get("timeline") != tli:
            raise TestFailure(f"the failover state on the new primary does not show the refusal: {fo}")
        if "re-attached: " not in text:
            raise TestFailure("no 're-attached: ' line in the engine log after the promotion")
        log("PASS test_stale_primary")


if __name__ == "__main__":
    main()
