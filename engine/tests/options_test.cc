#include "engine/options.h"

#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace pgt::engine {
namespace {

TEST(OptionsTest, RequiredFlagsAndDefaults) {
  auto o = ParseOptions({"--primary", "host=p", "--standby=host=s", "--state-dir", "/tmp/x"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->primary_conninfo, "host=p");
  EXPECT_EQ(o->standby_conninfo, "host=s");
  EXPECT_EQ(o->slot, "pgtrickle_engine");
  EXPECT_EQ(o->poll_ms, 500);
}

TEST(OptionsTest, BadValuesGiveOneLineReasonsNamingTheFlag) {
  auto missing = ParseOptions({"--primary", "host=p", "--state-dir", "/tmp/x"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--standby"), std::string::npos);
  auto bad_int = ParseOptions({"--primary", "a", "--standby", "b", "--state-dir", "c", "--poll-ms", "abc"});
  ASSERT_FALSE(bad_int.ok());
  EXPECT_NE(bad_int.status().message().find("--poll-ms"), std::string::npos);
  auto bad_slot = ParseOptions({"--primary", "a", "--standby", "b", "--state-dir", "c", "--slot", "Bad-Name"});
  ASSERT_FALSE(bad_slot.ok());
  EXPECT_NE(bad_slot.status().message().find("--slot"), std::string::npos);
  auto unknown = ParseOptions({"--frobnicate", "1"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("--frobnicate"), std::string::npos);
  for (const auto& r : {missing.status(), bad_int.status(), bad_slot.status(), unknown.status()})
    EXPECT_EQ(r.message().find('\n'), std::string::npos);
}

TEST(OptionsTest, ConfigFileWithFlagsWinning) {
  testing::TempDir dir;
  std::string path = dir.path() + "/engine.conf";
  std::ofstream(path) << "# comment\nprimary = 'host=p dbname=app'\nstandby = host=s\nstate-dir = /var/x\nslot = s1\n";
  auto o = ParseOptions({"--config", path, "--slot", "s2"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->primary_conninfo, "host=p dbname=app");
  EXPECT_EQ(o->slot, "s2");
  std::ofstream(path) << "no equals sign\n";
  auto bad = ParseOptions({"--config", path});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":1:"), std::string::npos);
}

TEST(OptionsTest, HttpAndHealthFlagsAndLogFormatGiven) {
  auto o = ParseOptions({"--primary", "a", "--standby", "b", "--state-dir", "c"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->http_listen.empty());
  EXPECT_FALSE(o->log_format_given);   // pg_trickle.log_format on the primary decides
  auto h = ParseOptions({"--primary", "a", "--standby", "b", "--state-dir", "c", "--http-listen", "127.0.0.1:9188",
                         "--health-stall-s", "30", "--ready-max-lag-mb", "8", "--log-format", "text"});
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h->http_listen, "127.0.0.1:9188");
  EXPECT_EQ(h->health_stall_s, 30);
  EXPECT_EQ(h->ready_max_lag_mb, 8);
  EXPECT_TRUE(h->log_format_given);
  auto bad = ParseOptions({"--primary", "a", "--standby", "b", "--state-dir", "c", "--http-listen", "nohost"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--http-listen"), std::string::npos);
}

}  // namespace
}  // namespace pgt::engine
