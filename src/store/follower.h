// Follower: how every module that follows the store waits between passes.
//
// Subscriptions (events.read and consumers.fetch with wait_ms), the NATS
// relay, the trigger processor and the orchestrator engine all do the same
// thing: run a pass over the log or their records, and when it found
// nothing, sleep until something may have changed. One type decides what
// wakes them — a commit made in this process (at once), the poll period
// (for writers in other processes: a `bver worker` or another runtime on
// the same database), or Stop() — so none of them spins, and none sleeps
// past a stop.
//
//   store::Follower follower(backend, {.poll = 200ms});
//   follower.Run([&]() -> Result<bool> { return RelayBatch(); },   // true: busy
//                [&](const Status& s) { Log(s); return 1s; });     // back off
//   ...
//   follower.Stop();  // from another thread: Run returns
//
// Thread safety: Run and WaitUntil may run on several threads at once (the
// orchestrator engine's threads share one Follower); Stop may be called
// from any thread, any number of times.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "bver/status.h"
#include "src/store/backend.h"

namespace bver::store {

class Follower {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // The longest sleep without a commit of this process: how late a write
    // from another process is seen.
    std::chrono::milliseconds poll{200};
    // The shortest time between two idle passes, however busy the store is
    // (every commit of the process wakes the wait). 0: none.
    std::chrono::milliseconds min_idle{0};
  };

  Follower(const EventLog& log, Options options);
  explicit Follower(const EventLog& log) : Follower(log, Options{}) {}
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // Runs `pass` until it answers true (it found what the caller waits for)
  // or `until` has passed, sleeping between passes; answers the last
  // pass's value (false: the time ran out, or Stop() was called), or its
  // error. `pass` runs at least once.
  Result<bool> WaitUntil(const std::function<Result<bool>()>& pass, Clock::time_point until);

  // The loop of a background thread: runs `pass` until Stop(). A pass that
  // answers true (busy: there may be more) is followed at once by the next;
  // false (idle) sleeps first. A failed pass is given to `on_error`, which
  // answers how long to wait before the next (a kCancelled error ends the
  // loop).
  using OnError = std::function<std::chrono::milliseconds(const Status&)>;
  void Run(const std::function<Result<bool>()>& pass, const OnError& on_error);

  // Ends Run and WaitUntil soon (the pass running finishes first).
  void Stop();
  bool stopped() const { return stopped_.load(); }

  // Sleeps up to `d` or until Stop(); false when stopped.
  bool Sleep(std::chrono::milliseconds d);

 private:
  const EventLog& log_;
  Options options_;
  std::atomic<bool> stopped_{false};
  std::mutex stop_mu_;  // with stop_cv_: Sleep's wait
  std::condition_variable stop_cv_;
};

}  // namespace bver::store
