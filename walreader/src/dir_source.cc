// WAL source over a local directory of segment files (pg_wal or a flat archive), for tests and
// tools. Segment size comes from the files' size. Missing segment = no WAL yet (empty read after
// the wait). Timeline switches are not followed yet: the requested timeline is used throughout.
#include <sys/stat.h>

#include <cstdio>
#include <thread>

#include "bytes.h"
#include "walreader/source.h"

namespace pgt {

namespace {
constexpr size_t kMaxRead = 128 * 1024;

class DirectorySource : public WalSource {
 public:
  explicit DirectorySource(std::string dir) : dir_(std::move(dir)) {}
  ~DirectorySource() override { Close(); }

  Status Start(Lsn start, TimeLineId tli) override {
    Close();
    pos_ = start;
    tli_ = tli == 0 ? 1 : tli;
    return Status::Ok();
  }

  Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds wait) override {
    std::string path;
    uint64_t seg_size = 0;
    if (!Locate(&path, &seg_size)) {
      std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(100)));
      return Status::Ok();
    }
    if (file_ == nullptr || path != open_path_) {
      Close();
      file_ = std::fopen(path.c_str(), "rb");
      if (file_ == nullptr) return Status::IOError("cannot open WAL segment " + path);
      open_path_ = path;
    }
    uint64_t off = pos_ % seg_size;
    size_t want = static_cast<size_t>(std::min<uint64_t>(kMaxRead, seg_size - off));
    if (std::fseek(file_, static_cast<long>(off), SEEK_SET) != 0)
      return Status::IOError("cannot seek in WAL segment " + path);
    size_t before = out->size();
    out->resize(before + want);
    size_t got = std::fread(out->data() + before, 1, want, file_);
    out->resize(before + got);
    if (got == 0) std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(100)));
    pos_ += got;
    return Status::Ok();
  }

  void ConfirmFlush(Lsn) override {}
  TimeLineId timeline() const override { return tli_; }

 private:
  bool Locate(std::string* path, uint64_t* seg_size) {
    // The segment size is the size of any complete segment file; try the common ones.
    for (uint64_t sz : {known_seg_size_, uint64_t{16} << 20, uint64_t{1} << 20, uint64_t{32} << 20,
                        uint64_t{64} << 20, uint64_t{128} << 20, uint64_t{256} << 20,
                        uint64_t{512} << 20, uint64_t{1} << 30, uint64_t{2} << 20,
                        uint64_t{4} << 20, uint64_t{8} << 20}) {
      if (sz == 0) continue;
      uint64_t segno = pos_ / sz;
      uint64_t per_id = 0x100000000ull / sz;
      char name[32];
      std::snprintf(name, sizeof name, "%08X%08X%08X", tli_, static_cast<uint32_t>(segno / per_id),
                    static_cast<uint32_t>(segno % per_id));
      for (const char* suffix : {"", ".partial"}) {
        std::string p = dir_ + "/" + name + suffix;
        struct stat st;
        if (::stat(p.c_str(), &st) != 0) continue;
        uint64_t fsz = static_cast<uint64_t>(st.st_size);
        if (fsz == sz || (*suffix != '\0' && fsz <= sz)) {
          known_seg_size_ = sz;
          *path = p;
          *seg_size = sz;
          return true;
        }
      }
    }
    return false;
  }
  void Close() {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    open_path_.clear();
  }

  std::string dir_;
  Lsn pos_ = 0;
  TimeLineId tli_ = 1;
  uint64_t known_seg_size_ = 0;
  std::FILE* file_ = nullptr;
  std::string open_path_;
};
}  // namespace

Result<std::unique_ptr<WalSource>> OpenDirectorySource(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::NotFound("WAL directory " + dir + " does not exist");
  return std::unique_ptr<WalSource>(new DirectorySource(dir));
}

}  // namespace pgt
