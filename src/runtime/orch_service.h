// What the operation table needs from an orchestrator engine (BVER.md §6,
// docs/orchestrators.md): start a run of a declared orchestrator, read it,
// cancel it, list runs. The engine (src/orch/engine.h) implements this
// interface, so src/runtime never depends on src/orch.
//
// Thread safety: implementations are called from any number of threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

// The scope of orch.runs.list (a runtime-only row: the compiled platform
// does not declare it), accepted by `bver keys create` besides the
// platform's scopes. Reading or cancelling one run needs the orchestrator's
// own scope (orch.<name>:run by default).
inline constexpr const char* kOrchReadScope = "orch:read";
// orch.runs.cancel: cancel a run of any orchestrator by id.
inline constexpr const char* kOrchCancelScope = "orch:cancel";

struct OrchStartRequest {
  std::string orchestrator;                     // a name under orchestrators: in bver.yaml
  std::shared_ptr<const nlohmann::json> input;  // the orchestrator's input (null: {})
  double wait_seconds = 0;                      // > 0: answer once ended or after this long
  // Non-empty: a second start with the same key (and the same caller)
  // answers the first run instead of starting another.
  std::string idempotency_key;
  std::string actor;
  std::string correlation_id;  // the run's; every step's call carries it
  std::string causation_id;
};

class OrchestratorService {
 public:
  virtual ~OrchestratorService() = default;
  // Records a new run (state running) and answers its status object (see
  // docs/orchestrators.md). NotFound: no such orchestrator;
  // InvalidArgument: input against the orchestrator's input schema;
  // Aborted: the idempotency key was used for a different request.
  virtual Result<nlohmann::json> StartRun(const OrchStartRequest& request) = 0;
  // The status object of run `run_id`; with wait_seconds > 0, once it has
  // ended or that long has passed. `orchestrator` non-empty: the run must be
  // one of it. NotFound: no such run.
  virtual Result<nlohmann::json> GetRun(const std::string& orchestrator, const std::string& run_id,
                                        double wait_seconds) = 0;
  // Marks a running run cancelled (no further step starts; its running
  // jobs are cancelled). An ended run is answered as it is. NotFound: no such run.
  virtual Result<nlohmann::json> CancelRun(const std::string& orchestrator, const std::string& run_id,
                                           const std::string& actor, const std::string& correlation_id) = 0;
  // {"runs": [summaries in start order: run_id, orchestrator, state, each
  // step's id/state/attempts/job_ids, error, timestamps, href to the whole
  // run], "next_cursor": run id or absent}: runs of `orchestrator` ("" any) in `state` ("" any) started
  // after run `after` ("" from the first), at most `limit`.
  virtual Result<nlohmann::json> ListRuns(const std::string& orchestrator, const std::string& state,
                                          const std::string& after, std::size_t limit) = 0;
};

}  // namespace bver::runtime
