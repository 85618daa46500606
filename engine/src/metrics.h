// What the engine shows to operators: a snapshot of its state published by the main loop and
// read by the HTTP thread (/metrics, /healthz, /readyz, /status — docs/engine-cli.md).
//
// Why a snapshot: the HTTP thread must never touch the engine's connections, RocksDB handles or
// tables (none of them is thread-safe) and must never make the main loop wait. The main loop
// builds an immutable EngineSnapshot at a cheap cadence and swaps a shared_ptr under a mutex held
// for the swap only; a scrape copies the pointer and renders from it. The few values that must
// move while the main loop is busy inside one long step (a bootstrap loading millions of rows,
// a long merge) are atomics in LiveProgress.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "walreader/lsn.h"

namespace pgt::engine {

// Per stream table, as seen by the engine.
struct TableSnapshot {
  int64_t id = 0;
  std::string name;
  std::string sla_tier;
  std::string status;                 // ACTIVE | ERROR | BOOTSTRAPPING (needs re-bootstrap)
  std::string last_error;
  Lsn frontier = 0;                   // last merged frontier (0 = none yet)
  double frontier_time_unix = 0;      // when the primary was last known to be at <= frontier
  int64_t pending_source_changes = 0; // source changes applied since the last merge
  int64_t merges = 0;                 // merges that landed since the engine started
  int64_t merge_errors = 0;           // merge attempts that failed
  int64_t rows_merged = 0;            // rows written by all merges
  double last_merge_seconds = 0;
  int64_t last_merge_rows = 0;
  double last_merge_unix = 0;
};

// Per source table (a table read by one or more stream tables).
struct SourceSnapshot {
  std::string name;                   // schema.table
  int64_t pending_rows = 0;           // changes not yet merged (max over its stream tables)
  double oldest_pending_commit_unix = 0;  // 0 = nothing pending
};

// Failover counters. The failover work (issue 8) keeps them in its own struct; PublishSnapshot
// copies them here. Fields it does not feed yet stay 0.
struct FailoverCounters {
  int64_t reattaches = 0;
  int64_t resnapshots = 0;
  int64_t rewinds = 0;
  int64_t stale_primary_refusals = 0;
  uint64_t wal_bytes_stream = 0;
  uint64_t wal_bytes_archive = 0;
  uint32_t timeline = 0;
  Lsn last_switch_point = 0;
  double last_reattach_to_first_merge_seconds = 0;
};

struct EngineSnapshot {
  double taken_unix = 0;              // wall clock when built
  double started_unix = 0;
  std::string primary_host, standby_host;   // host:port the connections reached ("" = down)
  bool primary_connected = false, standby_connected = false, standby_in_recovery = false;
  bool consistent = false;            // decoder reached a consistent point
  int64_t epoch = 0;
  // LSNs: what the engine decoded and applied, and where the servers are.
  Lsn decoded_lsn = 0, applied_lsn = 0, restart_lsn = 0;
  Lsn primary_lsn = 0;                // pg_current_wal_lsn() on the primary (0 = unknown)
  Lsn standby_replay_lsn = 0, standby_receive_lsn = 0;  // 0 = unknown
  double lag_primary_seconds = 0, lag_standby_seconds = 0;
  uint64_t decoded_wal_bytes = 0;     // cumulative WAL bytes decoded since start
  int64_t decoded_transactions = 0, decoded_changes = 0;
  int64_t batches_committed = 0;
  int64_t open_transactions = 0;
  int64_t merges_running = 0;               // merge threads busy (merge_pool.cc)
  int64_t transaction_chunks = 0;           // chunks of large transactions committed (large_txn.cc)
  int64_t large_txn_changes_applied = 0;    // of the transaction applied in part (0 = none)
  uint64_t state_bytes = 0;           // RocksDB on-disk size
  FailoverCounters failover;
  std::vector<TableSnapshot> tables;
  std::vector<SourceSnapshot> sources;
};

// Values the main loop moves while it is inside one long step.
struct LiveProgress {
  std::atomic<int64_t> beat_unix_ms{0};          // last sign of life of the main loop
  std::atomic<int64_t> bootstrap_rows_loaded{0}; // rows of the bootstrap in progress
  std::atomic<int64_t> bootstraps_running{0};
  std::atomic<int64_t> bootstraps_completed{0};
  std::atomic<int64_t> bootstrap_rows_total{0};  // rows loaded by all bootstraps
  std::atomic<int64_t> bootstrap_rows_expected{0};  // estimate for the one in progress (0 = unknown)
  std::atomic<int64_t> step_started_unix_ms{0};  // a long blocking step (a merge) running; 0 = none
  std::mutex mu;                                 // guards bootstrap_table
  std::string bootstrap_table;

  void Beat();
  void BootstrapStarted(const std::string& table);
  void BootstrapRows(int64_t rows_so_far);
  void BootstrapEnded(bool completed);
  void StepStarted();
  void StepEnded();
};

// What /readyz and /healthz decide with; set once from the options.
struct HealthPolicy {
  int stall_seconds = 60;             // /healthz fails if the main loop showed no life this long
  int step_stall_seconds = 3600;      // ... or a single merge has been running this long
  uint64_t ready_max_lag_bytes = 64ull << 20;   // /readyz: max bytes behind the standby
  int snapshot_max_age_seconds = 30;  // /readyz: the published snapshot must be this fresh
};

// The meeting point of the main loop (Publish, live) and the HTTP thread (Get, live).
class SnapshotHub {
 public:
  void Publish(std::shared_ptr<const EngineSnapshot> s);
  std::shared_ptr<const EngineSnapshot> Get() const;   // never null
  LiveProgress& live() { return live_; }
  const LiveProgress& live() const { return live_; }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const EngineSnapshot> snap_ = std::make_shared<EngineSnapshot>();
  LiveProgress live_;
};

double NowUnix();

// Prometheus text exposition (format 0.0.4) of a snapshot, built with prometheus-cpp's core
// registry and TextSerializer. Metric names and meanings: docs/engine-cli.md.
std::string RenderMetrics(const EngineSnapshot& s, LiveProgress& live, double now_unix);
// /status body (JSON).
std::string RenderStatusJson(const EngineSnapshot& s, LiveProgress& live, double now_unix);

struct Verdict {
  bool ok = false;
  std::string reason;   // one line: why not (or "ok")
};
Verdict CheckHealth(const LiveProgress& live, const HealthPolicy& p, double now_unix);
Verdict CheckReady(const EngineSnapshot& s, const LiveProgress& live, const HealthPolicy& p, double now_unix);

}  // namespace pgt::engine
