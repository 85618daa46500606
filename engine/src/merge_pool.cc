// Parallel merges (pg_trickle.max_parallel_workers, DESIGN §5 "Scheduler").
//
// Ownership: the main loop owns everything; for one wave of merges it lends each merge thread
// one TableRuntime and one primary connection with its MergeWriter (slot 0 = Impl::primary /
// Impl::merger, slots 1..N-1 = Impl::merge_slots, connected on first use and again when broken).
// A merge thread touches only its table, its connection and the state store (RocksDB writes are
// thread-safe; each merge commits its own batch). Nothing else runs meanwhile: no batch is open
// (RunDueMerges committed it), the decoder waits, errors are handled after the join, in the
// main thread. Waves follow the tier order, so critical tables start first; a wave holds at most
// max_parallel merges, so no more than that run at once.
#include <thread>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

Result<MergeSlot*> Engine::Impl::Slot(size_t k) {
  while (merge_slots.size() < k) merge_slots.push_back(std::make_unique<MergeSlot>());
  MergeSlot* s = merge_slots[k - 1].get();
  if (!s->conn || !s->conn->healthy()) {
    // The host whose lineage was checked (reattach.cc), never libpq's pick among --primary's hosts:
    // that could be a stale primary. The guard re-checks its timeline inside each merge.
    if (primary_conninfo_resolved.empty()) return Status::Unavailable("no primary attached");
    PGT_ASSIGN_OR_RETURN(s->conn, PgConn::Connect(primary_conninfo_resolved, "primary (merge " + std::to_string(k) + ")"));
    s->writer = std::make_unique<MergeWriter>(s->conn.get());
    s->writer->SetLineageGuard(primary_tli);
  }
  return s;
}

void Engine::Impl::ForEachMergeConnection(const std::function<void(PgConn*, MergeWriter*)>& fn) {
  fn(primary.get(), merger.get());
  for (auto& s : merge_slots)
    if (s->conn && s->conn->healthy()) fn(s->conn.get(), s->writer.get());
}

std::vector<Status> Engine::Impl::RunMerges(const std::vector<TableRuntime*>& due) {
  std::vector<Status> out(due.size());
  const size_t width = static_cast<size_t>(std::max(1, max_parallel));
  for (size_t start = 0; start < due.size(); start += width) {
    const size_t end = std::min(due.size(), start + width);
    if (end - start == 1) {
      out[start] = MergeTable(*due[start], primary.get(), merger.get());
      continue;
    }
    std::vector<std::thread> threads;
    for (size_t i = start; i < end; ++i) {
      PgConn* conn = primary.get();
      MergeWriter* writer = merger.get();
      if (i > start) {
        auto slot = Slot(i - start);
        if (!slot.ok()) { out[i] = Status::Unavailable(slot.status().message()); continue; }
        conn = (*slot)->conn.get();
        writer = (*slot)->writer.get();
      }
      threads.emplace_back([this, &out, &due, i, conn, writer] { out[i] = MergeTable(*due[i], conn, writer); });
    }
    for (auto& th : threads) th.join();
  }
  return out;
}

}  // namespace pgt::engine
