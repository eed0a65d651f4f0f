// store::Follower: what wakes a follower of the store (a commit of this
// process at once, the poll period for other processes' writes, Stop), and
// that it never spins.
#include "src/store/follower.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "src/store/sqlite/sqlite_backend.h"
#include "tests/support/store_backends.h"

namespace bver::store {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_follower");
    Result<std::unique_ptr<Backend>> b = sqlite::OpenSqlite({(dir_ / "store.db").string()});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
  }
  void TearDown() override {
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }
  // One commit through the backend (what any write of this process does).
  void Commit() { ASSERT_TRUE(backend_->PutRecord({"t", "k", "{}", 1}).ok()); }

  static double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

  std::filesystem::path dir_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(FollowerTest, ACommitOfThisProcessWakesAWaitAtOnce) {
  Follower f(*backend_, {.poll = 10s});
  std::atomic<bool> ready{false};
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    ready = true;
    Commit();
  });
  const auto start = Clock::now();
  int passes = 0;
  Result<bool> r = f.WaitUntil(
      [&]() -> Result<bool> {
        ++passes;
        return ready.load();
      },
      Clock::now() + 20s);
  writer.join();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_LT(Ms(Clock::now() - start), 5000) << "woken by the commit, not by the 10 s poll";
  EXPECT_LE(passes, 3);
}

TEST_F(FollowerTest, WritesOfOtherProcessesAreSeenWithinThePoll) {
  // No commit of this process: only the poll can notice.
  Follower f(*backend_, {.poll = 30ms});
  const auto ready_at = Clock::now() + 100ms;
  Result<bool> r = f.WaitUntil([&]() -> Result<bool> { return Clock::now() >= ready_at; }, Clock::now() + 20s);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_LT(Ms(Clock::now() - ready_at), 5000);
}

TEST_F(FollowerTest, AWaitEndsAtItsDeadlineWithoutSpinning) {
  Follower f(*backend_, {.poll = 10s});
  int passes = 0;
  const auto start = Clock::now();
  Result<bool> r = f.WaitUntil(
      [&]() -> Result<bool> {
        ++passes;
        return false;
      },
      start + 150ms);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_GE(Ms(Clock::now() - start), 150);
  EXPECT_LT(Ms(Clock::now() - start), 5000);
  EXPECT_GE(passes, 1);
  EXPECT_LE(passes, 3) << "a quiet store must not be re-read in a loop";
}

TEST_F(FollowerTest, APassErrorIsAnsweredAsIs) {
  Follower f(*backend_);
  Result<bool> r = f.WaitUntil([]() -> Result<bool> { return InvalidArgumentError("bad filter"); },
                               Clock::now() + 10s);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FollowerTest, StopEndsRunPromptlyWhileItSleeps) {
  Follower f(*backend_, {.poll = 30s});
  std::atomic<int> passes{0};
  std::thread loop([&] {
    f.Run(
        [&]() -> Result<bool> {
          ++passes;
          return false;
        },
        [](const Status&) { return 30s; });
  });
  while (passes.load() == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);
  const auto start = Clock::now();
  f.Stop();
  loop.join();
  EXPECT_LT(Ms(Clock::now() - start), 5000);
  EXPECT_EQ(passes.load(), 1) << "idle, with no commit: one pass, then asleep";
  EXPECT_TRUE(f.stopped());
}

TEST_F(FollowerTest, BusyPassesRunBackToBackAndFailuresBackOffAsTheOwnerSays) {
  Follower f(*backend_, {.poll = 30s});
  std::atomic<int> passes{0};
  std::vector<std::string> errors;
  std::thread loop([&] {
    f.Run(
        [&]() -> Result<bool> {
          int n = ++passes;
          if (n <= 2) return UnavailableError("store hiccup " + std::to_string(n));
          if (n <= 5) return true;  // busy: the next pass follows at once
          if (n == 6) return Status(StatusCode::kCancelled, "owner stopping");
          return false;
        },
        [&](const Status& s) {
          errors.push_back(s.message());
          return 20ms;
        });
  });
  loop.join();  // the kCancelled pass ends Run by itself
  EXPECT_EQ(passes.load(), 6);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "store hiccup 1");
  EXPECT_EQ(errors[1], "store hiccup 2");
}

TEST_F(FollowerTest, IdlePassesAreSpacedByMinIdleHoweverBusyTheStore) {
  Follower f(*backend_, {.poll = 10s, .min_idle = 50ms});
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    while (writing.load()) Commit();
  });
  std::atomic<int> passes{0};
  std::thread loop([&] {
    f.Run(
        [&]() -> Result<bool> {
          ++passes;
          return false;
        },
        [](const Status&) { return 1s; });
  });
  std::this_thread::sleep_for(500ms);
  f.Stop();
  loop.join();
  writing = false;
  writer.join();
  EXPECT_GE(passes.load(), 2) << "commits wake it";
  EXPECT_LE(passes.load(), 12) << "at most one idle pass per 50 ms";
}

}  // namespace
}  // namespace bver::store
