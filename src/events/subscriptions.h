// Subscriptions to the event log (BVER.md §6, docs/events.md): filters,
// and durable named consumers with at-least-once delivery.
//
// A consumer is a cursor kept in the store (a record of kind "consumer"),
// so it survives restarts and is shared by every process on the store:
//
//   fetch   hands out the next events that pass the consumer's filter and
//           remembers each as pending until acked; a pending event whose
//           ack timeout has passed is handed out again (its `delivery`
//           count grows), before any new event
//   ack     forgets pending events; the ack floor is the offset below which
//           everything was acked (or did not pass the filter)
//   seek    replays from any offset: pending events are dropped and the next
//           fetch starts there
//
// Two fetchers on one consumer never get the same delivery: each fetch is
// one compare-and-set of the record (retried on a race). At most
// max_ack_pending events are pending at once; fetch then hands out only
// redeliveries until some are acked (a slow consumer is held back, never
// skipped).
//
// Thread safety: a Subscriptions object may be used from any number of
// threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/runtime/subscription_service.h"
#include "src/store/types.h"

namespace bver::store {
class EventLog;
class RecordTable;
}  // namespace bver::store

namespace bver::events {

// Which events a subscriber wants. Every given field must match; an empty
// field matches everything.
struct EventFilter {
  std::vector<std::string> channels;     // any of these channels
  // Any of these event types; "ref.*" (a prefix ending in ".*") matches
  // every type that starts with "ref.".
  std::vector<std::string> event_types;
  // The event's object_pointer (or subject) starts with this, e.g.
  // "bver://sites/site/" or "bver://sites/site/north~".
  std::string pointer_prefix;

  bool Matches(const nlohmann::json& envelope) const;
  nlohmann::json ToJson() const;
  // From {"channels": [...], "event_types": [...], "pointer_prefix": "..."}
  // (each optional). InvalidArgument naming the field when malformed.
  static Result<EventFilter> FromJson(const nlohmann::json& j);
};

class Subscriptions : public runtime::SubscriptionService {
 public:
  struct Options {
    // How long one fetch may scan the log for events that pass a filter
    // before answering what it found (keeps a fetch on a sparse filter
    // bounded).
    std::size_t scan_budget = 20000;
    // Longest single sleep while a fetch waits (other processes' commits
    // do not wake it).
    std::chrono::milliseconds poll_interval{250};
  };

  // Consumers are records of `records`; events are read from `log`. Both
  // must outlive this object.
  Subscriptions(store::EventLog& log, store::RecordTable& records);
  Subscriptions(store::EventLog& log, store::RecordTable& records, Options options);
  ~Subscriptions() override;

  Result<nlohmann::json> Read(std::uint64_t from, const nlohmann::json& filter, std::size_t limit,
                              std::int64_t wait_ms) override;
  Result<nlohmann::json> CreateConsumer(const nlohmann::json& spec) override;
  Result<nlohmann::json> GetConsumer(const std::string& name) override;
  Result<nlohmann::json> ListConsumers() override;
  Result<nlohmann::json> DeleteConsumer(const std::string& name) override;
  Result<nlohmann::json> Fetch(const std::string& name, std::size_t max, std::int64_t wait_ms) override;
  Result<nlohmann::json> Ack(const std::string& name, const std::vector<std::uint64_t>& offsets) override;
  Result<nlohmann::json> Seek(const std::string& name, std::uint64_t offset) override;

  // Events from `from` on that pass `filter`, at most `limit`, scanning at
  // most scan_budget events, and where to read next (past everything
  // scanned). The envelopes are shared, not copied.
  struct Page {
    std::vector<store::Event> events;
    std::uint64_t next_offset = 1;
  };
  Result<Page> ReadPage(std::uint64_t from, const EventFilter& filter, std::size_t limit);
  // The same as JSON: {"events": [...], "next_offset": N}.
  Result<nlohmann::json> Read(std::uint64_t from, const EventFilter& filter, std::size_t limit);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::events
