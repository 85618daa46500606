// See failover.h.
#include "failover.h"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>

#include "failover_stats.h"

namespace pgt::engine {

FailoverStats& GlobalFailoverStats() {
  static FailoverStats stats;
  return stats;
}

namespace {
std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(',', b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) return out;
    b = e + 1;
  }
}

std::string QuoteConnValue(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}
}  // namespace

Result<std::vector<HostConninfo>> SplitHosts(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string m = err ? err : "out of memory";
    if (err) PQfreemem(err);
    while (!m.empty() && m.back() == '\n') m.pop_back();
    return Status::InvalidArgument("cannot parse conninfo: " + m);
  }
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> guard(opts, PQconninfoFree);
  std::string host, hostaddr, port, rest;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string k = o->keyword, v = o->val;
    if (k == "host") host = v;
    else if (k == "hostaddr") hostaddr = v;
    else if (k == "port") port = v;
    else rest += k + "=" + QuoteConnValue(v) + " ";
  }
  std::vector<std::string> hosts = SplitComma(host), addrs = SplitComma(hostaddr), ports = SplitComma(port);
  size_t n = std::max(host.empty() ? 0 : hosts.size(), hostaddr.empty() ? 0 : addrs.size());
  if (n == 0) n = 1;   // libpq defaults (socket / PGHOST)
  if (!host.empty() && !hostaddr.empty() && hosts.size() != addrs.size())
    return Status::InvalidArgument("conninfo: " + std::to_string(hosts.size()) + " host(s) but " +
                                   std::to_string(addrs.size()) + " hostaddr(s)");
  if (!port.empty() && ports.size() != 1 && ports.size() != n)
    return Status::InvalidArgument("conninfo: " + std::to_string(n) + " host(s) but " +
                                   std::to_string(ports.size()) + " port(s)");
  std::vector<HostConninfo> out;
  for (size_t i = 0; i < n; ++i) {
    HostConninfo h;
    h.conninfo = rest;
    std::string hn = host.empty() ? "" : hosts[i];
    std::string ha = hostaddr.empty() ? "" : addrs[i];
    std::string pt = port.empty() ? "" : ports.size() == 1 ? ports[0] : ports[i];
    if (!hn.empty()) h.conninfo += "host=" + QuoteConnValue(hn) + " ";
    if (!ha.empty()) h.conninfo += "hostaddr=" + QuoteConnValue(ha) + " ";
    if (!pt.empty()) h.conninfo += "port=" + QuoteConnValue(pt) + " ";
    h.label = (hn.empty() ? (ha.empty() ? "local" : ha) : hn) + ":" + (pt.empty() ? "5432" : pt);
    out.push_back(std::move(h));
  }
  return out;
}

std::string HostsLabel(const std::string& conninfo) {
  auto hs = SplitHosts(conninfo);
  if (!hs.ok()) return "?";
  std::string out;
  for (const auto& h : *hs) out += (out.empty() ? "" : ",") + h.label;
  return out;
}

LineageVerdict CheckLineage(const FollowedLineage& f, const PrimaryLineage& p) {
  auto stale = [](std::string why) { return LineageVerdict{LineageKind::kStale, std::move(why)}; };
  if (!f.system_id.empty() && !p.system_id.empty() && f.system_id != p.system_id)
    return stale("system identifier " + p.system_id + " differs from " + f.system_id +
                 " of the WAL the engine follows");
  if (p.tli < f.newest_known)
    return stale("its timeline " + std::to_string(p.tli) + " is older than timeline " +
                 std::to_string(f.newest_known) + " (seen on " + f.newest_known_from + ")");
  if (p.tli < f.tli)
    return stale("its timeline " + std::to_string(p.tli) + " is older than timeline " +
                 std::to_string(f.tli) + " of the WAL the engine applied");
  if (p.history && !f.newest_history.empty()) {
    // Two servers can both call their new timeline N (split brain): the switch points tell.
    for (const auto& mine : f.newest_history) {
      const TimelineSpan* theirs = FindTimeline(*p.history, mine.tli);
      if (theirs && theirs->begin != mine.begin)
        return stale("its timeline " + std::to_string(mine.tli) + " began at " + FormatLsn(theirs->begin) +
                     ", the engine's at " + FormatLsn(mine.begin) + " (another history)");
    }
  }
  if (f.tli == 0 || p.tli == f.tli) return {};
  if (!p.history)
    return {LineageKind::kUnknown, "cannot read the history of its timeline " + std::to_string(p.tli) +
                                       " (not from the server, the standby nor the archive)"};
  const TimelineSpan* span = FindTimeline(*p.history, f.tli);
  if (span == nullptr)
    return stale("timeline " + std::to_string(f.tli) + " of the WAL the engine applied is not in the history of its timeline " +
                 std::to_string(p.tli));
  if (span->end != kEndOfTime && span->end < f.applied) {
    LineageVerdict v{LineageKind::kDiverged,
                     "timeline " + std::to_string(f.tli) + " ended at " + FormatLsn(span->end) +
                         " in its history, but the engine applied WAL of it up to " + FormatLsn(f.applied)};
    v.switch_point = span->end;
    for (const auto& s : *p.history)
      if (s.begin == span->end && s.tli > f.tli) { v.switch_to = s.tli; break; }
    return v;
  }
  return {};
}

std::chrono::milliseconds Backoff::Next() {
  auto d = initial_;
  for (int i = 0; i < attempt_ && d < cap_; ++i) d *= 2;
  d = std::min(d, cap_);
  ++attempt_;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(d.count()) * jitter(rng_)));
}

}  // namespace pgt::engine
