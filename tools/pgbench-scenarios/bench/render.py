"""report.md: every figure next to its goal (met / missed) and the anchors measured in the same
run."""
from __future__ import annotations

import json

from bench.report import GOALS


def _v(x, unit=""):
    if x is None:
        return "—"
    if isinstance(x, float):
        x = f"{x:,.3f}".rstrip("0").rstrip(".") if abs(x) < 100 else f"{x:,.1f}"
    elif isinstance(x, int):
        x = f"{x:,}"
    return f"{x}{unit}"


def _verdict(m):
    return "—" if m is None else ("**met**" if m else "**missed**")


def _ms(d, key="median"):
    """median (spread) of a median_spread dict."""
    if not d:
        return "—"
    if len(d.get("runs", [])) == 1:
        return f"{_v(d.get(key))} (1 run)"
    sp = d.get("spread")
    return f"{_v(d.get(key))} (spread {_v(sp)})" if sp is not None else _v(d.get(key))


def render_md(r):
    L = [f"# pgbench scenarios — {r['mode']} run", "",
         f"Started {r['started_at']}, took {r['duration_s'] / 60:.1f} min on "
         f"{r['machine']['cpus']} CPUs ({r['machine']['postgres']}, kernel "
         f"{r['machine']['kernel']}). Primary, standby, engine and pgbench share this machine; "
         f"the write path is measured twice: on shared cores, and pinned (primary + pgbench on "
         f"one set of cores, standby + engine on the other, as production places them on other "
         f"nodes). Other jobs on the machine add noise (load average before each run in "
         f"report.json). Settings: {json.dumps(r['settings'])}.", ""]
    L += ["Binaries (private copies taken at start): " + ", ".join(
        f"`{k}` sha256 {v['sha256'][:12]} built {v['mtime']}" for k, v in r["binaries"].items())
        + ".", ""]
    if r.get("binaries_changed_during_run"):
        L += [f"**Warning: binaries changed during the run: "
              f"{', '.join(r['binaries_changed_during_run'])} — rerun.**", ""]
    if r["missing_figures"]:
        L += ["**Missing figures:** " + ", ".join(r["missing_figures"]), ""]
    flagged = [f"{n} ({p})" for n, sc in r["scenarios"].items()
               for p, pl in sc.get("write_throughput", {}).get("placements", {}).items()
               if pl.get("baselines_flagged")]
    if (r.get("backpressure") or {}).get("baselines_flagged"):
        flagged.append("backpressure")
    if flagged:
        L += ["**Flagged — baselines more than 10 % apart, ratios not trustworthy:** "
              + ", ".join(flagged) + ".", ""]
    L += ["Goals:", ""] + [f"- {g['text']}" for g in GOALS.values()] + [""]
    L += _summary(r)
    for name, sc in r["scenarios"].items():
        L += [f"## {name}", "", sc.get("summary", ""), ""]
        if sc.get("status") in ("skipped", "not_run"):
            L += [f"**{'Not run' if sc['status'] == 'not_run' else 'Skipped'}: "
                  f"{sc['reason']}**", ""]
            continue
        for ph, err in sc.get("errors", {}).items():
            L += [f"**Error in {ph}:** `{err.splitlines()[0][:300]}`", ""]
        for part in (_write_path, _freshness, _merge, _large_txn, _decoder, _profile):
            L += part(sc)
    if r.get("backpressure"):
        L += _backpressure(r["backpressure"])
    return "\n".join(L) + "\n"


def _summary(r):
    """One table: each scenario's headline figures with their verdicts."""
    L = ["## Summary", "",
         "| scenario | engine write ratio shared / pinned (trigger anchor) | staleness p99 s | "
         "max kept-up changes/s | apply changes per CPU s | decoder speedup |",
         "|---|---|---|---|---|---|"]
    for name, sc in r["scenarios"].items():
        if sc.get("status") != "ok" or "write_path" not in sc.get("phases", []):
            continue
        wt = sc.get("write_throughput", {})
        ratios = []
        for pname in ("shared", "pinned"):
            cf = wt.get("placements", {}).get(pname, {}).get("configs", {})
            e = cf.get("engine", {})
            t = cf.get("trigger_change_buffer", {})
            flag = " ⚠" if wt.get("placements", {}).get(pname, {}).get("baselines_flagged") \
                else ""
            ratios.append(f"{_v((e.get('write_tps_ratio') or {}).get('median'))} "
                          f"{_verdict(e.get('goal_met'))} "
                          f"({_v((t.get('write_tps_ratio') or {}).get('median'))}){flag}")
        fr = sc.get("freshness", {})
        su = sc.get("sustained", {})
        ap = wt.get("apply", {})
        lb = "≥ " if fr.get("staleness_lower_bound") else ""
        L.append(f"| {name} | {' / '.join(ratios)} | {lb}{_v(fr.get('staleness_p99_s'))} "
                 f"{_verdict(fr.get('goal_met'))} | {_v(su.get('max_kept_up_changes_per_s'))} | "
                 f"{_v(ap.get('changes_per_cpu_s'))} {_verdict(ap.get('goal_met'))} | "
                 f"{_v(sc.get('decoder', {}).get('decoder_speedup'))} "
                 f"{_verdict(sc.get('decoder', {}).get('goal_met'))} |")
    L += ["", "⚠ = that placement's baselines differ by more than 10 %: its ratios are not "
              "trustworthy.", ""]
    for name, sc in r["scenarios"].items():
        mg, lt = sc.get("merge", {}), sc.get("large_transaction")
        if sc.get("status") != "ok" or not mg.get("scale_goals"):
            continue
        large, e = list(mg["sizes"].items())[-1]
        sg = mg["scale_goals"]
        growth = ", ".join(f"{_v(g['growth'])} {_verdict(g['growth_goal_met'])}"
                           for g in mg.get("goals", {}).values())
        L += [f"{name} at {int(large):,} rows: bootstrap {_v(e.get('bootstrap_rows_per_s'))} "
              f"rows/s {_verdict(sg['bootstrap_goal_met'])}, engine peak RSS "
              f"{_v(e.get('engine_peak_rss_mb'))} MB {_verdict(sg['rss_goal_met'])}, RocksDB "
              f"{_v(e.get('rocksdb_mb'))} MB, merge growth {growth}."
              + (f" Large transaction of {lt['rows']:,} rows: applied in "
                 f"{_v(lt.get('engine_apply_s'))} s ({_v(lt.get('engine_cpu_s'))} CPU s), "
                 f"peak RSS {_v(lt.get('engine_peak_rss_mb_while_applying'))} MB "
                 f"{_verdict(lt.get('rss_goal_met'))}." if lt else ""), ""]
    bp = r.get("backpressure") or {}
    if "off_ratio" in bp:
        L += [f"Backpressure write-path cost: off {_ms(bp['off_ratio'])} "
              f"{_verdict(bp.get('off_goal_met'))}, on {_ms(bp['on_ratio'])} "
              f"{_verdict(bp.get('on_goal_met'))} of no pg_trickle.", ""]
    not_run = [n for n, sc in r["scenarios"].items() if sc.get("status") in ("not_run",
                                                                                "skipped")]
    if not_run:
        L += ["Not run or skipped: " + ", ".join(not_run) + " (reasons below).", ""]
    return L


def _write_path(sc):
    wt = sc.get("write_throughput")
    if not wt:
        return []
    L = [f"### Primary write throughput ({wt['seconds']} s per run, {wt['clients']} clients, "
         f"size {wt['size']} {sc['size_unit']}, {wt['rounds']} round(s) interleaved)", "",
         f"Method: {wt['method']}. Engine bootstrap before the runs: "
         f"{_v(wt.get('bootstrap_s'))} s.", ""]
    if wt.get("pinned_skipped"):
        L += [f"Pinned: skipped ({wt['pinned_skipped']}).", ""]
    if wt.get("pg_ivm", {}).get("skipped"):
        L += [f"pg_ivm: skipped — {wt['pg_ivm']['skipped']}.", ""]
    L += ["| cores | configuration | TPS median (spread) | write_tps_ratio median (spread) | "
          "goal ≥ 0.97 | lat p99 ms median |", "|---|---|---|---|---|---|"]
    for pname, pl in wt.get("placements", {}).items():
        for cfg, c in pl.get("configs", {}).items():
            L.append(f"| {pname} | {cfg} | {_ms(c.get('tps'))} | "
                     f"{_ms(c.get('write_tps_ratio'))} | "
                     f"{'' if cfg == 'baseline' else _verdict(c.get('goal_met'))} | "
                     f"{_v((c.get('lat_p99_ms') or {}).get('median'))} |")
            for err in c.get("errors", []):
                L.append(f"| {pname} | {cfg} | error: {err.splitlines()[0][:200]} | | | |")
    L.append("")
    for pname, pl in wt.get("placements", {}).items():
        flag = pl.get("baselines_flagged")
        L.append(f"- {pname} ({pl['describe']}): runs "
                 + ", ".join(f"{x['config']} {_v(x.get('tps'))}" for x in pl["runs"])
                 + f"; baselines differ by {_v(pl.get('baseline_max_diff'))}"
                 + (" — **FLAGGED: baselines more than 10 % apart, ratios untrustworthy**"
                    if flag else ""))
    ap = wt.get("apply", {})
    L += ["", f"Engine apply throughput (catch-up of the backlog the baseline and anchor runs "
              f"left while it was stopped, {len(ap.get('drains', []))} catch-ups): "
              f"{_v(ap.get('changes'))} source changes in {_v(ap.get('engine_cpu_s'))} engine "
              f"CPU s and {_v(ap.get('wall_s'))} wall s = **{_v(ap.get('changes_per_cpu_s'))} "
              f"changes per CPU s** {_verdict(ap.get('goal_met'))} (goal ≥ 100,000), "
              f"{_v(ap.get('changes_per_wall_s'))} per wall s (counted from each restart's "
              f"'engine started' log line; the start-ups — RocksDB recovery — took another "
              f"{_v(ap.get('engine_startup_cpu_s'))} CPU s).", ""]
    return L


def _freshness(sc):
    fr, su, er = sc.get("freshness"), sc.get("sustained"), sc.get("engine_resources")
    L = []
    if fr:
        lb = "≥ " if fr.get("staleness_lower_bound") else ""
        L += [f"### Freshness (pgbench -R {fr['rate_tps']} = 50% of the shared baseline's max "
              f"TPS, achieved {_v(fr['achieved_tps'])}; {fr['probes']} probes; schedule "
              f"{fr['schedule_s']} s; {fr['placement']})", "",
              f"| staleness_p50_s | staleness_p99_s | staleness_max_s | goal p99 ≤ "
              f"{_v(fr.get('goal_s'))} s | engine changes per CPU s under this load |",
              "|---|---|---|---|---|",
              f"| {lb}{_v(fr.get('staleness_p50_s'))} | {lb}{_v(fr.get('staleness_p99_s'))} | "
              f"{lb}{_v(fr.get('staleness_max_s'))} | {_verdict(fr.get('goal_met'))} | "
              f"{_v(fr.get('engine_changes_per_cpu_s'))} ({_v(fr.get('source_changes'))} "
              f"changes, {_v(fr.get('engine_cpu_s'))} CPU s) |", ""]
        if lb:
            L += [f"≥: the engine fell behind; {fr['probe']}.", ""]
    if su:
        L += [f"Highest write rate the engine keeps up with ({su['method']}; idle lag "
              f"{_v(su.get('idle_lag_s'))} s, so kept up = lag ≤ "
              f"{_v(su.get('kept_up_if_lag_after_step_s_at_most'))} s): "
              f"**{_v(su.get('max_kept_up_changes_per_s'))} changes/s**"
              + ("" if su.get("kept_up_at_every_step") else
                 f"; at the next step it fell behind, applying "
                 f"{_v(su.get('engine_applied_changes_per_s_when_behind'))} changes/s")
              + (" (kept up at every step: the limit is above the highest step)"
                 if su.get("kept_up_at_every_step") else "") + ".", "",
              "| step (of baseline) | -R | achieved TPS | changes/s | lag after step s | "
              "kept up |", "|---|---|---|---|---|---|"]
        for s in su.get("steps", []):
            L.append(f"| {s['fraction_of_baseline']:.0%} | {s['rate_tps']} | "
                     f"{_v(s['achieved_tps'])} | {_v(s['changes_per_s'])} | "
                     f"{_v(s['lag_after_step_s'])} | {'yes' if s['kept_up'] else '**no**'} |")
        L.append("")
    if er:
        L += [f"Engine resources ({er['window']}): peak RSS {_v(er.get('peak_rss_mb'))} MB, "
              f"RocksDB {_v(er.get('rocksdb_mb'))} MB.", ""]
    return L


def _merge(sc):
    mg = sc.get("merge")
    if not mg or not mg.get("sizes"):
        return []
    L = [f"### Merge of a {mg['delta_rows_per_source']:,}-row delta vs REFRESH MATERIALIZED "
         f"VIEW (median of {mg['reps']})", "",
         "| size | stream table | merge_ms | commit→visible ms | rows merged | "
         "refresh_matview_ms | merge_vs_refresh_speedup |", "|---|---|---|---|---|---|---|"]
    for size, e in mg["sizes"].items():
        for st, v in e["stream_tables"].items():
            L.append(f"| {int(size):,} | {st} | {_v(v['merge_ms'])} | "
                     f"{_v(v['commit_to_visible_ms'])} | "
                     f"{v['rows_changed_in_stream_table'][0]} | {_v(v['refresh_matview_ms'])} | "
                     f"{_v(v['merge_vs_refresh_speedup'])} |")
    L += ["", "| size | source rows | bootstrap s | bootstrap rows/s | engine peak RSS MB | "
              "RocksDB MB |", "|---|---|---|---|---|---|"]
    for size, e in mg["sizes"].items():
        L.append(f"| {int(size):,} | {_v(e['source_rows'])} | {_v(e['bootstrap_s'])} | "
                 f"{_v(e.get('bootstrap_rows_per_s'))} | {_v(e.get('engine_peak_rss_mb'))} | "
                 f"{_v(e.get('rocksdb_mb'))} |")
    L.append("")
    sg = mg.get("scale_goals")
    if sg:
        large = list(mg["sizes"].values())[-1]
        L += [f"At the large size: bootstrap {_v(large.get('bootstrap_rows_per_s'))} rows/s "
              f"{_verdict(sg['bootstrap_goal_met'])} (goal ≥ 500,000); engine peak RSS "
              f"{_v(large.get('engine_peak_rss_mb'))} MB {_verdict(sg['rss_goal_met'])} "
              f"(goal ≤ 512); RocksDB {_v(large.get('rocksdb_mb'))} MB.", ""]
    if mg.get("goals"):
        L += ["| stream table | merge growth small→large | goal < 1.5× | speedup at large "
              "| goal ≥ 100× |", "|---|---|---|---|---|"]
        for st, g in mg["goals"].items():
            L.append(f"| {st} | {_v(g['growth'])} | {_verdict(g['growth_goal_met'])} | "
                     f"{_v(g['speedup_at_large'])} | {_verdict(g['speedup_goal_met'])} |")
        L.append("")
        for st, note in mg.get("merge_growth_notes", {}).items():
            L += [f"Merge growth of {st} is not like for like: {note}.", ""]
    return L


def _large_txn(sc):
    lt = sc.get("large_transaction")
    if not lt:
        return []
    return [f"### One large transaction ({lt['rows']:,} rows: `{lt['statement']}`, into "
            f"{lt['source_rows_before']:,} rows)", "",
            "| primary commit s | engine apply s | engine CPU s | engine rows/s | rows per CPU s "
            "| peak RSS MB while applying | goal ≤ 512 MB |", "|---|---|---|---|---|---|---|",
            f"| {_v(lt['primary_commit_s'])} | {_v(lt['engine_apply_s'])} | "
            f"{_v(lt['engine_cpu_s'])} | {_v(lt['engine_rows_per_s'])} | "
            f"{_v(lt.get('engine_rows_per_cpu_s'))} | "
            f"{_v(lt['engine_peak_rss_mb_while_applying'])} | {_verdict(lt.get('rss_goal_met'))} "
            f"|", "", f"Method: {lt['method']}.", ""]


def _decoder(sc):
    dec = sc.get("decoder")
    if not dec:
        return []
    return [f"### Decoder throughput ({dec['transactions']:,} transactions, "
            f"{_v(dec['wal_mb'])} MB of WAL)", "",
            "| decoder_rows_per_s | test_decoding_rows_per_s | decoder_speedup | goal ≥ 3 |",
            "|---|---|---|---|",
            f"| {_v(dec['decoder_rows_per_s'])} | {_v(dec['test_decoding_rows_per_s'])} "
            f"| {_v(dec['decoder_speedup'])} | {_verdict(dec.get('goal_met'))} |", "",
            f"Rows: ours {dec['decoder_rows']:,}, test_decoding {dec['test_decoding_rows']:,}; "
            f"seconds (2 runs each): ours {dec['decoder_s_runs']}, test_decoding "
            f"{dec['test_decoding_s_runs']}. pgtrickle-waldump on an empty range (process "
            f"start, catalog reads) takes {dec['decoder_empty_range_s']} s; it is included in "
            f"ours." + (f" Note: {dec['note']}." if dec.get("note") else ""), ""]


def _profile(sc):
    pr = sc.get("profile")
    if not pr:
        return []
    return ([f"### Where the engine's time goes ({pr['tool']}; window: {pr['window']})", "",
             "Self time (`--no-children --sort dso,symbol`):", "", "```"] + pr["self"]
            + ["```", "", "Including callees (`--children --sort symbol`):", "", "```"]
            + pr["with_callees"] + ["```", ""])


def _backpressure(bp):
    if "off_ratio" not in bp:
        return ["## Backpressure write-path cost (issue 12)", "",
                f"**Error:** `{bp.get('error', 'no figures')[:300]}`", ""]
    L = ["## Backpressure write-path cost (issue 12)", "",
         f"Method: {bp['method']}; {bp['rounds']} rounds of {bp['seconds']} s, "
         f"{bp['clients']} clients, single-row INSERTs into a stream table's source.", "",
         "| configuration | TPS median (spread) | ratio to none median (spread) | goal ≥ 0.97 |",
         "|---|---|---|---|",
         f"| none (no pg_trickle) | {_ms(bp['tps']['none'])} | | |"]
    for k, label in (("off", "backpressure off"), ("on", "backpressure on, engine keeping up")):
        L.append(f"| {label} | {_ms(bp['tps'][k])} | {_ms(bp[f'{k}_ratio'])} | "
                 f"{_verdict(bp.get(f'{k}_goal_met'))} |")
    L += ["", f"Baselines differ by {_v(bp['baseline_max_diff'])}"
              + (" — **FLAGGED: more than 10 % apart, ratios untrustworthy**"
                 if bp["baselines_flagged"] else "")
              + f"; writers seen waiting: {bp['writers_seen_waiting']}. Backpressure on vs off "
              f"(same server, same round): {_ms(bp.get('on_vs_off'))}.", ""]
    return L
