// Merge threads (pg_trickle.max_parallel_workers, DESIGN §5 "Scheduler").
//
// The main loop starts each merge on a slot: one primary connection with its MergeWriter and one
// thread running MergeJob (scheduler.cc). A slot is lent to one merge at a time; a finished merge
// frees its slot at once (no waves), and at most max_parallel merges run together. The merge
// thread reads pending rows through a RocksDB snapshot and writes only its in-flight header;
// everything else — the outcome, errors, table metadata, pending rows merged — is applied on the
// main thread (FinishMerges), which keeps decoding and applying meanwhile.
//
// Connections are opened to the host whose lineage was checked (reattach.cc) and carry the
// lineage guard (invariant 12). When the primary changes (lost, re-attached) primary_gen moves
// on: idle connections are closed at once, busy ones when their merge ends; none is reused.
#include <thread>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

Result<MergeSlot*> Engine::Impl::FreeSlot() {
  size_t k = 0;
  while (k < merge_slots.size() && merge_slots[k]->job) ++k;
  if (k == merge_slots.size()) merge_slots.push_back(std::make_unique<MergeSlot>());
  MergeSlot* s = merge_slots[k].get();
  if (s->thread.joinable()) s->thread.join();
  if (!s->conn || !s->conn->healthy() || s->conn_gen != primary_gen) {
    // The host whose lineage was checked (reattach.cc), never libpq's pick among --primary's hosts:
    // that could be a stale primary. The guard re-checks its timeline inside each merge.
    s->writer.reset();
    s->conn.reset();
    if (primary_conninfo_resolved.empty()) return Status::Unavailable("no primary attached");
    PGT_ASSIGN_OR_RETURN(s->conn, PgConn::Connect(primary_conninfo_resolved, "primary (merge " + std::to_string(k + 1) + ")"));
    s->writer = std::make_unique<MergeWriter>(s->conn.get());
    s->writer->SetLineageGuard(primary_tli);
    s->conn_gen = primary_gen;
  }
  return s;
}

// The main loop waits for a merge still running: long merges are progress for /healthz.
void Engine::Impl::JoinMergeThread(MergeSlot& slot) {
  const bool running = !slot.job->done.load(std::memory_order_acquire);
  if (running) obs.hub.live().StepStarted();
  slot.thread.join();
  if (running) obs.hub.live().StepEnded();
}

void Engine::Impl::StartMerge(MergeSlot* slot, std::shared_ptr<MergeJob> job) {
  slot->job = job;
  StateStore* st = store.get();
  MergeWriter* writer = slot->writer.get();
  slot->thread = std::thread([st, job, writer] {
    RunMerge(st, *job, writer);
    job->done.store(true, std::memory_order_release);
  });
}

void Engine::Impl::FinishMerges(bool wait) {
  for (auto& slot : merge_slots) {
    if (!slot->job || (!wait && !slot->job->done.load(std::memory_order_acquire))) continue;
    JoinMergeThread(*slot);
    std::shared_ptr<MergeJob> job = std::move(slot->job);
    slot->job.reset();
    if (slot->conn_gen != primary_gen) {   // opened to a primary since lost or replaced
      slot->writer.reset();
      slot->conn.reset();
    }
    FinishMerge(*job);
  }
}

void Engine::Impl::WaitForMerge(int64_t id) {
  for (auto& slot : merge_slots) {
    if (!slot->job || slot->job->id != id) continue;
    JoinMergeThread(*slot);
    std::shared_ptr<MergeJob> job = std::move(slot->job);
    slot->job.reset();
    FinishMerge(*job);
  }
}

size_t Engine::Impl::MergesRunning() const {
  size_t n = 0;
  for (const auto& slot : merge_slots) n += slot->job ? 1 : 0;
  return n;
}

bool Engine::Impl::MergeRunning(int64_t id) const {
  for (const auto& slot : merge_slots)
    if (slot->job && slot->job->id == id) return true;
  return false;
}

void Engine::Impl::ResetMergeConnections() {
  ++primary_gen;
  for (auto& slot : merge_slots) {
    if (slot->job) continue;   // closed when its merge ends (FinishMerges)
    slot->writer.reset();
    slot->conn.reset();
  }
}

// Idle merge connections only (a running merge's connection belongs to its thread).
void Engine::Impl::ForEachMergeConnection(const std::function<void(PgConn*, MergeWriter*)>& fn) {
  for (auto& s : merge_slots)
    if (!s->job && s->conn && s->conn->healthy() && s->conn_gen == primary_gen) fn(s->conn.get(), s->writer.get());
}

}  // namespace pgt::engine
