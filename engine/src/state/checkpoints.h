// State checkpoints for divergence rewinds (issue 8): consistent copies of the RocksDB state
// (SST files hard-linked) in STATE_DIR/checkpoints/ckpt-<applied LSN>-<timeline>/, each with an
// info.json naming its decoding position and every table's merged frontier, so a rewind can
// pick one without opening it. Restore replaces the live state by a checkpoint; it is
// crash-safe: a marker written first makes the next Open finish an interrupted restore.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "state/state_store.h"
#include "walreader/lsn.h"

namespace pgt::engine {

struct CheckpointInfo {
  std::string dir;              // full path
  Lsn applied_upto = 0;
  Lsn restart_lsn = 0;
  TimeLineId tli = 0;
  int64_t taken_unix = 0;
  std::map<int64_t, std::optional<Lsn>> merged;   // table id -> merged frontier (nullopt = none)
};

class CheckpointSet {
 public:
  CheckpointSet(std::string state_dir, int keep) : state_dir_(std::move(state_dir)), keep_(keep) {}
  // Checkpoints `store` (committed state) as `info` (dir is filled in), then keeps the newest
  // `keep` by applied position.
  Status Take(StateStore* store, CheckpointInfo info);
  // Complete checkpoints, newest (highest applied position) first.
  Result<std::vector<CheckpointInfo>> List() const;
  // Replaces the state in state_dir by `cp` (the store must be closed).
  static Status Restore(const std::string& state_dir, const CheckpointInfo& cp);
  // Finishes a restore interrupted by a crash (call before opening the store).
  static Status FinishInterruptedRestore(const std::string& state_dir);
  // A restore leaves a "rewound" mark until the engine reconciled the restored frontiers with
  // the primary's (a crash in between must not read a newer primary frontier as foreign).
  static bool RewindNotReconciled(const std::string& state_dir);
  static void MarkRewindReconciled(const std::string& state_dir);

 private:
  std::string state_dir_;
  int keep_;
};

}  // namespace pgt::engine
