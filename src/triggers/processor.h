// The trigger processor (BVER.md §6, docs/triggers.md): follows the event
// log from a durable cursor and, for every event that matches a trigger of
// the platform, starts the trigger's operation through the dispatcher (the broker), as the
// system principal "local:triggers", with causation_id = the event's
// event_id and correlation_id = the event's correlation_id (its event_id
// when it has none), so one causal chain shares one correlation id.
//
// What it promises:
//   - at most one start per (trigger, event): a record of kind
//     "trigger_fire", key "<trigger>/<event_id>", is written (state
//     "starting") before the call and updated with the answer ("started")
//     or the error ("failed", plus a control event trigger.failed); an
//     event whose record exists is never started again;
//   - nothing missed: the cursor (record "trigger_cursor", key "cursor")
//     advances past an event only once its firings are recorded;
//   - after a crash between the record and the answer, the entry (also
//     listed under kind "trigger_pending") is issued again on Start with
//     the idempotency key "trigger:<name>:<event_id>" when the operation's
//     input schema has an idempotency_key property; otherwise it is
//     recorded failed ("interrupted"), never started twice;
//   - loop protection: per correlation id (record "trigger_chain") at most
//     max_chain_firings firings in all and max_per_trigger firings of one
//     trigger on one object; beyond, the firing is recorded "suppressed"
//     and a control event trigger.suppressed is appended instead;
//   - failed starts never stop the processor.
//
// The processor's own events (event_type trigger.*) never match a trigger.
// One processor per store: two processes following one database could
// both start an event's operation (docs/triggers.md).
//
// Thread safety: Start/Stop from one thread; RunOnce is not to be called
// while the thread runs; ListTriggers, ListFires and the cursor functions
// may be called from any thread at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/runtime/dispatcher.h"
#include "src/runtime/trigger_service.h"
#include "src/store/store.h"

namespace bver::triggers {

inline constexpr const char* kCursorRecord = "trigger_cursor";
inline constexpr const char* kFireRecord = "trigger_fire";
inline constexpr const char* kPendingRecord = "trigger_pending";
inline constexpr const char* kChainRecord = "trigger_chain";
inline constexpr const char* kStatsRecord = "trigger_stats";
inline constexpr const char* kPrincipalName = "triggers";  // subject "local:triggers"

struct ProcessorOptions {
  // Events read per pass.
  std::size_t batch = 256;
  // How long the thread sleeps on Backend::WaitForCommit before reading
  // again anyway (writers in other processes do not wake it).
  std::chrono::milliseconds idle_wait{500};
  // Loop protection (per correlation id).
  int max_chain_firings = 16;
  int max_per_trigger = 3;
};

class TriggerProcessor final : public runtime::TriggerService {
 public:
  // `store` must outlive the processor.
  TriggerProcessor(store::Store& store, ProcessorOptions options = {});
  ~TriggerProcessor() override;  // Stop()

  // Creates the cursor at the current end of the log when there is none,
  // settles entries left "starting" by a crash, and starts the thread,
  // which starts operations through `dispatcher` (the broker, whose table
  // has this processor's rows) until Stop; it must outlive Stop.
  Status Start(const runtime::Dispatcher& dispatcher);
  // Finishes the event being processed, then stops the thread. Idempotent.
  void Stop();

  // One pass, on the calling thread: the events after the cursor (at most
  // options.batch), each matched and fired. The number of events read.
  Result<std::size_t> RunOnce(const runtime::Dispatcher& dispatcher);
  // Start's first two steps alone (tests call RunOnce instead of Start).
  Status Prepare(const runtime::Dispatcher& dispatcher);

  // The offset of the next event to process; nullopt before the first start.
  Result<std::optional<std::uint64_t>> Cursor();
  // Sets the cursor to `offset` (replay from there: events whose firing is
  // recorded are not fired again). 0: the current end of the log. Answers
  // the offset set. Meant for the operator while no processor runs.
  Result<std::uint64_t> ResetCursor(std::uint64_t offset);

  // runtime::TriggerService.
  Result<nlohmann::json> ListTriggers() override;
  Result<nlohmann::json> ListFires(const std::string& trigger, const std::string& after,
                                   std::size_t limit) override;
  Result<nlohmann::json> MoveCursor(std::uint64_t offset) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::triggers
