#!/usr/bin/env python3
"""Live torn-tail check: old-timeline WAL past the switch point is never decoded (streaming).

A throwaway PostgreSQL 15 primary (1 MB segments) streams to a standby; the CLI streams from the
standby (--stream=, no --end). After a random workload the primary starts writing one very large
record (a 150 MB non-transactional logical message) and is stopped with `-m immediate` while it
is half written: the standby has received, and sent on to the CLI, the first part of a record
that will never be complete. The standby is promoted: timeline 2 begins at the end of the last
complete record, i.e. where the torn record began, and new transactions are written there. The
standby's walsender ends COPY naming timeline 2 at that switch point, which lies before the end of
what the CLI has received: the CLI has to drop those bytes (WalSource::TakeDiscardFrom) and
continue with timeline 2's WAL at the same LSN. Its output must equal the primary's test_decoding
output (taken before the big record) followed by the promoted standby's.

The test checks that the case really happened: the standby had received WAL past the switch
point (pg_last_wal_receive_lsn() before promotion > the switch point in 00000002.history).

usage: timeline_torn_check.py WALDUMP [--seed=N]      Exit 77 (skip) without root/PG15.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_check as oc  # noqa: E402
import timeline_check as tc  # noqa: E402


def lsn(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def main():
    waldump = sys.argv[1]
    seed = oc.seed_or_skip(sys.argv[2:], "timeline-torn")
    if seed is None:
        return 77
    prim = oc.Server()
    sbdir = os.path.join(prim.w, "standby")
    sb_started = False
    live = None
    big = None
    try:
        prim.start(1)
        data = os.path.join(prim.w, "data")
        with open(os.path.join(data, "pg_hba.conf"), "a") as f:
            f.write("local replication all trust\n")
        prim.run([oc.BIN + "/pg_ctl", "-D", data, "reload"])
        oc.create_schema(prim)
        prim.psql("select 'x' from pg_create_logical_replication_slot('s', 'test_decoding')")
        prim.run([oc.BIN + "/pg_basebackup", "-h", prim.w, "-p", str(prim.port), "-D", sbdir, "-R",
                  "-X", "stream", "--no-sync"])
        sb_port = prim.port + 1
        with open(os.path.join(sbdir, "postgresql.conf"), "a") as f:
            f.write("port=%d\nwal_keep_size=1GB\narchive_mode=off\n" % sb_port)
        prim.run([oc.BIN + "/pg_ctl", "-D", sbdir, "-l", os.path.join(prim.w, "sblog"), "-w", "start"])
        sb_started = True
        sb_conn = "host=%s port=%d dbname=postgres user=postgres" % (prim.w, sb_port)

        def sbsql(sql, file=None):
            args = [oc.BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", prim.w, "-p",
                    str(sb_port), "-d", "postgres", "-At"] + (["-f", file] if file else ["-c", sql])
            p = subprocess.run(["runuser", "-u", "postgres", "--"] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            if p.returncode != 0:
                raise RuntimeError("standby psql: " + p.stderr.decode(errors="replace"))
            return p.stdout

        def wait_receive(target):
            for _ in range(400):
                if sbsql("select pg_last_wal_receive_lsn() >= '%s'" % target).decode().strip() == "t":
                    return
                time.sleep(0.05)
            raise RuntimeError("standby did not receive %s" % target)

        sstart = prim.psql("select pg_current_wal_insert_lsn()").decode().strip()
        wait_receive(sstart)
        path = os.path.join(prim.w, "live.out")
        live = subprocess.Popen([waldump, "--stream=" + sb_conn, "--start=" + sstart, "--catalog=" + sb_conn],
                                stdout=open(path, "wb"), stderr=open(path + ".err", "wb"))
        w1 = oc.Workload(seed, 60)
        script = os.path.join(prim.w, "w1.sql")
        with open(script, "w") as f:
            f.write(w1.script(truncate=False))
        os.chmod(script, 0o644)
        prim.psql(file=script)
        expected1 = prim.psql("select data from pg_logical_slot_peek_changes('s', NULL, NULL, "
                              "'include-xids', '0', 'skip-empty-xacts', '1')")
        before_big = prim.psql("select pg_current_wal_flush_lsn()").decode().strip()
        wait_receive(before_big)
        # The big record: stop the primary while the standby has part of it.
        big = subprocess.Popen(["runuser", "-u", "postgres", "--", oc.BIN + "/psql", "-X", "-q", "-h", prim.w,
                                "-p", str(prim.port), "-d", "postgres", "-c",
                                "select pg_logical_emit_message(false, 'torn', repeat('x', 150000000))"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = lsn(before_big) + 8 * 1024 * 1024
        deadline = time.time() + 60
        while time.time() < deadline:
            got = sbsql("select pg_last_wal_receive_lsn()").decode().strip()
            if lsn(got) >= target or big.poll() is not None:
                break
            time.sleep(0.01)
        prim.run([oc.BIN + "/pg_ctl", "-D", data, "-m", "immediate", "stop"])
        prim.started = False
        big.wait(30)
        received = sbsql("select pg_last_wal_receive_lsn()").decode().strip()
        time.sleep(1)   # let the CLI receive what the standby has
        prim.run([oc.BIN + "/pg_ctl", "-D", sbdir, "-w", "promote"])
        with open(os.path.join(sbdir, "pg_wal", "00000002.history")) as f:
            switch = f.read().split()[1]
        print("timeline-torn: standby received up to %s, timeline 2 starts at %s (%d bytes torn)"
              % (received, switch, lsn(received) - lsn(switch)), flush=True)
        if lsn(received) <= lsn(switch) + 8192:
            raise RuntimeError("the standby did not receive a torn record past the switch point "
                               "(received %s, switch %s): the case is not exercised" % (received, switch))
        sbsql("select 'x' from pg_create_logical_replication_slot('s2', 'test_decoding')")
        w2 = oc.Workload(seed + 1, 60)
        w2.next_id = w1.next_id + 1000000
        script2 = os.path.join(prim.w, "w2.sql")
        with open(script2, "w") as f:
            f.write(w2.script(truncate=False))
        os.chmod(script2, 0o644)
        sbsql(None, file=script2)
        expected2 = sbsql("select data from pg_logical_slot_peek_changes('s2', NULL, NULL, "
                          "'include-xids', '0', 'skip-empty-xacts', '1')")
        ok = tc.check_live("live stream, torn old-timeline tail discarded", live, path,
                           expected1 + expected2, seed)
        return 0 if ok else 1
    finally:
        for p in (live, big):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        if sb_started:
            subprocess.run(["runuser", "-u", "postgres", "--", oc.BIN + "/pg_ctl", "-D", sbdir,
                            "-m", "immediate", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        prim.stop()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
