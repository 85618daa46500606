"""Lost connections: the standby (WAL stream, catalog, slot) and then the primary (merges,
heartbeat) are restarted under the engine, an immediate-mode crash each time. The engine
reconnects by itself, keeps its process, and every stream table still equals its query."""
import time

from common import Harness, Workload, log
import streams


def restart(h, which):
    c = h.cluster
    datadir, logfile = (c.standby_dir, c.standby_log) if which == "standby" else (c.primary_dir, c.primary_log)
    c.stop_server(datadir)
    log(f"{which} stopped (immediate)")
    time.sleep(1.5)
    c._pg_ctl_start(datadir, logfile)
    log(f"{which} started again")


def main():
    with Harness.from_argv() as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        tables = streams.ALL[:2]
        for name, query in tables:
            streams.create(h, name, query)
        h.start_engine()
        streams.check_all(h, tables)

        restart(h, "standby")
        Workload(h.cluster.primary_dsn, seed=h.seed + 1).load_ids().run(60)
        streams.check_all(h, tables)
        h.engine.check_alive()

        restart(h, "primary")
        h.cluster.wait_streaming()
        Workload(h.cluster.primary_dsn, seed=h.seed + 2).load_ids().run(60)
        streams.check_all(h, tables)
        h.engine.check_alive()
        log("PASS test_reconnect")


if __name__ == "__main__":
    main()
