// PositionSamples (observe.h): server WAL positions sampled over time, turned into moments.
#include <algorithm>
#include <iterator>

#include "observe.h"

namespace pgt::engine {

void PositionSamples::Add(double t, Lsn lsn) {
  if (!samples_.empty() && lsn < samples_.back().second) samples_.clear();
  if (!samples_.empty() && lsn == samples_.back().second && samples_.size() > 1 &&
      samples_[samples_.size() - 2].second == lsn) {
    samples_.back().first = t;   // idle: keep one "first seen" and one "last seen" sample per position
    return;
  }
  samples_.emplace_back(t, lsn);
  if (samples_.size() > kMax) samples_.pop_front();
}

double PositionSamples::TimeAt(Lsn x) const {
  if (samples_.empty()) return 0;
  if (x >= samples_.back().second) return samples_.back().first;
  auto it = std::find_if(samples_.begin(), samples_.end(), [x](const auto& s) { return s.second > x; });
  if (it == samples_.begin()) return 0;   // older than the history
  const auto& [t1, l1] = *std::prev(it);
  const auto& [t2, l2] = *it;
  return t1 + (t2 - t1) * static_cast<double>(x - l1) / static_cast<double>(l2 - l1);
}

double PositionSamples::SecondsBehind(Lsn decoded, double now) const {
  if (samples_.empty() || decoded >= samples_.back().second) return 0;
  double t = TimeAt(decoded);
  if (t == 0) t = samples_.front().first;   // behind the whole history: at least this long
  return std::max(0.0, now - t);
}

}  // namespace pgt::engine
