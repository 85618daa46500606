// Observability units: metrics rendering, lag/staleness samples, health verdicts, the JSON log
// line, and the HTTP server's bounds against hostile clients (loopback sockets, no PostgreSQL).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/server.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"

namespace pgt::engine {
namespace {

EngineSnapshot SampleSnapshot(double now) {
  EngineSnapshot s;
  s.taken_unix = now;
  s.primary_connected = s.standby_connected = s.consistent = true;
  s.decoded_lsn = 1000;
  s.primary_lsn = 5000;
  s.standby_replay_lsn = 3000;
  s.decoded_transactions = 7;
  TableSnapshot t;
  t.name = "public.st";
  t.sla_tier = "critical";
  t.status = "ACTIVE";
  t.frontier = 900;
  t.frontier_time_unix = now - 12;
  t.merges = 3;
  s.tables.push_back(t);
  s.sources.push_back({"public.src", 4, now - 30});
  return s;
}

TEST(MetricsTest, RendersLagStalenessAndCountersWithHelp) {
  double now = NowUnix();
  LiveProgress live;
  live.Beat();
  std::string text = RenderMetrics(SampleSnapshot(now), live, now);
  EXPECT_NE(text.find("# HELP pgtrickle_engine_lag_primary_bytes "), std::string::npos) << text;
  EXPECT_NE(text.find("pgtrickle_engine_lag_primary_bytes 4000"), std::string::npos) << text;
  EXPECT_NE(text.find("pgtrickle_engine_lag_standby_bytes 2000"), std::string::npos) << text;
  EXPECT_NE(text.find("pgtrickle_engine_decoded_transactions_total 7"), std::string::npos) << text;
  EXPECT_NE(text.find("pgtrickle_engine_stream_table_merges_total{sla_tier=\"critical\",table=\"public.st\"} 3"),
            std::string::npos) << text;
  EXPECT_NE(text.find("pgtrickle_engine_stream_table_staleness_seconds{sla_tier=\"critical\",table=\"public.st\"} 12"),
            std::string::npos) << text;
  EXPECT_NE(text.find("pgtrickle_engine_source_pending_rows{source_table=\"public.src\"} 4"), std::string::npos);
  EXPECT_NE(text.find("pgtrickle_engine_build_info{plan_format=\"2\",version=\""), std::string::npos);
  // Every family has HELP and TYPE.
  size_t helps = 0, types = 0;
  for (size_t p = 0; (p = text.find("# HELP ", p)) != std::string::npos; ++p) ++helps;
  for (size_t p = 0; (p = text.find("# TYPE ", p)) != std::string::npos; ++p) ++types;
  EXPECT_EQ(helps, types);
  EXPECT_GT(helps, 30u);
}

TEST(MetricsTest, StatusJsonHasRolesLsnsAndTables) {
  double now = NowUnix();
  LiveProgress live;
  auto j = nlohmann::json::parse(RenderStatusJson(SampleSnapshot(now), live, now));
  EXPECT_EQ(j["lsn"]["decoded"], "0/3E8");
  EXPECT_EQ(j["roles"]["primary"]["connected"], true);
  ASSERT_EQ(j["tables"].size(), 1u);
  EXPECT_EQ(j["tables"][0]["name"], "public.st");
  EXPECT_EQ(j["tables"][0]["frontier"], "0/384");
}

TEST(PositionSamplesTest, LagAndStalenessInterpolateBetweenSamples) {
  PositionSamples p;
  EXPECT_DOUBLE_EQ(p.SecondsBehind(5, 110), 0);     // nothing known
  p.Add(100, 10);
  p.Add(101, 20);
  p.Add(102, 20);
  p.Add(103, 20);   // idle: the first and the last sample at one position are kept
  p.Add(104, 30);
  EXPECT_DOUBLE_EQ(p.SecondsBehind(30, 110), 0);     // caught up
  EXPECT_DOUBLE_EQ(p.SecondsBehind(15, 110), 9.5);   // passed 15 half-way between 100 and 101
  EXPECT_DOUBLE_EQ(p.SecondsBehind(25, 110), 6.5);   // at 20 until 103, at 30 by 104
  EXPECT_DOUBLE_EQ(p.SecondsBehind(5, 110), 10);     // before the history: since its start
  EXPECT_DOUBLE_EQ(p.TimeAt(25), 103.5);
  EXPECT_DOUBLE_EQ(p.TimeAt(20), 103);
  EXPECT_DOUBLE_EQ(p.TimeAt(40), 104);
  EXPECT_DOUBLE_EQ(p.TimeAt(5), 0);
  p.Add(105, 1);    // position went back (new server / timeline): history restarts
  EXPECT_EQ(p.latest(), 1u);
  EXPECT_DOUBLE_EQ(p.TimeAt(25), 105);
}

TEST(HealthTest, HealthFollowsBeatAndReadinessNeedsConnectionsAndCatchUp) {
  double now = NowUnix();
  LiveProgress live;
  HealthPolicy pol;
  pol.stall_seconds = 10;
  pol.ready_max_lag_bytes = 1000;
  EXPECT_FALSE(CheckHealth(live, pol, now).ok);   // never beat
  live.Beat();
  EXPECT_TRUE(CheckHealth(live, pol, now).ok);
  EXPECT_FALSE(CheckHealth(live, pol, now + 11).ok);
  live.StepStarted();   // a long merge counts as progress, up to step_stall_seconds
  EXPECT_TRUE(CheckHealth(live, pol, now + 11).ok);
  EXPECT_FALSE(CheckHealth(live, pol, now + pol.step_stall_seconds + 5).ok);
  live.StepEnded();
  EngineSnapshot s = SampleSnapshot(now);
  Verdict v = CheckReady(s, live, pol, now);
  EXPECT_FALSE(v.ok);   // 2000 bytes behind the standby
  EXPECT_NE(v.reason.find("behind the standby"), std::string::npos);
  s.decoded_lsn = 2500;
  EXPECT_TRUE(CheckReady(s, live, pol, now).ok);
  s.standby_connected = false;
  EXPECT_FALSE(CheckReady(s, live, pol, now).ok);
}

TEST(LogTest, JsonLineHasLevelTimeEventAndFields) {
  std::string line = FormatLogLine(LogFormat::kJson, LogLevel::kInfo, "merged", "merged t: 3 row(s)\nsecond line",
                                   {{"table", std::string("public.t")}, {"rows", int64_t{3}}, {"lsn", std::string("0/10")},
                                    {"msg", std::string("ignored")}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "INFO");
  EXPECT_EQ(j["event"], "merged");
  EXPECT_EQ(j["table"], "public.t");
  EXPECT_EQ(j["rows"], 3);
  EXPECT_EQ(j["msg"], "merged t: 3 row(s) second line");
  EXPECT_TRUE(j.contains("time"));
  std::string text = FormatLogLine(LogFormat::kText, LogLevel::kWarning, "merged", "merged t", {{"rows", int64_t{3}}});
  EXPECT_NE(text.find(" WARNING: merged t"), std::string::npos);
  EXPECT_EQ(text.find("rows"), std::string::npos);   // text lines unchanged by fields
}

TEST(HttpTest, ParseListen) {
  std::string a;
  uint16_t p = 0;
  EXPECT_TRUE(http::ParseListen("127.0.0.1:9188", &a, &p).ok());
  EXPECT_EQ(a, "127.0.0.1");
  EXPECT_EQ(p, 9188);
  EXPECT_TRUE(http::ParseListen("[::1]:80", &a, &p).ok());
  EXPECT_EQ(a, "::1");
  EXPECT_TRUE(http::ParseListen(":9188", &a, &p).ok());
  EXPECT_EQ(a, "0.0.0.0");
  EXPECT_FALSE(http::ParseListen("9188", &a, &p).ok());
  EXPECT_FALSE(http::ParseListen("localhost:9188", &a, &p).ok());
  EXPECT_FALSE(http::ParseListen("127.0.0.1:99999", &a, &p).ok());
}

// ---- HTTP server against raw sockets

int ConnectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) { ::close(fd); return -1; }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Sends `req` and reads until the server closes (or 10 s). Returns what was read.
std::string Exchange(uint16_t port, const std::string& req) {
  int fd = ConnectTo(port);
  if (fd < 0) return "";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

// True if the server closed the connection (recv returned 0 or reset) within `secs`.
bool ClosedWithin(int fd, int secs) {
  timeval tv{secs, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::Limits l;
    l.max_connections = 8;
    l.io_timeout = std::chrono::milliseconds(1000);
    auto s = http::Server::Start("127.0.0.1:0", [](const http::Request& r) {
      return http::Response{r.target == "/ok" ? 200 : 404, "text/plain", "hello " + r.target + "\n"};
    }, l);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, AnswersGetAndRejectsOtherMethods) {
  std::string r = Exchange(port_, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("hello /ok"), std::string::npos);
  EXPECT_EQ(Exchange(port_, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Exchange(port_, "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .rfind("HTTP/1.1 405", 0), 0u);
}

TEST_F(ServerTest, HugeHeaderIsRefused) {
  std::string big = "GET /ok HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  std::string r = Exchange(port_, big);
  EXPECT_EQ(r.rfind("HTTP/1.1 431", 0), 0u) << r.substr(0, 80);
}

TEST_F(ServerTest, SlowlorisIsCutOffAndOthersStillServed) {
  int slow = ConnectTo(port_);
  ASSERT_GE(slow, 0);
  auto start = std::chrono::steady_clock::now();
  (void)!::send(slow, "GET /ok HTTP/1.1\r\nX-a: ", 21, MSG_NOSIGNAL);   // never finishes the header
  EXPECT_EQ(Exchange(port_, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_TRUE(ClosedWithin(slow, 5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ::close(slow);
}

TEST_F(ServerTest, ConnectionsOverTheLimitAreClosedAndServiceRecovers) {
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(ConnectTo(port_));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int extra = ConnectTo(port_);   // the kernel accepts it; the server closes it at once
  ASSERT_GE(extra, 0);
  EXPECT_TRUE(ClosedWithin(extra, 3));
  ::close(extra);
  // The idle ones time out (1 s), then the server answers again.
  std::string r;
  for (int i = 0; i < 50 && r.rfind("HTTP/1.1 200", 0) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = Exchange(port_, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n");
  }
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u);
  for (int fd : idle) ::close(fd);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequests) {
  int fd = ConnectTo(port_);
  ASSERT_GE(fd, 0);
  std::string reqs = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::send(fd, reqs.data(), reqs.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t count = 0;
  for (size_t p = 0; (p = out.find("HTTP/1.1 200", p)) != std::string::npos; ++p) ++count;
  EXPECT_EQ(count, 2u) << out;
}

}  // namespace
}  // namespace pgt::engine
