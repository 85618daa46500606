// Failover decisions (issue 8): host splitting, the lineage check that keeps the engine from
// writing to a stale primary, divergence detection, and the retry backoff.
#include "failover.h"

#include <gtest/gtest.h>

namespace pgt::engine {
namespace {

TEST(SplitHostsTest, OneConninfoPerHostWithItsPort) {
  auto hs = SplitHosts("host=10.0.0.1,10.0.0.2 port=5432,5433 dbname=app user=u target_session_attrs=read-write");
  ASSERT_TRUE(hs.ok()) << hs.status().message();
  ASSERT_EQ(hs->size(), 2u);
  EXPECT_EQ((*hs)[0].label, "10.0.0.1:5432");
  EXPECT_EQ((*hs)[1].label, "10.0.0.2:5433");
  EXPECT_NE((*hs)[1].conninfo.find("host='10.0.0.2'"), std::string::npos);
  EXPECT_NE((*hs)[1].conninfo.find("port='5433'"), std::string::npos);
  EXPECT_NE((*hs)[1].conninfo.find("dbname='app'"), std::string::npos);
  EXPECT_EQ((*hs)[1].conninfo.find("10.0.0.1"), std::string::npos);
}

TEST(SplitHostsTest, OnePortForAllHostsAndErrors) {
  auto hs = SplitHosts("host=a,b,c port=6000");
  ASSERT_TRUE(hs.ok());
  ASSERT_EQ(hs->size(), 3u);
  EXPECT_EQ((*hs)[2].label, "c:6000");
  EXPECT_FALSE(SplitHosts("host=a,b port=1,2,3").ok());
  EXPECT_FALSE(SplitHosts("host=a =broken").ok());
  EXPECT_EQ(HostsLabel("host=a,b port=1,2"), "a:1,b:2");
}

TimelineHistory Hist(std::initializer_list<TimelineSpan> s) { return TimelineHistory(s); }

FollowedLineage Followed(TimeLineId tli, Lsn applied, TimeLineId newest = 0) {
  FollowedLineage f;
  f.system_id = "7000";
  f.tli = tli;
  f.applied = applied;
  f.newest_known = newest ? newest : tli;
  f.newest_known_from = "standby s:1";
  return f;
}

TEST(LineageTest, SameTimelineIsOk) {
  PrimaryLineage p{"7000", 1, std::nullopt};
  EXPECT_EQ(CheckLineage(Followed(1, 0x5000000), p).kind, LineageKind::kOk);
}

TEST(LineageTest, OtherSystemIsStale) {
  PrimaryLineage p{"8000", 1, std::nullopt};
  auto v = CheckLineage(Followed(1, 0x5000000), p);
  EXPECT_EQ(v.kind, LineageKind::kStale);
  EXPECT_NE(v.reason.find("system identifier"), std::string::npos);
}

TEST(LineageTest, OldPrimaryBackOnItsOldTimelineIsStale) {
  // The engine still applies timeline 1 WAL but its standby already follows timeline 2.
  PrimaryLineage p{"7000", 1, std::nullopt};
  auto v = CheckLineage(Followed(1, 0x5000000, 2), p);
  EXPECT_EQ(v.kind, LineageKind::kStale);
  EXPECT_NE(v.reason.find("older than timeline 2"), std::string::npos);
  // ... and once the engine itself is on timeline 2.
  EXPECT_EQ(CheckLineage(Followed(2, 0x6000000), p).kind, LineageKind::kStale);
}

TEST(LineageTest, PromotedServerContainingOurPositionIsOk) {
  PrimaryLineage p{"7000", 2, Hist({{1, 0, 0x6000000}, {2, 0x6000000, kEndOfTime}})};
  EXPECT_EQ(CheckLineage(Followed(1, 0x5000000), p).kind, LineageKind::kOk);
  EXPECT_EQ(CheckLineage(Followed(1, 0x6000000), p).kind, LineageKind::kOk);   // exactly at the switch
}

TEST(LineageTest, ForkBeforeAppliedIsDivergence) {
  PrimaryLineage p{"7000", 2, Hist({{1, 0, 0x4000000}, {2, 0x4000000, kEndOfTime}})};
  auto v = CheckLineage(Followed(1, 0x5000000), p);
  EXPECT_EQ(v.kind, LineageKind::kDiverged);
  EXPECT_EQ(v.switch_point, Lsn{0x4000000});
  EXPECT_EQ(v.switch_to, 2u);
}

TEST(LineageTest, HistoryWithoutOurTimelineIsStale) {
  // Timeline 3 descends from 1 directly; the engine applied timeline 2 WAL.
  PrimaryLineage p{"7000", 3, Hist({{1, 0, 0x3000000}, {3, 0x3000000, kEndOfTime}})};
  EXPECT_EQ(CheckLineage(Followed(2, 0x5000000), p).kind, LineageKind::kStale);
}

TEST(LineageTest, SameTimelineNumberOtherSwitchPointIsStale) {
  // Split brain: two servers both promoted to timeline 2 at different points.
  FollowedLineage f = Followed(2, 0x7000000);
  f.newest_history = Hist({{1, 0, 0x6000000}, {2, 0x6000000, kEndOfTime}});
  PrimaryLineage p{"7000", 2, Hist({{1, 0, 0x6800000}, {2, 0x6800000, kEndOfTime}})};
  auto v = CheckLineage(f, p);
  EXPECT_EQ(v.kind, LineageKind::kStale);
  EXPECT_NE(v.reason.find("another history"), std::string::npos);
}

TEST(LineageTest, UnreadableHistoryIsUnknown) {
  PrimaryLineage p{"7000", 2, std::nullopt};
  EXPECT_EQ(CheckLineage(Followed(1, 0x5000000), p).kind, LineageKind::kUnknown);
}

TEST(BackoffTest, GrowsToTheCapWithJitter) {
  Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
  std::vector<int64_t> d;
  for (int i = 0; i < 12; ++i) d.push_back(b.Next().count());
  EXPECT_GE(d[0], 80);
  EXPECT_LE(d[0], 120);
  EXPECT_GE(d[3], 640);   // 800 ± 20 %
  EXPECT_LE(d[3], 960);
  for (size_t i = 7; i < d.size(); ++i) {
    EXPECT_GE(d[i], 4000);
    EXPECT_LE(d[i], 6000);
  }
  b.Reset();
  EXPECT_LE(b.Next().count(), 120);
}

}  // namespace
}  // namespace pgt::engine
