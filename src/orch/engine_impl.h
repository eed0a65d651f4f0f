// The orchestrator engine's insides, shared by engine.cc (records, start,
// get, cancel, list) and engine_run.cc (advancing runs, the workers).
// Internal to src/orch: include only from those two files.
#pragma once

#include "src/orch/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/auth/principal.h"
#include "src/core/clock.h"
#include "src/core/digest.h"
#include "src/core/uuid.h"
#include "src/orch/template.h"
#include "src/runtime/problem.h"
#include "src/runtime/dispatcher.h"
#include "src/schema/validator.h"
#include "src/store/follower.h"
#include "src/store/store.h"

namespace bver::orch {
namespace internal {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline constexpr const char* kChannel = "control";
// The shortest pause between two passes that found nothing to do.
inline constexpr std::int64_t kMinIdleMs = 20;

using runtime::ErrorJson;

// A transition's control event, appended with the record update.
struct Pending {
  std::string type;
  json payload;
};

// What became of one issued call.
struct Outcome {
  enum Kind { kNone, kSucceeded, kWaitingJob, kFailed } kind = kNone;
  json output;
  std::string job_id;
  json error;
  bool retryable = true;
};

json ParseOr(const std::string& text, json fallback);

bool StepEnded(const std::string& s);

}  // namespace internal

using namespace internal;  // NOLINT: the two files of one class

struct Engine::Impl {
  store::Store& store;
  EngineOptions options;
  std::map<std::string, const domain::Orchestrator*, std::less<>> orchestrators;  // immutable after ctor
  std::map<std::string, std::shared_ptr<const schema::Validator>> validators;      // immutable after ctor

  std::mutex mu;
  const runtime::Dispatcher* dispatcher = nullptr;  // GUARDED_BY(mu); set by Start, cleared by Stop
  std::set<std::string> busy;                     // GUARDED_BY(mu): runs a thread is advancing
  bool stopping = false;                          // GUARDED_BY(mu)
  // The engine threads' waits between passes (and a run's wait in Get);
  // Stop() stops it, which ends them.
  store::Follower follower;
  std::vector<std::thread> threads;

  Impl(store::Store& s, EngineOptions o);

  const runtime::Dispatcher* Dispatcher();

  // ---- records ----

  struct Loaded {
    json run;
    std::int64_t rev = 0;
  };

  Result<std::optional<Loaded>> Load(const std::string& run_id);

  store::WriteContext Ctx(const json& run) const;

  static json Payload(const json& run, const json& step = nullptr, json extra = json::object());

  // Writes `run` (loaded at revision `rev`) and appends `events`, in one
  // transaction. Aborted when the record changed since it was loaded.
  Status Persist(json& run, std::int64_t rev, const std::vector<Pending>& events);

  json View(json run) const;

  // A run as a list shows it: its state, each step's, and where the whole
  // run is. About 300 bytes a run instead of every input and output.
  static json Summary(const json& run);

  // ---- start, get, cancel, list ----

  Result<json> Start(const runtime::OrchStartRequest& req);

  static Result<std::optional<std::string>> Replayed(const std::optional<store::RecordRow>& rec, const std::string& key,
                                                     const std::string& digest);

  Result<Loaded> Find(const std::string& orchestrator, const std::string& run_id);

  Result<json> Get(const std::string& orchestrator, const std::string& run_id, double wait_seconds);

  Result<json> Cancel(const std::string& orchestrator, const std::string& run_id, const std::string& actor,
                      const std::string& correlation_id);

  void CancelJobs(const json& run, const std::vector<std::string>& jobs);

  Result<json> List(const std::string& orchestrator, const std::string& state, const std::string& after,
                    std::size_t limit);

  // ---- advancing runs ----

  Result<bool> Pass();

  // Records transitions of run `run_id` until none is possible now.
  Result<bool> Advance(const std::string& run_id);

  TemplateScope Scope(const json& run, const json& outputs, const json* item) const;

  std::string Key(const json& run, const json& step, const json& call) const;

  std::int64_t Backoff(int attempt) const;

  runtime::Call CallFor(const json& run, std::string op, json input) const;

  // A job's status object as an outcome (kNone while it has not ended).
  static Outcome FromJob(const json& job);

  // Issues call `call` of `step` (state ready) through the dispatcher.
  Outcome Issue(const runtime::Dispatcher& b, const json& run, const json& step, const json& call);

  Outcome PollJob(const runtime::Dispatcher& b, const json& run, const json& call);

  // Fails `run` because step `si` failed: the other unended steps are
  // cancelled; answers the jobs to cancel.
  std::vector<std::string> FailRun(json& run, std::size_t si, std::vector<Pending>& events);

  // Records the outcome of call `ci` of step `si`: the call's state, then
  // the step's and the run's when they end.
  std::vector<std::string> Record(json& run, std::size_t si, std::size_t ci, const Outcome& o, int retries,
                                  std::vector<Pending>& events);

  // Starts or skips pending step `si` whose dependencies have all ended.
  // Answers the jobs to cancel when the step fails (and so the run).
  std::vector<std::string> Begin(json& run, const domain::Step& decl, std::size_t si, const json& outputs,
                                 bool dep_skipped, std::vector<Pending>& events);

  // Records at most one transition of the run in `l`; false when none is
  // possible now (or another writer got there first).
  Result<bool> Transition(Loaded& l);

  Result<bool> Commit(Loaded& l, const std::vector<Pending>& events, const std::vector<std::string>& cancel_jobs,
                      const std::string& started_job);

  // ---- workers ----

  void Loop();
};

}  // namespace bver::orch
