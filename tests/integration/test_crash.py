"""Crash safety (DESIGN §6 invariant 4): the engine is killed with SIGKILL at random moments
— while decoding, bootstrapping and merging under load — and restarted; after it catches up
every stream table equals its query: no change lost or applied twice."""
import random
import time

from common import Harness, Workload, kill_engine_under_load, log, run_concurrent
import streams


def main():
    with Harness.from_argv() as h:
        rng = random.Random(h.seed)
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        for name, query in streams.ALL:
            streams.create(h, name, query, schedule="100 milliseconds")
        h.start_engine()
        time.sleep(rng.uniform(0.05, 1.0))            # often mid-bootstrap
        h.kill_engine()
        h.start_engine()

        rounds = iter(range(1_000_000))

        def step():
            run_concurrent(h.cluster.primary_dsn, h.seed + 100 + next(rounds), n_workers=2, n_transactions=20)

        kill_engine_under_load(h, rng, step, kills=6, pause=(0.2, 2.5))
        streams.check_all(h)

        # A clean stop and restart loses nothing either.
        h.stop_engine()
        Workload(h.cluster.primary_dsn, seed=h.seed + 999).load_ids().run(50)
        h.start_engine()
        streams.check_all(h)
        log("PASS test_crash")


if __name__ == "__main__":
    main()
