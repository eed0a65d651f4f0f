// The job engine's insides, shared by engine.cc (submission, status,
// cancel) and engine_worker.cc (claims, runs, ends, the monitor).
// Internal to src/jobs: include only from those two files.
#pragma once

#include "src/jobs/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <unistd.h>

#include "src/core/clock.h"
#include "src/core/digest.h"
#include "src/core/uuid.h"
#include "src/plugin/contracts.h"
#include "src/plugin/runner.h"
#include "src/schema/validator.h"
#include "src/store/store.h"
#include "src/runtime/problem.h"

namespace bver::jobs {
namespace internal {

using nlohmann::json;
using domain::ConflictPolicy;
using domain::Primitive;

inline constexpr const char* kChannel = "control";

using runtime::ErrorJson;

// What a job runs on: the input with defaults, every pointer pinned, the
// references pointing at them, and the key all of that gives.
struct Resolution {
  json input;             // with defaults, pointers as given
  json resolved = json::object();
  json related = json::object();
  json pins = json::object();  // "ns/repo/id" -> version (input pointers)
  std::vector<Pointer> targets;  // input references (unpinned, no path), unique
  std::string cache_key;
};

struct Spec {
  std::string name;  // the job's name, or the capability id for a capability without a job
  const domain::Capability* cap = nullptr;
  ConflictPolicy policy = ConflictPolicy::kFail;
  std::int64_t timeout_ms = 300000;
  int max_attempts = 4;
};

// What ended an attempt.
enum class Outcome { kSucceeded, kFailed, kTimedOut, kCancelled, kLost, kRetry, kRestart };

struct Execution {
  std::string job_id;
  std::string worker;
  std::string correlation_id;
  std::int64_t attempt = 0;
  std::atomic<bool> cancel{false};     // what the runner watches
  std::atomic<bool> timed_out{false};  // set with cancel at the deadline
  std::atomic<bool> cancel_requested{false};
  std::atomic<bool> lost{false};  // the job lease was lost (taken over)
  std::int64_t deadline_us = 0;
  std::int64_t next_heartbeat_us = 0;
  std::int64_t claimed_us = 0;
  std::vector<Pointer> leased;  // GUARDED_BY(Impl::mu) while registered
  // The job.started event is appended by the monitor once the job has run
  // for EngineOptions::started_event_delay_ms, or else in the transaction
  // that ends the job (before its end event): one transaction less for
  // short jobs, and the log keeps started before the end either way.
  std::mutex started_mu;
  bool started_pending = true;  // GUARDED_BY(started_mu)
  // The next job of this engine's queue, claimed in the transaction that
  // ended this one (SQLite; see CommitAs). Only the worker thread touches it.
  std::optional<store::JobRow> next;
  nlohmann::json started_payload;  // set before the execution is shared
};

bool Ended(const std::string& state);

json ParseOr(const std::string& text, json fallback);

// Every string of `value` that the schema marks as a pointer field
// (x-bver-pointer), with where it sits. Follows properties,
// additionalProperties, items and the allOf/anyOf/oneOf branches.
void CollectPointers(const json& schema, const json& value, const json::json_pointer& at,
                     std::map<std::string, std::pair<json::json_pointer, std::string>>& out);

// Whether references of `from`'s repo reach the capability as `related`
// (and so pin its cache key): every repo unless bver.yaml lists `reads`.
bool Reads(const domain::Capability& cap, const Pointer& from);

// Every string of `value` that names an artifact digest ("sha256:" + 64
// lower-case hex digits), whatever field holds it.
void CollectDigests(const json& value, std::set<std::string>& out);

// Top-level defaults of the input schema, so that {site} and {site,
// bays_per_level: <its default>} are one job for the cache.
json WithDefaults(const json& schema, json input);

json RefEntry(const store::Reference& r);

std::string DefaultWorkerName();

}  // namespace internal

using namespace internal;  // NOLINT: the two files of one class

struct Engine::Impl {
  store::Store& store;    // writes: every job state commits with its event
  store::JobQueue& queue;  // reads and claims (the store's backend)
  store::RecordTable& records;  // idempotency keys and the action cache, read
  CapabilityHost& host;
  EngineOptions options;
  std::string labels_text;
  std::map<std::string, std::shared_ptr<const schema::Validator>> input_validators;  // immutable after ctor

  std::mutex mu;
  std::condition_variable work_cv;  // a job was queued here
  std::condition_variable done_cv;  // a job ended here
  std::condition_variable stop_cv;  // Stop() was called (wakes the monitor)
  // Jobs queued by this engine, claimed by id before the store's queue is
  // asked (SQLite only; see ClaimLocal).
  std::deque<std::string> local;    // GUARDED_BY(mu)
  bool claim_local = false;         // immutable after the constructor
  bool stopping = false;            // GUARDED_BY(mu)
  bool started = false;             // GUARDED_BY(mu)
  std::map<std::string, std::shared_ptr<Execution>> active;  // GUARDED_BY(mu)
  std::map<std::string, std::shared_ptr<const plugin::OutputContract>> contracts;  // GUARDED_BY(mu)
  std::vector<std::thread> threads;
  std::mt19937_64 rng{std::random_device{}()};  // GUARDED_BY(mu)

  Impl(store::Store& s, CapabilityHost& h, EngineOptions o);

  const domain::Platform& platform() const { return store.platform(); }

  Result<Spec> FindSpec(const std::string& name) const;

  Result<std::shared_ptr<const plugin::OutputContract>> ContractFor(const domain::Capability& cap,
                                                                   const BoundCapability& bound);

  // Checks `raw` against the capability's input schema and resolves it.
  // Validates the input, pins its pointers and computes the cache key; with
  // `with_related`, also reads the references pointing at each input
  // reference (`related`, what the plugin is given). Submission needs only
  // the key, so it skips the bodies: a network of 40,000 elements is keyed
  // by a few link revisions, not by reading 40,000 references.
  Result<Resolution> Resolve(const domain::Capability& cap, const json& raw, bool with_related = true);

  store::WriteContext Ctx(const store::JobRow& row) const;

  static json EventPayload(const store::JobRow& row, const json& extra);

  json View(const store::JobRow& row) const;

  // ---- submission ----

  // The job an idempotency key was first used for, when it was; Aborted
  // when it was used for a different request (digest).
  Result<std::optional<std::string>> IdempotentJob(const std::optional<store::RecordRow>& rec, const std::string& key,
                                                   const std::string& digest);

  Result<json> Submit(const runtime::JobStartRequest& req);

  // ---- status, cancel, wait ----

  Result<json> StatusOf(const std::string& id, double wait_seconds);

  Result<json> Cancel(const std::string& id, const std::string& actor, const std::string& correlation_id);

  // ---- workers ----

  std::int64_t Backoff(std::int64_t attempt);

  // Ends (or requeues) the attempt `row` of `worker` in one transaction,
  // after checking that it still holds it. `changes` (a generator's
  // changeset) are committed in the same transaction. Lost: another worker
  // holds the job now (nothing written).
  enum class Guard { kOk, kLost, kCancelRequested, kInputChanged };
  struct Finish {
    std::string state;  // succeeded, failed, cancelled, timed_out, queued (retry)
    json result;        // {"output": ...} or {"error": ...}
    const char* event = kEventFailed;
    json event_extra = json::object();
    std::int64_t run_after_us = 0;
    std::string cache_key;  // succeeded & deterministic: the cache record's key
    json pins;              // non-null: check the input heads are still at these versions
    bool honour_cancel = false;
    json started_event;     // non-null: append job.started with this payload first
    std::string claim_next; // non-empty: also claim this queued job for row.worker
  };

  // In transaction `t`: claims queued job `id` for `worker` when it is due
  // and our labels fit it (else nothing).
  Result<std::optional<store::JobRow>> ClaimIn(store::Txn& t, const std::string& id, const std::string& worker,
                                               std::int64_t now_us);

  Result<Guard> Commit(const store::JobRow& row, const std::vector<store::Change>& changes, const Finish& f,
                       const json& provenance, std::vector<store::Reference>* written,
                       std::optional<store::JobRow>* claimed_next = nullptr);

  // Commit, with the job.started event first when it is still pending.
  Result<Guard> CommitAs(Execution& e, const store::JobRow& row, const std::vector<store::Change>& changes,
                         Finish f, const json& provenance, std::vector<store::Reference>* written);

  // The next job id this engine queued, or "" (none, not on SQLite, or stopping).
  std::string PopLocal();
  void PushLocalFront(std::string id);

  void NotifyDone();

  // Ends the attempt without a changeset; a lost job is left alone.
  void End(Execution& e, const store::JobRow& row, Finish f);

  Finish Failed(const Status& s, const char* event = kEventFailed, const std::string& state = "failed");

  // A retryable failure: requeued with backoff, or failed when attempts are spent.
  Finish Retry(const store::JobRow& row, const Status& s);

  // `generator`: a create whose id exists is skipped (a deterministic
  // generator run again is a no-op); for an interpreter or a simulator it is
  // an error (an import must not silently leave an older network in place).
  Result<std::vector<store::Change>> ToChanges(const json& changeset, bool generator);

  std::shared_ptr<Execution> Register(const store::JobRow& row, std::int64_t timeout_ms);

  void Unregister(const std::string& id);

  // Stores the output's `attachments` ([{digest, media_type, content}]:
  // files a capability produced, such as a report) as artifacts, checking
  // each digest, and keeps only {digest, media_type, size} in the output.
  Status StoreAttachments(const domain::Capability& cap, json& out) const;

  // {digest: path} for the stored artifacts the input names.
  json ArtifactPaths(const json& input) const;

  void ReleaseLeases(Execution& e);

  // Runs the capability once, or k-of-n times for a capability marked for
  // trust: the output that at least `trust_agree` runs gave (compared by
  // the digest of its canonical JSON). Runs go one after the other and stop
  // early once the answer is decided.
  Result<json> InvokeTrusted(const BoundCapability& bound, const plugin::Invocation& inv, Execution& e);

  // One run of the capability; what ended it is in the returned Finish (and
  // `outcome`).
  Outcome Attempt(store::JobRow& row, const Spec& spec, Execution& e, Finish& finish);

  // The job's conflict policy applied to conflict `s`.
  Outcome Conflict(const store::JobRow& row, const Spec& spec, const Status& s, bool input_changed, Finish& finish);

  // Runs claimed job `row` to its end; answers the next job claimed in its
  // end transaction, if any.
  std::optional<store::JobRow> Execute(store::JobRow row);

  Result<bool> RunOne(const std::string& worker);

  // The pending job.started event of a job that is still running. Skipped
  // this tick when the worker is committing the job's end (which then
  // carries the event itself).
  void EmitStarted(Execution& e);

  // Heartbeats, timeouts and cancellation of the running jobs of this engine.
  void Monitor();

  // Claims job `id` that this engine queued, by id: the claim ClaimJob
  // makes, without its search of the queue (one primary-key read inside
  // the writer transaction; the search sorted the whole queue there before
  // the store's 03575f9, docs/PERFORMANCE.md "Jobs"). SQLite only: on
  // PostgreSQL ClaimJob does not take the store's writer lock and this
  // would. Nothing when another worker (of any process) has taken the job,
  // or it is not due or not for our labels.
  Result<std::optional<store::JobRow>> ClaimById(const std::string& id, const std::string& worker);

  void WorkerLoop(const std::string& name);
};

}  // namespace bver::jobs
