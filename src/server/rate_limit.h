// A token bucket per caller: the rate limit a profile's policy sets
// (src/server/profile.h). `rate` tokens a second refill each bucket up to
// `burst`; a request takes one. Callers are named by the front door (a hash
// of their credential, or their address when anonymous); the limiter keeps
// at most `max_callers` buckets, dropping full (idle) ones first.
//
// Thread safety: Take may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace bver::server {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double rate_per_second, double burst, std::size_t max_callers = 10000);

  // 0 when the caller may proceed (a token was taken); else the seconds
  // (at least 1) until a token is there, for Retry-After.
  int Take(std::uint64_t caller, Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  void Evict(Clock::time_point now);

  const double rate_;
  const double burst_;
  const std::size_t max_callers_;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, Bucket> buckets_;
};

}  // namespace bver::server
