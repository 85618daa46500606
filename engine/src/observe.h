// The engine's observability state kept inside Engine::Impl (one member, `obs`): the snapshot
// hub read by the HTTP thread, the HTTP server itself, and the counters and position samples
// the main loop accumulates between snapshots. Only the main loop touches this struct, except
// `hub` (thread-safe by design, metrics.h). Filled by snapshot.cc; PositionSamples in positions.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "http/server.h"
#include "metrics.h"
#include "walreader/lsn.h"

namespace pgt::engine {

// (time, WAL position) samples of a server, to turn byte positions into time. TimeAt(x) is the
// last moment the server was at or below position x: the newest sample time if x is at or past
// the newest sample, else interpolated linearly between the two samples around x (WAL is written
// at a roughly even rate between two samples a heartbeat apart).
//  - lag: now − TimeAt(decoded): how long the server has had WAL the engine has not decoded;
//  - staleness: now − TimeAt(frontier): the age of the newest server state the table reflects.
// Positions only grow on one timeline; a sample lower than the last one (a new timeline, a
// restored server) restarts the history.
class PositionSamples {
 public:
  void Add(double t, Lsn lsn);
  Lsn latest() const { return samples_.empty() ? 0 : samples_.back().second; }
  // 0 when caught up; before the oldest sample: since the oldest sample.
  double SecondsBehind(Lsn decoded, double now) const;
  // 0 if x precedes the whole history (unknown) or there is no sample.
  double TimeAt(Lsn x) const;

 private:
  static constexpr size_t kMax = 4096;   // ~1 h at one sample per second
  std::deque<std::pair<double, Lsn>> samples_;
};

struct TableCounters {
  int64_t merges = 0, merge_errors = 0, rows_merged = 0, last_merge_rows = 0;
  double last_merge_seconds = 0, last_merge_unix = 0;
  double frontier_time_unix = 0;   // only grows (see PositionSamples::TimeAt)
};

struct Observability {
  SnapshotHub hub;
  HealthPolicy policy;
  std::unique_ptr<http::Server> http;
  double started_unix = 0;
  // Accumulated by the main loop.
  int64_t decoded_transactions = 0, decoded_changes = 0, batches_committed = 0;
  uint64_t decoded_wal_bytes = 0;
  Lsn last_decoded = 0;
  std::map<int64_t, TableCounters> table_counters;
  PositionSamples primary_samples, standby_samples;
  Lsn standby_receive_lsn = 0;
  bool standby_in_recovery = false;
  uint64_t state_bytes = 0;
  std::string log_format_seen;     // pg_trickle.log_format last applied
  std::chrono::steady_clock::time_point last_publish{}, last_sample{}, last_size{};
};

}  // namespace pgt::engine
