// Timeline history parsing: see timeline_history.h.
#include "timeline_history.h"

#include <cstdio>

namespace pgt::internal {

Result<std::vector<TimelineSpan>> ParseTimelineHistory(const std::string& text, TimeLineId tli,
                                                       const std::string& what) {
  std::vector<TimelineSpan> spans;
  Lsn begin = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    unsigned t = 0, hi = 0, lo = 0;
    if (std::sscanf(line.c_str() + b, "%u %X/%X", &t, &hi, &lo) != 3 || t == 0 || t >= tli ||
        (!spans.empty() && t <= spans.back().tli))
      return Status::Corruption("invalid timeline history file " + what + " line: " + line);
    Lsn end = (Lsn{hi} << 32) | lo;
    if (end < begin)
      return Status::Corruption("invalid timeline history file " + what + ": switch points go back at " +
                                line);
    spans.push_back({t, begin, end});
    begin = end;
  }
  spans.push_back({tli, begin, kEndOfTime});
  return spans;
}

}  // namespace pgt::internal

namespace pgt {

Result<TimelineHistory> ParseTimelineHistoryText(const std::string& text, TimeLineId tli,
                                                 const std::string& what) {
  return internal::ParseTimelineHistory(text, tli, what);
}

const TimelineSpan* FindTimeline(const TimelineHistory& h, TimeLineId tli) {
  for (const auto& s : h)
    if (s.tli == tli) return &s;
  return nullptr;
}

}  // namespace pgt
