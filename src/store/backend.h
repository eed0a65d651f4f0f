// The storage seam: what a backend (SQLite, PostgreSQL) must provide so that
// the Store (store.h) can keep every promise of BVER.md §4 on it.
//
// The Store holds all the logic (validation, patches, diffs, envelopes, the
// ledger chain); a backend only stores rows, inside transactions. So both
// backends run the same code for every rule, and the conformance suite
// (conformance_test.cc) checks what is left: atomicity, durability,
// isolation, ordering.
//
// Thread safety: a Backend is shared by all threads of the process; each
// method may be called concurrently. A Txn is used by one thread, only for
// the duration of the WriteTxn callback.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bver/status.h"
#include "src/store/types.h"

namespace bver::store {

// The stored form of one version (also the head row, for the latest).
struct VersionRow {
  std::string ns, repo, id, kind;
  std::uint64_t version = 0;
  ChangeType change = ChangeType::kCreated;
  bool deleted = false;
  std::int64_t created_at_us = 0;
  std::int64_t committed_at_us = 0;
  std::string body;        // JSON text
  std::string diff;        // RFC 6902 JSON Patch text from version-1 ("[]" for v1: see store.cc)
  std::string provenance;  // JSON text or empty
  std::string actor;
  std::string correlation_id;
  std::uint64_t event_offset = 0;
};

struct LedgerRow {
  std::uint64_t seq = 0;
  std::string entry;      // canonical JSON of the entry, including prev_hash
  std::string hash;       // hex SHA-256 of `entry`
};

// One pointer held in a body: `from` (ns/repo/id) holds at `path` a pointer
// to `to` (ns/repo/id, unpinned form).
struct EdgeRow {
  std::string from;
  std::string path;
  std::string to;
};

// An API key as stored (src/auth/api_keys.h): never the secret itself, only
// a salted hash of it, so a copy of the database grants nothing.
struct ApiKeyRow {
  std::string id;           // the public part of the key, unique
  std::string name;         // for people; may be empty
  std::string scopes;       // space-separated
  std::string secret_hash;  // "<scheme>:<salt>:<hash>", e.g. "sha256:<hex>:<hex>"
  std::int64_t created_at_us = 0;
  std::int64_t revoked_at_us = 0;  // 0 while the key is active
};

// A small JSON document of the runtime's own, by kind and key: the plugin
// registry ("plugin"), the action cache ("action_cache"), and what later
// features need to keep beside the references without a schema change.
struct RecordRow {
  std::string kind;
  std::string key;
  std::string value;  // JSON text
  std::int64_t updated_at_us = 0;
};

// One job of the queue (src/jobs/). The backend stores it and hands it to
// workers (ClaimJob); what the fields mean is the job engine's business.
struct JobRow {
  std::string id;             // UUIDv7: ids sort by submission time
  std::string job;            // the job's name in bver.yaml
  std::string capability;     // capability id
  std::string state;          // queued, running, succeeded, failed, cancelled, timed_out
  std::string input;          // JSON text
  std::string labels;         // JSON object: worker labels it needs ("" or "{}": none)
  std::string result;         // JSON text: the output or the error, once ended
  std::string worker;         // who holds it while running
  std::string correlation_id;
  std::string actor;
  std::string extra;          // JSON text: the engine's own fields (cache key, options)
  std::int64_t attempts = 0;  // runs started so far
  std::int64_t max_attempts = 1;
  std::int64_t created_at_us = 0;
  std::int64_t updated_at_us = 0;
  std::int64_t run_after_us = 0;           // not claimed before (backoff)
  std::int64_t lease_expires_at_us = 0;    // a running job past this is claimable again
  bool cancel_requested = false;
};

struct IdempotencyRow {
  std::string key;
  std::string request_digest;
  std::string ns, repo, id;
  std::uint64_t version = 0;
};

// Operations available inside one write transaction.
class Txn {
 public:
  virtual ~Txn() = default;

  virtual Result<std::optional<VersionRow>> GetHead(const std::string& ns, const std::string& repo,
                                                    const std::string& id) = 0;
  // Writes the version row and makes it the head.
  virtual Status PutVersion(const VersionRow& row) = 0;

  // The next event offset: 1 + the largest so far (1 for an empty log).
  virtual Result<std::uint64_t> NextEventOffset() = 0;
  virtual Status AppendEvent(std::uint64_t offset, const std::string& event_id,
                             const std::string& envelope) = 0;

  // The last ledger entry, if any.
  virtual Result<std::optional<LedgerRow>> LastLedger() = 0;
  virtual Status AppendLedger(const LedgerRow& row) = 0;

  // Replaces the outgoing edges of reference `from` (ns/repo/id).
  virtual Status ReplaceEdges(const std::string& from, const std::vector<EdgeRow>& edges) = 0;
  // Adds `by` to the link revision of (`target`, `from_repo`): how many
  // writes of references of repo `from_repo` ("ns/repo") that point (or
  // pointed) at `target` (ns/repo/id) have been committed.
  virtual Status BumpLinkRev(const std::string& target, const std::string& from_repo, std::uint64_t by) = 0;

  virtual Result<std::optional<IdempotencyRow>> GetIdempotency(const std::string& key) = 0;
  virtual Status PutIdempotency(const IdempotencyRow& row) = 0;

  virtual Result<std::optional<Lease>> GetLease(const std::string& target) = 0;
  virtual Status PutLease(const std::string& target, const Lease& lease) = 0;
  virtual Status DeleteLease(const std::string& target) = 0;

  // Artifacts known to the store (content lives in the artifact folder).
  virtual Result<bool> HasArtifact(const std::string& digest) = 0;
  virtual Status PutArtifact(const std::string& digest, std::uint64_t size) = 0;

  // API keys. PutApiKey inserts a new key: AlreadyExists when the id is
  // taken. RevokeApiKey sets revoked_at_us on an active key and returns
  // true; false when there is no such key; a key already revoked keeps its
  // first revocation time (and true is returned).
  virtual Status PutApiKey(const ApiKeyRow& row) = 0;
  virtual Result<bool> RevokeApiKey(const std::string& id, std::int64_t at_us) = 0;

  // Records (RecordRow): PutRecord inserts or replaces; DeleteRecord
  // answers whether there was one.
  virtual Result<std::optional<RecordRow>> GetRecord(const std::string& kind, const std::string& key) = 0;
  virtual Status PutRecord(const RecordRow& row) = 0;
  virtual Result<bool> DeleteRecord(const std::string& kind, const std::string& key) = 0;

  // Jobs: PutJob inserts or replaces the row with that id.
  virtual Result<std::optional<JobRow>> GetJob(const std::string& id) = 0;
  virtual Status PutJob(const JobRow& row) = 0;
};

// True when a backend can evaluate `f` in its query (see RefReads::ListHeads).
bool IsPushableFilter(const Filter& f);

// ---------------------------------------------------------------------------
// The parts of a backend. A module takes the part it needs, never the whole
// Backend: the Store reads references through RefReads, followers of the log
// (subscriptions, the NATS relay, triggers, orchestrators) hold an EventLog,
// the job engine a JobQueue, auth a KeyTable, and the plugin registry,
// consumers, runs and cursors a RecordTable. Writes that must be atomic with
// a reference or an event go through the Store (Store::Apply) instead.
// ---------------------------------------------------------------------------

// Versioned references: heads, versions, history, lists, edges and link
// revisions, write leases, the artifact index. Each read is consistent on
// its own; no transaction spans calls.
class RefReads {
 public:
  virtual ~RefReads() = default;

  virtual Result<std::optional<VersionRow>> GetHead(const std::string& ns, const std::string& repo,
                                                    const std::string& id) = 0;
  virtual Result<std::optional<VersionRow>> GetVersion(const std::string& ns,
                                                       const std::string& repo,
                                                       const std::string& id,
                                                       std::uint64_t version) = 0;
  // The newest version committed at or before `at_us`.
  virtual Result<std::optional<VersionRow>> GetAsOf(const std::string& ns, const std::string& repo,
                                                    const std::string& id, std::int64_t at_us) = 0;
  virtual Result<std::vector<VersionRow>> History(const std::string& ns, const std::string& repo,
                                                  const std::string& id) = 0;
  // Heads of a repo in id order, starting after `after_id`; at most `limit`,
  // keeping only those that pass every filter in `filters`. The Store passes
  // only filters a backend can evaluate in its query (see IsPushableFilter):
  // a scalar value (number, string, boolean, null) or exists/absent, on a
  // path whose keys hold no '"' or '\\'. Semantics, which every backend
  // must match exactly: kExists/kNotExists test presence; kEq/kNe need the
  // value present (kNe: present and not equal; numbers compare by value, so
  // 1 == 1.0); kLt..kGe hold only when both sides are numbers or both strings
  // (strings by bytes).
  virtual Result<std::vector<VersionRow>> ListHeads(const std::string& ns, const std::string& repo,
                                                    const std::string& kind,
                                                    const std::string& after_id,
                                                    std::size_t limit, bool include_deleted,
                                                    const std::vector<Filter>& filters) = 0;
  // Edges pointing at `to` (ns/repo/id).
  virtual Result<std::vector<EdgeRow>> EdgesTo(const std::string& to) = 0;
  // The link revisions of `target` (ns/repo/id) by referencing repo ("ns/repo").
  virtual Result<std::map<std::string, std::uint64_t>> LinkRevs(const std::string& target) = 0;
  virtual Result<std::optional<Lease>> GetLease(const std::string& target) = 0;
  virtual Result<bool> HasArtifact(const std::string& digest) = 0;
};

// The event log and the ledger, append-only, read from an offset; and the
// commit signal a follower of the log sleeps on (store/follower.h wraps it:
// followers use that, not these calls).
class EventLog {
 public:
  virtual ~EventLog() = default;

  virtual Result<std::vector<Event>> ReadEvents(std::uint64_t from_offset, std::size_t limit) = 0;
  // The offset of the newest event (0 for an empty log).
  virtual Result<std::uint64_t> LastEventOffset() = 0;
  virtual Result<std::vector<LedgerRow>> ReadLedger(std::uint64_t from_seq, std::size_t limit) = 0;

  // Commits made through this object so far (this process only).
  std::uint64_t commit_seq() const;
  // Blocks until commit_seq() > seen or `timeout` has passed, and answers
  // commit_seq(). Writers in other processes (a `bver worker` on the same
  // database) do not wake it: followers still re-read after each timeout.
  std::uint64_t WaitForCommit(std::uint64_t seen, std::chrono::milliseconds timeout) const;
  // Wakes every waiter at once (a follower stopping), without a commit.
  void WakeWaiters() const;

 protected:
  // Called by the backend after each durable commit.
  void NoteCommit();

 private:
  mutable std::mutex commit_mu_;
  mutable std::condition_variable commit_cv_;
  std::uint64_t commit_seq_ = 0;        // guarded by commit_mu_
  mutable std::uint64_t wake_gen_ = 0;  // guarded by commit_mu_
};

// The job queue (src/jobs/ owns what the fields mean).
class JobQueue {
 public:
  virtual ~JobQueue() = default;

  // Jobs in id (submission) order after `after_id`, in `state` ("" any).
  virtual Result<std::optional<JobRow>> GetJob(const std::string& id) = 0;
  virtual Result<std::vector<JobRow>> ListJobs(const std::string& state, const std::string& after_id,
                                               std::size_t limit) = 0;
  // Takes the next job `worker` may run, in its own short transaction: the
  // oldest queued job whose run_after_us has come, or a running job whose
  // lease expired (its worker died), whose labels `worker_labels` (a JSON
  // object) all carry with equal values. The row is returned as updated:
  // state running, worker set, attempts + 1, lease until `lease_until_us`.
  // Concurrent claimers (threads, processes, machines) never get the same
  // job; on PostgreSQL they do not wait on each other (SKIP LOCKED).
  virtual Result<std::optional<JobRow>> ClaimJob(const std::string& worker, const std::string& worker_labels,
                                                 std::int64_t now_us, std::int64_t lease_until_us) = 0;
  // Extends the lease of a running job `worker` holds; false when it no
  // longer holds it (the job ended, was cancelled or was taken over).
  virtual Result<bool> RenewJobLease(const std::string& id, const std::string& worker,
                                     std::int64_t lease_until_us) = 0;
};

// API keys (src/auth/api_keys.h). Each write is its own durable transaction.
class KeyTable {
 public:
  virtual ~KeyTable() = default;

  // One key by id (revoked ones too); every key in id order.
  virtual Result<std::optional<ApiKeyRow>> GetApiKey(const std::string& id) = 0;
  virtual Result<std::vector<ApiKeyRow>> ListApiKeys() = 0;
  // Inserts a new key: AlreadyExists when the id is taken.
  virtual Status AddApiKey(const ApiKeyRow& row) = 0;
  // Revokes an active key (true); false when there is no such key; a key
  // already revoked keeps its first revocation time (and true is answered).
  virtual Result<bool> RevokeApiKey(const std::string& id, std::int64_t at_us) = 0;
};

// Records (RecordRow) with compare-and-set. Each write is its own durable
// transaction; the stored value text is the version a writer compares.
class RecordTable {
 public:
  virtual ~RecordTable() = default;

  virtual Result<std::optional<RecordRow>> GetRecord(const std::string& kind, const std::string& key) = 0;
  // Records of one kind in key order, after `after_key`, at most `limit`.
  virtual Result<std::vector<RecordRow>> ListRecords(const std::string& kind, const std::string& after_key,
                                                     std::size_t limit) = 0;
  // Writes `row` when the stored value of (kind, key) is still `expected`
  // (std::nullopt: when there is no record); false, writing nothing, when
  // another writer changed it first.
  virtual Result<bool> CompareAndSetRecord(const RecordRow& row, const std::optional<std::string>& expected) = 0;
  // Inserts or replaces `row`, whatever is stored.
  virtual Status PutRecord(const RecordRow& row) = 0;
  // Removes a record; whether there was one.
  virtual Result<bool> DeleteRecord(const std::string& kind, const std::string& key) = 0;

  // What Update's `change` answers: the new value, or std::nullopt to
  // leave the record as it is.
  using Change = std::function<Result<std::optional<std::string>>(const std::optional<std::string>& current)>;
  // Read-modify-write of one record: reads it, lets `change` compute the new
  // value from the current one (std::nullopt when absent), and writes it
  // with compare-and-set, running `change` again on the fresh value when
  // another writer got there first (a bounded number of times, then
  // Aborted). An error from `change` is returned as is, nothing written.
  // Answers the value stored (or kept) in the end.
  Result<std::optional<std::string>> UpdateRecord(const std::string& kind, const std::string& key,
                                                  std::int64_t now_us, const Change& change);
};

// The whole backend: every part, and the one write transaction the Store
// builds each mutation on (references, versions, events and ledger entries
// of one write commit together or not at all).
//
// Thread safety: shared by all threads of the process; each method may be
// called concurrently. A Txn is used by one thread, only for the duration
// of the WriteTxn callback.
class Backend : public RefReads, public EventLog, public JobQueue, public KeyTable, public RecordTable {
 public:
  ~Backend() override = default;

  // "sqlite" or "postgresql".
  virtual std::string Name() const = 0;

  // Writes a consistent copy of the whole store into the new file `path`
  // while writers go on (SQLite: VACUUM INTO; PostgreSQL: pg_dump's custom
  // format, for pg_restore). Unimplemented where the backend has no such copy.
  virtual Status SnapshotTo(const std::string& path);

  // Runs `fn` in one write transaction and commits it durably before
  // returning. If `fn` returns an error, nothing it wrote is kept and that
  // error is returned. Backends may run several callers' callbacks in one
  // physical transaction (group commit), each isolated by a savepoint.
  // Every successful commit advances commit_seq() and wakes WaitForCommit.
  Status WriteTxn(const std::function<Status(Txn&)>& fn);

  // KeyTable and RecordTable writes, each one WriteTxn.
  Status AddApiKey(const ApiKeyRow& row) final;
  Result<bool> RevokeApiKey(const std::string& id, std::int64_t at_us) final;
  Result<bool> CompareAndSetRecord(const RecordRow& row, const std::optional<std::string>& expected) final;
  Status PutRecord(const RecordRow& row) final;
  Result<bool> DeleteRecord(const std::string& kind, const std::string& key) final;

 protected:
  // The backend's transaction (see WriteTxn).
  virtual Status DoWriteTxn(const std::function<Status(Txn&)>& fn) = 0;
};

// Whether a job needing `required` labels may run on a worker with
// `offered` labels (both JSON objects as text; "" is {}): every required
// label present with an equal value.
bool LabelsMatch(const std::string& required, const std::string& offered);

}  // namespace bver::store
