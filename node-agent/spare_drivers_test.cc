#include "node-agent/spare_drivers.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "node-agent/testing/eventually.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;
using test_support::Eventually;

class SpareDriversTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A starter whose "driver" is `sleep 60`, counted; `fail` makes it fail instead.
  SpareDrivers::Starter Starter() {
    return [this](const SpareDrivers::Command&,
                  const std::function<bool()>&) -> Result<StartedDriver> {
      int n = ++starts_;
      if (fail_) return Error{ErrorCode::kSessionNotCreated, "no driver"};
      std::filesystem::create_directories(dir_);
      std::string log = (dir_ / ("spare-" + std::to_string(n) + ".log")).string();
      auto process = DriverProcess::Spawn({"sleep", "60"}, log, nullptr);
      if (!process.ok()) return process.error();
      last_pid_ = (*process)->pid();
      return StartedDriver{.process = std::move(*process), .url = "x", .log_path = log};
    };
  }

  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("gridhub-spares-test-" + std::to_string(::getpid()));
  std::atomic<int> starts_{0};
  std::atomic<bool> fail_{false};
  std::atomic<pid_t> last_pid_{0};
  const SpareDrivers::Command command_{"chromedriver"};
};

TEST_F(SpareDriversTest, KeepsOneSparePerCommandUntilTaken) {
  SpareDrivers spares(Starter());
  EXPECT_FALSE(spares.Take(command_).has_value());  // none asked for yet
  spares.Refill(command_);
  spares.Refill(command_);  // one is starting: no second
  ASSERT_TRUE(Eventually([&] { return spares.Has(command_); }));
  spares.Refill(command_);  // one is ready: no second
  std::optional<StartedDriver> taken = spares.Take(command_);
  ASSERT_TRUE(taken.has_value());
  EXPECT_FALSE(taken->process->exited());
  EXPECT_EQ(starts_, 1);
  EXPECT_FALSE(spares.Take(command_).has_value());
  spares.Stop(1s);
  EXPECT_FALSE(taken->process->exited());  // a taken spare is its taker's
  taken->process->Terminate(1s);
}

TEST_F(SpareDriversTest, ASpareThatDiedWhileWaitingIsDroppedWithItsLog) {
  SpareDrivers spares(Starter());
  spares.Refill(command_);
  ASSERT_TRUE(Eventually([&] { return spares.Has(command_); }));
  std::string log = (dir_ / "spare-1.log").string();
  ASSERT_TRUE(std::filesystem::exists(log));
  pid_t pid = last_pid_;
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return ::kill(pid, 0) != 0; }));  // reaped
  EXPECT_FALSE(spares.Take(command_).has_value());
  EXPECT_FALSE(std::filesystem::exists(log));
  spares.Refill(command_);
  ASSERT_TRUE(Eventually([&] { return spares.Has(command_); }));
  EXPECT_EQ(starts_, 2);
}

TEST_F(SpareDriversTest, AnExitedProcessTakesNoExitCallback) {
  std::filesystem::create_directories(dir_);
  auto process = DriverProcess::Spawn({"true"}, (dir_ / "x.log").string(), nullptr);
  ASSERT_TRUE(process.ok());
  ASSERT_TRUE((*process)->WaitExit(10s));
  EXPECT_FALSE((*process)->SetExitCallback([](int) {}));
}

TEST_F(SpareDriversTest, StopTerminatesTheSparesAndStartsNoMore) {
  SpareDrivers spares(Starter());
  spares.Refill(command_);
  ASSERT_TRUE(Eventually([&] { return spares.Has(command_); }));
  spares.Stop(1s);
  EXPECT_FALSE(spares.Has(command_));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "spare-1.log"));
  spares.Refill(command_);
  spares.Stop(1s);  // idempotent
  EXPECT_EQ(starts_, 1);
}

TEST_F(SpareDriversTest, StopCancelsAStartUnderWay) {
  std::atomic<bool> saw_cancel{false};
  std::atomic<bool> waiting{false};
  SpareDrivers spares([&](const SpareDrivers::Command&,
                          const std::function<bool()>& cancelled) -> Result<StartedDriver> {
    waiting = true;
    while (!cancelled()) std::this_thread::sleep_for(1ms);
    saw_cancel = true;
    return Error{ErrorCode::kSessionNotCreated, "node is stopping"};
  });
  spares.Refill(command_);
  ASSERT_TRUE(Eventually([&] { return waiting.load(); }));
  spares.Stop(1s);  // returns only once the start has given up
  EXPECT_TRUE(saw_cancel);
  EXPECT_FALSE(spares.Has(command_));
}

TEST_F(SpareDriversTest, AFailedStartLeavesNoSpareAndTheNextRefillTriesAgain) {
  fail_ = true;
  SpareDrivers spares(Starter());
  spares.Refill(command_);
  ASSERT_TRUE(Eventually([&] { return starts_ == 1; }));
  // The failed start is over once a new Refill may begin one.
  fail_ = false;
  ASSERT_TRUE(Eventually([&] {
    spares.Refill(command_);
    return spares.Has(command_);
  }));
  EXPECT_GE(starts_, 2);
  spares.Stop(1s);
}

}  // namespace
}  // namespace gridhub::node
