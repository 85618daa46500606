// Rendering of the engine snapshot for /metrics, /status, /healthz and /readyz (metrics.h).
//
// /metrics builds a fresh prometheus-cpp Registry from the snapshot on every scrape: the
// snapshot holds cumulative counts, so a counter is created and incremented to its value, and a
// dropped stream table simply disappears from the next scrape. A scrape every few seconds makes
// this cost nothing next to the engine's work.
#include "metrics.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#ifndef PGT_VERSION
#define PGT_VERSION "unknown"
#endif

namespace pgt::engine {
namespace {
// The newest plan format the engine reads (docs/plan-format.md; it reads every older one too);
// keep in step with circuit/plan.cc. An integer: /status reports it as a number.
constexpr char kPlanFormat[] = "2";

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::Labels;
using prometheus::Registry;

// Small helpers so each metric is one readable line below.
struct Metrics {
  Registry reg;
  prometheus::Family<prometheus::Gauge>& G(const std::string& name, const std::string& help) {
    return BuildGauge().Name(name).Help(help).Register(reg);
  }
  prometheus::Family<prometheus::Counter>& C(const std::string& name, const std::string& help) {
    return BuildCounter().Name(name).Help(help).Register(reg);
  }
  void Gauge(const std::string& name, const std::string& help, double v, const Labels& l = {}) {
    G(name, help).Add(l).Set(v);
  }
  void Counter(const std::string& name, const std::string& help, double v, const Labels& l = {}) {
    if (v > 0) C(name, help).Add(l).Increment(v);
    else C(name, help).Add(l);
  }
};

double Lag(Lsn ahead, Lsn behind) { return ahead > behind ? static_cast<double>(ahead - behind) : 0.0; }

void EngineMetrics(Metrics& m, const EngineSnapshot& s, double now) {
  m.Gauge("pgtrickle_engine_build_info", "Engine build: version and the newest plan format it reads (always 1)", 1,
          {{"version", PGT_VERSION}, {"plan_format", kPlanFormat}});
  m.Gauge("pgtrickle_engine_start_time_seconds", "Unix time the engine started", s.started_unix);
  m.Gauge("pgtrickle_engine_snapshot_age_seconds", "Age of the state snapshot these metrics come from",
          s.taken_unix > 0 ? now - s.taken_unix : 0);
  m.Gauge("pgtrickle_engine_primary_connected", "1 if the engine's connection to the primary is healthy",
          s.primary_connected);
  m.Gauge("pgtrickle_engine_standby_connected", "1 if the engine's connection to the standby is healthy",
          s.standby_connected);
  m.Gauge("pgtrickle_engine_consistent", "1 once the WAL decoder reached a consistent point", s.consistent);
  m.Gauge("pgtrickle_engine_epoch", "Engine epoch on the primary (fencing; grows at each engine start)",
          static_cast<double>(s.epoch));
  // Lag: what the primary / standby has that the engine has not decoded yet.
  bool pk = s.primary_lsn != 0, sk = s.standby_replay_lsn != 0;
  m.Gauge("pgtrickle_engine_lag_primary_bytes", "WAL bytes the primary wrote that the engine has not decoded yet",
          pk ? Lag(s.primary_lsn, s.decoded_lsn) : 0);
  m.Gauge("pgtrickle_engine_lag_primary_seconds",
          "Seconds since the primary first had WAL the engine has not decoded yet (0 when caught up)",
          s.lag_primary_seconds);
  m.Gauge("pgtrickle_engine_lag_standby_bytes", "WAL bytes the standby replayed that the engine has not decoded yet",
          sk ? Lag(s.standby_replay_lsn, s.decoded_lsn) : 0);
  m.Gauge("pgtrickle_engine_lag_standby_seconds",
          "Seconds since the standby first had WAL the engine has not decoded yet (0 when caught up)",
          s.lag_standby_seconds);
  auto& pos = m.G("pgtrickle_engine_wal_position_bytes",
                  "WAL positions (LSN as a byte offset): decoded/applied/restart by the engine, primary write, "
                  "standby replay/receive");
  pos.Add({{"position", "decoded"}}).Set(static_cast<double>(s.decoded_lsn));
  pos.Add({{"position", "applied"}}).Set(static_cast<double>(s.applied_lsn));
  pos.Add({{"position", "restart"}}).Set(static_cast<double>(s.restart_lsn));
  if (pk) pos.Add({{"position", "primary"}}).Set(static_cast<double>(s.primary_lsn));
  if (sk) pos.Add({{"position", "standby_replay"}}).Set(static_cast<double>(s.standby_replay_lsn));
  if (s.standby_receive_lsn) pos.Add({{"position", "standby_receive"}}).Set(static_cast<double>(s.standby_receive_lsn));
  m.Counter("pgtrickle_engine_decoded_wal_bytes_total", "WAL bytes decoded since start (rate = decode throughput)",
            static_cast<double>(s.decoded_wal_bytes));
  m.Counter("pgtrickle_engine_decoded_transactions_total", "Committed transactions decoded since start",
            static_cast<double>(s.decoded_transactions));
  m.Counter("pgtrickle_engine_decoded_changes_total", "Row changes decoded since start",
            static_cast<double>(s.decoded_changes));
  m.Counter("pgtrickle_engine_batches_committed_total", "Atomic RocksDB batches committed since start",
            static_cast<double>(s.batches_committed));
  m.Gauge("pgtrickle_engine_open_transactions", "Transactions decoded but not yet committed or aborted",
          static_cast<double>(s.open_transactions));
  m.Gauge("pgtrickle_engine_merges_running", "Merges running on merge threads now",
          static_cast<double>(s.merges_running));
  m.Counter("pgtrickle_engine_transaction_chunks_total", "Chunks of large transactions committed since start",
            static_cast<double>(s.transaction_chunks));
  m.Gauge("pgtrickle_engine_large_transaction_changes_applied",
          "Changes applied of the transaction being applied in chunks (0 = none)",
          static_cast<double>(s.large_txn_changes_applied));
  m.Gauge("pgtrickle_engine_state_size_bytes", "On-disk size of the engine's RocksDB state",
          static_cast<double>(s.state_bytes));
}

void FailoverMetrics(Metrics& m, const FailoverCounters& f) {
  m.Counter("pgtrickle_engine_reattaches_total", "Re-attachments to a standby/primary after a failover or lost connection",
            static_cast<double>(f.reattaches));
  m.Counter("pgtrickle_engine_resnapshots_total", "Stream tables bootstrapped again because a new timeline diverged",
            static_cast<double>(f.resnapshots));
  m.Counter("pgtrickle_engine_rewinds_total", "Rewinds of the engine state to a checkpoint before a timeline switch",
            static_cast<double>(f.rewinds));
  m.Counter("pgtrickle_engine_stale_primary_refusals_total", "Merges refused because the primary was stale or fenced",
            static_cast<double>(f.stale_primary_refusals));
  auto& wal = m.C("pgtrickle_engine_wal_read_bytes_total", "WAL bytes read, by source (stream or archive)");
  wal.Add({{"source", "stream"}}).Increment(static_cast<double>(f.wal_bytes_stream));
  wal.Add({{"source", "archive"}}).Increment(static_cast<double>(f.wal_bytes_archive));
  m.Gauge("pgtrickle_engine_timeline", "Timeline of the WAL being decoded", f.timeline);
  m.Gauge("pgtrickle_engine_last_switch_point_bytes", "LSN (as a byte offset) of the last timeline switch followed",
          static_cast<double>(f.last_switch_point));
  m.Gauge("pgtrickle_engine_last_reattach_to_first_merge_seconds",
          "Time from the last re-attach to the first merge after it", f.last_reattach_to_first_merge_seconds);
}

void TableMetrics(Metrics& m, const EngineSnapshot& s, double now) {
  auto& stale = m.G("pgtrickle_engine_stream_table_staleness_seconds",
                    "Seconds since the last time the primary had no committed change beyond the table's frontier");
  auto& frontier = m.G("pgtrickle_engine_stream_table_frontier_bytes", "Merged frontier (LSN as a byte offset)");
  auto& pending = m.G("pgtrickle_engine_stream_table_pending_changes",
                      "Source changes applied by the engine and not merged yet");
  auto& dur = m.G("pgtrickle_engine_stream_table_last_merge_duration_seconds", "Duration of the last merge");
  auto& rows = m.G("pgtrickle_engine_stream_table_last_merge_rows", "Rows written by the last merge");
  auto& last = m.G("pgtrickle_engine_stream_table_last_merge_timestamp_seconds", "Unix time of the last merge");
  auto& merges = m.C("pgtrickle_engine_stream_table_merges_total", "Merges that landed on the primary since start");
  auto& errors = m.C("pgtrickle_engine_stream_table_merge_errors_total", "Merge attempts that failed since start");
  auto& merged = m.C("pgtrickle_engine_stream_table_rows_merged_total", "Rows written by merges since start");
  auto& status = m.G("pgtrickle_engine_stream_table_status",
                     "1 for the table's current status (ACTIVE, BOOTSTRAPPING or ERROR)");
  for (const auto& t : s.tables) {
    Labels l{{"table", t.name}, {"sla_tier", t.sla_tier}};
    if (t.frontier_time_unix > 0) stale.Add(l).Set(std::max(0.0, now - t.frontier_time_unix));
    frontier.Add(l).Set(static_cast<double>(t.frontier));
    pending.Add(l).Set(static_cast<double>(t.pending_source_changes));
    dur.Add(l).Set(t.last_merge_seconds);
    rows.Add(l).Set(static_cast<double>(t.last_merge_rows));
    last.Add(l).Set(t.last_merge_unix);
    merges.Add(l).Increment(static_cast<double>(t.merges));
    errors.Add(l).Increment(static_cast<double>(t.merge_errors));
    merged.Add(l).Increment(static_cast<double>(t.rows_merged));
    for (const char* st : {"ACTIVE", "BOOTSTRAPPING", "ERROR"})
      status.Add({{"table", t.name}, {"sla_tier", t.sla_tier}, {"status", st}}).Set(t.status == st ? 1 : 0);
  }
  auto& src_rows = m.G("pgtrickle_engine_source_pending_rows", "Changes of a source table not merged yet");
  auto& src_age = m.G("pgtrickle_engine_source_oldest_pending_age_seconds",
                      "Age of the oldest unmerged change of a source table (0 when none)");
  for (const auto& src : s.sources) {
    Labels l{{"source_table", src.name}};
    src_rows.Add(l).Set(static_cast<double>(src.pending_rows));
    src_age.Add(l).Set(src.oldest_pending_commit_unix > 0 ? std::max(0.0, now - src.oldest_pending_commit_unix) : 0);
  }
}

void LiveMetrics(Metrics& m, LiveProgress& live, double now) {
  m.Gauge("pgtrickle_engine_main_loop_beat_age_seconds", "Seconds since the main loop last showed progress",
          std::max(0.0, now - live.beat_unix_ms.load() / 1000.0));
  m.Gauge("pgtrickle_engine_bootstraps_running", "Stream table bootstraps in progress",
          static_cast<double>(live.bootstraps_running.load()));
  m.Gauge("pgtrickle_engine_bootstrap_rows_loaded", "Rows loaded so far by the bootstrap in progress",
          static_cast<double>(live.bootstrap_rows_loaded.load()));
  m.Gauge("pgtrickle_engine_bootstrap_rows_expected",
          "Estimated rows of the bootstrap in progress (the sources' reltuples; 0 = unknown or none running)",
          static_cast<double>(live.bootstraps_running.load() > 0 ? live.bootstrap_rows_expected.load() : 0));
  m.Counter("pgtrickle_engine_bootstrap_rows_total", "Rows loaded by all bootstraps since start",
            static_cast<double>(live.bootstrap_rows_total.load()));
  m.Counter("pgtrickle_engine_bootstraps_completed_total", "Bootstraps completed since start",
            static_cast<double>(live.bootstraps_completed.load()));
}
}  // namespace

double NowUnix() { return NowUnixMs() / 1000.0; }

void LiveProgress::Beat() { beat_unix_ms.store(NowUnixMs(), std::memory_order_relaxed); }
void LiveProgress::BootstrapStarted(const std::string& table) {
  { std::lock_guard<std::mutex> l(mu); bootstrap_table = table; }
  bootstrap_rows_loaded = 0;
  bootstrap_rows_expected = 0;
  ++bootstraps_running;
  Beat();
}
void LiveProgress::BootstrapRows(int64_t rows_so_far) {
  int64_t before = bootstrap_rows_loaded.exchange(rows_so_far);
  if (rows_so_far > before) bootstrap_rows_total += rows_so_far - before;
  Beat();
}
void LiveProgress::BootstrapEnded(bool completed) {
  { std::lock_guard<std::mutex> l(mu); bootstrap_table.clear(); }
  if (bootstraps_running > 0) --bootstraps_running;
  if (completed) ++bootstraps_completed;
  Beat();
}

void LiveProgress::StepStarted() { step_started_unix_ms = NowUnixMs(); }
void LiveProgress::StepEnded() {
  step_started_unix_ms = 0;
  Beat();
}

void SnapshotHub::Publish(std::shared_ptr<const EngineSnapshot> s) {
  std::lock_guard<std::mutex> l(mu_);
  snap_ = std::move(s);
}
std::shared_ptr<const EngineSnapshot> SnapshotHub::Get() const {
  std::lock_guard<std::mutex> l(mu_);
  return snap_;
}

std::string RenderMetrics(const EngineSnapshot& s, LiveProgress& live, double now) {
  Metrics m;
  EngineMetrics(m, s, now);
  FailoverMetrics(m, s.failover);
  TableMetrics(m, s, now);
  LiveMetrics(m, live, now);
  return prometheus::TextSerializer().Serialize(m.reg.Collect());
}

std::string RenderStatusJson(const EngineSnapshot& s, LiveProgress& live, double now) {
  using nlohmann::json;
  json tables = json::array(), sources = json::array();
  for (const auto& t : s.tables)
    tables.push_back({{"id", t.id}, {"name", t.name}, {"sla_tier", t.sla_tier}, {"status", t.status},
                      {"last_error", t.last_error.empty() ? json(nullptr) : json(t.last_error)},
                      {"frontier", t.frontier ? json(FormatLsn(t.frontier)) : json(nullptr)},
                      {"staleness_seconds", t.frontier_time_unix > 0 ? json(now - t.frontier_time_unix) : json(nullptr)},
                      {"pending_source_changes", t.pending_source_changes}, {"merges", t.merges},
                      {"merge_errors", t.merge_errors}, {"last_merge_seconds", t.last_merge_seconds},
                      {"last_merge_rows", t.last_merge_rows}});
  for (const auto& src : s.sources)
    sources.push_back({{"source_table", src.name}, {"pending_rows", src.pending_rows},
                       {"oldest_pending_age_seconds",
                        src.oldest_pending_commit_unix > 0 ? json(now - src.oldest_pending_commit_unix) : json(nullptr)}});
  auto lsn = [](Lsn l) { return l ? json(FormatLsn(l)) : json(nullptr); };
  std::string boot_table;
  { std::lock_guard<std::mutex> l(live.mu); boot_table = live.bootstrap_table; }
  json j = {
      {"version", PGT_VERSION},
      {"plan_format", std::stoi(kPlanFormat)},
      {"snapshot_age_seconds", s.taken_unix > 0 ? now - s.taken_unix : 0},
      {"roles", {{"primary", {{"host", s.primary_host}, {"connected", s.primary_connected}}},
                 {"standby", {{"host", s.standby_host}, {"connected", s.standby_connected},
                              {"in_recovery", s.standby_in_recovery}}}}},
      {"epoch", s.epoch},
      {"timeline", s.failover.timeline},
      {"consistent", s.consistent},
      {"lsn", {{"decoded", lsn(s.decoded_lsn)}, {"applied", lsn(s.applied_lsn)}, {"restart", lsn(s.restart_lsn)},
               {"primary", lsn(s.primary_lsn)}, {"standby_replay", lsn(s.standby_replay_lsn)},
               {"standby_receive", lsn(s.standby_receive_lsn)}}},
      {"lag", {{"primary_bytes", s.primary_lsn ? Lag(s.primary_lsn, s.decoded_lsn) : 0.0},
               {"primary_seconds", s.lag_primary_seconds},
               {"standby_bytes", s.standby_replay_lsn ? Lag(s.standby_replay_lsn, s.decoded_lsn) : 0.0},
               {"standby_seconds", s.lag_standby_seconds}}},
      {"bootstrap", {{"running", live.bootstraps_running.load()}, {"table", boot_table.empty() ? json(nullptr) : json(boot_table)},
                     {"rows_loaded", live.bootstrap_rows_loaded.load()},
                     {"rows_expected", live.bootstraps_running.load() > 0 ? live.bootstrap_rows_expected.load() : 0}}},
      {"state_size_bytes", s.state_bytes},
      {"tables", tables},
      {"sources", sources},
  };
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Verdict CheckHealth(const LiveProgress& live, const HealthPolicy& p, double now) {
  double age = now - live.beat_unix_ms.load() / 1000.0;
  int64_t step = live.step_started_unix_ms.load();
  if (step != 0) {   // inside one merge: the primary is working for us; allow much longer
    double step_age = now - step / 1000.0;
    if (step_age <= p.step_stall_seconds) return {true, "ok (merging)"};
    std::ostringstream os;
    os << "one merge has been running for " << static_cast<int64_t>(step_age) << " s (limit "
       << p.step_stall_seconds << " s)";
    return {false, os.str()};
  }
  if (age > p.stall_seconds) {
    std::ostringstream os;
    os << "main loop shows no progress for " << static_cast<int64_t>(age) << " s (limit " << p.stall_seconds << " s)";
    return {false, os.str()};
  }
  return {true, "ok"};
}

Verdict CheckReady(const EngineSnapshot& s, const LiveProgress& live, const HealthPolicy& p, double now) {
  Verdict h = CheckHealth(live, p, now);
  if (!h.ok) return h;
  if (s.taken_unix <= 0) return {false, "starting: no state published yet"};
  if (now - s.taken_unix > p.snapshot_max_age_seconds) return {false, "state snapshot is stale (main loop busy)"};
  if (!s.primary_connected) return {false, "not connected to the primary"};
  if (!s.standby_connected) return {false, "not connected to the standby"};
  if (!s.consistent) return {false, "WAL decoder has not reached a consistent point yet"};
  if (s.standby_replay_lsn == 0) return {false, "standby position unknown"};
  double lag = Lag(s.standby_replay_lsn, s.decoded_lsn);
  if (lag > static_cast<double>(p.ready_max_lag_bytes)) {
    std::ostringstream os;
    os << "behind the standby by " << static_cast<uint64_t>(lag) << " bytes (limit " << p.ready_max_lag_bytes << ")";
    return {false, os.str()};
  }
  return {true, "ok"};
}

}  // namespace pgt::engine
