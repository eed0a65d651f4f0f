#include "src/store/follower.h"

#include <algorithm>

namespace bver::store {

Follower::Follower(const EventLog& log, Options options) : log_(log), options_(options) {}

Result<bool> Follower::WaitUntil(const std::function<Result<bool>()>& pass, Clock::time_point until) {
  for (;;) {
    const std::uint64_t seen = log_.commit_seq();
    BVER_ASSIGN_OR_RETURN(bool found, pass());
    const Clock::time_point now = Clock::now();
    if (found || now >= until || stopped()) return found;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now) + std::chrono::milliseconds(1);
    log_.WaitForCommit(seen, std::min(left, options_.poll));
  }
}

void Follower::Run(const std::function<Result<bool>()>& pass, const OnError& on_error) {
  while (!stopped()) {
    const std::uint64_t seen = log_.commit_seq();
    Result<bool> busy = pass();
    if (stopped()) break;
    if (!busy.ok()) {
      if (busy.status().code() == StatusCode::kCancelled) break;
      if (!Sleep(on_error(busy.status()))) break;
      continue;
    }
    if (*busy) continue;
    if (options_.min_idle.count() > 0 && !Sleep(options_.min_idle)) break;
    log_.WaitForCommit(seen, options_.poll);
  }
}

bool Follower::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  return !stop_cv_.wait_for(lock, d, [this] { return stopped(); });
}

void Follower::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopped_.store(true);
  }
  stop_cv_.notify_all();
  log_.WakeWaiters();
}

}  // namespace bver::store
