// The versioned reference store (BVER.md §2, §4).
//
// Every mutation is one transaction that writes the new head, the full
// snapshot of the version, the RFC 6902 diff from the previous version, an
// outbox event in the canonical envelope with a gap-free offset, and a ledger
// entry chained by SHA-256 to the one before: all of them or none.
//
// A Store validates bodies against the compiled platform (repo schema plus
// the kind's extension) before anything is written, and reports every
// violation with its attribute path.
//
// Thread safety: a Store may be used from any number of threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/pointer.h"
#include "bver/status.h"
#include "src/domain/platform.h"
#include "src/store/backend.h"
#include "src/store/types.h"

namespace bver::store {

// Microseconds since the Unix epoch, UTC. Injectable for tests.
using Clock = std::function<std::int64_t()>;
std::int64_t SystemClockMicros();

// One entry of a changeset (Store::Apply): what a Generator returns, once
// the runtime has checked it.
struct Change {
  // kMigrate (migrate apply, src/migrate/): `target` gets `body` and kind
  // `kind` (a renamed kind's new name, or its kind as it is) as a version
  // of change type `migrated`, stamped with the migration in
  // ctx.provenance; the one write a store waiting for a migration takes.
  enum class Op { kCreate, kPatch, kReplace, kDelete, kMigrate };
  Op op = Op::kCreate;
  // kCreate: the repo ("repo" or "ns/repo"), kind and id (empty: a new
  // UUIDv7). kMigrate: the kind.
  std::string repo;
  std::string kind;
  std::string id;
  // kCreate of a reference that exists (and is not deleted): nothing is
  // written and the entry answers the current head. Lets a rerun of a
  // deterministic generator be a no-op.
  bool skip_if_exists = false;
  // kPatch, kReplace, kDelete, kMigrate: the reference (unpinned, no path).
  Pointer target;
  PatchFormat format = PatchFormat::kMergePatch;  // kPatch
  JsonPtr body;  // kCreate, kReplace, kMigrate: the body; kPatch: the patch document
  // kMigrate: the caller has checked `body` with the store's own validator
  // for the repo and kind (domain::Repo::BodyValidator), so the store does
  // not check it again.
  bool body_checked = false;
  // kMigrate: the head version `body` was computed from; a head that moved
  // since (a writer that does not know of the migration) fails the change
  // with Aborted instead of being overwritten.
  std::uint64_t base_version = 0;
};

class Store {
 public:
  struct Options {
    std::string manifest_fingerprint;  // stamped on every event
    Clock clock = SystemClockMicros;
    // The policy revision of the runtime's profile (src/server/profile.h),
    // stamped on every event as "policy_revision" when not empty.
    std::string policy_revision = "";
  };

  // Compiles every body schema of `platform` once. Fails when one does not
  // compile (the domain compiler has already checked them, so this means a
  // platform built by hand).
  static Result<std::unique_ptr<Store>> Open(std::shared_ptr<const domain::Platform> platform,
                                             std::unique_ptr<Backend> backend, Options options);
  ~Store();

  const domain::Platform& platform() const;
  // Options::policy_revision: what the job engine and the ingest gate stamp
  // on the results and receipts they write.
  const std::string& policy_revision() const;
  Backend& backend();

  // Creates a reference. `repo` is "repo" or "ns/repo"; `id` empty: a new
  // UUIDv7. Errors: NotFound (no such repo/kind), InvalidArgument (body or id
  // invalid; every violation listed), AlreadyExists (id taken), Aborted
  // (idempotency key reused for another request).
  Result<Reference> Create(const std::string& repo, const std::string& kind,
                           const nlohmann::json& body, const WriteContext& ctx,
                           const std::string& id = "");

  // The reference at the pointer's version (latest when unpinned); the
  // path is ignored. NotFound when absent; a deleted reference is returned
  // with deleted=true only when pinned to its tombstone version, NotFound
  // (naming the deletion) otherwise.
  Result<Reference> Get(const Pointer& pointer);
  // The value at the pointer's attribute path (the whole body without one).
  Result<JsonPtr> Resolve(const Pointer& pointer);
  Result<bool> Exists(const Pointer& pointer);

  // Mutations of an existing reference (the pointer must be unpinned and
  // without a path). Aborted: expected version mismatch (naming both), a
  // lease held by another holder (naming it), idempotency conflict.
  Result<Reference> Patch(const Pointer& pointer, PatchFormat format, const nlohmann::json& patch,
                          const WriteContext& ctx);
  Result<Reference> Replace(const Pointer& pointer, const nlohmann::json& body,
                            const WriteContext& ctx);
  // Writes a tombstone version; history stays readable.
  Result<Reference> Delete(const Pointer& pointer, const WriteContext& ctx);

  Result<ListPage> List(const ListQuery& query);
  Result<std::vector<VersionInfo>> History(const Pointer& pointer);
  // The version that was current at `at_us`.
  Result<Reference> GetAsOf(const Pointer& pointer, std::int64_t at_us);
  // RFC 6902 patch from version `from` to version `to` (any two versions).
  Result<nlohmann::json> Diff(const Pointer& pointer, std::uint64_t from, std::uint64_t to);

  // Every reference (head) that holds a pointer to `target`, with the path.
  struct Backlink {
    Pointer from;
    std::string path;
  };
  Result<std::vector<Backlink>> ReferencesTo(const Pointer& target);
  // The link revisions of `target`, by referencing repo ("ns/repo"): each
  // counts the committed writes (create, patch, replace, delete) of
  // references of that repo whose old or new body points at `target`. Two
  // equal readings mean no reference of that repo pointing at `target`
  // changed in between, so a cache key can name "everything that points
  // here" without reading it (docs/jobs.md).
  Result<std::map<std::string, std::uint64_t>> LinkRevisions(const Pointer& target);
  // Pointers held by the reference's latest (or pinned) version.
  Result<std::vector<Backlink>> ReferencesFrom(const Pointer& source);

  // Leases (write locks). Acquire fails with Aborted naming the holder when
  // another holder has an unexpired lease; the same holder re-acquiring
  // renews. ttl_ms must be positive.
  Result<Lease> AcquireLease(const Pointer& target, const std::string& holder, std::int64_t ttl_ms);
  Result<Lease> RenewLease(const Pointer& target, const std::string& holder, std::int64_t ttl_ms);
  Status ReleaseLease(const Pointer& target, const std::string& holder);

  Result<std::vector<Event>> ReadEvents(std::uint64_t from_offset, std::size_t limit);
  Result<LedgerVerification> VerifyLedger();

  // What `also` (Apply) may write besides references, in the same transaction.
  class TxnHelpers {
   public:
    // An event of `event_type` on `channel` ("control", "audit") about
    // `subject` (a job handle, say), in the canonical envelope; with `audit`,
    // also a ledger entry whose body digest is the payload's. Its offset.
    Result<std::uint64_t> AppendEvent(Txn& t, const std::string& channel, const std::string& event_type,
                                      const std::string& subject, const nlohmann::json& payload,
                                      const WriteContext& ctx, bool audit = false) const;
    std::int64_t now_us() const { return now_us_; }

   private:
    friend class Store;
    TxnHelpers(Store& store, std::int64_t now_us);
    Store& store_;
    std::int64_t now_us_;
  };

  // Applies every change in ONE transaction, then runs `also` in it (to
  // record, say, the job that produced the changeset): all or nothing.
  // Every entry is checked before the transaction, and all problems are
  // listed (InvalidArgument, paths "changes[i]..."); in the transaction an
  // entry fails as its single mutation would (NotFound, AlreadyExists,
  // Aborted for a lease held by another), prefixed "changes[i]". Each entry
  // gets its own version, event and ledger entry, stamped with ctx (actor,
  // correlation id, provenance, lease holder). ctx.idempotency_key and
  // ctx.expected_version are refused. The references as written, in order.
  Result<std::vector<Reference>> Apply(const std::vector<Change>& changes, const WriteContext& ctx,
                                       const std::function<Status(Txn&, const TxnHelpers&)>& also = {});

  // An event that changes no reference (a job or workflow transition), in
  // its own transaction; see TxnHelpers::AppendEvent. Its offset.
  Result<std::uint64_t> AppendEvent(const std::string& channel, const std::string& event_type,
                                    const std::string& subject, const nlohmann::json& payload,
                                    const WriteContext& ctx, bool audit = false);

  // The store's clock (microseconds since the epoch, UTC).
  std::int64_t Now() const;

  // A store whose data was written under another manifest than the one it
  // was opened with waits for `migrate apply`: while `reason` is set, every
  // write but a kMigrate change is refused with FailedPrecondition
  // carrying it (reads are answered as stored). Empty: writes allowed.
  // Thread-safe.
  void SetMigrationPending(std::string reason);
  std::string MigrationPending() const;
  // While a migration is pending, a refused write first calls `recheck`
  // (at most once a second): it answers the reason still pending, or ""
  // when the store has been migrated meanwhile (by another process), which
  // lets the write through. src/migrate's CheckOnOpen sets it.
  void SetMigrationRecheck(std::function<std::string()> recheck);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::store
