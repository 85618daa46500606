// Circuit nodes: the Z-set operators a stream table's plan compiles to (docs/plan-format.md v2).
//
// Every value flowing between nodes is one weighted row with an identity:
//   (id, row, w)   id = encoded identity (unique among the rows present in the node's output),
//                  w  = +1 insertion / -1 retraction (a change is a retraction then an insertion).
// Each node maps input deltas to output deltas, Δout = f(Δin, state), and keeps whatever state it
// needs (arrangements) in RocksDB under its own key prefix, so memory stays bounded whatever the
// state size. Deltas are pushed one at a time in the order they happen: because every step is
// the exact delta of the whole expression from one state to the next, any interleaving of
// inputs (a self-join's two scans, the sides of a join) yields the exact result.
//
// Identities stay unique per node output (weight 0 or 1 per id), so the final output can be kept
// as "last event per id wins" (StreamTable's pending rows): a row present at the end of a batch
// was last inserted, a row absent was last retracted.
//
// Nodes are built once per stream table (circuit/plan.cc) and are not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "state/state_store.h"
#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::engine {

class Node {
 public:
  virtual ~Node() = default;
  // One weighted row arriving on input `port`.
  virtual Status Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) = 0;
  // End of a batch: nodes that consolidate (aggregate) emit their changes. Called on every node
  // in topological order (inputs first).
  virtual Status Flush(Batch*) { return Status::Ok(); }
  // Bootstrap of a global aggregate: its single row exists even over empty input.
  virtual void TouchGlobal() {}

  void ConnectTo(Node* parent, int port) { parent_ = parent; port_ = port; }
  int width() const { return width_; }
  void set_width(int w) { width_ = w; }

 protected:
  Status Emit(Batch* b, const std::string& id, const Row& row, int64_t w) {
    return parent_->Push(b, port_, id, row, w);
  }

 private:
  Node* parent_ = nullptr;
  int port_ = 0;
  int width_ = 0;   // number of values in each output row
};

// Identity of a row built from two inputs' identities (join output, either side possibly
// absent for outer joins): a flags byte, the left id length-prefixed, then the right id.
std::string PairId(const std::string* left, const std::string* right);
// Identity of a row of branch `branch` of a UNION ALL.
std::string BranchId(int branch, const std::string& id);

}  // namespace pgt::engine
