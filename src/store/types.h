// Value types of the versioned reference store, shared by the Store
// interface, its backends and their callers.
//
// Bodies are JSON held by shared_ptr<const json>: immutable once built, so a
// Reference can be handed to any number of threads without copying the body.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/pointer.h"

namespace bver::store {

using JsonPtr = std::shared_ptr<const nlohmann::json>;

// kMigrated: a version written by `migrate apply` (the body reshaped for a
// new manifest, or the reference moved to a renamed kind).
enum class ChangeType { kCreated, kPatched, kReplaced, kDeleted, kMigrated };
const char* ChangeTypeName(ChangeType c);  // "created", ...

// A reference at one version.
struct Reference {
  std::string ns;
  std::string repo;
  std::string id;
  std::string kind;  // empty: no kind
  std::uint64_t version = 0;
  bool deleted = false;
  std::int64_t created_at_us = 0;  // when version 1 was committed (UTC, microseconds)
  std::int64_t updated_at_us = 0;  // when this version was committed
  JsonPtr body;                    // empty object for a tombstone
  JsonPtr provenance;              // who made this version (job, capability@version, input digest); may be null

  // bver://ns/repo/id~version
  Pointer pointer() const { return Pointer(ns, repo, id, version); }
};

// One entry of a reference's history.
struct VersionInfo {
  std::uint64_t version = 0;
  ChangeType change = ChangeType::kCreated;
  std::int64_t committed_at_us = 0;
  std::string actor;
  std::string correlation_id;
  std::uint64_t event_offset = 0;
  JsonPtr provenance;
};

// Who is writing and under which conditions.
struct WriteContext {
  // Principal, e.g. "key:ab12" or "cli". Plugins write as "plugin:<id>";
  // a namespace whose owner is a plugin accepts writes only from it.
  std::string actor;
  std::string correlation_id;  // carried into the event and the ledger
  std::string causation_id;
  // Optimistic concurrency: the mutation applies only if the head is at this version.
  std::optional<std::uint64_t> expected_version;
  // Same key + same request: the original result, nothing new written.
  // Same key + different request: Aborted (conflict).
  std::string idempotency_key;
  // The holder of a lease on the reference, if the writer holds one. A
  // reference leased by someone else rejects the write.
  std::string lease_holder;
  JsonPtr provenance;
  // Create only: the caller has already checked the body with the store's
  // own validator for its repo and kind (domain::Repo/Kind::validator: the
  // operation table does, so a create's body is checked once), and the
  // store does not check it again. A replace or a patch result is always
  // checked here.
  bool body_checked = false;
};

enum class PatchFormat { kMergePatch, kJsonPatch };

enum class FilterOp { kEq, kNe, kLt, kLe, kGt, kGe, kExists, kNotExists };

struct Filter {
  AttributePath path;
  FilterOp op = FilterOp::kEq;
  JsonPtr value;  // unused by kExists / kNotExists
};

struct ListQuery {
  std::string repo;  // "repo" or "ns/repo"
  std::string kind;  // empty: any kind
  std::vector<Filter> filters;
  std::string cursor;  // opaque, from a previous page
  std::size_t limit = 100;
  bool include_deleted = false;
};

struct ListPage {
  std::vector<Reference> items;
  std::string next_cursor;  // empty at the end
};

// An event as read back from the log: the canonical envelope (BVER.md §6)
// with the offset the log assigned.
struct Event {
  std::uint64_t offset = 0;
  JsonPtr envelope;
};

struct Lease {
  Pointer target;  // the reference (no version, no path)
  std::string holder;
  std::int64_t acquired_at_us = 0;
  std::int64_t expires_at_us = 0;
};

struct LedgerVerification {
  bool ok = true;
  std::uint64_t entries = 0;
  std::uint64_t first_broken = 0;  // sequence number of the first bad link when !ok
  std::string problem;
};

}  // namespace bver::store
