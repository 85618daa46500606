// Public: the engine daemon's core. An Engine attaches to a hot standby (WAL stream, catalog,
// bootstrap snapshots) and a primary (merges, epoch, heartbeat), maintains every stream table
// of the pg_trickle catalog, and keeps all state in RocksDB under EngineOptions::state_dir.
//
// Run() returns when `stop` becomes true (after committing the current batch) or on a fatal
// error. One Engine per state directory (RocksDB holds a lock on it). Not thread-safe apart from
// `stop`, which may be set from a signal handler.
#pragma once

#include <atomic>
#include <memory>

#include "engine/options.h"
#include "walreader/status.h"

namespace pgt::engine {

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& opts);
  ~Engine();
  Status Run(const std::atomic<bool>& stop);

 private:
  Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgt::engine
