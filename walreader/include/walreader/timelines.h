// Timelines and server identity for following failovers (issue 8): what a consumer needs to
// know where a WAL position lies in a server's history, from a replication connection or an
// archive.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "walreader/lsn.h"
#include "walreader/source.h"
#include "walreader/status.h"

namespace pgt {

// One timeline of a history: WAL in [begin, end) belongs to `tli`. The newest timeline (the one
// whose history was read) has end = kEndOfTime.
struct TimelineSpan {
  TimeLineId tli = 0;
  Lsn begin = 0;
  Lsn end = 0;
};
constexpr Lsn kEndOfTime = ~Lsn{0};
// Spans oldest first; the last one is the timeline whose history it is (end = kEndOfTime).
using TimelineHistory = std::vector<TimelineSpan>;

// Parses `%08X.history` text of timeline `tli` (what names it in errors).
Result<TimelineHistory> ParseTimelineHistoryText(const std::string& text, TimeLineId tli,
                                                 const std::string& what);
// The span of `tli` in `h` (nullptr = not in it).
const TimelineSpan* FindTimeline(const TimelineHistory& h, TimeLineId tli);

// IDENTIFY_SYSTEM over a replication connection.
struct ServerIdentity {
  std::string system_id;
  TimeLineId tli = 0;
  Lsn xlogpos = 0;   // flush position (on a standby: the WAL it has)
};
Result<ServerIdentity> IdentifyServer(const std::string& conninfo);
// TIMELINE_HISTORY tli over a replication connection (timeline 1: one span, no request).
Result<TimelineHistory> ServerTimelineHistory(const std::string& conninfo, TimeLineId tli);

// Archive (directory or restore_command, as SegmentSourceOptions): the content of a file such as
// `00000002.history` (decompressed), nullopt if the archive does not have it.
Result<std::optional<std::string>> FetchArchiveFile(const SegmentSourceOptions& archive,
                                                    const std::string& name);
// The newest timeline the archive has a history file for, at least `from` (probing from+1,
// from+2, ... as PostgreSQL's findNewestTimeLine does).
Result<TimeLineId> ArchiveNewestTimeline(const SegmentSourceOptions& archive, TimeLineId from);
// The history of `tli` from the archive (timeline 1: one span). NotFound if the file is missing.
Result<TimelineHistory> ArchiveTimelineHistory(const SegmentSourceOptions& archive, TimeLineId tli);

}  // namespace pgt
