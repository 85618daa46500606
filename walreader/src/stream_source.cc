// Physical replication source (libpq, replication=true): IDENTIFY_SYSTEM, START_REPLICATION
// [SLOT s] PHYSICAL X/X TIMELINE t, CopyBoth messages 'w' (XLogData) and 'k' (keepalive), 'r'
// standby status updates (write = received, flush = apply = ConfirmFlush) every status_interval
// and when the server asks. A dropped connection is re-established with exponential backoff
// (100 ms .. 10 s), resuming at the next byte not yet handed out. Protocol integers are
// big-endian (wal-format.md §9). Not thread-safe.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "walreader/source.h"

namespace pgt {

namespace {
using Clock = std::chrono::steady_clock;
constexpr int64_t kPgEpochOffsetUs = 946684800LL * 1000000LL;

uint64_t BE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
void PutBE64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; i--) { p[i] = static_cast<char>(v & 0xFF); v >>= 8; }
}
int64_t NowPgUs() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  return us - kPgEpochOffsetUs;
}

Result<PGconn*> ConnectReplication(const std::string& conninfo) {
  const char* keys[] = {"dbname", "replication", "fallback_application_name", nullptr};
  const char* vals[] = {conninfo.c_str(), "true", "pgtrickle-walreader", nullptr};
  PGconn* c = PQconnectdbParams(keys, vals, 1);
  if (c == nullptr) return Status::Unavailable("out of memory creating a libpq connection");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status::Unavailable("replication connection failed: " + msg);
  }
  return c;
}

struct SystemId {
  TimeLineId tli = 0;
  Lsn xlogpos = 0;
};
Result<SystemId> IdentifySystem(PGconn* c) {
  PGresult* r = PQexec(c, "IDENTIFY_SYSTEM");
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 3) {
    std::string msg = PQerrorMessage(c);
    PQclear(r);
    return Status::Unavailable("IDENTIFY_SYSTEM failed: " + msg);
  }
  SystemId id;
  id.tli = static_cast<TimeLineId>(std::strtoul(PQgetvalue(r, 0, 1), nullptr, 10));
  auto pos = ParseLsn(PQgetvalue(r, 0, 2));
  PQclear(r);
  if (!pos.ok()) return pos.status();
  id.xlogpos = pos.value();
  return id;
}

class StreamSource : public WalSource {
 public:
  explicit StreamSource(StreamOptions o) : opts_(std::move(o)) {}
  ~StreamSource() override { Disconnect(); }

  Status Start(Lsn start, TimeLineId tli) override {
    Disconnect();
    pos_ = start;
    tli_ = tli;
    backoff_ = std::chrono::milliseconds(0);
    next_attempt_ = Clock::now();
    return Status::Ok();
  }

  Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds wait) override {
    const auto deadline = Clock::now() + wait;
    if (conn_ == nullptr) {
      if (Clock::now() < next_attempt_) {
        std::this_thread::sleep_until(std::min(deadline, next_attempt_));
        return Status::Ok();
      }
      Status st = Connect();
      if (!st.ok()) {
        if (!ever_connected_) return st;   // configuration errors surface at once
        ScheduleReconnect();
        return Status::Ok();
      }
    }
    size_t before = out->size();
    for (;;) {
      MaybeSendStatus(false);
      char* buf = nullptr;
      int n = PQgetCopyData(conn_, &buf, 1);
      if (n > 0) {
        Status st = Handle(buf, n, out);
        PQfreemem(buf);
        if (!st.ok()) return st;
        if (out->size() > before) return Status::Ok();
        continue;
      }
      if (n == 0) {
        auto now = Clock::now();
        if (now >= deadline) return Status::Ok();
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        ms = std::min<int64_t>(ms, std::max<int64_t>(1, opts_.status_interval.count()));
        pollfd pfd{PQsocket(conn_), POLLIN, 0};
        ::poll(&pfd, 1, static_cast<int>(ms));
        if (PQconsumeInput(conn_) == 0) {   // connection lost
          Drop();
          return Status::Ok();
        }
        continue;
      }
      // -1: the server ended the stream (end of timeline, shutdown); -2: error.
      Drop();
      return Status::Ok();
    }
  }

  void ConfirmFlush(Lsn lsn) override { flushed_ = std::max(flushed_, lsn); }
  TimeLineId timeline() const override { return tli_; }

 private:
  Status Connect() {
    PGT_ASSIGN_OR_RETURN(PGconn* c, ConnectReplication(opts_.conninfo));
    conn_ = c;
    auto id = IdentifySystem(conn_);
    if (!id.ok()) { Disconnect(); return id.status(); }
    if (tli_ == 0) tli_ = id->tli;
    std::string cmd = "START_REPLICATION ";
    if (!opts_.slot.empty()) cmd += "SLOT " + opts_.slot + " ";
    cmd += "PHYSICAL " + FormatLsn(pos_) + " TIMELINE " + std::to_string(tli_);
    PGresult* r = PQexec(conn_, cmd.c_str());
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
      std::string msg = PQerrorMessage(conn_);
      PQclear(r);
      Disconnect();
      return Status::Unavailable(cmd + " failed: " + msg);
    }
    PQclear(r);
    ever_connected_ = true;
    backoff_ = std::chrono::milliseconds(0);
    last_status_ = Clock::time_point{};
    return Status::Ok();
  }

  Status Handle(const char* m, int n, std::vector<uint8_t>* out) {
    if (m[0] == 'w') {
      if (n < 25) return Status::Corruption("short XLogData message");
      Lsn start = BE64(m + 1);
      const char* data = m + 25;
      size_t len = static_cast<size_t>(n - 25);
      if (start > pos_)
        return Status::Corruption("replication stream skipped from " + FormatLsn(pos_) + " to " +
                                  FormatLsn(start));
      size_t skip = static_cast<size_t>(std::min<uint64_t>(pos_ - start, len));
      out->insert(out->end(), data + skip, data + len);
      pos_ += len - skip;
      return Status::Ok();
    }
    if (m[0] == 'k') {
      if (n < 18) return Status::Corruption("short keepalive message");
      if (m[17]) MaybeSendStatus(true);
      return Status::Ok();
    }
    return Status::Corruption(std::string("unexpected replication message type '") + m[0] + "'");
  }

  void MaybeSendStatus(bool force) {
    auto now = Clock::now();
    if (!force && now - last_status_ < opts_.status_interval) return;
    char msg[34];
    msg[0] = 'r';
    PutBE64(msg + 1, pos_);
    PutBE64(msg + 9, flushed_);
    PutBE64(msg + 17, flushed_);
    PutBE64(msg + 25, static_cast<uint64_t>(NowPgUs()));
    msg[33] = 0;
    if (PQputCopyData(conn_, msg, sizeof msg) == 1) PQflush(conn_);
    last_status_ = now;
  }

  void ScheduleReconnect() {
    backoff_ = backoff_.count() == 0 ? std::chrono::milliseconds(100)
                                     : std::min(backoff_ * 2, std::chrono::milliseconds(10000));
    next_attempt_ = Clock::now() + backoff_;
  }
  void Drop() {
    Disconnect();
    ScheduleReconnect();
  }
  void Disconnect() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
  }

  StreamOptions opts_;
  PGconn* conn_ = nullptr;
  Lsn pos_ = 0;          // next byte to hand out
  Lsn flushed_ = 0;
  TimeLineId tli_ = 0;
  bool ever_connected_ = false;
  std::chrono::milliseconds backoff_{0};
  Clock::time_point next_attempt_{};
  Clock::time_point last_status_{};
};
}  // namespace

Result<std::unique_ptr<WalSource>> OpenStreamSource(const StreamOptions& opts) {
  if (opts.conninfo.empty()) return Status::InvalidArgument("stream source needs a conninfo");
  return std::unique_ptr<WalSource>(new StreamSource(opts));
}

Result<Lsn> IdentifySystemXLogPos(const std::string& conninfo, TimeLineId* tli) {
  PGT_ASSIGN_OR_RETURN(PGconn* c, ConnectReplication(conninfo));
  auto id = IdentifySystem(c);
  PQfinish(c);
  if (!id.ok()) return id.status();
  if (tli != nullptr) *tli = id->tli;
  return id->xlogpos;
}

}  // namespace pgt
