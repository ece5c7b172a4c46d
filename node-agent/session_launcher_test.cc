#include "node-agent/session_launcher.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "node-agent/free_port.h"
#include "node-agent/testing/eventually.h"
#include "node-agent/testing/fake_driver.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

using test_support::Eventually;
using test_support::kFakeDriver;
using test_support::kPython;

http::ClientResponse Answer(int status, std::string body) {
  http::ClientResponse answer;
  answer.status = status;
  answer.body = std::move(body);
  return answer;
}

TEST(ParseCreateAnswerTest, TakesTheSessionIdCapabilitiesAndBody) {
  std::string body = R"({"value": {"sessionId": "abc", "capabilities": {"browserName": "x"}}})";
  Result<CreatedSession> created = ParseCreateAnswer(Answer(200, body));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->id, SessionId("abc"));
  EXPECT_EQ(created->capabilities, json({{"browserName", "x"}}));
  EXPECT_EQ(created->body, body);
}

TEST(ParseCreateAnswerTest, RefusalsAndNonsenseAreSessionNotCreated) {
  Result<CreatedSession> refused = ParseCreateAnswer(
      Answer(500, R"({"value": {"error": "session not created", "message": "no chrome"}})"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kSessionNotCreated);
  EXPECT_EQ(refused.error().message, "driver refused the session: no chrome");
  for (const char* body :
       {R"({"value": {"error": 5, "message": {"a": 1}}})", R"({"value": {"sessionId": 7}})",
        R"({"value": "x"})", "[1, 2]", R"({"value": {"error": [)", "null"}) {
    Result<CreatedSession> created = ParseCreateAnswer(Answer(200, body));
    ASSERT_FALSE(created.ok()) << body;
    EXPECT_EQ(created.error().code, ErrorCode::kSessionNotCreated) << body;
  }
  // A session id with an error status is still a failure.
  EXPECT_FALSE(ParseCreateAnswer(Answer(500, R"({"value": {"sessionId": "abc"}})")).ok());
}

TEST(DriverArgvTest, PlacesThePortOrAppendsIt) {
  EXPECT_EQ(DriverArgv({"chromedriver"}, 9515),
            (std::vector<std::string>{"chromedriver", "--port=9515"}));
  EXPECT_EQ(DriverArgv({"appium", "-p", "{port}"}, 4723),
            (std::vector<std::string>{"appium", "-p", "4723"}));
}

TEST(ReadyPollDelayTest, StartsShortAndGrowsToACap) {
  EXPECT_EQ(ReadyPollDelay(0), 2ms);
  EXPECT_EQ(ReadyPollDelay(1), 3ms);
  Duration previous = ReadyPollDelay(0);
  for (int n = 1; n < 100; ++n) {
    EXPECT_GE(ReadyPollDelay(n), previous) << n;
    previous = ReadyPollDelay(n);
  }
  EXPECT_EQ(ReadyPollDelay(20), 25ms);
  EXPECT_EQ(ReadyPollDelay(1 << 30), 25ms);
}

TEST(DescribeTimesTest, NamesEachPhaseThatRan) {
  EXPECT_EQ(DescribeTimes({.spawn = 1500us, .ready = 9ms, .create = 480ms}),
            "spawn 1 ms, driver ready 9 ms, create 480 ms");
  EXPECT_EQ(DescribeTimes({.create = 30ms}), "create 30 ms");  // a relay
}

class SessionLauncherTest : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(work_ / "logs"); }
  void TearDown() override { std::filesystem::remove_all(work_); }

  config::SlotConfig DriverSlot() {
    config::SlotConfig slot;
    slot.driver = {kPython, kFakeDriver};
    return slot;
  }

  std::filesystem::path work_ = std::filesystem::temp_directory_path() /
                                ("gridhub-launcher-test-" + std::to_string(::getpid()));
  SteadyClock clock_;
  http::HttpClient client_;
  SessionLauncher launcher_{{.work_dir = work_.string(), .stop_grace = 2s}, clock_, client_};
};

TEST_F(SessionLauncherTest, StartsADriverCreatesTheSessionAndStopsIt) {
  Backend backend;
  Result<CreatedSession> created = launcher_.Launch(
      DriverSlot(), {{"browserName", "chrome"}}, 3, nullptr, [] { return false; }, backend);
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_NE(backend.process, nullptr);
  EXPECT_EQ(created->capabilities["fake:pid"], backend.process->pid());
  // A Chromium gets its own profile in the session's directory.
  EXPECT_EQ(backend.session_dir, (work_ / "session-3").string());
  EXPECT_EQ(backend.log_path, (work_ / "logs" / "session-3.log").string());
  json args = created->capabilities["goog:chromeOptions"]["args"];
  EXPECT_NE(std::find(args.begin(), args.end(),
                      json("--user-data-dir=" + (work_ / "session-3" / "profile").string())),
            args.end());
  EXPECT_EQ(launcher_.DeleteOnDriver(backend, created->id).status, 200);
  int pid = backend.process->pid();
  launcher_.Stop(backend);
  EXPECT_EQ(backend.process, nullptr);
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_FALSE(std::filesystem::exists(backend.session_dir));
}

TEST_F(SessionLauncherTest, ANodeThatStopsCancelsTheReadinessWait) {
  ::setenv("FAKE_DRIVER_NOT_READY", "1", 1);
  Backend backend;
  Result<CreatedSession> created = launcher_.Launch(
      DriverSlot(), json::object(), 1, nullptr, [] { return true; }, backend);
  ::unsetenv("FAKE_DRIVER_NOT_READY");
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().message, "node is stopping");
  ASSERT_NE(backend.process, nullptr);  // left to the caller, who stops it
  launcher_.Stop(backend);
  EXPECT_FALSE(std::filesystem::exists(work_ / "session-1"));
}

// Sets an environment variable that the fake driver reads for the scope's length.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

TEST_F(SessionLauncherTest, ADriverThatListensLateIsWaitedFor) {
  Backend backend;
  Result<CreatedSession> created = [&] {
    ScopedEnv late("FAKE_DRIVER_LISTEN_DELAY", "0.4");
    return launcher_.Launch(
        DriverSlot(), json::object(), 1, nullptr, [] { return false; }, backend);
  }();
  ASSERT_TRUE(created.ok()) << created.error().message;
  // Not a speed figure: the driver could not answer before it listened.
  EXPECT_GE(created->times.ready, 400ms);
  EXPECT_GT(created->times.create, Duration::zero());
  launcher_.Stop(backend);
}

TEST_F(SessionLauncherTest, ADriverThatDiesBeforeListeningFailsTheLaunch) {
  Backend backend;
  Result<CreatedSession> created = [&] {
    ScopedEnv dies("FAKE_DRIVER_EXIT_AT_START", "3");
    return launcher_.Launch(
        DriverSlot(), json::object(), 1, nullptr, [] { return false; }, backend);
  }();
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kSessionNotCreated);
  EXPECT_NE(created.error().message.find("exited during start-up"), std::string::npos)
      << created.error().message;
  ASSERT_NE(backend.process, nullptr);
  EXPECT_TRUE(backend.process->exited());  // reaped, not a zombie
  launcher_.Stop(backend);
  EXPECT_FALSE(std::filesystem::exists(work_ / "session-1"));
}

TEST_F(SessionLauncherTest, ADriverThatNeverAnswersTimesOutAndIsStopped) {
  SessionLauncher quick(
      {.work_dir = work_.string(), .driver_ready_timeout = 300ms, .stop_grace = 2s}, clock_,
      client_);
  Backend backend;
  Result<CreatedSession> created = [&] {
    ScopedEnv silent("FAKE_DRIVER_NOT_READY", "1");
    return quick.Launch(
        DriverSlot(), json::object(), 1, nullptr, [] { return false; }, backend);
  }();
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("not ready after"), std::string::npos)
      << created.error().message;
  ASSERT_NE(backend.process, nullptr);
  int pid = backend.process->pid();
  EXPECT_FALSE(backend.process->exited());
  quick.Stop(backend);
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_FALSE(std::filesystem::exists(work_ / "session-1"));
}

TEST_F(SessionLauncherTest, ASessionTakesTheSpareDriverAndTheNextSpareStartsAfterIt) {
  SessionLauncher launcher({.work_dir = work_.string(), .stop_grace = 2s, .spare_drivers = true},
                           clock_, client_);
  config::SlotConfig slot = DriverSlot();
  launcher.PrepareSpare(slot);
  ASSERT_TRUE(Eventually([&] { return launcher.HasSpare(slot); }));
  std::atomic<int> exits{0};
  Backend backend;
  Result<CreatedSession> created = launcher.Launch(
      slot, json::object(), 4, [&](int) { ++exits; }, [] { return false; }, backend);
  ASSERT_TRUE(created.ok()) << created.error().message;
  // Adopted, not spawned: no spawn and no readiness wait in this session's start.
  EXPECT_EQ(created->times.spawn, Duration::zero());
  EXPECT_EQ(created->times.ready, Duration::zero());
  EXPECT_EQ(created->capabilities["fake:pid"], backend.process->pid());
  EXPECT_EQ(backend.log_path, (work_ / "logs" / "session-4.log").string());
  EXPECT_TRUE(std::filesystem::exists(backend.log_path));
  EXPECT_FALSE(std::filesystem::exists(work_ / "logs" / "spare-1.log"));
  // The next spare is another process; the session's exit callback is the session's.
  ASSERT_TRUE(Eventually([&] { return launcher.HasSpare(slot); }));
  launcher.Stop(backend);
  EXPECT_EQ(exits, 1);
  launcher.StopSpares();
  EXPECT_FALSE(launcher.HasSpare(slot));
  EXPECT_FALSE(std::filesystem::exists(work_ / "logs" / "spare-2.log"));
}

TEST_F(SessionLauncherTest, AnAdoptedSpareKeepsItsLogNameRatherThanReplaceAnOlderLog) {
  SessionLauncher launcher({.work_dir = work_.string(), .stop_grace = 2s, .spare_drivers = true},
                           clock_, client_);
  config::SlotConfig slot = DriverSlot();
  std::filesystem::path older = work_ / "logs" / "session-1.log";  // an earlier run's
  { std::ofstream(older) << "older run\n"; }
  launcher.PrepareSpare(slot);
  ASSERT_TRUE(Eventually([&] { return launcher.HasSpare(slot); }));
  Backend backend;
  Result<CreatedSession> created = launcher.Launch(
      slot, json::object(), 1, nullptr, [] { return false; }, backend);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->times.spawn, Duration::zero());  // adopted
  EXPECT_EQ(backend.log_path, (work_ / "logs" / "spare-1.log").string());
  std::ifstream in(older);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "older run");
  launcher.Stop(backend);
  launcher.StopSpares();
}

TEST_F(SessionLauncherTest, ASpareThatNeverGetsReadyIsNotKeptAndTheSessionStartsItsOwn) {
  // Long enough for the session's own fake driver (a Python start) on a busy machine.
  SessionLauncher launcher({.work_dir = work_.string(),
                            .driver_ready_timeout = 3s,
                            .stop_grace = 2s,
                            .spare_drivers = true},
                           clock_, client_);
  config::SlotConfig slot = DriverSlot();
  {
    ScopedEnv silent("FAKE_DRIVER_NOT_READY", "1");
    launcher.PrepareSpare(slot);
    // The spare gives up after the ready timeout and stops its driver; its log goes too.
    std::filesystem::path log = work_ / "logs" / "spare-1.log";
    ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(log); }));
    ASSERT_TRUE(Eventually([&] { return !std::filesystem::exists(log); }));
    EXPECT_FALSE(launcher.HasSpare(slot));
  }
  Backend backend;
  Result<CreatedSession> created = launcher.Launch(
      slot, json::object(), 1, nullptr, [] { return false; }, backend);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_GT(created->times.spawn + created->times.ready, Duration::zero());  // its own driver
  launcher.Stop(backend);
  launcher.StopSpares();
}

TEST_F(SessionLauncherTest, ARelayIsAskedAsItIsAndLeftRunning) {
  Result<uint16_t> port = PickFreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  config::SlotConfig slot;
  slot.relay = "http://127.0.0.1:" + std::to_string(*port) + "/";
  Backend backend;
  // Nobody listens yet: the relay's failure names it.
  Result<CreatedSession> failed = launcher_.Launch(
      slot, json::object(), 1, nullptr, [] { return false; }, backend);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message.rfind(
                "relay http://127.0.0.1:" + std::to_string(*port) + " did not answer", 0),
            0u)
      << failed.error().message;
  EXPECT_EQ(backend.process, nullptr);
  EXPECT_EQ(backend.Describe(), "relay http://127.0.0.1:" + std::to_string(*port));
}

}  // namespace
}  // namespace gridhub::node
