// WAL sources: where WAL bytes come from (DESIGN §3). A source delivers the byte stream from a
// requested start LSN onwards, page headers included; the decoder does page/record parsing.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "walreader/lsn.h"
#include "walreader/status.h"

namespace pgt {

class WalSource {
 public:
  virtual ~WalSource() = default;
  // (Re)positions the stream at `start` (any LSN; the decoder asks for page-aligned ones).
  virtual Status Start(Lsn start, TimeLineId tli) = 0;
  // Appends available bytes to `out`, waiting at most `wait` for some. Returns the LSN of the
  // first appended byte's successor position bookkeeping through `out`; an empty read after the
  // wait is not an error. Reconnects internally after a dropped connection.
  virtual Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds wait) = 0;
  // The consumer has durably processed everything before `lsn`: WAL before it may be recycled
  // (physical slot feedback).
  virtual void ConfirmFlush(Lsn lsn) = 0;
  virtual TimeLineId timeline() const = 0;
};

// Physical replication from a (standby) server: IDENTIFY_SYSTEM, START_REPLICATION [SLOT s]
// PHYSICAL, status updates every `status_interval` and when asked, reconnect with backoff.
struct StreamOptions {
  std::string conninfo;            // libpq conninfo; replication=true is added
  std::string slot;                // physical slot name ("" = none)
  std::chrono::milliseconds status_interval{1000};
};
Result<std::unique_ptr<WalSource>> OpenStreamSource(const StreamOptions& opts);
// Current flush position reported by IDENTIFY_SYSTEM (where a fresh consumer starts).
Result<Lsn> IdentifySystemXLogPos(const std::string& conninfo, TimeLineId* tli);

// Local directory of WAL segment files named %08X%08X%08X (pg_wal or a flat archive).
Result<std::unique_ptr<WalSource>> OpenDirectorySource(const std::string& dir);

}  // namespace pgt
