// Composite WAL source: stream first, archive for what the stream cannot serve. See
// walreader/composite_source.h for the switching rule.
#include "walreader/composite_source.h"

#include <thread>

namespace pgt {

namespace {
using Clock = std::chrono::steady_clock;

// The timeline of `h` holding `lsn` (0 = unknown).
TimeLineId TimelineAt(const TimelineHistory& h, Lsn lsn) {
  for (const auto& s : h)
    if (lsn >= s.begin && lsn < s.end) return s.tli;
  return 0;
}

class CompositeSource : public WalSource {
 public:
  explicit CompositeSource(CompositeSourceOptions o) : o_(std::move(o)) {}

  Status Start(Lsn start, TimeLineId tli) override {
    pos_ = start;
    tli_ = tli;
    discard_ = kInvalidLsn;
    next_probe_ = Clock::now();
    if (o_.stream) {
      on_archive_ = false;
      return o_.stream->Start(start, tli);
    }
    on_archive_ = true;
    return StartArchive();
  }

  Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds wait) override {
    if (on_archive_) return ReadArchive(out, wait);
    const size_t before = out->size();
    if (!stream_error_.empty() && o_.archive && Clock::now() < next_probe_) {
      // The stream failed for good at this position: do not spin on it between probes.
      std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(100)));
      return Status::Ok();
    }
    Status st = o_.stream->Read(out, wait);
    if (!st.ok()) {
      // Not retryable by the stream itself (e.g. its server's history lacks our timeline): the
      // archive may still have the WAL; otherwise the error stands.
      if (!o_.archive) return st;
      stream_error_ = st.message();
      out->resize(before);
    }
    Account(out->size() - before, false);
    if (Lsn d = o_.stream->TakeDiscardFrom(); d != kInvalidLsn) {
      discard_ = d;
      pos_ = d;
    }
    if (o_.stream->timeline() != 0) tli_ = o_.stream->timeline();
    if (out->size() > before) {
      stream_error_.clear();
      if (noted_archive_) {   // logged when the stream delivers again, not at each archive end
        noted_archive_ = false;
        Note("reading WAL from the stream at " + FormatLsn(pos_ - (out->size() - before)) + " (timeline " +
             std::to_string(tli_) + "): caught up with the archive");
      }
      return Status::Ok();
    }
    std::string problem = stream_error_.empty() ? o_.stream->problem() : stream_error_;
    if (!o_.archive || problem.empty() || Clock::now() < next_probe_) return Status::Ok();
    next_probe_ = Clock::now() + o_.archive_probe_interval;
    PGT_RETURN_IF_ERROR(StartArchive());
    if (const TimelineSpan* s = FindTimeline(history_, tli_); s != nullptr && s->end != kEndOfTime && s->end < pos_) {
      // The archive's newest timeline left ours before the position: its bytes here belong to
      // another history. Never hand them out (the consumer decides about the divergence).
      stream_error_ = problem + "; the archive cannot serve it either: timeline " + std::to_string(tli_) +
                      " ended at " + FormatLsn(s->end) + " in the archive's history, before " + FormatLsn(pos_);
      return Status::Ok();
    }
    const size_t b = out->size();
    PGT_RETURN_IF_ERROR(o_.archive->Read(out, std::chrono::milliseconds(0)));
    if (out->size() == b) return Status::Ok();   // the archive does not have it (yet) either
    on_archive_ = true;
    if (!noted_archive_)
      Note("reading WAL from the archive at " + FormatLsn(pos_) + " (timeline " +
           std::to_string(o_.archive->timeline() != 0 ? o_.archive->timeline() : tli_) +
           "): the stream cannot serve it: " + problem);
    noted_archive_ = true;
    Account(out->size() - b, true);
    NoteArchiveTimeline();
    return Status::Ok();
  }

  void ConfirmFlush(Lsn lsn) override {
    if (o_.stream) o_.stream->ConfirmFlush(lsn);
  }
  TimeLineId timeline() const override { return tli_; }
  uint64_t segment_size() const override {
    if (on_archive_ && o_.archive) return o_.archive->segment_size();
    return o_.stream ? o_.stream->segment_size() : 0;
  }
  Lsn TakeDiscardFrom() override {
    Lsn d = discard_;
    discard_ = kInvalidLsn;
    return d;
  }
  std::string problem() const override {
    if (on_archive_) return "";
    return stream_error_.empty() && o_.stream ? o_.stream->problem() : stream_error_;
  }

 private:
  // Positions the archive at pos_ on the newest timeline it knows (a segment is then read from
  // the newest timeline that began before its end, as a restoring server does).
  Status StartArchive() {
    TimeLineId tli = tli_;
    if (o_.archive_history) {
      auto h = o_.archive_history();
      if (h.ok() && !h->empty()) {
        history_ = *h;
        tli = std::max(tli, history_.back().tli);
      }
    }
    return o_.archive->Start(pos_, tli);
  }

  Status ReadArchive(std::vector<uint8_t>* out, std::chrono::milliseconds wait) {
    const size_t before = out->size();
    PGT_RETURN_IF_ERROR(o_.archive->Read(out, std::min(wait, std::chrono::milliseconds(100))));
    if (out->size() > before) {
      Account(out->size() - before, true);
      NoteArchiveTimeline();
      return Status::Ok();
    }
    if (!o_.stream) return Status::Ok();   // archive only: wait for the next segment
    // End of what the archive holds: back to the stream, on the timeline holding pos_.
    on_archive_ = false;
    next_probe_ = Clock::now() + o_.archive_probe_interval;
    stream_error_.clear();
    return o_.stream->Start(pos_, tli_);   // the switch is logged once the stream delivers
  }

  // After archive bytes were handed out: timeline() names the timeline at pos_ (the next byte),
  // which is the newest one any of them belonged to. The archive reads the newest timeline's
  // files, so a chunk may cross the switch point of the timeline the stream was on: the
  // consumer records the timeline it applied WAL of (the engine's checkpoint), and a stale
  // older one there would read as "WAL of the abandoned timeline applied past its end".
  void NoteArchiveTimeline() {
    if (TimeLineId t = TimelineAt(history_, pos_); t != 0) tli_ = t;
    else if (o_.archive->timeline() != 0) tli_ = o_.archive->timeline();
  }

  void Account(size_t n, bool archive) {
    if (n == 0) return;
    pos_ += n;
    if (o_.on_bytes) o_.on_bytes(archive, n);
  }
  void Note(const std::string& m) {
    if (o_.on_switch) o_.on_switch(m);
  }

  CompositeSourceOptions o_;
  bool on_archive_ = false;
  bool noted_archive_ = false;  // the last source change logged was to the archive
  Lsn pos_ = 0;                 // next byte to hand out
  TimeLineId tli_ = 0;          // timeline of the bytes at pos_ (0 = not known yet)
  Lsn discard_ = kInvalidLsn;
  std::string stream_error_;    // an error the stream returned (not retried by it)
  TimelineHistory history_;     // the archive's newest history (last probe)
  Clock::time_point next_probe_{};
};
}  // namespace

std::unique_ptr<WalSource> OpenCompositeSource(CompositeSourceOptions opts) {
  return std::unique_ptr<WalSource>(new CompositeSource(std::move(opts)));
}

}  // namespace pgt
