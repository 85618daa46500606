// Timeline history files (`%08X.history`, wal-format.md §1), internal: shared by the stream
// source (TIMELINE_HISTORY) and usable by file sources.
#pragma once

#include <string>
#include <vector>

#include "walreader/lsn.h"
#include "walreader/status.h"
#include "walreader/timelines.h"

namespace pgt::internal {

using ::pgt::TimelineSpan;
using ::pgt::kEndOfTime;

// Parses the history of timeline `tli` ("parentTLI <tab> X/X <tab> reason" lines, '#' comments,
// parents increasing) into spans, oldest first, the last one being `tli` itself. `what` names the
// file in errors (Corruption).
Result<std::vector<TimelineSpan>> ParseTimelineHistory(const std::string& text, TimeLineId tli,
                                                       const std::string& what);

}  // namespace pgt::internal
