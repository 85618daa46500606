// Failover counters (issue 8) kept in memory in one struct, for the metrics endpoint and
// /status. Written by the engine's main thread, read by any thread: every field is atomic, each
// read is a consistent value of that field (not a snapshot of all of them together).
#pragma once

#include <atomic>
#include <cstdint>

namespace pgt::engine {

struct FailoverStats {
  std::atomic<uint64_t> reattaches{0};               // re-attaches to a primary after a loss/switch
  std::atomic<uint64_t> resnapshots{0};              // stream tables bootstrapped again (last resort)
  std::atomic<uint64_t> wal_bytes_stream{0};         // WAL bytes read from a replication stream
  std::atomic<uint64_t> wal_bytes_archive{0};        // WAL bytes read from the archive
  std::atomic<uint32_t> timeline{0};                 // timeline of the WAL being decoded
  std::atomic<uint64_t> last_switch_point{0};        // LSN where the newest followed timeline began
  std::atomic<int64_t> last_reattach_to_first_merge_ms{-1};   // -1 = none yet
  std::atomic<uint64_t> stale_primary_refusals{0};   // read-write servers refused by the lineage check
  std::atomic<uint64_t> rewinds{0};                  // state restored from a checkpoint (divergence)
  std::atomic<uint64_t> divergences{0};              // new timelines that forked before applied WAL
};

// The process-wide instance (one engine per process).
FailoverStats& GlobalFailoverStats();

}  // namespace pgt::engine
