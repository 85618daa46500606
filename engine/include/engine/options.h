// Public: engine configuration: command-line flags and an optional `key = value` config file
// (docs/engine-cli.md). A bad value is reported as one line naming the flag and the problem.
#pragma once

#include <string>
#include <vector>

#include "walreader/status.h"

namespace pgt::engine {

enum class LogFormat { kText, kJson };

struct EngineOptions {
  std::string primary_conninfo;       // required
  std::string standby_conninfo;       // required
  std::string state_dir;              // required
  std::string slot = "pgtrickle_engine";
  LogFormat log_format = LogFormat::kText;
  int poll_ms = 500;                  // catalog poll period (new/dropped stream tables)
  int batch_ms = 200;                 // max age of an uncommitted batch of decoded transactions
  int heartbeat_ms = 1000;            // status written to the primary
  bool log_format_given = false;      // --log-format set: pg_trickle.log_format is not read
  // HTTP (docs/engine-cli.md): /metrics, /healthz, /readyz, /status; "" = no HTTP server.
  std::string http_listen;
  int health_stall_s = 60;            // /healthz fails after this long without main-loop progress
  int ready_max_lag_mb = 64;          // /readyz fails while this far behind the standby
  // issue 8 (failover): second WAL source and RocksDB checkpoints for divergence rewinds.
  std::string archive_dir;            // WAL archive directory (flat or barman layout), "" = none
  std::string restore_command;        // restore_command-style ('%f' '%p'), "" = none
  int checkpoint_interval_s = 60;     // RocksDB checkpoint period (0 = none)
  int checkpoint_keep = 3;            // checkpoints kept
  bool help = false;
};

// Parses argv (and --config FILE). Returns InvalidArgument with a one-line reason.
Result<EngineOptions> ParseOptions(const std::vector<std::string>& args);
std::string UsageText();

}  // namespace pgt::engine
