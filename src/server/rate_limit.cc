#include "src/server/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace bver::server {

RateLimiter::RateLimiter(double rate_per_second, double burst, std::size_t max_callers)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), max_callers_(std::max<std::size_t>(1, max_callers)) {}

int RateLimiter::Take(std::uint64_t caller, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(caller);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_callers_) Evict(now);
    it = buckets_.emplace(caller, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
  b.at = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate_)));
}

// Buckets that have refilled are the same as no bucket: drop them. If every
// caller is mid-burst, drop half, which at worst lets them burst again.
void RateLimiter::Evict(Clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double elapsed = std::chrono::duration<double>(now - it->second.at).count();
    if (it->second.tokens + elapsed * rate_ >= burst_) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() < max_callers_) return;
  std::size_t drop = buckets_.size() / 2;
  for (auto it = buckets_.begin(); it != buckets_.end() && drop > 0; --drop) it = buckets_.erase(it);
}

}  // namespace bver::server
