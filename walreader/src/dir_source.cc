// Segment-file WAL sources (source.h): a local pg_wal directory, an archive directory (flat or
// barman layout `wals/<16 hex>/<segment>[.ext]`) and a restore_command-style shell command.
//
// Every segment file is sniffed by its first bytes: zstd (28 B5 2F FD) and gzip (1F 8B) are
// decompressed in memory whatever the file is called; anything else is read as a plain segment.
// The segment size comes from the long page header of the first segment found (the file name is
// computed for each candidate size until one whose header agrees is found).
//
// Errors name the segment and the LSN: a file shorter than the segment size (and not .partial)
// is "truncated" once the reader needs bytes past its end; a segment that must exist (archive
// mode, below `required_until`) and does not is "not found"; a broken compressed stream is
// corruption. In pg_wal mode a missing segment means "no WAL yet" (empty read).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "bytes.h"
#include "timeline_history.h"
#include "walreader/source.h"
#include "walreader/timelines.h"

namespace pgt {

namespace {
constexpr size_t kMaxRead = 128 * 1024;
constexpr uint32_t kLongHeader = 40;

bool FileExists(const std::string& p, uint64_t* size) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *size = static_cast<uint64_t>(st.st_size);
  return true;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

Result<std::vector<uint8_t>> ReadWhole(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> data;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + n);
  bool err = std::ferror(f) != 0;
  std::fclose(f);
  if (err) return Status::IOError("cannot read " + path);
  return data;
}

Status Zstd(const std::vector<uint8_t>& in, std::vector<uint8_t>* out, const std::string& what) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  ZSTD_initDStream(ds);
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  std::vector<uint8_t> chunk(ZSTD_DStreamOutSize());
  size_t ret = 0;
  for (;;) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    ret = ZSTD_decompressStream(ds, &ob, &ib);
    if (ZSTD_isError(ret)) {
      std::string msg = ZSTD_getErrorName(ret);
      ZSTD_freeDStream(ds);
      return Status::Corruption("cannot decompress " + what + " (zstd): " + msg);
    }
    out->insert(out->end(), chunk.data(), chunk.data() + ob.pos);
    if (ib.pos < ib.size) continue;          // input left (or concatenated frames)
    if (ret == 0 || ob.pos == 0) break;      // frame complete, or no progress: truncated
  }
  ZSTD_freeDStream(ds);
  if (ret != 0)
    return Status::Corruption("cannot decompress " + what + " (zstd): truncated compressed stream");
  return Status::Ok();
}

Status Gzip(const std::vector<uint8_t>& in, std::vector<uint8_t>* out, const std::string& what) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return Status::Internal("inflateInit2 failed for " + what);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  std::vector<uint8_t> chunk(1 << 16);
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    ret = inflate(&zs, Z_NO_FLUSH);
    if (ret != Z_OK && ret != Z_STREAM_END) {
      std::string msg = zs.msg != nullptr ? zs.msg
                        : ret == Z_BUF_ERROR ? "truncated compressed stream" : "error " + std::to_string(ret);
      inflateEnd(&zs);
      return Status::Corruption("cannot decompress " + what + " (gzip): " + msg);
    }
    out->insert(out->end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    if (ret == Z_STREAM_END && zs.avail_in > 0) {   // concatenated members
      inflateReset(&zs);
      ret = Z_OK;
    }
  }
  inflateEnd(&zs);
  return Status::Ok();
}

// One opened segment: plain file read on demand, or decompressed bytes in memory.
struct Segment {
  std::string name;       // %08X%08X%08X
  std::string path;       // where it was found
  Lsn start = 0;
  uint64_t seg_size = 0;
  bool partial = false;   // .partial: may legitimately end early
  bool in_memory = false;
  std::vector<uint8_t> data;   // in_memory
  std::FILE* file = nullptr;   // !in_memory
  uint64_t size = 0;           // bytes available (file size or decompressed size)
  ~Segment() { if (file != nullptr) std::fclose(file); }
};

class SegmentSource : public WalSource {
 public:
  explicit SegmentSource(SegmentSourceOptions o) : o_(std::move(o)) {
    if (!o_.restore_command.empty()) {
      char tmpl[] = "/tmp/walreader-restore.XXXXXX";
      if (::mkdtemp(tmpl) != nullptr) tmpdir_ = tmpl;
    }
  }
  ~SegmentSource() override {
    seg_.reset();
    if (!tmpdir_.empty()) {
      std::string cmd = "rm -rf " + ShellQuote(tmpdir_);
      int rc = std::system(cmd.c_str());
      (void)rc;
    }
  }

  Status Start(Lsn start, TimeLineId tli) override {
    pos_ = start;
    TimeLineId t = tli == 0 ? 1 : tli;
    if (t != tli_ || !history_loaded_) {
      seg_.reset();
      tli_ = t;
      PGT_RETURN_IF_ERROR(LoadHistory());
    }
    // Decompressed (archive) segments are immutable: keep the one in memory if it covers
    // `start`. A plain file is reopened by name: pg_wal recycles segments by renaming them.
    // A segment that ended early (.partial, or cut at its timeline's end) is looked up again:
    // the whole file, or the newer timeline's, may be there now.
    if (seg_ && (!seg_->in_memory || seg_->partial || !(start >= seg_->start && start < seg_->start + seg_->seg_size)))
      seg_.reset();
    return Status::Ok();
  }

  Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds wait) override {
    if (!seg_ || pos_ < seg_->start || pos_ >= seg_->start + seg_->seg_size) {
      seg_.reset();
      PGT_ASSIGN_OR_RETURN(bool found, Open());
      if (!found) {
        std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(100)));
        return Status::Ok();
      }
    }
    Segment& s = *seg_;
    uint64_t off = pos_ - s.start;
    if (!s.in_memory && !s.partial) {   // live file: it may have been replaced/extended
      uint64_t sz;
      if (FileExists(s.path, &sz)) s.size = std::min(sz, s.seg_size);
    }
    if (off >= s.size) {
      if (!s.partial && s.size < s.seg_size)
        return Status::Corruption("WAL segment " + s.name + " is truncated: " +
                                  std::to_string(s.size) + " of " + std::to_string(s.seg_size) +
                                  " bytes, WAL at " + FormatLsn(pos_) + " missing (" + s.path + ")");
      std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(100)));
      return Status::Ok();   // .partial: nothing more (yet)
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(kMaxRead, s.size - off));
    size_t before = out->size();
    if (s.in_memory) {
      out->insert(out->end(), s.data.begin() + static_cast<ptrdiff_t>(off),
                  s.data.begin() + static_cast<ptrdiff_t>(off + want));
    } else {
      if (std::fseek(s.file, static_cast<long>(off), SEEK_SET) != 0)
        return Status::IOError("cannot seek in WAL segment " + s.path);
      out->resize(before + want);
      size_t got = std::fread(out->data() + before, 1, want, s.file);
      out->resize(before + got);
      if (got == 0) std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(100)));
    }
    pos_ += out->size() - before;
    return Status::Ok();
  }

  void ConfirmFlush(Lsn) override {}
  TimeLineId timeline() const override { return tli_; }
  uint64_t segment_size() const override { return known_seg_size_; }

  // A whole (small) file of the archive, decompressed: nullopt if absent.
  Result<std::optional<std::string>> FetchFile(const std::string& name) {
    bool partial = false;
    PGT_ASSIGN_OR_RETURN(std::string path, Find(name, &partial));
    if (path.empty()) return std::optional<std::string>();
    PGT_ASSIGN_OR_RETURN(auto raw, ReadWhole(path));
    if (!tmpdir_.empty()) ::unlink(path.c_str());
    std::vector<uint8_t> data;
    if (raw.size() >= 4 && raw[0] == 0x28 && raw[1] == 0xB5 && raw[2] == 0x2F && raw[3] == 0xFD)
      PGT_RETURN_IF_ERROR(Zstd(raw, &data, name));
    else if (raw.size() >= 2 && raw[0] == 0x1F && raw[1] == 0x8B)
      PGT_RETURN_IF_ERROR(Gzip(raw, &data, name));
    else
      data = std::move(raw);
    return std::optional<std::string>(std::string(data.begin(), data.end()));
  }

 private:
  // Timeline history: `%08X.history` of the requested timeline lists its ancestors and the LSN
  // where each one ended ("parentTLI <tab> X/X <tab> reason"). history_ = (timeline, begin LSN),
  // newest first; a segment is read from the newest timeline that began at or before its end
  // (as XLogFileReadAnyTLI does), falling back to older ones when the file is absent.
  Status LoadHistory() {
    history_loaded_ = true;
    history_ = {{tli_, 0}};
    if (tli_ <= 1) return Status::Ok();
    char name[32];
    std::snprintf(name, sizeof name, "%08X.history", tli_);
    // Archived history files may be compressed like segments (barman: 00000002.history.zst).
    PGT_ASSIGN_OR_RETURN(auto text, FetchFile(name));
    if (!text) return Status::Ok();   // no history: the requested timeline only
    PGT_ASSIGN_OR_RETURN(auto spans, internal::ParseTimelineHistory(*text, tli_, name));
    history_.clear();
    for (size_t i = spans.size(); i-- > 0;) history_.emplace_back(spans[i].tli, spans[i].begin);
    return Status::Ok();
  }

  std::string SegName(uint64_t seg_size, TimeLineId tli = 0) const {
    uint64_t segno = pos_ / seg_size;
    uint64_t per_id = 0x100000000ull / seg_size;
    char name[32];
    std::snprintf(name, sizeof name, "%08X%08X%08X", tli ? tli : tli_, static_cast<uint32_t>(segno / per_id),
                  static_cast<uint32_t>(segno % per_id));
    return name;
  }

  // Finds the file for segment `name`: candidate paths (pg_wal / archive) or the command.
  // Returns the path ("" = not found).
  Result<std::string> Find(const std::string& name, bool* partial) {
    *partial = false;
    uint64_t sz;
    if (!o_.restore_command.empty()) {
      if (tmpdir_.empty()) return Status::IOError("cannot create a temporary directory for restore_command");
      std::string dest = tmpdir_ + "/" + name;
      ::unlink(dest.c_str());
      std::string cmd;
      for (size_t i = 0; i < o_.restore_command.size(); i++) {
        char c = o_.restore_command[i];
        if (c == '%' && i + 1 < o_.restore_command.size()) {
          char n = o_.restore_command[++i];
          if (n == 'f') cmd += name;
          else if (n == 'p') cmd += dest;
          else if (n == 'r') cmd += "000000010000000000000001";
          else if (n == '%') cmd += '%';
          else { cmd += '%'; cmd += n; }
        } else {
          cmd += c;
        }
      }
      cmd = "{ " + cmd + " ; } </dev/null >/dev/null 2>&1";
      int rc = std::system(cmd.c_str());
      if (rc == -1) return Status::IOError("cannot run restore_command");
      if (WIFSIGNALED(rc))
        return Status::IOError("restore_command killed by signal " + std::to_string(WTERMSIG(rc)) +
                               " fetching " + name);
      if (WEXITSTATUS(rc) != 0 || !FileExists(dest, &sz)) return std::string();
      return dest;
    }
    std::vector<std::string> dirs{o_.dir};
    if (name.find(".history") != std::string::npos)   // barman keeps them in wals/
      dirs.push_back(o_.dir + "/wals");
    else if (o_.kind == SegmentSourceOptions::Kind::kArchive)
      dirs.push_back(o_.dir + "/wals/" + name.substr(0, 16));   // barman
    for (const auto& d : dirs) {
      for (const char* suffix : {"", ".zst", ".zstd", ".gz", ".partial", ".partial.zst",
                                 ".partial.gz", ".partial.zstd"}) {
        std::string p = d + "/" + name + suffix;
        if (FileExists(p, &sz)) {
          *partial = std::strstr(suffix, ".partial") != nullptr;
          return p;
        }
      }
    }
    return std::string();
  }

  // Opens `path` as a segment: sniffs compression, reads the long header.
  Result<std::unique_ptr<Segment>> Load(const std::string& path, const std::string& name,
                                        bool partial) {
    auto s = std::make_unique<Segment>();
    s->name = name;
    s->path = path;
    s->partial = partial;
    uint8_t magic[4] = {0, 0, 0, 0};
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr)
      return Status::IOError("cannot open WAL segment " + path + ": " + std::strerror(errno));
    size_t got = std::fread(magic, 1, 4, f);
    bool zstd = got == 4 && magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD;
    bool gzip = got >= 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    if (zstd || gzip || !tmpdir_.empty()) {
      std::fclose(f);
      PGT_ASSIGN_OR_RETURN(auto raw, ReadWhole(path));
      std::string what = "WAL segment " + name + " (" + path + ")";
      if (zstd) PGT_RETURN_IF_ERROR(Zstd(raw, &s->data, what));
      else if (gzip) PGT_RETURN_IF_ERROR(Gzip(raw, &s->data, what));
      else s->data = std::move(raw);
      s->in_memory = true;
      s->size = s->data.size();
      if (!tmpdir_.empty()) ::unlink(path.c_str());
    } else {
      s->file = f;
      uint64_t sz = 0;
      FileExists(path, &sz);
      s->size = sz;
    }
    return s;
  }

  // Header of a loaded segment: seg size if it is a valid PG long header (any supported magic).
  static uint64_t HeaderSegSize(Segment& s) {
    uint8_t h[kLongHeader];
    if (s.in_memory) {
      if (s.data.size() < kLongHeader) return 0;
      std::memcpy(h, s.data.data(), kLongHeader);
    } else {
      if (std::fseek(s.file, 0, SEEK_SET) != 0 || std::fread(h, 1, kLongHeader, s.file) != kLongHeader)
        return 0;
    }
    if ((internal::U16(h + 2) & 0x2) == 0) return 0;
    return internal::U32(h + 32);
  }

  // The segment size from the header of any segment file in the directory (archive/pg_wal),
  // so that a missing segment is named correctly even before one was read.
  void LearnSegSize() {
    if (known_seg_size_ != 0 || learned_ || o_.dir.empty()) return;
    learned_ = true;
    std::vector<std::string> dirs{o_.dir};
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(o_.dir + "/wals", ec))
      if (e.is_directory(ec)) dirs.push_back(e.path().string());
    for (const auto& d : dirs) {
      for (const auto& e : std::filesystem::directory_iterator(d, ec)) {
        std::string n = e.path().filename().string();
        if (n.size() < 24 || n.find_first_not_of("0123456789ABCDEF") < 24 || !e.is_regular_file(ec))
          continue;
        auto seg = Load(e.path().string(), n.substr(0, 24), true);
        if (!seg.ok()) continue;
        uint64_t sz = HeaderSegSize(**seg);
        if (sz >= (1u << 20) && sz <= (1u << 30) && (sz & (sz - 1)) == 0) {
          known_seg_size_ = sz;
          return;
        }
      }
    }
  }

  // A segment of an older timeline read because the newer timeline's file is not there (yet)
  // holds our history only up to where that newer timeline began: bytes past it belong to the
  // abandoned timeline (e.g. a promoted server's NNN.partial of its old timeline). It then ends
  // there like a .partial segment ("nothing more yet"); Start() looks for the file again.
  static void CapAtTimelineEnd(Segment* seg, Lsn timeline_end) {
    if (timeline_end == kEndOfTime || timeline_end >= seg->start + seg->seg_size) return;
    uint64_t keep = timeline_end > seg->start ? timeline_end - seg->start : 0;
    seg->size = std::min(seg->size, keep);
    seg->partial = true;
  }

  // Locates and opens the segment containing pos_. false = not there (yet).
  Result<bool> Open() {
    LearnSegSize();
    std::vector<uint64_t> sizes{known_seg_size_};
    if (known_seg_size_ == 0)
      sizes = {uint64_t{16} << 20, uint64_t{1} << 20, uint64_t{2} << 20, uint64_t{4} << 20,
               uint64_t{8} << 20, uint64_t{32} << 20, uint64_t{64} << 20, uint64_t{128} << 20,
               uint64_t{256} << 20, uint64_t{512} << 20, uint64_t{1} << 30};
    std::unique_ptr<Segment> fallback;   // found, but its header does not say its size
    for (uint64_t sz : sizes) {
      std::string name, path;
      bool partial = false;
      Lsn seg_end = pos_ / sz * sz + sz;
      Lsn timeline_end = kEndOfTime;   // where the timeline of the file found ended (history_)
      for (size_t i = 0; i < history_.size(); ++i) {
        const auto& [tli, begin] = history_[i];
        if (begin >= seg_end) continue;   // that timeline began after this segment
        name = SegName(sz, tli);
        PGT_ASSIGN_OR_RETURN(path, Find(name, &partial));
        if (!path.empty()) {
          if (i > 0) timeline_end = history_[i - 1].second;
          break;
        }
      }
      if (path.empty()) continue;
      auto loaded = Load(path, name, partial);
      if (!loaded.ok()) {
        std::string m = loaded.status().message() + " (needed for WAL at " + FormatLsn(pos_) + ")";
        return loaded.status().code() == Status::Code::kCorruption ? Status::Corruption(m)
                                                                   : Status::IOError(m);
      }
      auto seg = std::move(loaded).value();
      uint64_t hs = HeaderSegSize(*seg);
      seg->seg_size = sz;
      seg->start = pos_ / sz * sz;
      if (hs == sz || known_seg_size_ != 0) {
        if (!seg->in_memory && seg->size > sz) seg->size = sz;
        CapAtTimelineEnd(seg.get(), timeline_end);
        known_seg_size_ = sz;
        seg_ = std::move(seg);
        return true;
      }
      if (!fallback && sz == (uint64_t{16} << 20)) fallback = std::move(seg);
    }
    if (fallback) {   // garbage or a foreign file: let the page reader report what is wrong
      seg_ = std::move(fallback);
      return true;
    }
    uint64_t sz = known_seg_size_ != 0 ? known_seg_size_ : (uint64_t{16} << 20);
    Lsn seg_start = pos_ / sz * sz;
    if (o_.required_until != 0 &&
        seg_start + kLongHeader < o_.required_until)
      return Status::NotFound("WAL segment " + SegName(sz) + " not found " +
                              (o_.restore_command.empty() ? "in " + o_.dir
                                                          : "by restore_command") +
                              " (needed for WAL at " + FormatLsn(pos_) + ")");
    return false;
  }

  SegmentSourceOptions o_;
  std::string tmpdir_;
  Lsn pos_ = 0;
  TimeLineId tli_ = 1;
  bool history_loaded_ = false;
  std::vector<std::pair<TimeLineId, Lsn>> history_;
  uint64_t known_seg_size_ = 0;
  bool learned_ = false;
  std::unique_ptr<Segment> seg_;
};
}  // namespace

Result<std::unique_ptr<WalSource>> OpenSegmentSource(const SegmentSourceOptions& opts) {
  if (opts.restore_command.empty()) {
    struct stat st;
    if (::stat(opts.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::NotFound("WAL directory " + opts.dir + " does not exist");
  }
  return std::unique_ptr<WalSource>(new SegmentSource(opts));
}

Result<std::optional<std::string>> FetchArchiveFile(const SegmentSourceOptions& archive,
                                                    const std::string& name) {
  SegmentSourceOptions o = archive;
  o.kind = SegmentSourceOptions::Kind::kArchive;
  SegmentSource src(o);
  return src.FetchFile(name);
}

namespace {
std::string HistoryName(TimeLineId tli) {
  char name[32];
  std::snprintf(name, sizeof name, "%08X.history", tli);
  return name;
}
}  // namespace

Result<TimeLineId> ArchiveNewestTimeline(const SegmentSourceOptions& archive, TimeLineId from) {
  TimeLineId newest = std::max<TimeLineId>(from, 1);
  for (;;) {
    PGT_ASSIGN_OR_RETURN(auto f, FetchArchiveFile(archive, HistoryName(newest + 1)));
    if (!f) return newest;
    newest++;
  }
}

Result<TimelineHistory> ArchiveTimelineHistory(const SegmentSourceOptions& archive, TimeLineId tli) {
  if (tli <= 1) return TimelineHistory{{tli, 0, kEndOfTime}};
  std::string name = HistoryName(tli);
  PGT_ASSIGN_OR_RETURN(auto f, FetchArchiveFile(archive, name));
  if (!f) return Status::NotFound("timeline history " + name + " is not in the archive");
  return ParseTimelineHistoryText(*f, tli, name + " (archive)");
}

Result<std::unique_ptr<WalSource>> OpenDirectorySource(const std::string& dir) {
  SegmentSourceOptions o;
  o.kind = SegmentSourceOptions::Kind::kPgWal;
  o.dir = dir;
  return OpenSegmentSource(o);
}

}  // namespace pgt
