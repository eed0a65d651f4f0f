// What the operation table needs from subscriptions (BVER.md §6): durable
// named consumers of the event log with at-least-once delivery. The events
// module (src/events/subscriptions.h) implements it, so src/runtime never
// depends on src/events. Every answer is a JSON object as docs/events.md
// describes it.
//
// Thread safety: implementations are called from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

class SubscriptionService {
 public:
  virtual ~SubscriptionService() = default;
  // spec: {name, filter?, from?, ack_timeout_ms?, max_ack_pending?}. The
  // same spec again answers the existing consumer; another spec under a
  // taken name is AlreadyExists.
  // The log itself, no consumer: {"events": [envelope + "offset"...],
  // "next_offset": N, "log_end": M}. From offset `from` (0: only events
  // committed after the call), those passing `filter` ({channels,
  // event_types, pointer_prefix}, each optional), at most `limit`, waiting
  // up to wait_ms for the first one.
  virtual Result<nlohmann::json> Read(std::uint64_t from, const nlohmann::json& filter, std::size_t limit,
                                      std::int64_t wait_ms) = 0;
  virtual Result<nlohmann::json> CreateConsumer(const nlohmann::json& spec) = 0;
  virtual Result<nlohmann::json> GetConsumer(const std::string& name) = 0;
  virtual Result<nlohmann::json> ListConsumers() = 0;
  virtual Result<nlohmann::json> DeleteConsumer(const std::string& name) = 0;
  // {"consumer": name, "events": [{"offset", "delivery", "event"}...]}: at
  // most `max`, waiting up to wait_ms for the first one.
  virtual Result<nlohmann::json> Fetch(const std::string& name, std::size_t max, std::int64_t wait_ms) = 0;
  // {"acked": [...], "unknown": [...], "consumer": {...}}.
  virtual Result<nlohmann::json> Ack(const std::string& name, const std::vector<std::uint64_t>& offsets) = 0;
  // Replays from `offset`: the consumer as it is now.
  virtual Result<nlohmann::json> Seek(const std::string& name, std::uint64_t offset) = 0;
};

}  // namespace bver::runtime
