// The orchestrator engine (BVER.md §6, docs/orchestrators.md): runs the
// orchestrators of bver.yaml as durable DAGs of operation steps.
//
// A run is one store record (kind "orch_run", key = run id, a UUIDv7)
// holding the orchestrator, state (running, succeeded, failed, cancelled),
// input, each step's state (pending, running, succeeded, failed, skipped,
// cancelled) with its calls (one per for_each item: attempt, job id,
// output or error), the run's output or error, timestamps, actor,
// correlation and causation ids. A running run is also listed under kind
// "orch_active" (what the workers scan). Every transition rewrites the
// record and appends its control event (orch.started, orch.step.started,
// orch.step.succeeded|failed|skipped, orch.succeeded|failed|cancelled) in
// ONE transaction, guarded by the record's revision, so two engines on one
// store never both record a transition.
//
// A step starts once every step it depends on (its `after` list and every
// step its references name) has ended; a step after a skipped step is
// skipped; `when` false skips it; `for_each` makes one call per item. Each
// call goes through the dispatcher, the broker (scopes, schemas), as the system principal
// "orch", with the run's correlation id and causation id = run id, and
// carries an idempotency key derived from (run, step, item index, attempt)
// when its operation takes one (refs.* mutations, jobs.<job>.start,
// orch.<name>.start). A call is recorded before it is issued, so after a
// crash it is issued again with the same key and commits once. A jobs.*
// call's step waits for the job to end and takes its result as output. A
// failed call is retried (steps[].retries) after an exponential backoff;
// a step that fails for good fails the run and cancels its other jobs.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/runtime/orch_service.h"

namespace bver::store {
class Store;
}
namespace bver::runtime {
class Dispatcher;
}

namespace bver::orch {

// Store record kinds.
inline constexpr const char* kRunKind = "orch_run";
inline constexpr const char* kActiveKind = "orch_active";
inline constexpr const char* kIdempotencyKind = "orch_idempotency";

// Control-channel event types (subject "orch:<run id>").
inline constexpr const char* kEventStarted = "orch.started";
inline constexpr const char* kEventStepStarted = "orch.step.started";
inline constexpr const char* kEventStepSucceeded = "orch.step.succeeded";
inline constexpr const char* kEventStepFailed = "orch.step.failed";
inline constexpr const char* kEventStepSkipped = "orch.step.skipped";
inline constexpr const char* kEventSucceeded = "orch.succeeded";
inline constexpr const char* kEventFailed = "orch.failed";
inline constexpr const char* kEventCancelled = "orch.cancelled";

// The principal steps run as.
inline constexpr const char* kSystemActor = "orch";

struct EngineOptions {
  int threads = 2;                    // worker threads started by Start() (0: none; call RunPass)
  std::int64_t poll_ms = 250;         // longest sleep between passes (other processes' commits do not wake it)
  std::int64_t backoff_base_ms = 500; // retry n waits base * 2^(n-1), capped
  std::int64_t backoff_max_ms = 30000;
};

class Engine final : public runtime::OrchestratorService {
 public:
  // `store` must outlive the engine. No step runs until Start.
  Engine(store::Store& store, EngineOptions options);
  ~Engine() override;  // Stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts options.threads workers (none with 0: RunPass then advances
  // runs); they resume every running run. Steps call operations through
  // `dispatcher` (the broker, whose table's orch.* rows point at this
  // engine), which must outlive Stop(). A second Start is a no-op.
  void Start(const runtime::Dispatcher& dispatcher);
  // Stops the workers after the call each is making; runs stay running in
  // the store and resume at the next Start (here or in another process).
  // Idempotent.
  void Stop();

  // One pass over every running run on the calling thread: starts what
  // can start, issues ready calls, collects ended jobs. True when it
  // recorded anything. What the workers loop on.
  Result<bool> RunPass();

  // runtime::OrchestratorService.
  Result<nlohmann::json> StartRun(const runtime::OrchStartRequest& request) override;
  Result<nlohmann::json> GetRun(const std::string& orchestrator, const std::string& run_id,
                                double wait_seconds) override;
  Result<nlohmann::json> CancelRun(const std::string& orchestrator, const std::string& run_id,
                                   const std::string& actor, const std::string& correlation_id) override;
  Result<nlohmann::json> ListRuns(const std::string& orchestrator, const std::string& state,
                                  const std::string& after, std::size_t limit) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::orch
