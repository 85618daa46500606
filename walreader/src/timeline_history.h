// Timeline history files (`%08X.history`, wal-format.md §1), internal: shared by the stream
// source (TIMELINE_HISTORY) and usable by file sources.
#pragma once

#include <string>
#include <vector>

#include "walreader/lsn.h"
#include "walreader/status.h"

namespace pgt::internal {

// One timeline of a history: WAL in [begin, end) belongs to `tli`. The newest timeline (the one
// whose history was read) has end = kEndOfTime.
struct TimelineSpan {
  TimeLineId tli = 0;
  Lsn begin = 0;
  Lsn end = 0;
};
constexpr Lsn kEndOfTime = ~Lsn{0};

// Parses the history of timeline `tli` ("parentTLI <tab> X/X <tab> reason" lines, '#' comments,
// parents increasing) into spans, oldest first, the last one being `tli` itself. `what` names the
// file in errors (Corruption).
Result<std::vector<TimelineSpan>> ParseTimelineHistory(const std::string& text, TimeLineId tli,
                                                       const std::string& what);

}  // namespace pgt::internal
