#include "engine/options.h"

#include <charconv>
#include <fstream>
#include <map>

#include "http/server.h"

namespace pgt::engine {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

Status ParseInt(const std::string& key, const std::string& v, int lo, int hi, int* out) {
  int x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x < lo || x > hi)
    return Status::InvalidArgument("--" + key + ": expected an integer in [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "], got \"" + v + "\"");
  *out = x;
  return Status::Ok();
}

Status Apply(EngineOptions* o, const std::string& key, const std::string& v) {
  if (key == "primary") o->primary_conninfo = v;
  else if (key == "standby") o->standby_conninfo = v;
  else if (key == "state-dir") o->state_dir = v;
  else if (key == "slot") {
    if (v.empty() || v.size() > 63 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
      return Status::InvalidArgument("--slot: \"" + v + "\" is not a valid slot name (lower-case letters, digits, _; at most 63)");
    o->slot = v;
  } else if (key == "log-format") {
    o->log_format_given = true;
    if (v == "text") o->log_format = LogFormat::kText;
    else if (v == "json") o->log_format = LogFormat::kJson;
    else return Status::InvalidArgument("--log-format: expected text or json, got \"" + v + "\"");
  } else if (key == "poll-ms") return ParseInt(key, v, 10, 60000, &o->poll_ms);
  else if (key == "batch-ms") return ParseInt(key, v, 1, 60000, &o->batch_ms);
  else if (key == "heartbeat-ms") return ParseInt(key, v, 50, 600000, &o->heartbeat_ms);
  else if (key == "http-listen") {
    std::string addr;
    uint16_t port = 0;
    PGT_RETURN_IF_ERROR(http::ParseListen(v, &addr, &port));   // binding errors: Engine::Open (exit 2)
    o->http_listen = v;
  }
  else if (key == "health-stall-s") return ParseInt(key, v, 5, 86400, &o->health_stall_s);
  else if (key == "ready-max-lag-mb") return ParseInt(key, v, 1, 1 << 20, &o->ready_max_lag_mb);
  else if (key == "archive") o->archive_dir = v;
  else if (key == "restore-command") {
    if (v.find("%f") == std::string::npos || v.find("%p") == std::string::npos)
      return Status::InvalidArgument("--restore-command: \"" + v + "\" needs both %f and %p");
    o->restore_command = v;
  } else if (key == "checkpoint-interval-s") return ParseInt(key, v, 0, 86400, &o->checkpoint_interval_s);
  else if (key == "checkpoint-keep") return ParseInt(key, v, 1, 100, &o->checkpoint_keep);
  else return Status::InvalidArgument("unknown option --" + key + " (see --help)");
  return Status::Ok();
}

Status LoadConfigFile(const std::string& path, std::map<std::string, std::string>* kv) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("--config: cannot read \"" + path + "\"");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos)
      return Status::InvalidArgument(path + ":" + std::to_string(n) + ": expected key = value");
    std::string k = Trim(line.substr(0, eq)), v = Trim(line.substr(eq + 1));
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    (*kv)[k] = v;
  }
  return Status::Ok();
}

}  // namespace

std::string UsageText() {
  return R"(Usage: pgtrickle-engine --primary CONNINFO --standby CONNINFO --state-dir DIR [options]

Maintains pg_trickle stream tables from a hot standby's WAL and merges results into the primary.

  --primary CONNINFO    libpq conninfo of the primary: merges, frontier CAS, heartbeat (required);
                        multi-host ok (host=a,b port=1,2 target_session_attrs=read-write)
  --standby CONNINFO    libpq conninfo of the hot standby: physical WAL stream, catalog reads,
                        bootstrap snapshots (required; needs replication permission); multi-host
                        ok (target_session_attrs=standby | prefer-standby | any)
  --archive DIR         WAL archive (flat or barman layout DIR/wals/<16 hex>/<segment>[.zst|.gz]):
                        read when the standby no longer has the WAL the engine needs
  --restore-command CMD restore_command-style shell command (%f segment name, %p target path),
                        alternative to --archive
  --checkpoint-interval-s N  RocksDB checkpoint period for divergence rewinds (default 60, 0 = off)
  --checkpoint-keep N   checkpoints kept in STATE_DIR/checkpoints (default 3)
  --state-dir DIR       RocksDB state directory, created if missing (required)
  --slot NAME           physical replication slot on the standby (default pgtrickle_engine;
                        created there if missing)
  --config FILE         read `key = value` lines with the keys of these long options
                        (e.g. `primary = host=... dbname=app`); flags on the command line win
  --log-format FMT      text or json: one line per event on stderr (default: the primary's
                        pg_trickle.log_format, text until it is read)
  --poll-ms N           catalog poll period for new/dropped stream tables (default 500)
  --batch-ms N          max age of an uncommitted batch of decoded transactions (default 200)
  --heartbeat-ms N      period of the status heartbeat to the primary (default 1000)
  --http-listen ADDR:PORT  serve /metrics, /healthz, /readyz and /status over HTTP there
                        (e.g. 0.0.0.0:9188; default: no HTTP server)
  --health-stall-s N    /healthz fails when the main loop shows no progress for N s (default 60)
  --ready-max-lag-mb N  /readyz fails while more than N MiB behind the standby (default 64)
  --help                this text

Exit status: 0 after SIGINT/SIGTERM, 2 on bad configuration, 1 on a fatal error.
)";
}

Result<EngineOptions> ParseOptions(const std::vector<std::string>& args) {
  EngineOptions o;
  std::map<std::string, std::string> cli;
  std::string config;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--help" || a == "-h") { o.help = true; return o; }
    if (a.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument \"" + a + "\" (see --help)");
    std::string key = a.substr(2), val;
    size_t eq = key.find('=');
    if (eq != std::string::npos) { val = key.substr(eq + 1); key = key.substr(0, eq); }
    else {
      if (i + 1 >= args.size()) return Status::InvalidArgument("--" + key + " needs a value");
      val = args[++i];
    }
    if (key == "config") config = val;
    else cli[key] = val;
  }
  std::map<std::string, std::string> merged;
  if (!config.empty()) PGT_RETURN_IF_ERROR(LoadConfigFile(config, &merged));
  for (auto& [k, v] : cli) merged[k] = v;
  for (auto& [k, v] : merged) PGT_RETURN_IF_ERROR(Apply(&o, k, v));
  if (o.primary_conninfo.empty()) return Status::InvalidArgument("--primary is required (see --help)");
  if (o.standby_conninfo.empty()) return Status::InvalidArgument("--standby is required (see --help)");
  if (o.state_dir.empty()) return Status::InvalidArgument("--state-dir is required (see --help)");
  if (!o.archive_dir.empty() && !o.restore_command.empty())
    return Status::InvalidArgument("--archive and --restore-command are alternatives: give one");
  return o;
}

}  // namespace pgt::engine
