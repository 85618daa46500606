#!/usr/bin/python3
"""Self-test of the cluster harness: primary + standby start, replication works, the slot is on
the standby, IDENTIFY_SYSTEM works over a replication connection to the standby, promotion works
(in a second cluster), and stop leaves no process, no port and no data behind.
Plain asserts; exits non-zero on failure."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, PG_BIN, _alive, _port_free as port_free  # noqa: E402


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    print(f"ok - {msg}", flush=True)


def test_basic():
    with Cluster() as c:
        pids = c._pids()
        check(len(pids) == 2 and all(_alive(p) for p in pids), "two postmasters running")
        root = c.data_root
        ports = [c.primary_port, c.standby_port]
        check(os.path.exists(os.path.join(root, "env")), "env file written")
        env = open(os.path.join(root, "env")).read()
        for k in ("PGT_PRIMARY_PORT", "PGT_STANDBY_PORT", "PGT_PRIMARY_DSN", "PGT_STANDBY_DSN",
                  "PGT_SLOT", "PGT_ARCHIVE_DIR", "PGT_DATA_DIR"):
            check(f"{k}=" in env, f"env has {k}")
        check(c.primary_sql("SHOW wal_level")[0][0] == "logical", "wal_level=logical")
        check(c.standby_sql("SELECT pg_is_in_recovery()")[0][0] is True, "standby in recovery")
        c.primary_sql("CREATE TABLE t(id int primary key, v text)")
        c.primary_sql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g")
        c.wait_standby_caught_up(timeout=30)
        check(c.standby_sql("SELECT count(*), sum(id) FROM t")[0] == (1000, 500500),
              "rows written on the primary are visible on the standby")
        slots = c.standby_sql("SELECT slot_name, slot_type, restart_lsn IS NOT NULL "
                              "FROM pg_replication_slots")
        check(slots == [("pgtrickle_engine", "physical", True)],
              f"physical slot with reserved WAL exists on the standby: {slots}")
        check(c.primary_sql("SELECT count(*) FROM pg_replication_slots")[0][0] == 0,
              "no slot on the primary")
        out = subprocess.run(
            [os.path.join(PG_BIN, "psql"), c.standby_dsn + " replication=true", "-XAtc",
             "IDENTIFY_SYSTEM"], text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin"}, timeout=30)
        check(out.returncode == 0, f"IDENTIFY_SYSTEM on the standby: {out.stdout.strip()}")
        sysid, tli, xlogpos, _db = out.stdout.strip().split("|")
        check(sysid == str(c.primary_sql("SELECT system_identifier FROM pg_control_system()")[0][0]),
              "standby reports the primary's system identifier")
        check(tli == "1", "timeline 1")
        c.primary_sql("SELECT pg_switch_wal()")
        c.primary_sql("INSERT INTO t VALUES (0, 'x')")
        deadline = time.time() + 30
        while not os.listdir(c.archive_dir) and time.time() < deadline:
            time.sleep(0.1)
        check(len(os.listdir(c.archive_dir)) > 0, "archive_command copies WAL to the archive dir")
    check(not any(_alive(p) for p in pids), "postmasters gone after stop")
    check(all(port_free(p) for p in ports), "ports freed after stop")
    check(not os.path.exists(root), "temporary data root removed")


def test_promote_and_exception_cleanup():
    pids = []
    root = None
    try:
        with Cluster(slot=None) as c:
            root = c.data_root
            pids = c._pids()
            c.primary_sql("CREATE TABLE p(id int)")
            c.primary_sql("INSERT INTO p VALUES (1)")
            c.wait_standby_caught_up()
            tli = c.promote_standby()
            check(tli == 2, f"promoted standby is on timeline 2 (got {tli})")
            c.primary_sql("INSERT INTO p VALUES (2)")
            check(c.primary_sql("SELECT count(*) FROM p")[0][0] == 2,
                  "promoted server accepts writes")
            raise RuntimeError("boom")
    except RuntimeError as e:
        check(str(e) == "boom", "exception propagates through the context manager")
    check(pids and not any(_alive(p) for p in pids), "servers stopped after an exception")
    check(root and not os.path.exists(root), "data root removed after an exception")


def test_primary_only():
    with Cluster(with_standby=False) as c:
        check(c.standby_port is None and len(c._pids()) == 1, "primary-only cluster")
        check(c.primary_sql("SELECT 1")[0][0] == 1, "primary answers")


def test_sigterm_cleanup():
    """A child Python process holding a cluster is SIGTERMed: it must stop its servers."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = ("import sys, time; sys.path.insert(0, %r)\n"
            "from cluster import Cluster\n"
            "c = Cluster(with_standby=False).start()\n"
            "print(c.data_root, c._pids()[0], flush=True)\n"
            "time.sleep(600)\n") % here
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    root, pid = line[0], int(line[1])
    check(_alive(pid), "child's server running")
    p.terminate()
    rc = p.wait(timeout=60)
    check(rc == 128 + 15, f"child exited with 143 after SIGTERM (got {rc})")
    check(not _alive(pid), "child's server stopped on SIGTERM")
    check(not os.path.exists(root), "child's data root removed on SIGTERM")


if __name__ == "__main__":
    t0 = time.time()
    tests = [test_basic, test_promote_and_exception_cleanup, test_primary_only,
             test_sigterm_cleanup]
    failed = 0
    for t in tests:
        try:
            t()
            print(f"PASS {t.__name__}", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}", flush=True)
    print(f"{len(tests) - failed} passed, {failed} failed ({time.time() - t0:.1f}s)")
    sys.exit(1 if failed else 0)
