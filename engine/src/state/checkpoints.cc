// See checkpoints.h.
#include "state/checkpoints.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace pgt::engine {

namespace fs = std::filesystem;

namespace {
constexpr char kSubdir[] = "checkpoints";
constexpr char kInfo[] = "info.json";
constexpr char kMarker[] = "RESTORING";
constexpr char kRewound[] = "REWOUND";

std::string Dir(const std::string& state_dir) { return state_dir + "/" + kSubdir; }

Status WriteFileSynced(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::IOError("cannot write " + tmp);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  std::fclose(f);
  if (!ok) return Status::IOError("cannot write " + tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

// state_dir's entries except the checkpoints directory go; the checkpoint's files come in:
// immutable SST files hard-linked, the rest (MANIFEST, CURRENT, OPTIONS, logs) copied.
Status ReplaceFiles(const std::string& state_dir, const std::string& from) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state_dir, ec)) {
    if (e.path().filename() == kSubdir) continue;
    fs::remove_all(e.path(), ec);
    if (ec) return Status::IOError("cannot remove " + e.path().string() + ": " + ec.message());
  }
  if (ec) return Status::IOError("cannot list " + state_dir + ": " + ec.message());
  for (const auto& e : fs::directory_iterator(from, ec)) {
    std::string name = e.path().filename().string();
    if (name == kInfo) continue;
    fs::path to = fs::path(state_dir) / name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".sst") fs::create_hard_link(e.path(), to, ec);
    else fs::copy_file(e.path(), to, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IOError("cannot restore " + name + " from " + from + ": " + ec.message());
  }
  if (ec) return Status::IOError("cannot list " + from + ": " + ec.message());
  return Status::Ok();
}

Result<CheckpointInfo> ReadInfo(const fs::path& dir) {
  std::ifstream in(dir / kInfo);
  if (!in) return Status::NotFound("no " + std::string(kInfo) + " in " + dir.string());
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("damaged " + (dir / kInfo).string());
  CheckpointInfo c;
  c.dir = dir.string();
  c.applied_upto = j.value("applied_upto", Lsn{0});
  c.restart_lsn = j.value("restart_lsn", Lsn{0});
  c.tli = j.value("tli", TimeLineId{0});
  c.taken_unix = j.value("taken_unix", int64_t{0});
  for (auto& [k, v] : j["merged"].items())
    c.merged[std::stoll(k)] = v.is_null() ? std::optional<Lsn>() : std::optional<Lsn>(v.get<Lsn>());
  return c;
}
}  // namespace

Status CheckpointSet::Take(StateStore* store, CheckpointInfo info) {
  std::error_code ec;
  fs::create_directories(Dir(state_dir_), ec);
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%016llX-%08X", static_cast<unsigned long long>(info.applied_upto), info.tli);
  info.dir = Dir(state_dir_) + "/" + name;
  if (fs::exists(info.dir)) return Status::Ok();   // nothing applied since the last one
  PGT_RETURN_IF_ERROR(store->CreateCheckpoint(info.dir));
  nlohmann::json merged = nlohmann::json::object();
  for (auto& [id, f] : info.merged) merged[std::to_string(id)] = f ? nlohmann::json(*f) : nlohmann::json(nullptr);
  info.taken_unix = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  nlohmann::json j = {{"applied_upto", info.applied_upto}, {"restart_lsn", info.restart_lsn}, {"tli", info.tli},
                      {"taken_unix", info.taken_unix}, {"merged", merged}};
  PGT_RETURN_IF_ERROR(WriteFileSynced(info.dir + "/" + kInfo, j.dump()));
  PGT_ASSIGN_OR_RETURN(auto all, List());
  for (size_t i = static_cast<size_t>(std::max(keep_, 1)); i < all.size(); ++i) fs::remove_all(all[i].dir, ec);
  return Status::Ok();
}

Result<std::vector<CheckpointInfo>> CheckpointSet::List() const {
  std::vector<CheckpointInfo> out;
  std::error_code ec;
  if (!fs::exists(Dir(state_dir_))) return out;
  for (const auto& e : fs::directory_iterator(Dir(state_dir_), ec)) {
    if (!e.is_directory(ec)) continue;
    auto info = ReadInfo(e.path());
    if (!info.ok()) {   // an interrupted Take: not a checkpoint
      fs::remove_all(e.path(), ec);
      continue;
    }
    out.push_back(std::move(info).value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.applied_upto > b.applied_upto; });
  return out;
}

Status CheckpointSet::Restore(const std::string& state_dir, const CheckpointInfo& cp) {
  PGT_RETURN_IF_ERROR(WriteFileSynced(Dir(state_dir) + "/" + kMarker, cp.dir));
  PGT_RETURN_IF_ERROR(ReplaceFiles(state_dir, cp.dir));
  PGT_RETURN_IF_ERROR(WriteFileSynced(Dir(state_dir) + "/" + kRewound, cp.dir));
  std::error_code ec;
  fs::remove(Dir(state_dir) + "/" + kMarker, ec);
  return Status::Ok();
}

Status CheckpointSet::FinishInterruptedRestore(const std::string& state_dir) {
  std::ifstream in(Dir(state_dir) + "/" + kMarker);
  if (!in) return Status::Ok();
  std::string from((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!fs::exists(from)) return Status::Corruption("an interrupted state restore names " + from + ", which is gone");
  PGT_RETURN_IF_ERROR(ReplaceFiles(state_dir, from));
  PGT_RETURN_IF_ERROR(WriteFileSynced(Dir(state_dir) + "/" + kRewound, from));
  std::error_code ec;
  fs::remove(Dir(state_dir) + "/" + kMarker, ec);
  return Status::Ok();
}

bool CheckpointSet::RewindNotReconciled(const std::string& state_dir) {
  return fs::exists(Dir(state_dir) + "/" + kRewound);
}

void CheckpointSet::MarkRewindReconciled(const std::string& state_dir) {
  std::error_code ec;
  fs::remove(Dir(state_dir) + "/" + kRewound, ec);
}

}  // namespace pgt::engine
