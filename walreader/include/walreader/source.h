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
  // Added: the WAL segment size if the source knows it (0 = unknown). The page reader learns it
  // from long page headers; this lets it name segments correctly before it met one.
  virtual uint64_t segment_size() const { return 0; }
  // Added: the bytes already handed out from the returned LSN onwards are void, because the
  // source moved to a timeline that forked from the old one there (a torn record of the old
  // timeline was sent past the switch point). Returned once, then kInvalidLsn; the following
  // Reads continue at that LSN with the new timeline's bytes. timeline() is then the new one.
  virtual Lsn TakeDiscardFrom() { return kInvalidLsn; }
  // Added (issue 8): why the source cannot deliver WAL at its position right now ("" = nothing
  // known to be wrong): e.g. a stream whose server is unreachable or no longer has the WAL.
  // Cleared once bytes flow again. Lets a composite source fall back to the archive.
  virtual std::string problem() const { return ""; }
};

// Physical replication from a (standby) server: IDENTIFY_SYSTEM, START_REPLICATION [SLOT s]
// PHYSICAL, status updates every `status_interval` and when asked, reconnect with backoff.
// Timelines are followed as a cascading standby does: when the server's timeline is newer than
// the one streamed, its history (TIMELINE_HISTORY) gives the switch points; at the end of a
// historic timeline the server ends COPY and names the next timeline and its start LSN, and
// streaming continues there (START_REPLICATION on the next timeline). timeline() is the timeline
// of the bytes being delivered. Start(lsn, 0) picks the timeline holding `lsn` in the server's
// history. Without a slot the received position is reported as written and flushed (a server's
// shutdown waits until its walsenders' clients confirmed what was sent; retention is the
// consumer's business then); with a slot, flush = ConfirmFlush so the slot retains the rest.
struct StreamOptions {
  std::string conninfo;            // libpq conninfo; replication=true is added
  std::string slot;                // physical slot name ("" = none)
  std::chrono::milliseconds status_interval{1000};
  // Added (issue 8): a failed first connection is retried like a lost one (reported through
  // problem()) instead of being returned by Read.
  bool retry_first_connect = false;
};
Result<std::unique_ptr<WalSource>> OpenStreamSource(const StreamOptions& opts);
// Current flush position reported by IDENTIFY_SYSTEM (where a fresh consumer starts).
Result<Lsn> IdentifySystemXLogPos(const std::string& conninfo, TimeLineId* tli);

// Local directory of WAL segment files named %08X%08X%08X (pg_wal or a flat archive). A missing
// segment means "no WAL yet" (empty read). Same as OpenSegmentSource with Kind::kPgWal.
Result<std::unique_ptr<WalSource>> OpenDirectorySource(const std::string& dir);

// Added: segment files from pg_wal, an archive directory or a restore_command. Files may be
// compressed with zstd or gzip (detected by magic bytes, whatever the extension). The segment
// size is read from the long page header. Errors name the segment and the LSN: a truncated
// segment (shorter than the segment size and not .partial) when the reader needs bytes past its
// end, a broken compressed stream, and (archive/command) a missing segment whose WAL is needed
// before `required_until`. Timelines are not followed: the requested one is used throughout.
struct SegmentSourceOptions {
  enum class Kind { kPgWal, kArchive };
  Kind kind = Kind::kArchive;
  // kPgWal: the directory holds %08X%08X%08X[.partial] files. kArchive: also barman's layout
  // `DIR/wals/<first 16 hex digits>/<segment>[.zst|.zstd|.gz|.partial]`.
  std::string dir;
  // When not empty (kArchive): a restore_command-style shell command run with /bin/sh; %f = the
  // segment file name, %p = where to put it, %% = '%'. Exit status 0 and the file = found.
  std::string restore_command;
  // kArchive: a segment holding WAL before this LSN must exist (else NotFound). 0 = a missing
  // segment is the end of the WAL (empty read).
  Lsn required_until = 0;
};
Result<std::unique_ptr<WalSource>> OpenSegmentSource(const SegmentSourceOptions& opts);

}  // namespace pgt
