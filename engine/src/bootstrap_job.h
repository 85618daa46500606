// A standby-snapshot bootstrap running on its own thread (issue 10), so the main loop keeps
// decoding, applying, merging other tables and heartbeating while millions of rows load.
//
// Exactly once (invariants 1, 3, 16): the snapshot is taken by the main thread at the cut R, as
// before. While the thread loads the snapshot, the main loop applies every transaction to the
// existing tables and mirrors as usual and, for each change of one of the new table's sources in
// a transaction ending after max(R, applied_upto), appends a record to the table's catch-up log
// in the same batch (so the log is exactly as durable as the applied position):
//  - a source whose mirror this bootstrap builds: the decoded change itself ('C');
//  - a source with an existing mirror: the (old, new) rows that mirror produced ('R') — the
//    mirror moves on, so they could not be recovered later.
// When the thread is done the main thread commits its batch (applied_upto = A), replays the log
// in order (a 'C' through the new mirror, which yields its (old, new), then into the circuit) and
// registers the table and its new mirrors in one commit: their state is then the snapshot at R
// plus every transaction in (R, A], i.e. the state at A, and decoding goes on from A for them.
// Log layout: mirror CF, TablePrefix(id) | 0x03 | BE64(seq) (wiped with the table's state).
// Nothing is registered before the end: a crash, a cancellation (TRUNCATE or rewrite of a
// source, the table dropped, a divergence, shutdown) or an error discards the job, and the next
// catalog poll starts over (the wipe at the start removes the partial state and the log).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_conn.h"
#include "source_mirror.h"
#include "stream_table.h"

namespace pgt::engine {

// One source of a snapshot bootstrap: how to read it.
struct SourceRead {
  const SourceSpec* spec;
  std::string qualified;                              // current name of the relation
  std::string cols;                                   // quoted column list
  std::vector<std::pair<size_t, TypeId>> slots;       // row position, type per column
  bool build_mirror = false;
};

struct BootstrapJob {
  int64_t id = 0;
  std::string name, sources;
  std::unique_ptr<StreamTable> table;   // the thread's until it is done
  std::vector<SourceRead> reads;
  std::unique_ptr<PgConn> snap;         // the REPEATABLE READ snapshot at `cut`
  Lsn cut = 0;                          // R
  Lsn rewind = 0;                       // where the decoder was rewound to at the start
  int64_t expected_rows = 0;
  std::set<Oid> relids;                 // every source
  std::set<Oid> building;               // sources whose mirror this bootstrap builds
  uint64_t next_seq = 0;                // catch-up log
  int64_t logged = 0;
  // Thread results.
  std::thread thread;
  std::atomic<bool> done{false}, cancel{false};
  Status result;
  int64_t rows = 0;
  double seconds = 0;
  bool binary = true;
  std::string cancel_reason;            // set by the main thread
  PGcancel* pg_cancel = nullptr;        // cancels the snapshot's COPY (thread-safe in libpq)

  // Asks the thread to stop: at its next chunk, and the server to end the COPY now (it may be
  // waiting on a lock).
  void Cancel() {
    cancel = true;
    if (pg_cancel && !done) {
      char err[256];
      (void)PQcancel(pg_cancel, err, sizeof err);
    }
  }
  ~BootstrapJob() {
    Cancel();
    if (thread.joinable()) thread.join();
    if (pg_cancel) PQfreeCancel(pg_cancel);
  }
};

// Catch-up log keys of table `id` (BootstrapJob).
std::string CatchupPrefix(int64_t id);

}  // namespace pgt::engine
