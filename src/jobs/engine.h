// The job engine (BVER.md §5, docs/jobs.md): runs capabilities as jobs.
//
// A job is a row of the store's job queue (store::JobRow). Submit checks
// the input against the capability's schema, pins every pointer of the
// input to the version it resolves to (and the references pointing at
// those, "related"), and derives the action cache key from them; a
// deterministic capability whose key is cached completes at once (a cache
// hit). Otherwise the job is queued, and a worker -- a thread of this
// engine, or of a `bver worker` process sharing the store -- claims it,
// leases the references a generator works on, runs the capability through
// its plugin runner with the job's timeout and a cancel flag, checks the
// output against the capability's contract and commits a generator's
// changeset, the job's end state, the cache record and the control event in
// ONE transaction, after checking that this worker still holds this attempt
// of the job (so a changeset is committed exactly once even when a worker
// that was thought dead comes back).
//
// States: queued -> running -> succeeded | failed | cancelled | timed_out,
// and running -> queued again for a retry. Every transition appends an
// event on the control channel.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bver/status.h"
#include "src/domain/platform.h"
#include "src/runtime/job_service.h"

namespace bver::plugin {
class Runner;
class Registry;
}  // namespace bver::plugin
namespace bver::store {
class Store;
class ArtifactStore;
}

namespace bver::jobs {

// The control-channel event types of job transitions.
inline constexpr const char* kEventQueued = "job.queued";
inline constexpr const char* kEventStarted = "job.started";
inline constexpr const char* kEventRetrying = "job.retrying";
inline constexpr const char* kEventSucceeded = "job.succeeded";
inline constexpr const char* kEventFailed = "job.failed";
inline constexpr const char* kEventCancelled = "job.cancelled";
inline constexpr const char* kEventCancelRequested = "job.cancel_requested";
inline constexpr const char* kEventTimedOut = "job.timed_out";

// The record kind of the action cache (store records).
inline constexpr const char* kActionCacheKind = "action_cache";
// The record kind of idempotency keys of job starts: key -> {job_id, request_digest}.
inline constexpr const char* kJobIdempotencyKind = "job_idempotency";

// How the engine reaches a capability's code: its runner, the worker
// labels it needs, and the output schemas its plugin declares (which narrow
// the primitive's standard contract).
struct BoundCapability {
  std::shared_ptr<plugin::Runner> runner;
  std::map<std::string, std::string> labels;
  std::vector<domain::JsonPtr> declared_outputs;
  std::string plugin_id;
  // k-of-n (the manifest's trust): the capability runs `trust_runs` times and
  // succeeds when `trust_agree` runs give the same output (by digest).
  int trust_runs = 1;
  int trust_agree = 1;
};

class CapabilityHost {
 public:
  virtual ~CapabilityHost() = default;
  // FailedPrecondition when the capability's plugin is not installed or
  // cannot run here; NotFound when the plugin lacks the capability.
  virtual Result<BoundCapability> Bind(const domain::Capability& capability) = 0;
};

// Binds capabilities through the plugin registry (plugin id of bver.yaml ->
// installed plugin -> runner), caching one runner per capability.
std::unique_ptr<CapabilityHost> MakeRegistryHost(plugin::Registry& registry, const domain::Platform& platform);

struct EngineOptions {
  // In-process worker threads started by Start() (0: submit only, e.g. when
  // `bver worker` processes run the jobs).
  int threads = 2;
  // Worker name prefix (threads add "/<n>"); default host:pid.
  std::string worker_name;
  // The labels this engine's workers offer (JSON object); default DetectLabels().
  nlohmann::json worker_labels;
  std::int64_t job_lease_ms = 15000;  // a running job's lease; a dead worker's job is claimable after it
  std::int64_t heartbeat_ms = 0;      // 0: job_lease_ms / 3
  std::int64_t ref_lease_ms = 30000;  // leases on the references a generator works on
  std::int64_t idle_poll_ms = 50;     // how often an idle worker looks for jobs of other processes
  std::int64_t backoff_base_ms = 250; // retry n waits base * 2^(n-1) (capped), with +-50% jitter
  std::int64_t backoff_max_ms = 30000;
  int max_restarts = 3;               // restart_on_write: reruns per attempt before it fails
  // A running job's job.started event is appended once it has run this
  // long; a job that ends sooner carries it in its end transaction (0: at
  // once, in a transaction of its own).
  std::int64_t started_event_delay_ms = 50;
  // Stop(): how long running jobs may take to end before they are abandoned.
  std::int64_t stop_grace_ms = 10000;
  // Overrides bver.yaml's jobs.<name>.timeout_seconds when > 0 (tests).
  std::int64_t timeout_ms_override = 0;
  // Where stored artifacts live (store::ArtifactStore::PathFor), so an
  // input string naming a stored artifact ("sha256:<64 hex>") reaches the
  // plugin as a readable file (the request's `artifacts` map). Unset: none.
  std::function<std::optional<std::string>(const std::string& digest)> artifact_path;
  // Stores a file a capability produced (its `attachments`) as an artifact
  // and answers its digest ("sha256:<hex>"). Unset: attachments are refused.
  std::function<Result<std::string>(const std::string& content)> put_artifact;
};

// Lets the engine's plugins read the stored artifacts their input names and
// store the attachments they return, in `artifacts` (which must outlive the
// engine).
void UseArtifactStore(EngineOptions& options, store::ArtifactStore& artifacts);

// The labels of this machine: os, arch, and "<tool>": "true" for each of a
// few tools found on PATH (python3, node, java, gcc, g++, git, sh, bash).
nlohmann::json DetectLabels();
// Parses "k=v,k2=v2" (a bare "k" means k=true) into a JSON object.
Result<nlohmann::json> ParseLabels(const std::string& text);

class Engine final : public runtime::JobService {
 public:
  // `store` and `host` must outlive the engine. No worker runs until Start().
  Engine(store::Store& store, CapabilityHost& host, EngineOptions options);
  ~Engine() override;  // stops the workers (see Stop)
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts options.threads worker threads (and the heartbeat monitor).
  void Start();
  // Stops claiming and gives the jobs this engine is running
  // options.stop_grace_ms to end; the others are abandoned (their plugins
  // cancelled, nothing written) and run again by another worker once their
  // job leases lapse, as if this process had died. Returns when every
  // worker thread has returned (a native plugin cannot be interrupted).
  // Idempotent.
  void Stop();

  // runtime::JobService.
  Result<nlohmann::json> StartJob(const runtime::JobStartRequest& request) override;
  Result<nlohmann::json> JobStatus(const std::string& job_id, double wait_seconds) override;
  Result<nlohmann::json> CancelJob(const std::string& job_id, const std::string& actor,
                                   const std::string& correlation_id) override;

  // Jobs in submission order after `after_id`, in `state` ("" any).
  Result<nlohmann::json> ListJobs(const std::string& state, const std::string& after, std::size_t limit) override;
  Result<std::vector<nlohmann::json>> List(const std::string& state, const std::string& after_id,
                                           std::size_t limit);

  // Claims and runs at most one job on the calling thread as worker
  // `worker`; true when it ran one. What each worker thread loops on.
  Result<bool> RunOne(const std::string& worker);

  // The cache key a submission of `capability` with `input` would get now.
  Result<std::string> CacheKeyForTest(const std::string& job_or_capability, const nlohmann::json& input);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::jobs
