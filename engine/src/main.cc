// pgtrickle-engine: the daemon. Flags and exit codes: docs/engine-cli.md and --help.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "log.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace pgt::engine;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto opts = ParseOptions(args);
  if (!opts.ok()) {
    std::fprintf(stderr, "pgtrickle-engine: %s\n", opts.status().message().c_str());
    return 2;
  }
  if (opts->help) {
    std::fputs(UsageText().c_str(), stdout);
    return 0;
  }
  SetLogFormat(opts->log_format);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  auto engine = Engine::Open(*opts);
  if (!engine.ok()) {
    std::fprintf(stderr, "pgtrickle-engine: %s\n", engine.status().message().c_str());
    return 2;
  }
  pgt::Status st = (*engine)->Run(g_stop);
  if (!st.ok()) {
    Log(LogLevel::kError, "fatal: " + st.message());
    return 1;
  }
  return 0;
}
