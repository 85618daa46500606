// Physical replication source (libpq, replication=true): IDENTIFY_SYSTEM, START_REPLICATION
// [SLOT s] PHYSICAL X/X TIMELINE t, CopyBoth messages 'w' (XLogData) and 'k' (keepalive), 'r'
// standby status updates (write = received, flush = apply = ConfirmFlush) every status_interval
// and when the server asks. A dropped connection is re-established with exponential backoff
// (100 ms .. 10 s), resuming at the next byte not yet handed out. Protocol integers are
// big-endian (wal-format.md §9). Not thread-safe.
//
// Timelines, as a cascading standby / pg_receivewal follows them: when the server is on a newer
// timeline than the one streamed, TIMELINE_HISTORY gives every switch point; the stream starts on
// the timeline holding the next byte. At the end of a historic timeline the server ends COPY and
// returns (next_tli, next_tli_startpos); streaming continues there on the same connection. A
// walsender on a standby is terminated when that standby is promoted: the reconnect finds the new
// timeline through its history. If bytes of the old timeline past the switch point were already
// handed out (a torn record: the standby sent flushed WAL it never replayed), they are void:
// TakeDiscardFrom() tells the reader, which drops them, so they are never decoded.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "timeline_history.h"
#include "walreader/source.h"
#include "walreader/timelines.h"

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
  // connect_timeout 5 s unless the conninfo sets one (expanded later, so it wins).
  const char* keys[] = {"connect_timeout", "dbname", "replication", "fallback_application_name", nullptr};
  const char* vals[] = {"5", conninfo.c_str(), "true", "pgtrickle-walreader", nullptr};
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
  std::string system_id;
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
  id.system_id = PQgetvalue(r, 0, 0);
  id.tli = static_cast<TimeLineId>(std::strtoul(PQgetvalue(r, 0, 1), nullptr, 10));
  auto pos = ParseLsn(PQgetvalue(r, 0, 2));
  PQclear(r);
  if (!pos.ok()) return pos.status();
  id.xlogpos = pos.value();
  return id;
}

// TIMELINE_HISTORY tli -> the spans of the server's history (content is the file's text).
Result<std::vector<internal::TimelineSpan>> FetchHistory(PGconn* c, TimeLineId tli) {
  std::string cmd = "TIMELINE_HISTORY " + std::to_string(tli);
  PGresult* r = PQexec(c, cmd.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 2) {
    std::string msg = PQerrorMessage(c);
    PQclear(r);
    return Status::Unavailable(cmd + " failed: " + msg);
  }
  std::string name = PQgetvalue(r, 0, 0);
  std::string text(PQgetvalue(r, 0, 1), static_cast<size_t>(PQgetlength(r, 0, 1)));
  PQclear(r);
  return internal::ParseTimelineHistory(text, tli, name + " (TIMELINE_HISTORY)");
}

// Consumes the results left after an error or a timeline result, up to the end of the command.
void DrainResults(PGconn* c) {
  while (PGresult* r = PQgetResult(c)) PQclear(r);
}

class StreamSource : public WalSource {
 public:
  explicit StreamSource(StreamOptions o) : opts_(std::move(o)) {}
  ~StreamSource() override { Disconnect(); }

  Status Start(Lsn start, TimeLineId tli) override {
    Disconnect();
    pos_ = start;
    first_ = start;
    tli_ = tli;
    discard_from_ = kInvalidLsn;
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
        // Configuration errors surface at once, and so does a history that does not contain
        // the timeline being streamed (retrying cannot help), unless the owner retries them.
        if (!opts_.retry_first_connect && (!ever_connected_ || st.code() != Status::Code::kUnavailable))
          return st;
        problem_ = st.message();
        ScheduleReconnect();
        return Status::Ok();
      }
      if (discard_from_ != kInvalidLsn) return Status::Ok();   // the reader drops bytes first
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
        if (out->size() > before) { problem_.clear(); return Status::Ok(); }
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
          problem_ = "replication connection lost: " + LastError();
          Drop();
          return Status::Ok();
        }
        continue;
      }
      // -1: the server ended the stream (end of a historic timeline, shutdown, promotion of
      // the standby we stream from); -2: error.
      if (n == -2) problem_ = "replication stream failed: " + LastError();
      if (n == -1) {
        auto switched = EndOfCopy();
        if (!switched.ok()) return switched.status();
        if (switched.value()) {
          Status st = StartStreaming();
          if (!st.ok()) {
            if (st.code() != Status::Code::kUnavailable) return st;
            Drop();
            return Status::Ok();
          }
          if (discard_from_ != kInvalidLsn || out->size() > before) return Status::Ok();
          continue;
        }
      }
      Drop();
      return Status::Ok();
    }
  }

  void ConfirmFlush(Lsn lsn) override { flushed_ = std::max(flushed_, lsn); }
  TimeLineId timeline() const override { return tli_; }
  std::string problem() const override { return problem_; }
  Lsn TakeDiscardFrom() override {
    Lsn d = discard_from_;
    discard_from_ = kInvalidLsn;
    return d;
  }

 private:
  Status Connect() {
    PGT_ASSIGN_OR_RETURN(PGconn* c, ConnectReplication(opts_.conninfo));
    conn_ = c;
    auto id = IdentifySystem(conn_);
    if (!id.ok()) { Disconnect(); return id.status(); }
    Status st = ChooseTimeline(id->tli);
    if (st.ok()) st = StartStreaming();
    if (!st.ok()) { Disconnect(); return st; }
    ever_connected_ = true;
    backoff_ = std::chrono::milliseconds(0);
    last_status_ = Clock::time_point{};
    return Status::Ok();
  }

  // The server is on `server_tli`. If that is newer than the timeline streamed (or none was
  // chosen), its history says which timeline holds pos_: every timeline that ended at or before
  // pos_ is left for its successor (discarding bytes past a switch point, see SwitchTimeline).
  Status ChooseTimeline(TimeLineId server_tli) {
    if (tli_ == server_tli || (tli_ != 0 && tli_ > server_tli)) return Status::Ok();
    if (server_tli <= 1) { tli_ = server_tli; return Status::Ok(); }   // timeline 1: no history
    PGT_ASSIGN_OR_RETURN(auto spans, FetchHistory(conn_, server_tli));
    size_t i = 0;
    if (tli_ == 0) {
      while (i + 1 < spans.size() && spans[i].end <= pos_) i++;
      tli_ = spans[i].tli;
      return Status::Ok();
    }
    while (i < spans.size() && spans[i].tli != tli_) i++;
    if (i == spans.size())
      return Status::InvalidArgument("timeline " + std::to_string(tli_) +
                                     " is not in the history of the server's timeline " +
                                     std::to_string(server_tli));
    for (; i + 1 < spans.size() && spans[i].end <= pos_; i++)
      PGT_RETURN_IF_ERROR(SwitchTimeline(spans[i + 1].tli, spans[i].end));
    return Status::Ok();
  }

  // Continues on timeline `next`, which starts at `start` (its parent's switch point). Bytes
  // already handed out past `start` belong to the abandoned end of the old timeline: they are
  // fetched again from the new one. (A Start position past the switch point, e.g. a restart
  // with an old timeline, hands nothing out before the switch: nothing to discard then.)
  Status SwitchTimeline(TimeLineId next, Lsn start) {
    if (next <= tli_)
      return Status::Corruption("server named timeline " + std::to_string(next) + " to follow " +
                                std::to_string(tli_));
    if (start > pos_)
      return Status::Corruption("timeline " + std::to_string(next) + " starts at " +
                                FormatLsn(start) + ", but timeline " + std::to_string(tli_) +
                                " ended at " + FormatLsn(pos_) + " in the stream");
    const Lsn keep = std::max(start, first_);   // bytes before it are shared history
    if (keep < pos_) {
      discard_from_ = discard_from_ == kInvalidLsn ? keep : std::min(discard_from_, keep);
      pos_ = keep;
    }
    tli_ = next;
    return Status::Ok();
  }

  // START_REPLICATION on tli_ at pos_. On a historic timeline whose switch point is pos_, the
  // server answers with the next timeline at once instead of COPY: follow it and ask again.
  Status StartStreaming() {
    for (int hops = 0; hops < 1024; hops++) {
      std::string cmd = "START_REPLICATION ";
      if (!opts_.slot.empty()) cmd += "SLOT " + opts_.slot + " ";
      cmd += "PHYSICAL " + FormatLsn(pos_) + " TIMELINE " + std::to_string(tli_);
      if (PQsendQuery(conn_, cmd.c_str()) == 0)
        return Status::Unavailable(cmd + " failed: " + PQerrorMessage(conn_));
      PGresult* r = PQgetResult(conn_);
      ExecStatusType es = PQresultStatus(r);
      if (es == PGRES_COPY_BOTH) {
        PQclear(r);
        return Status::Ok();
      }
      if (es == PGRES_TUPLES_OK) {
        Status st = NextTimelineResult(r);
        PQclear(r);
        DrainResults(conn_);
        PGT_RETURN_IF_ERROR(st);
        continue;
      }
      std::string msg = PQerrorMessage(conn_);
      PQclear(r);
      DrainResults(conn_);
      return Status::Unavailable(cmd + " failed: " + msg);
    }
    return Status::Corruption("too many timeline switches at " + FormatLsn(pos_));
  }

  // The one-row result (next_tli int8, next_tli_startpos text) ending a historic timeline.
  Status NextTimelineResult(PGresult* r) {
    if (PQntuples(r) != 1 || PQnfields(r) < 2)
      return Status::Corruption("unexpected end-of-timeline result from the server");
    auto next = std::strtoul(PQgetvalue(r, 0, 0), nullptr, 10);
    auto start = ParseLsn(PQgetvalue(r, 0, 1));
    if (!start.ok()) return start.status().WithContext("end-of-timeline result");
    return SwitchTimeline(static_cast<TimeLineId>(next), start.value());
  }

  // The server ended COPY: answer with CopyDone, then read the results. Returns true when they
  // name the next timeline (the connection is then ready for START_REPLICATION).
  Result<bool> EndOfCopy() {
    PQputCopyEnd(conn_, nullptr);
    PQflush(conn_);
    bool switched = false;
    Status st;
    while (PGresult* r = PQgetResult(conn_)) {
      if (PQresultStatus(r) == PGRES_TUPLES_OK && st.ok()) {
        st = NextTimelineResult(r);
        switched = st.ok();
      } else if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
        // e.g. "requested WAL segment ... has already been removed"
        problem_ = "replication stream ended: " + Trimmed(PQresultErrorMessage(r));
      }
      PQclear(r);
    }
    if (!st.ok()) return st;
    return switched && PQstatus(conn_) == CONNECTION_OK;
  }

  Status Handle(const char* m, int n, std::vector<uint8_t>* out) {
    if (m[0] == 'w') {
      if (n < 25) return Status::Corruption("short XLogData message");
      Lsn start = BE64(m + 1);
      // As bytes: inserting from char* into a vector<uint8_t> converts element by element
      // (5 instructions a byte, 12% of a stream run); from uint8_t* it is one memmove.
      const uint8_t* data = reinterpret_cast<const uint8_t*>(m + 25);
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

  static std::string Trimmed(std::string m) {
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }
  std::string LastError() const { return Trimmed(PQerrorMessage(conn_)); }

  void MaybeSendStatus(bool force) {
    auto now = Clock::now();
    if (!force && now - last_status_ < opts_.status_interval) return;
    // Without a slot nothing is retained for us: report what was received as flushed, so the
    // server's shutdown (which waits for flush == sent) never waits on this client.
    const Lsn flush = opts_.slot.empty() ? pos_ : flushed_;
    char msg[34];
    msg[0] = 'r';
    PutBE64(msg + 1, pos_);
    PutBE64(msg + 9, flush);
    PutBE64(msg + 17, flush);
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
  Lsn first_ = 0;        // the Start position: the first byte handed out
  Lsn flushed_ = 0;
  Lsn discard_from_ = kInvalidLsn;   // handed-out bytes from here on are void (TakeDiscardFrom)
  TimeLineId tli_ = 0;   // timeline of the bytes at pos_ (0 = the server's, chosen at connect)
  bool ever_connected_ = false;
  std::string problem_;   // why nothing flows (problem()), cleared by the next bytes
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

Result<ServerIdentity> IdentifyServer(const std::string& conninfo) {
  PGT_ASSIGN_OR_RETURN(PGconn* c, ConnectReplication(conninfo));
  auto id = IdentifySystem(c);
  PQfinish(c);
  if (!id.ok()) return id.status();
  return ServerIdentity{id->system_id, id->tli, id->xlogpos};
}

Result<TimelineHistory> ServerTimelineHistory(const std::string& conninfo, TimeLineId tli) {
  if (tli <= 1) return TimelineHistory{{tli, 0, kEndOfTime}};
  PGT_ASSIGN_OR_RETURN(PGconn* c, ConnectReplication(conninfo));
  auto h = FetchHistory(c, tli);
  PQfinish(c);
  return h;
}

}  // namespace pgt
