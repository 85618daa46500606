// pgtrickle-waldump: decodes a WAL range and prints committed transactions in contrib/
// test_decoding's text format (include-xids 0, skip-empty-xacts 1), so that the server's own
// logical decoding can be used as the oracle.
//
//   pgtrickle-waldump (--wal-dir=DIR | --archive=DIR | --restore-command=CMD | --stream=CONNINFO)
//                     --start=LSN [--end=LSN] [--timeline=N]
//                     (--catalog=CONNINFO [--tables=a,b] | --catalog-file=FILE --db-oid=N)
//                     [--format=test_decoding|jsonl] [--timezone=TZ] [--wait-consistent]
//                     [--reorder-memory-limit=BYTES] [--spill-dir=DIR]
//
// Errors (corruption, missing segment, ...) are printed as one line on stderr, exit status 1;
// nothing is printed for transactions whose commit lies past the last good record.
// --stream follows timeline switches (TIMELINE_HISTORY, end of a historic timeline); without
// --timeline it starts on the timeline holding --start; without --end it runs until stopped.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <unistd.h>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "bytes.h"
#include "file_catalog.h"
#include "walreader/catalog_history.h"
#include "walreader/decoder.h"
#include "walreader/text_format.h"

namespace {
struct Args {
  std::string wal_dir, archive, restore_command, stream, start, end, catalog, catalog_file, tables;
  std::string format = "test_decoding", timezone = "UTC", timeline;
  unsigned long db_oid = 0;
  unsigned long long reorder_memory_limit = 0;   // 0 = DecoderOptions' default
  std::string spill_dir;
  bool wait_consistent = false;
};

bool Parse(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; i++) {
    std::string s = argv[i];
    auto val = [&](const char* name, std::string* out) {
      std::string p = std::string("--") + name + "=";
      if (s.rfind(p, 0) != 0) return false;
      *out = s.substr(p.size());
      return true;
    };
    std::string tmp;
    if (val("wal-dir", &a->wal_dir) || val("archive", &a->archive) ||
        val("restore-command", &a->restore_command) || val("stream", &a->stream) ||
        val("start", &a->start) || val("end", &a->end) || val("catalog", &a->catalog) ||
        val("catalog-file", &a->catalog_file) || val("tables", &a->tables) ||
        val("format", &a->format) || val("timezone", &a->timezone) || val("timeline", &a->timeline))
      continue;
    if (val("db-oid", &tmp)) {
      char* e = nullptr;
      a->db_oid = std::strtoul(tmp.c_str(), &e, 10);
      if (tmp.empty() || *e != '\0') { std::cerr << "pgtrickle-waldump: invalid --db-oid\n"; return false; }
      continue;
    }
    if (val("reorder-memory-limit", &tmp)) {
      char* e = nullptr;
      a->reorder_memory_limit = std::strtoull(tmp.c_str(), &e, 10);
      if (tmp.empty() || *e != '\0') {
        std::cerr << "pgtrickle-waldump: invalid --reorder-memory-limit\n";
        return false;
      }
      continue;
    }
    if (val("spill-dir", &a->spill_dir)) continue;
    if (s == "--wait-consistent") { a->wait_consistent = true; continue; }
    std::cerr << "pgtrickle-waldump: unknown argument " << s << "\n";
    return false;
  }
  int sources = !a->wal_dir.empty() + !a->archive.empty() + !a->restore_command.empty() +
                !a->stream.empty();
  bool fmt_ok = a->format == "test_decoding" || a->format == "jsonl";
  if (sources != 1 || a->start.empty() || (a->catalog.empty() == a->catalog_file.empty()) || !fmt_ok) {
    std::cerr << "usage: pgtrickle-waldump (--wal-dir=DIR | --archive=DIR | --restore-command=CMD | --stream=CONNINFO)\n"
                 "         --start=LSN [--end=LSN] [--timeline=N]\n"
                 "         (--catalog=CONNINFO [--tables=a,b] | --catalog-file=FILE --db-oid=N)\n"
                 "         [--format=test_decoding|jsonl] [--timezone=TZ] [--wait-consistent]\n"
                 "         [--reorder-memory-limit=BYTES] [--spill-dir=DIR]\n";
    return false;
  }
  return true;
}

std::string JsonStr(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string JsonValue(const pgt::Value& v, pgt::Oid type_oid, const pgt::TextOptions& o) {
  if (v.unchanged_toast) return "{\"unchanged_toast\":true}";
  if (v.is_null) return "null";
  switch (v.type) {
    case pgt::TypeId::kBool: return v.i ? "true" : "false";
    case pgt::TypeId::kInt2: case pgt::TypeId::kInt4: case pgt::TypeId::kInt8:
    case pgt::TypeId::kOid: return std::to_string(v.i);
    default: return JsonStr(pgt::ValueToText(v, type_oid, o));
  }
}

std::string JsonRow(const pgt::RelationDesc* d, const pgt::Row& row, bool skip_nulls,
                    const pgt::TextOptions& o) {
  std::string out = "{";
  bool first = true;
  for (size_t i = 0; d != nullptr && i < d->attrs.size() && i < row.size(); i++) {
    if (d->attrs[i].dropped || (skip_nulls && row[i].is_null && !row[i].unchanged_toast)) continue;
    out += (first ? "" : ",") + JsonStr(d->attrs[i].name) + ":" + JsonValue(row[i], d->attrs[i].type_oid, o);
    first = false;
  }
  return out + "}";
}

// One line per transaction: {"xid","commit_lsn","end_lsn","commit_time","changes":[...]}, written
// in three pieces so that a transaction of any size is streamed.
std::string JsonTxnHead(const pgt::Transaction& t, const pgt::TextOptions& o) {
  return "{\"xid\":" + std::to_string(t.xid) + ",\"commit_lsn\":\"" +
         pgt::FormatLsn(t.commit_lsn) + "\",\"end_lsn\":\"" + pgt::FormatLsn(t.end_lsn) +
         "\",\"commit_time\":" +
         JsonStr(pgt::ValueToText(pgt::Value::Int(pgt::TypeId::kTimestamptz, t.commit_time_us), o)) +
         ",\"changes\":[";
}

std::string JsonChange(const pgt::Change& c, pgt::CatalogResolver* cat, const pgt::TextOptions& o) {
  const pgt::Lsn at = c.lsn;   // descriptors as of the change being printed
  auto name = [&](pgt::Oid id) {
    const pgt::RelationDesc* d = cat->LookupByOidAt(id, at);
    return JsonStr(d ? d->schema + "." + d->name : "oid" + std::to_string(id));
  };
  const char* op = c.kind == pgt::ChangeKind::kInsert   ? "INSERT"
                   : c.kind == pgt::ChangeKind::kUpdate ? "UPDATE"
                   : c.kind == pgt::ChangeKind::kDelete ? "DELETE" : "TRUNCATE";
  std::string out = std::string("{\"op\":\"") + op + "\",\"lsn\":\"" + pgt::FormatLsn(c.lsn) + "\"";
  if (c.kind == pgt::ChangeKind::kTruncate) {
    out += ",\"tables\":[";
    for (size_t k = 0; k < c.truncated.size(); k++) out += (k ? "," : "") + name(c.truncated[k]);
    out += std::string("],\"cascade\":") + (c.truncate_cascade ? "true" : "false") +
           ",\"restart_seqs\":" + (c.truncate_restart_seqs ? "true" : "false") + "}";
    return out;
  }
  const pgt::RelationDesc* d = cat->LookupByOidAt(c.relid, at);
  out += ",\"table\":" + name(c.relid);
  if (c.old_row) {
    out += ",\"old\":" + JsonRow(d, *c.old_row, c.old_is_key_only, o);
    if (c.old_is_key_only) out += ",\"old_is_key_only\":true";
  }
  if (c.new_row) out += ",\"new\":" + JsonRow(d, *c.new_row, false, o);
  return out + "}";
}

// stdout through one large buffer, written with fwrite when it passes 1 MB, when the decoder is
// idle and at exit (iostream/per-line writes cost more than the decoding).
class Output {
 public:
  // stdio's own buffer would split each flush into three writes (fill its 4 KB, the aligned
  // middle, the rest): this buffer is the only one.
  Output() { std::setvbuf(stdout, nullptr, _IONBF, 0); }
  ~Output() { Flush(); }
  std::string* buf() { return &buf_; }
  bool empty() const { return buf_.empty(); }
  void MaybeFlush() { if (buf_.size() >= (1u << 20)) Flush(); }
  // A live stream: also when what is buffered waited kLiveFlushDelay (a stream that never runs
  // dry is still seen within that delay).
  void MaybeFlushLive() {
    if (buf_.size() >= (1u << 20) || Now() - last_flush_ >= kLiveFlushDelay) Flush();
  }
  void Flush() {
    if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), stdout);
    std::fflush(stdout);
    buf_.clear();
    last_flush_ = Now();
  }

 private:
  static constexpr std::chrono::milliseconds kLiveFlushDelay{50};
  // CLOCK_MONOTONIC_COARSE: read once per transaction, a few ns; its resolution (a few ms) is
  // plenty for the delay.
  static std::chrono::nanoseconds Now() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }
  std::string buf_;
  std::chrono::nanoseconds last_flush_ = Now();
};

// Prints each transaction as the decoder streams it (never materialised); stops at the first
// transaction whose commit ends after --end, and refuses one that ends after the point where the
// catalog history was read (DDL committed since may be missing from it).
class PrintSink : public pgt::TransactionSink {
 public:
  PrintSink(Output* out, pgt::CatalogResolver* cat, const pgt::TextOptions& o, bool jsonl,
            pgt::Lsn end, pgt::Lsn history_upto, bool versioned, bool live)
      : out_(out), cat_(cat), opts_(o), jsonl_(jsonl), end_(end), history_upto_(history_upto),
        versioned_(versioned), live_(live),
        by_oid_([this](pgt::Oid id) { return ByOid(id); }), text_(o) {}
  bool stopped() const { return stopped_; }
  const pgt::Status& refusal() const { return refusal_; }
  // Without a catalog history the catalog is read once at start (descriptors never move): the
  // last relation is remembered. With one, the version valid at the change's LSN is looked up.
  const pgt::RelationDesc* ByOid(pgt::Oid id) {
    if (versioned_) return cat_->LookupByOidAt(id, change_lsn_);
    if (id != last_oid_ || last_desc_ == nullptr) {
      last_desc_ = cat_->LookupByOid(id);
      last_oid_ = id;
    }
    return last_desc_;
  }

  bool BeginTransaction(const pgt::Transaction& t) override {
    if (t.end_lsn > end_) { stopped_ = true; return false; }
    if (t.end_lsn > history_upto_) {
      refusal_ = pgt::Status::Unavailable(
          "transaction committed at " + pgt::FormatLsn(t.commit_lsn) + " ends after " +
          pgt::FormatLsn(history_upto_) + ", where the catalog history was read: DDL committed "
          "since may be missing; run again to decode it");
      stopped_ = true;
      return false;
    }
    *out_->buf() += jsonl_ ? JsonTxnHead(t, opts_) : "BEGIN\n";
    first_ = true;
    return true;
  }
  void OnChange(const pgt::Change& c) override {
    std::string* b = out_->buf();
    change_lsn_ = c.lsn;
    if (jsonl_) {
      if (!first_) *b += ',';
      *b += JsonChange(c, cat_, opts_);
    } else {
      // Descriptors are stable objects (read once at start, one per version with a history), so
      // the formatter may cache per descriptor.
      text_.Append(b, c, by_oid_);
      *b += '\n';
    }
    first_ = false;
    out_->MaybeFlush();
  }
  void EndTransaction(const pgt::Transaction&) override {
    *out_->buf() += jsonl_ ? "]}\n" : "COMMIT\n";
    // A stream may run until it is stopped: what was decoded is written once no WAL arrived for
    // kDryDelay (main loop) or within Output's live delay, not per transaction (a write per
    // transaction cost more than decoding a one-row transaction).
    if (live_) out_->MaybeFlushLive();
    else out_->MaybeFlush();
  }

 private:
  Output* out_;
  pgt::CatalogResolver* cat_;
  const pgt::TextOptions& opts_;
  bool jsonl_;
  pgt::Lsn end_;
  pgt::Lsn history_upto_;
  bool versioned_;
  bool live_;
  std::function<const pgt::RelationDesc*(pgt::Oid)> by_oid_;
  pgt::TestDecodingFormatter text_;
  pgt::Lsn change_lsn_ = 0;
  pgt::Oid last_oid_ = 0;
  const pgt::RelationDesc* last_desc_ = nullptr;
  pgt::Status refusal_;
  bool stopped_ = false;
  bool first_ = true;
};

// The catalog resolver the arguments name, and what the decoding loop needs to know about it.
struct Catalog {
  std::unique_ptr<pgt::CatalogResolver> resolver;
  pgt::Oid db_oid = 0;
  pgt::Lsn history_upto = UINT64_MAX;   // catalog history read at this WAL position
  bool versioned = false;                // descriptors by LSN (catalog history installed)
};

pgt::Status OpenCatalog(const Args& a, pgt::Lsn start, Catalog* out) {
  out->db_oid = static_cast<pgt::Oid>(a.db_oid);
  if (!a.catalog_file.empty()) {
    auto c = pgt::internal::FileCatalog::Load(a.catalog_file, out->db_oid);
    if (!c.ok()) return c.status();
    out->resolver = std::move(c.value());
    return pgt::Status::Ok();
  }
  // One connection answers whether the catalog history is installed and, when it is not,
  // reads the current catalog (a connection costs more than the reads: the server starts a
  // backend, which then fills its catalog caches).
  PGT_ASSIGN_OR_RETURN(auto sql, pgt::SqlCatalogResolver::Connect(a.catalog));
  if (sql->catalog_history_installed()) {
    // Descriptors by LSN (walreader/sql/catalog_history.sql).
    sql.reset();
    PGT_ASSIGN_OR_RETURN(auto h, pgt::HistoryCatalogResolver::Open(a.catalog, a.tables, start));
    out->db_oid = h->database_oid();
    out->history_upto = h->complete_upto();
    out->versioned = true;
    out->resolver = std::move(h);
    return pgt::Status::Ok();
  }
  out->db_oid = sql->database_oid();
  if (a.tables.empty()) {
    PGT_RETURN_IF_ERROR(sql->TrackUserTables());   // one round trip: on the critical path
  } else {
    PGT_ASSIGN_OR_RETURN(auto ids, sql->UserTables(a.tables));
    PGT_RETURN_IF_ERROR(sql->TrackAll(ids, 0));
  }
  out->resolver = std::move(sql);
  return pgt::Status::Ok();
}

// A stream source connected while the catalog is read on another thread (both mostly wait for
// a server to start a backend): Prefetch() starts the inner source at the page the decoder will
// start at, connects it and receives WAL until the catalog is read (at most kMaxEarly bytes);
// the decoder's Start at that page then keeps the connection, and its Reads get the received
// bytes first (kHandOver at a time, so the reader's buffer stays small), then the stream's.
class EarlySource : public pgt::WalSource {
 public:
  explicit EarlySource(std::unique_ptr<pgt::WalSource> inner) : inner_(std::move(inner)) {}
  void Prefetch(pgt::Lsn lsn, pgt::TimeLineId tli, const std::atomic<bool>& stop) {
    // As the reader positions a source: the page holding the MAXALIGNed start.
    page_ = ((lsn + 7) & ~pgt::Lsn{7}) & ~pgt::Lsn{pgt::internal::kXLogBlcksz - 1};
    tli_ = tli;
    prepared_ = true;
    early_status_ = inner_->Start(page_, tli);
    auto wait = std::chrono::milliseconds(0);   // the first Read connects
    while (early_status_.ok() && early_.size() < kMaxEarly) {
      early_status_ = inner_->Read(&early_, wait);
      // A timeline switch voided bytes received from `d` on: the decoder never saw them.
      const pgt::Lsn d = inner_->TakeDiscardFrom();
      if (d != pgt::kInvalidLsn) {
        if (d >= page_ && d - page_ < early_.size()) early_.resize(d - page_);
        break;
      }
      if (stop.load()) break;
      wait = std::chrono::milliseconds(5);
    }
  }
  pgt::Status Start(pgt::Lsn start, pgt::TimeLineId tli) override {
    handing_over_ = prepared_ && start == page_ && tli == tli_;
    prepared_ = false;
    if (handing_over_) return pgt::Status::Ok();
    early_ = {};
    return inner_->Start(start, tli);
  }
  pgt::Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds wait) override {
    if (handing_over_) {
      if (handed_ < early_.size()) {
        const size_t n = std::min(kHandOver, early_.size() - handed_);
        out->insert(out->end(), early_.data() + handed_, early_.data() + handed_ + n);
        handed_ += n;
        return pgt::Status::Ok();
      }
      handing_over_ = false;
      early_ = {};
      if (!early_status_.ok()) return early_status_;
    }
    return inner_->Read(out, wait);
  }
  void ConfirmFlush(pgt::Lsn lsn) override { inner_->ConfirmFlush(lsn); }
  pgt::TimeLineId timeline() const override { return inner_->timeline(); }
  uint64_t segment_size() const override { return inner_->segment_size(); }
  pgt::Lsn TakeDiscardFrom() override { return inner_->TakeDiscardFrom(); }
  std::string problem() const override { return inner_->problem(); }

 private:
  static constexpr size_t kMaxEarly = size_t{64} << 20;
  static constexpr size_t kHandOver = size_t{1} << 20;
  std::unique_ptr<pgt::WalSource> inner_;
  pgt::Lsn page_ = 0;
  pgt::TimeLineId tli_ = 0;
  bool prepared_ = false, handing_over_ = false;
  pgt::Status early_status_;
  std::vector<uint8_t> early_;
  size_t handed_ = 0;
};

Output* g_out = nullptr;   // flushed before an error is reported

// A live stream's output is flushed once no WAL arrived for this long (see the main loop).
constexpr std::chrono::milliseconds kDryDelay{5};

int Fail(const pgt::Status& st) {
  if (g_out != nullptr) g_out->Flush();
  std::cerr << "pgtrickle-waldump: " << st.ToString() << "\n";
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  // Freed blocks stay in the heap for the next allocation: libpq allocates each streamed message
  // (up to 128 KB), which glibc's default thresholds served by mmap or returned by trimming, so
  // that every message could cost a page fault per 4 KB (expensive in a VM).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  Args a;
  if (!Parse(argc, argv, &a)) return 2;
  auto start = pgt::ParseLsn(a.start);
  if (!start.ok()) return Fail(start.status());
  pgt::Lsn end = UINT64_MAX;
  if (!a.end.empty()) {
    auto e = pgt::ParseLsn(a.end);
    if (!e.ok()) return Fail(e.status());
    end = e.value();
  }
  unsigned long tli = a.stream.empty() ? 1 : 0;   // stream: the one holding --start
  if (!a.timeline.empty()) {
    char* e = nullptr;
    tli = std::strtoul(a.timeline.c_str(), &e, 10);
    if (*e != '\0' || tli == 0) return Fail(pgt::Status::InvalidArgument("invalid --timeline " + a.timeline));
  }
  pgt::TextOptions topts;
  topts.timezone = a.timezone;
  if (topts.timezone != "UTC" && topts.timezone != "" &&
      access(("/usr/share/zoneinfo/" + topts.timezone).c_str(), R_OK) != 0)
    return Fail(pgt::Status::InvalidArgument("unknown time zone " + topts.timezone));
  pgt::Result<std::unique_ptr<pgt::WalSource>> src = pgt::Status::Internal("no source");
  if (!a.stream.empty()) {
    pgt::StreamOptions so;
    so.conninfo = a.stream;
    src = pgt::OpenStreamSource(so);
    if (src.ok()) src = std::unique_ptr<pgt::WalSource>(new EarlySource(std::move(src.value())));
  } else {
    pgt::SegmentSourceOptions so;
    so.kind = a.wal_dir.empty() ? pgt::SegmentSourceOptions::Kind::kArchive
                                : pgt::SegmentSourceOptions::Kind::kPgWal;
    so.dir = a.wal_dir.empty() ? a.archive : a.wal_dir;
    so.restore_command = a.restore_command;
    so.required_until = end == UINT64_MAX ? 0 : end;
    src = pgt::OpenSegmentSource(so);
  }
  Catalog cat;
  if (!a.stream.empty() && src.ok() && end > start.value()) {
    // The stream connects and receives WAL while the catalog is read.
    pgt::Status cat_st;
    std::atomic<bool> cat_done{false};
    std::thread reading([&] {
      cat_st = OpenCatalog(a, start.value(), &cat);
      cat_done = true;
    });
    static_cast<EarlySource*>(src->get())->Prefetch(start.value(),
                                                   static_cast<pgt::TimeLineId>(tli), cat_done);
    reading.join();
    if (!cat_st.ok()) return Fail(cat_st);
  } else {
    pgt::Status cat_st = OpenCatalog(a, start.value(), &cat);
    if (!cat_st.ok()) return Fail(cat_st);
  }
  if (!src.ok()) return Fail(src.status());
  pgt::CatalogResolver* catalog = cat.resolver.get();
  const bool jsonl = a.format == "jsonl";
  pgt::DecoderOptions dopts;
  dopts.database_oid = cat.db_oid;
  if (a.reorder_memory_limit) dopts.reorder_memory_limit = a.reorder_memory_limit;
  dopts.spill_dir = a.spill_dir;
  pgt::Decoder dec(src->get(), catalog, dopts);
  pgt::Status st = dec.Start(start.value(), static_cast<pgt::TimeLineId>(tli), !a.wait_consistent);
  if (!st.ok()) return Fail(st);
  Output out;
  g_out = &out;
  const bool live = !a.stream.empty();
  PrintSink sink(&out, catalog, topts, jsonl, end, cat.history_upto, cat.versioned, live);
  // Done when no record can start before --end: the next record starts at the MAXALIGNed end of
  // the last one, after the page header if that is a page boundary.
  auto reached_end = [&]() {
    pgt::Lsn next = (dec.decoded_upto() + 7) & ~pgt::Lsn{7};
    if (next % 8192 == 0) return next >= end || end - next <= 40;
    return next >= end;
  };
  // Files: pg_wal may lag the insert position a little (wait up to 10 s without progress); an
  // archive is complete. Stream: wait for --end.
  const auto patience = std::chrono::milliseconds(!a.wal_dir.empty() ? 10000 : 0);
  auto last_progress = std::chrono::steady_clock::now();
  pgt::Lsn last_upto = dec.decoded_upto();
  while (!reached_end()) {
    // Live stream with output pending: wait only kDryDelay for more WAL, so that the output is
    // flushed once the stream has run dry for that long. (Flushing whenever the received WAL was
    // decoded cost a write per replication message, about 1,200 on a 150 MB range: the decoder
    // is faster than the walsender and catches up with every message.)
    const auto wait = live && !out.empty() ? kDryDelay : std::chrono::milliseconds(200);
    auto got = dec.NextStreamed(wait, &sink);
    if (!got.ok()) return Fail(got.status());
    if (!sink.refusal().ok()) return Fail(sink.refusal());
    if (sink.stopped()) break;
    const bool progressed = dec.decoded_upto() != last_upto;
    if (progressed) {
      last_upto = dec.decoded_upto();
      last_progress = std::chrono::steady_clock::now();
    }
    if (!got.value()) {
      out.Flush();   // idle: let a reader of a live stream see what was decoded
      // NextStreamed returns at its time budget even while WAL remains (e.g. after decompressing
      // a 16 MB zstd segment under load): only a call without progress means the WAL ended.
      if (progressed) continue;
      if (end == UINT64_MAX && a.stream.empty()) break;   // no --end: stop at the end of the WAL
      if (!a.stream.empty() || reached_end()) continue;
      if (std::chrono::steady_clock::now() - last_progress < patience) continue;
      return Fail(pgt::Status::NotFound("WAL ends at " + pgt::FormatLsn(dec.decoded_upto()) +
                                        ", before --end=" + pgt::FormatLsn(end) +
                                        " (zero-filled or recycled page after it)"));
    }
  }
  out.Flush();
  g_out = nullptr;
  return 0;
}
