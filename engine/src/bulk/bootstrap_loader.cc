// Bulk loading of a bootstrap; see bootstrap_loader.h.
#include "bulk/bootstrap_loader.h"

#include <filesystem>

#include "log.h"

namespace pgt::engine {
namespace {
constexpr int64_t kChunkRows = 100000;
// Per column family; a run is filled while the previous one is written (bulk/sst_runs.h), so
// the loader holds at most 2 x 2 runs (plus their 32-byte entries).
constexpr size_t kRunBytes = size_t{32} << 20;
constexpr auto kEventEvery = std::chrono::seconds(5);

std::string Cleared(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);   // files of a bootstrap that crashed
  return dir;
}
}  // namespace

BootstrapLoader::BootstrapLoader(StateStore* store, StreamTable* table, const std::string& tmp_dir,
                                 LiveProgress* live, int64_t expected_rows)
    : store_(store), table_(table), tmp_dir_(Cleared(tmp_dir)), live_(live), expected_(expected_rows),
      batch_(store), mirror_runs_(store, Cf::kMirror, tmp_dir_, kRunBytes),
      pending_runs_(store, Cf::kPending, tmp_dir_, kRunBytes, /*merge_at_end=*/true),
      started_(std::chrono::steady_clock::now()), last_event_(started_) {
  batch_.RouteToBulk(Cf::kMirror, &mirror_runs_);
  batch_.RouteToBulk(Cf::kPending, &pending_runs_);
  table_->set_bulk_output(true);
  live_->bootstrap_rows_expected = expected_;
}

BootstrapLoader::~BootstrapLoader() {
  table_->set_bulk_output(false);
  std::error_code ec;
  std::filesystem::remove_all(tmp_dir_, ec);
}

double BootstrapLoader::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

Status BootstrapLoader::Add(Oid relid, SourceMirror* mirror, const Row& row) {
  if (mirror) mirror->PutSnapshotRow(&batch_, row);
  PGT_RETURN_IF_ERROR(table_->ApplySnapshotRow(&batch_, relid, row));
  if (++rows_ % kChunkRows == 0) PGT_RETURN_IF_ERROR(EndChunk());
  return Status::Ok();
}

Status BootstrapLoader::EndChunk() {
  if (cancel_ && cancel_->load()) return Status::Unavailable("bootstrap cancelled");
  PGT_RETURN_IF_ERROR(table_->FinishBatch(&batch_));
  PGT_RETURN_IF_ERROR(mirror_runs_.status());
  PGT_RETURN_IF_ERROR(pending_runs_.status());
  if (!batch_.empty()) PGT_RETURN_IF_ERROR(store_->Commit(&batch_));
  live_->BootstrapRows(rows_);
  auto now = std::chrono::steady_clock::now();
  if (now - last_event_ >= kEventEvery) {
    double dt = std::chrono::duration<double>(now - last_event_).count();
    auto rate = static_cast<int64_t>(static_cast<double>(rows_ - rows_at_last_event_) / dt);
    const std::string& name = table_->meta().name;
    PGT_EVENT(kInfo, "bootstrap_progress",
              (LogFields{{"table", name}, {"rows", rows_}, {"rows_per_s", rate}, {"rows_expected", expected_}}),
              "bootstrap of ", name, ": ", rows_, " rows loaded", expected_ > 0 ? " of about " + std::to_string(expected_) : "",
              " (", rate, " rows/s)");
    last_event_ = now;
    rows_at_last_event_ = rows_;
  }
  return Status::Ok();
}

Status BootstrapLoader::Finish() {
  table_->TouchGlobalGroup();
  PGT_RETURN_IF_ERROR(table_->FinishBatch(&batch_));
  // The rest writes what the runs hold; for pending output spilled in several runs that is a
  // merge of all of them (seconds for millions of rows), without row progress meanwhile.
  const std::string& name = table_->meta().name;
  PGT_EVENT(kInfo, "bootstrap_finishing", (LogFields{{"table", name}, {"rows", rows_}}), "bootstrap of ", name,
            ": all ", rows_, " rows read; writing and ingesting the last sorted runs");
  PGT_RETURN_IF_ERROR(mirror_runs_.Flush());
  const auto merge_started = std::chrono::steady_clock::now();
  pending_runs_.set_merge_progress([&](int64_t done, int64_t total) {
    const bool over = done >= total;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                          merge_started).count();
    PGT_EVENT(kInfo, over ? "bootstrap_merged_runs" : "bootstrap_finishing_progress",
              (LogFields{{"table", name}, {"records", done}, {"records_total", total}, {"ms", static_cast<int64_t>(ms)}}),
              "bootstrap of ", name, over ? ": merged " : ": merging sorted runs, ", done,
              over ? std::string() : " of " + std::to_string(total), " pending record(s) in ", ms, " ms");
  }, kEventEvery);
  PGT_RETURN_IF_ERROR(pending_runs_.Flush());
  table_->set_bulk_output(false);
  if (!batch_.empty()) PGT_RETURN_IF_ERROR(store_->Commit(&batch_));
  live_->BootstrapRows(rows_);
  return Status::Ok();
}

}  // namespace pgt::engine
