#!/usr/bin/env python3
"""Corruption check: pgtrickle-waldump over damaged copies of real archived PG15 WAL.

Runs a random workload (oracle_check.Workload) on a throwaway PostgreSQL 15 with 1 MB segments,
archives the WAL, decodes the clean archive once (test_decoding text, and jsonl for every
transaction's commit end LSN), then damages a copy of the archive in each way below and checks that
pgtrickle-waldump
  - exits with status 1 and prints exactly one line on stderr, naming the segment and the LSN;
  - prints exactly the transactions whose commit record ends before the damage (nothing past the
    last good record, nothing good left out).
Damage: truncated segment, flipped bit (CRC) in a commit record (plain and inside a zstd file),
missing segment (archive and restore_command), segment of a later timeline, a requested timeline
without segments, garbage file, garbage with a gzip magic, a segment whose pages carry the magic of
another PostgreSQL version.

usage: corruption_check.py WALDUMP [--seed=N] [--pg-bin=DIR]
Exit 77 (skip) without root/PG15; with --pg-bin (a server of 16-18, see oracle_check.py) missing
binaries are a failure.
"""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_check as oc  # noqa: E402

SEG = 1 << 20


def lsn_int(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def lsn_str(x):
    return "%X/%X" % (x >> 32, x & 0xFFFFFFFF)


def seg_name(segno, tli=1):
    return "%08X%08X%08X" % (tli, segno // 4096, segno % 4096)


def blocks(text):
    """test_decoding output -> list of transaction blocks (BEGIN ... COMMIT\\n)."""
    out, cur = [], []
    for line in text.split(b"\n")[:-1]:
        cur.append(line)
        if line == b"COMMIT":
            out.append(b"\n".join(cur) + b"\n")
            cur = []
    return out


def main():
    waldump = sys.argv[1]
    seed = int(time.time() * 1000) % 1000000
    pg_bin = None
    for a in sys.argv[2:]:
        if a.startswith("--seed="):
            seed = int(a[7:])
        elif a.startswith("--pg-bin="):
            pg_bin = a[len("--pg-bin="):]
    if os.environ.get("ORACLE_SEED"):
        seed = int(os.environ["ORACLE_SEED"])
    if pg_bin is not None:
        problem = oc.use_pg_bin(pg_bin)
        if problem:
            print("corruption: " + problem)
            return 1
    if os.getuid() != 0 or not os.access(oc.BIN + "/initdb", os.X_OK):
        return 77
    major = oc.server_major(oc.BIN)
    print("corruption: PostgreSQL %d seed=%d" % (major, seed), flush=True)
    rnd = random.Random(seed)
    srv = oc.Server()
    failures = []
    try:
        srv.start(1)
        oc.create_schema(srv)
        srv.psql("select 'x' from pg_create_logical_replication_slot('s', 'test_decoding')")
        start = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        path = os.path.join(srv.w, "workload.sql")
        with open(path, "w") as f:
            f.write(oc.Workload(seed, 500).script())
        os.chmod(path, 0o644)
        srv.psql(file=path)
        end = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        srv.switch_and_archive()
        common = ["--start=" + start, "--end=" + end, "--catalog=" + srv.conninfo()]
        clean = subprocess.run([waldump, "--archive=" + srv.arch] + common, stdout=subprocess.PIPE,
                               check=True).stdout
        jl = subprocess.run([waldump, "--archive=" + srv.arch, "--format=jsonl"] + common,
                            stdout=subprocess.PIPE, check=True).stdout
        txns = [json.loads(x) for x in jl.decode().splitlines()]
        blks = blocks(clean)
        expected = srv.psql("select data from pg_logical_slot_peek_changes('s', NULL, NULL, "
                            "'include-xids', '0', 'skip-empty-xacts', '1')")
        assert clean == expected, "clean archive differs from test_decoding (run oracle_check)"
        assert len(blks) == len(txns), (len(blks), len(txns))
        ends = [lsn_int(t["end_lsn"]) for t in txns]
        s0, s1 = lsn_int(start) // SEG, lsn_int(end) // SEG
        assert s1 - s0 >= 2, "range spans too few segments"
        mid = s0 + 1                       # a segment strictly inside the range
        mid_start = mid * SEG
        print("corruption: range %s..%s, segments %s..%s, %d transactions"
              % (start, end, seg_name(s0), seg_name(s1), len(txns)), flush=True)

        def scenario(name, damage, bound, must, extra_args=None, layout="flat"):
            d = os.path.join(srv.w, "case-" + name)
            shutil.copytree(srv.arch, d)
            damage(d)
            args = ["--archive=" + d]
            if layout == "restore":
                args = ["--restore-command=cp %s/%%f %%p" % d]
            p = subprocess.run([waldump] + args + common + (extra_args or []), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            err = p.stderr.decode(errors="replace")
            want = b"".join(blks[:sum(1 for e in ends if e <= bound)])
            problems = []
            if p.returncode != 1:
                problems.append("exit status %d" % p.returncode)
            if err.count("\n") != 1:
                problems.append("stderr has %d lines" % err.count("\n"))
            for m in must:
                if not re.search(m, err):
                    problems.append("stderr lacks /%s/" % m)
            if p.stdout != want:
                problems.append("stdout has %d transactions, expected %d (those ending before %s)"
                                % (len(blocks(p.stdout)), len(blocks(want)), lsn_str(bound)))
            shutil.rmtree(d, ignore_errors=True)
            print("corruption (%s): %s -- %s" % (name, "OK" if not problems else "FAIL: " + "; ".join(problems),
                                                 err.strip()), flush=True)
            if problems:
                failures.append(name)

        def rewrite(d, name, fn):
            p = os.path.join(d, name)
            with open(p, "rb") as f:
                b = bytearray(f.read())
            b = fn(b)
            with open(p, "wb") as f:
                f.write(b)

        # 1. truncated segment
        cut = rnd.randrange(9000, SEG - 9000)
        scenario("truncated", lambda d: rewrite(d, seg_name(mid), lambda b: b[:cut]), mid_start + cut,
                 [seg_name(mid), "truncated", lsn_str(mid_start + cut)])
        # 2. flipped bit in a commit record in the middle segment (plain, then zstd-compressed)
        cands = [t for t in txns if lsn_int(t["commit_lsn"]) // SEG == mid and lsn_int(t["commit_lsn"]) % 8192 < 8000]
        victim = rnd.choice(cands)
        vl = lsn_int(victim["commit_lsn"])
        bit = 1 << rnd.randrange(8)

        def flip(b):
            b[vl % SEG + 26] ^= bit   # inside the record (past xl_crc), before any page boundary
            return b
        scenario("flipped-bit", lambda d: rewrite(d, seg_name(mid), flip), vl,
                 [seg_name(mid), "checksum", lsn_str(vl)])

        def flip_zstd(d):
            rewrite(d, seg_name(mid), flip)
            p = os.path.join(d, seg_name(mid))
            subprocess.run(["zstd", "-q", "--rm", p, "-o", p + ".zst"], check=True)
        scenario("flipped-bit-zstd", flip_zstd, vl, [seg_name(mid), "checksum", lsn_str(vl)])
        # 3. missing segment: archive and restore_command
        scenario("missing", lambda d: os.unlink(os.path.join(d, seg_name(mid))), mid_start,
                 [seg_name(mid), "not found", lsn_str(mid_start)])
        scenario("missing-restore-command", lambda d: os.unlink(os.path.join(d, seg_name(mid))), mid_start,
                 [seg_name(mid), "not found by restore_command", lsn_str(mid_start)], layout="restore")

        # 4. wrong timeline: the middle segment's pages say timeline 2
        def tli2(b):
            for off in range(0, len(b), 8192):
                b[off + 4:off + 8] = (2).to_bytes(4, "little")
            return b
        scenario("later-timeline", lambda d: rewrite(d, seg_name(mid), tli2), mid_start,
                 [seg_name(mid), "timeline 2", lsn_str(mid_start)])
        scenario("requested-timeline-absent", lambda d: None, 0,
                 [seg_name(s0, 2), "not found"], extra_args=["--timeline=2"])
        # 5. garbage file, plain and with a gzip magic
        junk = bytes(rnd.getrandbits(8) for _ in range(SEG))
        scenario("garbage", lambda d: rewrite(d, seg_name(mid), lambda b: bytearray(b"\x00\x01" + junk[2:])),
                 mid_start, [seg_name(mid), lsn_str(mid_start), "magic"])
        scenario("garbage-gzip-magic", lambda d: rewrite(d, seg_name(mid), lambda b: bytearray(b"\x1f\x8b" + junk[2:])),
                 mid_start, [seg_name(mid), "cannot decompress", lsn_str(mid_start)])
        # 6. a segment written by another version (its page magic): an error naming both
        other = 16 if major != 16 else 17
        other_magic = {15: 0xD110, 16: 0xD113, 17: 0xD116, 18: 0xD118}[other]

        def other_version(b):
            for off in range(0, len(b), 8192):
                b[off:off + 2] = other_magic.to_bytes(2, "little")
            return b
        scenario("other-version-magic", lambda d: rewrite(d, seg_name(mid), other_version), mid_start,
                 [seg_name(mid), lsn_str(mid_start), "PostgreSQL %d" % other, "PostgreSQL %d" % major])
        return 1 if failures else 0
    finally:
        srv.stop()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
