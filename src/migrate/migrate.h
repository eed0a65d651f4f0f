// Domain migrations (docs/migrations.md): bringing stored references from
// the manifest the store was last migrated to, to the one bver.yaml
// compiles to now.
//
//   CheckOnOpen  what a runtime does with its store when it opens it: a new
//                store records the manifest; a change that rewrites nothing
//                (a field or kind added, a bound loosened) is adopted at
//                once; anything else leaves the store waiting for
//                `migrate apply` (Store::SetMigrationPending)
//   Plan         the classified plan (domain::PlanMigration) plus a dry run
//                over every stored head: how many references each change
//                touches and their pointers, the transforms that fail, the
//                references left invalid; nothing written
//   Apply        the dry run again, then the writes: one version of change
//                type `migrated` per reference whose body or kind changes,
//                in batches, each batch one transaction with the cursor
//                record, so a killed apply resumes where it stopped and no
//                reference is migrated twice; the platform record switches
//                in the last transaction
//
// The store's platform record and the cursor are RecordTable records of
// kind "platform" (keys "current" and "migration").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bver/status.h"
#include "src/store/store.h"

namespace bver::migrate {

// The manifest the store was last migrated to.
struct StoredPlatform {
  std::string fingerprint;
  nlohmann::json manifest;
  std::int64_t recorded_at_us = 0;
};
Result<std::optional<StoredPlatform>> ReadStoredPlatform(store::RecordTable& records);

// The first 12 hex digits of a "sha256:..." manifest fingerprint, as
// messages and `bver migrate` show it.
std::string ShortFingerprint(const std::string& fingerprint);

struct OpenCheck {
  enum class State { kCurrent, kAdopted, kPending };
  State state = State::kCurrent;
  std::string reason;  // kPending: why, and the command to run
};

// `manifest` and `fingerprint`: what `store` was opened with. kPending
// also sets the store's migration-pending reason; the others clear it.
Result<OpenCheck> CheckOnOpen(store::Store& store, const nlohmann::json& manifest, const std::string& fingerprint,
                              const std::string& actor = "runtime");

struct PlanOptions {
  // Pointers listed per change (0-1000); with `change` >= 0, only that
  // change's pointers from `offset` (a page of a long sweep).
  std::size_t limit = 20;
  int change = -1;
  std::size_t offset = 0;
};

// The plan as JSON (docs/migrations.md): from, to, state, the classified
// changes each with its sweep, totals, transform failures, invalid
// references, and whether apply needs --yes or is blocked.
Result<nlohmann::json> Plan(store::Store& store, const nlohmann::json& manifest, const std::string& fingerprint,
                            const PlanOptions& options = {});

struct Progress {
  std::uint64_t done = 0;   // references examined
  std::uint64_t total = 0;  // references to examine
  std::uint64_t migrated = 0;
  double rate = 0;          // references examined per second
  double eta_seconds = 0;
  std::string repo;
};

struct ApplyOptions {
  // Accept the data loss the sweep lists (fields and kinds dropped, values
  // the new schema refuses removed); without it a plan that loses data is
  // refused, naming what.
  bool yes = false;
  // Snapshot the store first (SQLite: VACUUM INTO a file under
  // `backup_dir`); a backend without snapshots refuses a destructive apply
  // unless `backup` is false.
  bool backup = true;
  std::string backup_dir;
  std::size_t batch = 500;
  std::string actor = "cli";
  std::string correlation_id;
  // Called after each batch (and once at the start and the end).
  std::function<void(const Progress&)> progress;
  // Checks the plugins installed in the store against the new platform;
  // an error refuses the migration with its reason.
  std::function<Status()> check_plugins;
  // Test hook: called after each committed batch; an error stops the apply
  // there (as a kill would, but in-process).
  std::function<Status(std::uint64_t batches)> after_batch;
};

// The result: from, to, counts (examined, migrated, unchanged, batches),
// the backup file, seconds, and resumed (whether an earlier apply had
// stopped halfway). Clears the store's migration-pending reason.
Result<nlohmann::json> Apply(store::Store& store, const nlohmann::json& manifest, const std::string& fingerprint,
                             const ApplyOptions& options);

}  // namespace bver::migrate
