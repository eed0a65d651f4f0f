// The job engine's workers: claims, runs, ends and the monitor of
// running jobs (engine_impl.h; docs/jobs.md).
#include "src/jobs/engine_impl.h"

namespace bver::jobs {

std::int64_t Engine::Impl::Backoff(std::int64_t attempt) {
  std::int64_t base = options.backoff_base_ms;
  for (std::int64_t i = 1; i < attempt && base < options.backoff_max_ms; ++i) base *= 2;
  base = std::min(base, options.backoff_max_ms);
  std::lock_guard<std::mutex> l(mu);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return static_cast<std::int64_t>(static_cast<double>(base) * jitter(rng));
}

// In transaction `t`: claims queued job `id` for `worker` when it is due
// and our labels fit it (else nothing).
Result<std::optional<store::JobRow>> Engine::Impl::ClaimIn(store::Txn& t, const std::string& id, const std::string& worker,
                                             std::int64_t now_us) {
  BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> row, t.GetJob(id));
  if (!row || row->state != "queued" || row->run_after_us > now_us || !store::LabelsMatch(row->labels, labels_text)) {
    return std::optional<store::JobRow>();
  }
  row->state = "running";
  row->worker = worker;
  row->attempts += 1;
  row->lease_expires_at_us = now_us + options.job_lease_ms * 1000;
  row->updated_at_us = now_us;
  BVER_RETURN_IF_ERROR(t.PutJob(*row));
  return row;
}

Result<Engine::Impl::Guard> Engine::Impl::Commit(const store::JobRow& row, const std::vector<store::Change>& changes, const Finish& f,
                     const json& provenance, std::vector<store::Reference>* written,
                     std::optional<store::JobRow>* claimed_next) {
  Guard guard = Guard::kOk;
  store::WriteContext ctx = Ctx(row);
  if (!changes.empty()) {
    ctx.actor = "plugin:" + ParseOr(row.extra, json::object()).value("plugin", std::string("unknown"));
    ctx.lease_holder = "job:" + row.id;
    ctx.provenance = std::make_shared<const json>(provenance);
  }
  Result<std::vector<store::Reference>> r = store.Apply(
      changes, ctx, [&](store::Txn& t, const store::Store::TxnHelpers& h) -> bver::Status {
        guard = Guard::kOk;
        if (claimed_next != nullptr) claimed_next->reset();
        BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> cur, t.GetJob(row.id));
        if (!cur || cur->state != "running" || cur->worker != row.worker || cur->attempts != row.attempts) {
          guard = Guard::kLost;
          return AbortedError("job " + row.id + " is no longer held by " + row.worker);
        }
        if (f.honour_cancel && cur->cancel_requested) {
          guard = Guard::kCancelRequested;
          return AbortedError("job " + row.id + " was cancelled");
        }
        if (f.pins.is_object()) {
          for (auto it = f.pins.begin(); it != f.pins.end(); ++it) {
            Result<Pointer> p = Pointer::Parse("bver://" + it.key());
            if (!p.ok()) continue;
            BVER_ASSIGN_OR_RETURN(std::optional<store::VersionRow> head, t.GetHead(p->ns(), p->repo(), p->id()));
            if (!head || head->version != it.value().get<std::uint64_t>()) {
              guard = Guard::kInputChanged;
              return AbortedError("input bver://" + it.key() + " changed from version " +
                                  std::to_string(it.value().get<std::uint64_t>()) + " to " +
                                  (head ? std::to_string(head->version) : std::string("deleted")) +
                                  " while the job ran");
            }
          }
        }
        if (!f.started_event.is_null()) {
          BVER_RETURN_IF_ERROR(
              h.AppendEvent(t, kChannel, kEventStarted, "job:" + row.id, f.started_event, ctx).status());
        }
        store::JobRow next_row = *cur;
        next_row.state = f.state;
        next_row.updated_at_us = h.now_us();
        next_row.result = f.result.dump();
        json extra = ParseOr(cur->extra, json::object());
        if (!f.cache_key.empty()) extra["cache_key"] = f.cache_key;
        if (written != nullptr && !changes.empty()) extra["commit"] = {{"changes", changes.size()}};
        // The policy the result was produced under (docs/operating.md "Profiles").
        if (!store.policy_revision().empty() && f.state != "queued") extra["policy_revision"] = store.policy_revision();
        next_row.extra = extra.dump();
        if (f.state == "queued") {
          next_row.worker.clear();
          next_row.lease_expires_at_us = 0;
          next_row.run_after_us = f.run_after_us;
        }
        BVER_RETURN_IF_ERROR(t.PutJob(next_row));
        if (f.state == "succeeded" && !f.cache_key.empty()) {
          json rec = {{"capability", row.capability},
                      {"capability_version", extra.value("capability_version", "")},
                      {"output", f.result.value("output", json::object())},
                      {"job_id", row.id},
                      {"created_at", core::FormatTimestamp(h.now_us())}};
          BVER_RETURN_IF_ERROR(t.PutRecord({kActionCacheKind, f.cache_key, rec.dump(), h.now_us()}));
        }
        BVER_RETURN_IF_ERROR(
            h.AppendEvent(t, kChannel, f.event, "job:" + row.id, EventPayload(next_row, f.event_extra), ctx)
                .status());
        if (!f.claim_next.empty() && claimed_next != nullptr) {
          BVER_ASSIGN_OR_RETURN(*claimed_next, ClaimIn(t, f.claim_next, row.worker, h.now_us()));
        }
        return bver::Status::Ok();
      });
  if (!r.ok()) {
    if (guard != Guard::kOk) return guard;
    return r.status();
  }
  if (written != nullptr) *written = std::move(r).value();
  return Guard::kOk;
}

// Commit, with the job.started event first when it is still pending.
Result<Engine::Impl::Guard> Engine::Impl::CommitAs(Execution& e, const store::JobRow& row, const std::vector<store::Change>& changes,
                       Finish f, const json& provenance, std::vector<store::Reference>* written) {
  std::lock_guard<std::mutex> l(e.started_mu);
  if (e.started_pending) f.started_event = e.started_payload;
  // The worker's next job from this engine's queue is claimed in the same
  // transaction: one write transaction less per job.
  f.claim_next = PopLocal();
  Result<Guard> g = Commit(row, changes, f, provenance, written, &e.next);
  bool committed = g.ok() && *g == Guard::kOk;
  if (committed) e.started_pending = false;
  if (!committed) {
    e.next.reset();
    if (!f.claim_next.empty()) PushLocalFront(f.claim_next);
  }
  return g;
}

// The next job id this engine queued, or "" (none, not on SQLite, or stopping).
std::string Engine::Impl::PopLocal() {
  std::lock_guard<std::mutex> l(mu);
  if (!claim_local || stopping || local.empty()) return "";
  std::string id = std::move(local.front());
  local.pop_front();
  return id;
}

void Engine::Impl::PushLocalFront(std::string id) {
  std::lock_guard<std::mutex> l(mu);
  local.push_front(std::move(id));
  work_cv.notify_one();
}

void Engine::Impl::NotifyDone() {
  std::lock_guard<std::mutex> l(mu);
  done_cv.notify_all();
}

// Ends the attempt without a changeset; a lost job is left alone.
void Engine::Impl::End(Execution& e, const store::JobRow& row, Finish f) {
  Result<Guard> g = CommitAs(e, row, {}, std::move(f), json(), nullptr);
  if (!g.ok()) {
    // The store refused: the job stays running and is taken over when its
    // lease expires. Say so once on stderr; nothing else can be done here.
    std::fprintf(stderr, "bver jobs: cannot record the end of job %s: %s\n", row.id.c_str(),
                 g.status().ToString().c_str());
  }
  NotifyDone();
}

Engine::Impl::Finish Engine::Impl::Failed(const Status& s, const char* event, const std::string& state) {
  Finish f;
  f.state = state;
  f.event = event;
  f.result = {{"error", ErrorJson(s)}};
  f.event_extra = {{"error", ErrorJson(s)}};
  return f;
}

// A retryable failure: requeued with backoff, or failed when attempts are spent.
Engine::Impl::Finish Engine::Impl::Retry(const store::JobRow& row, const Status& s) {
  if (row.attempts >= row.max_attempts) {
    return Failed(s.WithPrefix("gave up after " + std::to_string(row.attempts) + " attempt(s)"));
  }
  Finish f;
  f.state = "queued";
  f.event = kEventRetrying;
  f.run_after_us = store.Now() + Backoff(row.attempts) * 1000;
  f.result = {{"error", ErrorJson(s)}};
  f.event_extra = {{"error", ErrorJson(s)}, {"run_after", core::FormatTimestamp(f.run_after_us)}};
  return f;
}

// `generator`: a create whose id exists is skipped (a deterministic
// generator run again is a no-op); for an interpreter or a simulator it is
// an error (an import must not silently leave an older network in place).
Result<std::vector<store::Change>> Engine::Impl::ToChanges(const json& changeset, bool generator) {
  std::vector<store::Change> out;
  for (const json& c : changeset.value("creates", json::array())) {
    store::Change ch;
    ch.op = store::Change::Op::kCreate;
    ch.repo = c.value("repo", "");
    ch.kind = c.value("kind", "");
    ch.id = c.value("id", "");
    ch.skip_if_exists = generator && !ch.id.empty();
    ch.body = std::make_shared<const json>(c.value("body", json::object()));
    out.push_back(std::move(ch));
  }
  std::size_t i = 0;
  for (const json& c : changeset.value("patches", json::array())) {
    store::Change ch;
    ch.op = store::Change::Op::kPatch;
    Result<Pointer> p = Pointer::Parse(c.value("pointer", ""));
    if (!p.ok()) {
      return InvalidArgumentError("changeset.patches[" + std::to_string(i) + "].pointer: " + p.status().message());
    }
    ch.target = p->Reference();
    if (c.contains("merge")) {
      ch.format = store::PatchFormat::kMergePatch;
      ch.body = std::make_shared<const json>(c.at("merge"));
    } else {
      ch.format = store::PatchFormat::kJsonPatch;
      ch.body = std::make_shared<const json>(c.value("patch", json::array()));
    }
    out.push_back(std::move(ch));
    ++i;
  }
  i = 0;
  for (const json& c : changeset.value("deletes", json::array())) {
    store::Change ch;
    ch.op = store::Change::Op::kDelete;
    Result<Pointer> p = Pointer::Parse(c.value("pointer", ""));
    if (!p.ok()) {
      return InvalidArgumentError("changeset.deletes[" + std::to_string(i) + "].pointer: " + p.status().message());
    }
    ch.target = p->Reference();
    out.push_back(std::move(ch));
    ++i;
  }
  return out;
}

std::shared_ptr<Execution> Engine::Impl::Register(const store::JobRow& row, std::int64_t timeout_ms) {
  auto e = std::make_shared<Execution>();
  e->job_id = row.id;
  e->worker = row.worker;
  e->attempt = row.attempts;
  std::int64_t now = store.Now();
  e->claimed_us = now;
  e->correlation_id = row.correlation_id;
  e->started_payload = EventPayload(row, {{"started_at", core::FormatTimestamp(now)}});
  e->deadline_us = now + timeout_ms * 1000;
  e->next_heartbeat_us = now + options.heartbeat_ms * 1000;
  std::lock_guard<std::mutex> l(mu);
  active[row.id] = e;
  return e;
}

void Engine::Impl::Unregister(const std::string& id) {
  std::lock_guard<std::mutex> l(mu);
  active.erase(id);
}

// Stores the output's `attachments` ([{digest, media_type, content}]:
// files a capability produced, such as a report) as artifacts, checking
// each digest, and keeps only {digest, media_type, size} in the output.
Status Engine::Impl::StoreAttachments(const domain::Capability& cap, json& out) const {
  auto it = out.find("attachments");
  if (it == out.end()) return Status::Ok();
  if (!it->is_array()) {
    return InvalidArgumentError("capability " + cap.id + " returned attachments that are not an array");
  }
  if (!options.put_artifact) {
    return FailedPreconditionError("capability " + cap.id + " returned attachments, but this runtime has no artifact store");
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    json& a = (*it)[i];
    const std::string where = "attachments[" + std::to_string(i) + "]";
    if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("digest") ||
        !a["digest"].is_string()) {
      return InvalidArgumentError("capability " + cap.id + " returned a malformed attachment at " + where +
                                  " (expected {digest, media_type, content})");
    }
    const std::string& content = a["content"].get_ref<const std::string&>();
    Result<std::string> digest = options.put_artifact(content);
    if (!digest.ok()) return digest.status().WithPrefix("storing " + where + " of capability " + cap.id);
    if (*digest != a["digest"].get<std::string>()) {
      return InvalidArgumentError("capability " + cap.id + " named " + where + " " + a["digest"].get<std::string>() +
                                  ", but its content hashes to " + *digest);
    }
    a["size"] = content.size();
    a.erase("content");
  }
  return Status::Ok();
}

// {digest: path} for the stored artifacts the input names.
json Engine::Impl::ArtifactPaths(const json& input) const {
  json out = json::object();
  if (!options.artifact_path) return out;
  std::set<std::string> digests;
  CollectDigests(input, digests);
  for (const std::string& d : digests) {
    if (std::optional<std::string> path = options.artifact_path(d)) out[d] = *path;
  }
  return out;
}

void Engine::Impl::ReleaseLeases(Execution& e) {
  std::vector<Pointer> leased;
  {
    std::lock_guard<std::mutex> l(mu);
    leased.swap(e.leased);
  }
  if (e.lost) return;  // the holder "job:<id>" is the new attempt's now
  for (const Pointer& p : leased) (void)store.ReleaseLease(p, "job:" + e.job_id);
}

// Runs the capability once, or k-of-n times for a capability marked for
// trust: the output that at least `trust_agree` runs gave (compared by
// the digest of its canonical JSON). Runs go one after the other and stop
// early once the answer is decided.
Result<json> Engine::Impl::InvokeTrusted(const BoundCapability& bound, const plugin::Invocation& inv, Execution& e) {
  if (bound.trust_runs <= 1) return bound.runner->Invoke(inv);
  std::map<std::string, std::pair<int, json>> seen;  // digest -> (count, output)
  Status last_error;
  int failed = 0;
  for (int i = 0; i < bound.trust_runs; ++i) {
    Result<json> r = bound.runner->Invoke(inv);
    if (e.cancel) return r.ok() ? Result<json>(Status(StatusCode::kCancelled, "cancelled")) : r;
    if (!r.ok()) {
      last_error = r.status();
      ++failed;
    } else {
      Result<std::string> d = core::JsonDigest(*r);
      if (!d.ok()) return d.status();
      auto& slot = seen[*d];
      slot.first += 1;
      slot.second = std::move(r).value();
      if (slot.first >= bound.trust_agree) return slot.second;
    }
    int best = 0;
    for (const auto& [digest, v] : seen) best = std::max(best, v.first);
    if (best + (bound.trust_runs - i - 1) < bound.trust_agree) break;  // cannot reach k any more
  }
  if (seen.empty() && failed > 0) return last_error;
  int best = 0;
  for (const auto& [digest, v] : seen) best = std::max(best, v.first);
  return Status(StatusCode::kFailedPrecondition,
                "trust: " + std::to_string(best) + " run(s) agreed on one output; " + std::to_string(bound.trust_agree) +
                    " of " + std::to_string(bound.trust_runs) + " needed (" + std::to_string(failed) + " failed)");
}

// One run of the capability; what ended it is in the returned Finish (and
// `outcome`).
Outcome Engine::Impl::Attempt(store::JobRow& row, const Spec& spec, Execution& e, Finish& finish) {
  const domain::Capability& cap = *spec.cap;
  Result<BoundCapability> bound = host.Bind(cap);
  if (!bound.ok()) {
    finish = Failed(bound.status());
    return Outcome::kFailed;
  }
  {
    json extra = ParseOr(row.extra, json::object());
    extra["plugin"] = bound->plugin_id.empty() ? cap.plugin : bound->plugin_id;
    row.extra = extra.dump();
  }
  Result<Resolution> res = Resolve(cap, ParseOr(row.input, json::object()));
  if (!res.ok()) {
    finish = Failed(res.status().WithPrefix("the job's input no longer resolves"));
    return Outcome::kFailed;
  }
  const bool generator = cap.primitive == Primitive::kGenerator;
  // Interpreters and simulators that declare `writes` may return a
  // changeset too (an import, a study); only a generator must.
  const bool may_write = generator || (!cap.writes.empty() && (cap.primitive == Primitive::kInterpreter ||
                                                               cap.primitive == Primitive::kSimulator));
  if (generator) {
    // Lease the references the generator works on before it runs.
    for (const Pointer& p : res->targets) {
      Result<store::Lease> l = store.AcquireLease(p, "job:" + row.id, options.ref_lease_ms);
      if (!l.ok()) {
        finish = Failed(l.status());
        return l.status().code() == StatusCode::kAborted ? Conflict(row, spec, l.status(), false, finish)
                                                         : Outcome::kFailed;
      }
      std::lock_guard<std::mutex> g(mu);
      e.leased.push_back(p);
    }
    // What was read before the lease may have changed: read again under it.
    res = Resolve(cap, ParseOr(row.input, json::object()));
    if (!res.ok()) {
      finish = Failed(res.status().WithPrefix("the job's input no longer resolves"));
      return Outcome::kFailed;
    }
  }
  plugin::Invocation inv;
  inv.capability_id = cap.id;
  inv.capability_version = cap.version;
  inv.input = res->input;
  inv.resolved = res->resolved;
  inv.related = res->related;
  inv.artifacts = ArtifactPaths(res->input);
  inv.job_id = row.id;
  inv.attempt = static_cast<int>(row.attempts);
  inv.cancel = &e.cancel;
  Result<json> out = InvokeTrusted(*bound, inv, e);
  if (e.lost) return Outcome::kLost;
  if (e.cancel_requested) {
    finish = Failed(Status(StatusCode::kCancelled, "cancelled while running"), kEventCancelled, "cancelled");
    return Outcome::kCancelled;
  }
  if (e.timed_out || (!out.ok() && out.status().code() == StatusCode::kDeadlineExceeded)) {
    Status s = e.timed_out ? Status(StatusCode::kDeadlineExceeded,
                                    "the job ran longer than its timeout of " + std::to_string(spec.timeout_ms) +
                                        " ms and was stopped")
                           : out.status();
    finish = Failed(s, kEventTimedOut, "timed_out");
    return Outcome::kTimedOut;
  }
  if (!out.ok()) {
    if (out.status().code() == StatusCode::kUnavailable) {
      finish = Retry(row, out.status());
      return finish.state == "queued" ? Outcome::kRetry : Outcome::kFailed;
    }
    finish = Failed(out.status().WithPrefix("capability " + cap.id + " failed"));
    return Outcome::kFailed;
  }
  Result<std::shared_ptr<const plugin::OutputContract>> contract = ContractFor(cap, *bound);
  if (!contract.ok()) {
    finish = Failed(contract.status());
    return Outcome::kFailed;
  }
  if (Status s = (*contract)->Check(*out); !s.ok()) {
    finish = Failed(s);
    return Outcome::kFailed;
  }
  if (Status s = StoreAttachments(cap, *out); !s.ok()) {
    finish = Failed(s);
    return Outcome::kFailed;
  }
  std::vector<store::Change> changes;
  if (generator || (may_write && out->contains("changeset"))) {
    const json& cs = out->contains("changeset") ? out->at("changeset") : json::object();
    if (Status s = plugin::CheckChangesetWrites(cap.id, cs, cap.writes); !s.ok()) {
      finish = Failed(s);
      return Outcome::kFailed;
    }
    Result<std::vector<store::Change>> ch = ToChanges(cs, generator);
    if (!ch.ok()) {
      finish = Failed(ch.status());
      return Outcome::kFailed;
    }
    changes = std::move(ch).value();
  }
  Finish ok;
  ok.state = "succeeded";
  ok.event = kEventSucceeded;
  if (!generator) {
    // What an interpreter or simulator wrote is in the store (each
    // version's provenance names this job); the job keeps the counts, not
    // a second copy of a network.
    if (auto it = out->find("changeset"); it != out->end() && it->is_object()) {
      json counts = json::object();
      for (const char* section : {"creates", "patches", "deletes"}) {
        counts[section] = it->contains(section) && (*it)[section].is_array() ? (*it)[section].size() : 0;
      }
      *it = std::move(counts);
    }
  }
  ok.result = {{"output", *out}};
  ok.honour_cancel = true;
  ok.pins = res->pins;
  const bool deterministic = ParseOr(row.extra, json::object()).value("deterministic", cap.deterministic);
  if (deterministic) ok.cache_key = res->cache_key;
  ok.event_extra = {{"cache_hit", false}, {"changes", changes.size()}};
  json provenance = {{"job", row.id},
                     {"job_name", row.job},
                     {"capability", cap.id + "@" + cap.version},
                     {"input_digest", res->cache_key},
                     {"attempt", row.attempts}};
  std::vector<store::Reference> written;
  Result<Guard> g = CommitAs(e, row, changes, ok, provenance, &written);
  if (!g.ok()) {
    if (g.status().code() == StatusCode::kAborted) return Conflict(row, spec, g.status(), false, finish);
    if (g.status().code() == StatusCode::kUnavailable) {
      finish = Retry(row, g.status());
      return finish.state == "queued" ? Outcome::kRetry : Outcome::kFailed;
    }
    finish = Failed(g.status().WithPrefix("the changeset of capability " + cap.id + " was not committed"));
    return Outcome::kFailed;
  }
  switch (*g) {
    case Guard::kOk:
      return Outcome::kSucceeded;
    case Guard::kLost:
      e.lost = true;
      return Outcome::kLost;
    case Guard::kCancelRequested:
      finish = Failed(Status(StatusCode::kCancelled, "cancelled while running; its output was discarded"),
                      kEventCancelled, "cancelled");
      return Outcome::kCancelled;
    case Guard::kInputChanged:
      return Conflict(row, spec, AbortedError("an input changed while the job ran"), true, finish);
  }
  return Outcome::kFailed;
}

// The job's conflict policy applied to conflict `s`.
Outcome Engine::Impl::Conflict(const store::JobRow& row, const Spec& spec, const Status& s, bool input_changed, Finish& finish) {
  Status conflict(StatusCode::kAborted, "conflict: " + s.message());
  switch (spec.policy) {
    case ConflictPolicy::kFail:
      finish = Failed(conflict);
      return Outcome::kFailed;
    case ConflictPolicy::kRestartOnWrite:
      if (input_changed) return Outcome::kRestart;
      [[fallthrough]];  // another's lease: wait for it like retry, then run on what it wrote
    case ConflictPolicy::kRetry:
      finish = Retry(row, conflict);
      return finish.state == "queued" ? Outcome::kRetry : Outcome::kFailed;
  }
  return Outcome::kFailed;
}

// Runs claimed job `row` to its end; answers the next job claimed in its
// end transaction, if any.
std::optional<store::JobRow> Engine::Impl::Execute(store::JobRow row) {
  Result<Spec> spec = FindSpec(row.job);
  std::shared_ptr<Execution> e = Register(row, spec.ok() ? spec->timeout_ms : 0);
  Finish finish;
  Outcome o = Outcome::kRestart;
  if (!spec.ok()) {
    finish = Failed(spec.status().WithPrefix("the job is no longer declared"));
    o = Outcome::kFailed;
  } else if (row.cancel_requested) {
    finish = Failed(Status(StatusCode::kCancelled, "cancelled"), kEventCancelled, "cancelled");
    o = Outcome::kCancelled;
  } else if (row.attempts > row.max_attempts) {
    json last = ParseOr(row.result, json::object());
    std::string why = last.contains("error") ? last["error"].value("message", "") : "its worker stopped answering";
    finish = Failed(Status(StatusCode::kAborted, "gave up after " + std::to_string(row.max_attempts) +
                                                     " attempt(s); the last: " + why));
    o = Outcome::kFailed;
  }
  for (int restarts = 0; o == Outcome::kRestart; ++restarts) {
    if (restarts > options.max_restarts) {
      finish = Failed(AbortedError("conflict: an input kept changing while the job ran (" +
                                   std::to_string(options.max_restarts) + " restarts)"));
      o = Outcome::kFailed;
      break;
    }
    o = Attempt(row, *spec, *e, finish);
  }
  if (o != Outcome::kSucceeded && o != Outcome::kLost) End(*e, row, finish);
  ReleaseLeases(*e);
  Unregister(row.id);
  NotifyDone();
  return std::move(e->next);
}

Result<bool> Engine::Impl::RunOne(const std::string& worker) {
  std::int64_t now = store.Now();
  BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> row,
                        queue.ClaimJob(worker, labels_text, now, now + options.job_lease_ms * 1000));
  if (!row) return false;
  for (std::optional<store::JobRow> next = Execute(std::move(*row)); next;) next = Execute(std::move(*next));
  return true;
}

// The pending job.started event of a job that is still running. Skipped
// this tick when the worker is committing the job's end (which then
// carries the event itself).
void Engine::Impl::EmitStarted(Execution& e) {
  std::unique_lock<std::mutex> l(e.started_mu, std::try_to_lock);
  if (!l.owns_lock() || !e.started_pending || e.lost) return;
  store::WriteContext ctx;
  ctx.actor = "jobs";
  ctx.correlation_id = e.correlation_id;
  Result<std::uint64_t> r = store.AppendEvent(kChannel, kEventStarted, "job:" + e.job_id, e.started_payload, ctx);
  if (r.ok()) e.started_pending = false;
}

// Heartbeats, timeouts and cancellation of the running jobs of this engine.
void Engine::Impl::Monitor() {
  const auto tick = std::chrono::milliseconds(std::clamp<std::int64_t>(options.heartbeat_ms / 2, 5, 50));
  std::unique_lock<std::mutex> l(mu);
  // Runs until stopped and no job of this engine is still running (they
  // need their heartbeats to the end).
  while (!(stopping && active.empty())) {
    stop_cv.wait_for(l, tick);
    std::vector<std::shared_ptr<Execution>> running;
    for (auto& [id, e] : active) running.push_back(e);
    l.unlock();
    std::int64_t now = store.Now();
    for (const std::shared_ptr<Execution>& e : running) {
      if (e->lost) continue;  // taken over or abandoned: its leases must lapse
      if (now - e->claimed_us >= options.started_event_delay_ms * 1000) EmitStarted(*e);
      if (now >= e->deadline_us && !e->timed_out) {
        e->timed_out = true;
        e->cancel = true;
      }
      if (now < e->next_heartbeat_us) continue;
      e->next_heartbeat_us = now + options.heartbeat_ms * 1000;
      Result<bool> held = queue.RenewJobLease(e->job_id, e->worker, now + options.job_lease_ms * 1000);
      if (held.ok() && !*held) {
        e->lost = true;
        e->cancel = true;
        continue;
      }
      Result<std::optional<store::JobRow>> row = queue.GetJob(e->job_id);
      if (row.ok() && *row && (*row)->cancel_requested) {
        e->cancel_requested = true;
        e->cancel = true;
      }
      std::vector<Pointer> leased;
      {
        std::lock_guard<std::mutex> g(mu);
        leased = e->leased;
      }
      for (const Pointer& p : leased) (void)store.RenewLease(p, "job:" + e->job_id, options.ref_lease_ms);
    }
    l.lock();
  }
}

// Claims job `id` that this engine queued, by id: the claim ClaimJob
// makes, without its search of the queue (one primary-key read inside
// the writer transaction; the search sorted the whole queue there before
// the store's 03575f9, docs/PERFORMANCE.md "Jobs"). SQLite only: on
// PostgreSQL ClaimJob does not take the store's writer lock and this
// would. Nothing when another worker (of any process) has taken the job,
// or it is not due or not for our labels.
Result<std::optional<store::JobRow>> Engine::Impl::ClaimById(const std::string& id, const std::string& worker) {
  std::optional<store::JobRow> claimed;
  store::WriteContext ctx;
  ctx.actor = "jobs";
  BVER_RETURN_IF_ERROR(store
                           .Apply({}, ctx,
                                  [&](store::Txn& t, const store::Store::TxnHelpers& h) -> bver::Status {
                                    BVER_ASSIGN_OR_RETURN(claimed, ClaimIn(t, id, worker, h.now_us()));
                                    return bver::Status::Ok();
                                  })
                           .status());
  return claimed;
}

void Engine::Impl::WorkerLoop(const std::string& name) {
  while (true) {
    std::string next;
    {
      std::lock_guard<std::mutex> l(mu);
      if (stopping) return;
      if (claim_local && !local.empty()) {
        next = std::move(local.front());
        local.pop_front();
      }
    }
    if (!next.empty()) {
      Result<std::optional<store::JobRow>> row = ClaimById(next, name);
      if (!row.ok() || !*row) continue;
      // A job claimed with the end of the previous one runs even when
      // stopping: it is ours already.
      for (std::optional<store::JobRow> more = Execute(std::move(**row)); more;) more = Execute(std::move(*more));
      continue;
    }
    Result<bool> ran = RunOne(name);
    if (ran.ok() && *ran) continue;
    std::unique_lock<std::mutex> l(mu);
    work_cv.wait_for(l, std::chrono::milliseconds(options.idle_poll_ms),
                     [&] { return stopping || (claim_local && !local.empty()); });
  }
}

}  // namespace bver::jobs
