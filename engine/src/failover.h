// Failover building blocks (issue 8), free of I/O so they are unit-tested:
//  - SplitHosts: a multi-host libpq conninfo -> one conninfo per host, so each candidate primary
//    is checked on its own (libpq would stop at the first read-write host, stale or not);
//  - CheckLineage: may the engine write to this read-write server?
//  - Backoff: exponential retry delays with jitter.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "walreader/timelines.h"

namespace pgt::engine {

struct HostConninfo {
  std::string conninfo;   // the original with one host/hostaddr/port
  std::string label;      // host:port, for logs
};
// InvalidArgument if libpq cannot parse it or the host and port lists do not match.
Result<std::vector<HostConninfo>> SplitHosts(const std::string& conninfo);
// host:port list of a conninfo, for logs ("?" if unparsable).
std::string HostsLabel(const std::string& conninfo);

// What the engine follows: the WAL it applied and the newest timeline it heard of (from its
// stream, its standby, the archive).
struct FollowedLineage {
  std::string system_id;            // of the WAL followed ("" = not known yet)
  TimeLineId tli = 0;               // timeline of the applied position (0 = not known yet)
  Lsn applied = 0;                  // applied_upto
  TimeLineId newest_known = 0;      // newest timeline seen anywhere
  std::string newest_known_from;    // where it was seen (for the reason text)
  TimelineHistory newest_history;   // history of newest_known, if read (may be empty)
};

// A read-write server as seen through SQL / replication.
struct PrimaryLineage {
  std::string system_id;
  TimeLineId tli = 0;
  std::optional<TimelineHistory> history;   // of `tli`; nullopt = could not be read
};

enum class LineageKind {
  kOk,        // write to it
  kStale,     // never write to it (older timeline, other history, other system)
  kDiverged,  // the right primary, but its timeline forked before WAL the engine applied
  kUnknown,   // cannot decide (history unreadable): do not write yet, retry
};

struct LineageVerdict {
  LineageKind kind = LineageKind::kOk;
  std::string reason;
  Lsn switch_point = 0;            // kDiverged: where the followed timeline ended on the primary
  TimeLineId switch_to = 0;        // kDiverged: the timeline that continued there
};

LineageVerdict CheckLineage(const FollowedLineage& followed, const PrimaryLineage& primary);

// Exponential backoff with ±20 % jitter: initial, 2x, 4x, ... capped.
class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds initial = std::chrono::milliseconds(100),
                   std::chrono::milliseconds cap = std::chrono::milliseconds(5000))
      : initial_(initial), cap_(cap), rng_(std::random_device{}()) {}
  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_, cap_;
  int attempt_ = 0;
  std::minstd_rand rng_;
};

}  // namespace pgt::engine
