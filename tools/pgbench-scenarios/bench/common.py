"""Shared helpers of the benchmark runner: logging, percentiles, /proc figures of a process,
pgbench, and CPU placement (pinning the primary + pgbench and the standby + engine to disjoint
cores)."""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

import scenarios as S

PG_BIN = S.PG_BIN
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pctl(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def r3(x):
    return None if x is None else round(float(x), 3)


def median_spread(values):
    """{median, min, max, spread} of a non-empty list; spread = (max - min) / median."""
    med = statistics.median(values)
    return {"median": r3(med), "min": r3(min(values)), "max": r3(max(values)),
            "spread": r3((max(values) - min(values)) / med) if med else None,
            "runs": [r3(v) for v in values]}


def sha256(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


# ====================================================================== process figures

def proc_cpu_s(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    # after the comm field: state is fields[0]; utime = field 14 → index 11, stime → 12
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid, key):
    """A kB field of /proc/<pid>/status (VmHWM = peak RSS, VmRSS = current RSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def proc_hwm_kb(pid):
    return proc_status_kb(pid, "VmHWM")


def du_bytes(path):
    out = subprocess.run(["du", "-sb", path], text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout
    return int(out.split()[0]) if out else None


class RssSampler:
    """Samples VmRSS of a process every `period` s in a thread; .peak_kb after stop()."""

    def __init__(self, pid, period=0.1):
        self.pid, self.period, self.peak_kb = pid, period, 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, "VmRSS") or 0)
            except OSError:
                return
            self._stop.wait(self.period)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        return False


# ====================================================================== CPU placement

def _descendants(root):
    """root and every process below it (scan of /proc)."""
    children = {}
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(st) as f:
                rest = f.read().rsplit(") ", 1)[1].split()
            children.setdefault(int(rest[1]), []).append(int(st.split("/")[2]))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def set_affinity_tree(root_pid, cpus):
    """Every thread of root_pid and its descendants runs on `cpus` (processes forked later by
    the postmaster inherit its mask)."""
    for pid in _descendants(root_pid):
        for task in glob.glob(f"/proc/{pid}/task/*"):
            try:
                os.sched_setaffinity(int(task.rsplit("/", 1)[1]), cpus)
            except OSError:
                pass


class Placement:
    """Where the processes run. 'shared': every process may use every core (as on one box).
    'pinned': the primary and pgbench on one set of cores, the standby and the engine on the
    other (what production sees: the engine and the standby on other nodes), the same for every
    configuration, the baseline included."""

    def __init__(self, name):
        self.name = name
        allc = sorted(os.sched_getaffinity(0))
        self.all = set(allc)
        half = max(1, len(allc) // 2)
        self.primary = set(allc[:half]) if name == "pinned" else self.all
        self.standby = set(allc[half:]) if name == "pinned" else self.all

    @staticmethod
    def available():
        return len(os.sched_getaffinity(0)) >= 2

    def describe(self):
        if self.name == "shared":
            return f"all processes on cores {sorted(self.all)}"
        return (f"primary + pgbench on cores {sorted(self.primary)}, standby + engine on cores "
                f"{sorted(self.standby)}")

    def apply(self, cluster, engine_pid=None):
        from cluster import _postmaster_pid  # tests/harness (on sys.path via common)
        for pid in _postmaster_pid(cluster.primary_dir):
            set_affinity_tree(pid, self.primary)
        for pid in _postmaster_pid(cluster.standby_dir):
            set_affinity_tree(pid, self.standby)
        if engine_pid:
            set_affinity_tree(engine_pid, self.standby)

    def preexec(self):
        cpus = self.primary
        return lambda: os.sched_setaffinity(0, cpus)


# ====================================================================== pgbench

def pgbench(cluster, scen, size, clients, seconds=None, rate=None, txns=None, tmp="/tmp",
            tag="run", placement=None):
    """Run pgbench against the primary; return tps and client latencies (from the per-
    transaction log). With a placement, pgbench runs on the primary's cores."""
    logdir = tempfile.mkdtemp(prefix=f"pgb-{tag}-", dir=tmp)
    argv = [os.path.join(PG_BIN, "pgbench"), "-n", "-c", str(clients), "-j", "2",
            "-l", f"--log-prefix={logdir}/tx"] + scen.pgbench_args(size)
    if seconds is not None:
        argv += ["-T", str(seconds)]
    if txns is not None:
        argv += ["-t", str(txns)]
    if rate is not None:
        argv += ["-R", str(rate)]
    load1 = os.getloadavg()[0]
    t0 = time.time()
    p = subprocess.run(argv, env=S._pgbench_env(cluster.primary_port), text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       preexec_fn=placement.preexec() if placement else None)
    wall = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError(f"pgbench failed (exit {p.returncode}): {' '.join(argv)}\n"
                           f"{p.stdout[-3000:]}")
    tps = None
    failed = 0
    for line in p.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        if line.startswith("number of failed transactions"):
            failed = int(line.split(":")[1].split()[0])
    lats = []
    for fn in glob.glob(os.path.join(logdir, "tx*")):
        with open(fn) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lats.append(int(parts[2]) / 1000.0)
    shutil.rmtree(logdir, ignore_errors=True)
    if tps is None:
        raise RuntimeError(f"no tps in pgbench output:\n{p.stdout[-2000:]}")
    res = {"tps": round(tps, 1), "transactions": len(lats), "failed": failed,
           "wall_s": round(wall, 1), "loadavg_1m_before": round(load1, 2)}
    if lats:
        res.update(lat_avg_ms=r3(statistics.fmean(lats)), lat_p50_ms=r3(pctl(lats, 50)),
                   lat_p99_ms=r3(pctl(lats, 99)))
    return res


def lsn_int(x):
    hi, lo = x.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
