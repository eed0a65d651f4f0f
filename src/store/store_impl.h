// The store's insides, shared by store.cc (the write path: plans,
// checks, one transaction per batch) and store_read.cc (gets, lists,
// history, graph, leases, events, the ledger walk). Internal to
// src/store: include only from those two files.
#pragma once

#include "src/store/store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "src/core/canonical_json.h"
#include "src/core/clock.h"
#include "src/core/digest.h"
#include "src/core/json_path.h"
#include "src/core/uuid.h"
#include "src/patch/patch.h"
#include "src/schema/validator.h"

namespace bver::store {
namespace internal {

using nlohmann::json;

inline constexpr int kEnvelopeVersion = 1;

JsonPtr Share(json v);

std::string RefKey(const std::string& ns, const std::string& repo, const std::string& id);

Result<json> ParseStored(const std::string& text, const char* what);

// Collects the pointers held at `pattern` (a path pattern with [*] and .*)
// inside `v`, with the concrete path of each.
void CollectAt(const json& v, const std::vector<std::string>& parts, std::size_t i,
               const AttributePath& at, std::vector<std::pair<std::string, std::string>>& out);

// Splits a compiler path pattern ("terminals[*].connects_to") into parts.
std::vector<std::string> SplitPattern(const std::string& pattern);

bool Compare(const json& a, FilterOp op, const json& b);

}  // namespace internal

using namespace internal;  // NOLINT: the two files of one class

// Parsed bodies by "ns/repo/id~version". Versions are never rewritten, so an
// entry can never go stale, whoever else writes the store; the cache only
// saves re-parsing. Sharded to keep reader threads off one lock; a full shard
// is simply emptied (cheap, and hot entries come straight back).
class BodyCache {
 public:
  JsonPtr Find(const std::string& key) {
    Shard& s = ShardFor(key);
    std::lock_guard<std::mutex> l(s.mu);
    auto it = s.map.find(key);
    return it == s.map.end() ? nullptr : it->second;
  }
  void Put(const std::string& key, JsonPtr body) {
    Shard& s = ShardFor(key);
    std::lock_guard<std::mutex> l(s.mu);
    if (s.map.size() >= kPerShard) s.map.clear();
    s.map.emplace(key, std::move(body));
  }

 private:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kPerShard = 8192;
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, JsonPtr> map;  // GUARDED_BY(mu)
  };
  Shard& ShardFor(const std::string& key) { return shards_[std::hash<std::string>{}(key) % kShards]; }
  Shard shards_[kShards];
};

struct Store::Impl {
  std::shared_ptr<const domain::Platform> platform;
  mutable BodyCache bodies;
  std::unique_ptr<Backend> backend;
  Options options;
  // Compiled body schemas: key "ns/repo" or "ns/repo#kind".
  std::map<std::string, std::shared_ptr<const schema::Validator>> validators;
  // SetMigrationPending: `pending` is the fast path, the reason under the mutex.
  // Mutable: a refused write may find the migration done by another
  // process (recheck, at most once a second) and clear them.
  mutable std::atomic<bool> pending{false};
  mutable std::mutex pending_mu;
  mutable std::string pending_reason;               // GUARDED_BY(pending_mu)
  std::function<std::string()> recheck;             // GUARDED_BY(pending_mu)
  mutable std::int64_t last_recheck_us = 0;         // GUARDED_BY(pending_mu)
  Status RefuseWhilePending() const;

  Result<const domain::Repo*> FindRepo(const std::string& name) const;

  Result<const domain::Repo*> RepoOf(const Pointer& p) const;

  // Validates a body for repo (and kind); every violation listed.
  Status Validate(const domain::Repo& repo, const std::string& kind, const json& body) const;

  Status CheckArtifacts(Txn& t, const domain::Repo& repo, const json& body) const;

  std::vector<EdgeRow> EdgesOf(const domain::Repo& repo, const std::string& from, const json& body) const;

  Result<Reference> ToReference(const VersionRow& row) const;

  // The parsed body of a stored version, from the cache when possible.
  Result<JsonPtr> BodyOf(const VersionRow& row) const;

  // Everything about a new version that depends only on the version it
  // replaces: computed before the write transaction when possible, so that
  // the backend's writer (one thread on SQLite) does only the writing.
  struct Prepared {
    std::uint64_t base_version = 0;  // 0: no head (create)
    std::string kind;
    JsonPtr body;
    std::string body_text;
    json diff;
    std::string diff_text;
    std::string body_digest;
    std::vector<EdgeRow> edges;
    bool edges_changed = true;  // false: the stored edges already match
    // Every reference the old or the new body points at: each gets its link
    // revision for this repo bumped (a change seen from the target's side).
    std::vector<std::string> touched;
  };

  // (target, referencing repo) -> writes to add, gathered over a changeset.
  using LinkBumps = std::map<std::pair<std::string, std::string>, std::uint64_t>;

  Result<Prepared> Prepare(const domain::Repo& repo, const std::string& target, const std::string& kind_in,
                           ChangeType change, const std::optional<VersionRow>& head,
                           const std::function<Result<json>(const json* current)>& compute,
                           bool body_checked = false) const;

  // One mutation, fully described before any transaction: what the public
  // mutations and Apply hand to WriteOne. `compute` turns the current head
  // body (null for a create) into the new body; `request` is what an
  // idempotency key is checked against.
  struct Plan {
    const domain::Repo* repo = nullptr;
    std::string id;
    std::string kind;
    ChangeType change = ChangeType::kCreated;
    json request;
    std::function<Result<json>(const json* current)> compute;
    bool skip_if_exists = false;  // Apply: a create of an existing live reference is a no-op
    bool body_checked = false;    // Create: WriteContext::body_checked
    std::uint64_t base_version = 0;  // Migrate: the head must still be at this version
  };

  // A namespace owned by a plugin is written only by that plugin.
  Status CheckOwner(const domain::Repo& repo, const WriteContext& ctx) const;

  // Optimistic preparation against the head as read now, outside the
  // transaction. A create's body does not depend on any head, so its
  // validation errors are final.
  Result<std::optional<Prepared>> PrepareEarly(const Plan& m) const;

  struct Written {
    VersionRow row;
    JsonPtr body;
    bool skipped = false;  // skip_if_exists found the reference
  };

  // Checks and writes one mutation inside `t`: head state, expected version,
  // lease, the body (prepared again when the head moved since `early`),
  // artifacts; then the version, its event, edges and ledger entry.
  // `bumps`: where a changeset gathers its link revision bumps (written once
  // per target at the end); null: written here.
  Result<Written> WriteOne(Txn& t, const Plan& m, const std::optional<Prepared>& early, const WriteContext& ctx,
                           std::int64_t now, LinkBumps* bumps = nullptr) const;

  // The next link of the ledger chain.
  static Status AppendLedgerEntry(Txn& t, const std::string& ts, const std::string& act, const std::string& subject,
                                  const WriteContext& ctx, const std::string& event_id, std::uint64_t offset,
                                  const std::string& body_digest);

  // The shared path of every single mutation: one transaction.
  Result<Reference> Mutate(const Plan& m, const WriteContext& ctx);

  // Plans of the public mutations (the checks that need no transaction).
  Result<Plan> PlanCreate(const std::string& repo_name, const std::string& kind, const json& body,
                          const std::string& id_in) const;

  Result<Plan> PlanChange(const Pointer& p, ChangeType change, json request,
                          std::function<Result<json>(const json*)> compute) const;

  Result<Plan> PlanPatch(const Pointer& p, PatchFormat format, const json& patch_doc) const;

  Result<Plan> PlanReplace(const Pointer& p, const json& body) const;

  Result<Plan> PlanDelete(const Pointer& p) const;

  Result<VersionRow> Load(const Pointer& p);
};

}  // namespace bver::store
