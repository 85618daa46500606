// CompositeSource (issue 8): stream first, archive for what the stream cannot serve, back to
// the stream at the archive's end; positions stay continuous and bytes are counted by origin.
#include "walreader/composite_source.h"

#include <gtest/gtest.h>

namespace pgt {
namespace {

// Byte at LSN x is (x * 7) & 0xFF: any gap, repeat or reorder shows in the output.
uint8_t ByteAt(Lsn x) { return static_cast<uint8_t>((x * 7) & 0xFF); }

// Serves [from, to); before `from` it reports a problem and delivers nothing (WAL removed).
class FakeSource : public WalSource {
 public:
  FakeSource(Lsn from, Lsn to, TimeLineId tli, std::string problem, int* starts)
      : to_(to), from_(from), tli_(tli), problem_text_(std::move(problem)), starts_(starts) {}
  Status Start(Lsn start, TimeLineId) override {
    pos_ = start;
    ++*starts_;
    return Status::Ok();
  }
  Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds) override {
    if (pos_ < from_ || pos_ >= to_) {
      problem_ = pos_ < from_ ? problem_text_ : "";
      return Status::Ok();
    }
    problem_.clear();
    Lsn end = std::min(to_, pos_ + 300);
    for (Lsn x = pos_; x < end; ++x) out->push_back(ByteAt(x));
    pos_ = end;
    return Status::Ok();
  }
  void ConfirmFlush(Lsn) override {}
  TimeLineId timeline() const override { return tli_; }
  std::string problem() const override { return problem_; }
  Lsn to_;

 private:
  Lsn from_;
  TimeLineId tli_;
  std::string problem_text_, problem_;
  Lsn pos_ = 0;
  int* starts_;
};

struct Counts {
  uint64_t archive = 0, stream = 0;
  std::vector<std::string> notes;
};

CompositeSourceOptions Options(Counts* c) {
  CompositeSourceOptions o;
  o.archive_probe_interval = std::chrono::milliseconds(0);
  o.on_bytes = [c](bool a, size_t n) { (a ? c->archive : c->stream) += n; };
  o.on_switch = [c](const std::string& m) { c->notes.push_back(m); };
  return o;
}

std::vector<uint8_t> ReadUntil(WalSource* s, size_t n) {
  std::vector<uint8_t> out;
  for (int i = 0; i < 1000 && out.size() < n; ++i) {
    Status st = s->Read(&out, std::chrono::milliseconds(1));
    EXPECT_TRUE(st.ok()) << st.message();
  }
  return out;
}

void ExpectContinuous(const std::vector<uint8_t>& b, Lsn start) {
  for (size_t i = 0; i < b.size(); ++i)
    ASSERT_EQ(b[i], ByteAt(start + i)) << "byte " << i << " (LSN " << start + i << ")";
}

TEST(CompositeSourceTest, CatchesUpFromTheArchiveThenStreams) {
  Counts c;
  int stream_starts = 0, archive_starts = 0;
  auto o = Options(&c);
  o.stream = std::make_unique<FakeSource>(5000, 9000, 1, "requested WAL segment has already been removed", &stream_starts);
  o.archive = std::make_unique<FakeSource>(0, 5000, 1, "", &archive_starts);
  auto src = OpenCompositeSource(std::move(o));
  ASSERT_TRUE(src->Start(1000, 1).ok());
  auto bytes = ReadUntil(src.get(), 8000);
  ASSERT_EQ(bytes.size(), 8000u);
  ExpectContinuous(bytes, 1000);
  EXPECT_EQ(c.archive, 4000u);
  EXPECT_EQ(c.stream, 4000u);
  ASSERT_EQ(c.notes.size(), 2u);
  EXPECT_NE(c.notes[0].find("reading WAL from the archive"), std::string::npos);
  EXPECT_NE(c.notes[0].find("already been removed"), std::string::npos);
  EXPECT_NE(c.notes[1].find("reading WAL from the stream"), std::string::npos);
  EXPECT_EQ(src->problem(), "");
}

TEST(CompositeSourceTest, AHealthyStreamNeverTouchesTheArchive) {
  Counts c;
  int stream_starts = 0, archive_starts = 0;
  auto o = Options(&c);
  o.stream = std::make_unique<FakeSource>(0, 4000, 1, "x", &stream_starts);
  o.archive = std::make_unique<FakeSource>(0, 9000, 1, "", &archive_starts);
  auto src = OpenCompositeSource(std::move(o));
  ASSERT_TRUE(src->Start(0, 1).ok());
  auto bytes = ReadUntil(src.get(), 4000);
  // Caught up: further reads wait on the stream (no problem), the archive stays unused.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(src->Read(&bytes, std::chrono::milliseconds(1)).ok());
  ASSERT_EQ(bytes.size(), 4000u);
  ExpectContinuous(bytes, 0);
  EXPECT_EQ(archive_starts, 0);
  EXPECT_EQ(c.archive, 0u);
}

TEST(CompositeSourceTest, ArchiveOnlyKeepsReadingAsSegmentsArrive) {
  Counts c;
  int archive_starts = 0;
  auto o = Options(&c);
  auto archive = std::make_unique<FakeSource>(0, 2000, 1, "", &archive_starts);
  FakeSource* a = archive.get();
  o.archive = std::move(archive);
  auto src = OpenCompositeSource(std::move(o));
  ASSERT_TRUE(src->Start(0, 1).ok());
  auto bytes = ReadUntil(src.get(), 2000);
  a->to_ = 3000;   // a new segment was archived
  auto more = ReadUntil(src.get(), 1000);
  bytes.insert(bytes.end(), more.begin(), more.end());
  ASSERT_EQ(bytes.size(), 3000u);
  ExpectContinuous(bytes, 0);
  EXPECT_EQ(c.archive, 3000u);
}

TEST(CompositeSourceTest, NeverServesArchiveBytesOfAnotherHistory) {
  // The archive's newest timeline 2 forked from timeline 1 at 3000; the engine is at 4000 on
  // timeline 1: the archive's bytes at 4000 are timeline 2's, not the continuation.
  Counts c;
  int stream_starts = 0, archive_starts = 0;
  auto o = Options(&c);
  o.stream = std::make_unique<FakeSource>(90000, 99000, 1, "no standby reachable", &stream_starts);
  o.archive = std::make_unique<FakeSource>(0, 9000, 2, "", &archive_starts);
  o.archive_history = []() -> Result<TimelineHistory> {
    return TimelineHistory{{1, 0, 3000}, {2, 3000, kEndOfTime}};
  };
  auto src = OpenCompositeSource(std::move(o));
  ASSERT_TRUE(src->Start(4000, 1).ok());
  std::vector<uint8_t> out;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(src->Read(&out, std::chrono::milliseconds(1)).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_NE(src->problem().find("ended at 0/BB8"), std::string::npos) << src->problem();
}

TEST(CompositeSourceTest, ArchiveBytesPastTheSwitchPointReportTheNewTimeline) {
  // The stream (timeline 1) cannot serve 2800; the archive's newest timeline 2 forked at 3000
  // and its first chunk runs past 3000: those bytes are timeline 2's, and timeline() must say
  // so from that read on (drill 4 looped on "timeline 1 ended at S but the engine applied WAL
  // of it past S" when the first archive read left the stream's timeline 1 in place).
  Counts c;
  int stream_starts = 0, archive_starts = 0;
  auto o = Options(&c);
  o.stream = std::make_unique<FakeSource>(90000, 99000, 1, "requested starting point is ahead", &stream_starts);
  o.archive = std::make_unique<FakeSource>(0, 9000, 2, "", &archive_starts);
  o.archive_history = []() -> Result<TimelineHistory> {
    return TimelineHistory{{1, 0, 3000}, {2, 3000, kEndOfTime}};
  };
  auto src = OpenCompositeSource(std::move(o));
  ASSERT_TRUE(src->Start(2800, 1).ok());
  std::vector<uint8_t> out;
  for (int i = 0; i < 5 && out.empty(); ++i) ASSERT_TRUE(src->Read(&out, std::chrono::milliseconds(1)).ok());
  ASSERT_EQ(out.size(), 300u);   // [2800, 3100): across the switch point
  ExpectContinuous(out, 2800);
  EXPECT_EQ(src->timeline(), 2u);
}

}  // namespace
}  // namespace pgt
