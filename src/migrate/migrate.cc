#include "src/migrate/migrate.h"

#include <chrono>
#include <filesystem>
#include <map>

#include "src/core/clock.h"
#include "src/domain/migration.h"
#include "src/migrate/body.h"

namespace bver::migrate {
namespace {

using nlohmann::json;
using internal::Migrator;
using internal::Outcome;

constexpr char kRecordKind[] = "platform";
constexpr char kCurrentKey[] = "current";
constexpr char kCursorKey[] = "migration";
constexpr std::size_t kScanPage = 1000;


std::string Describe(const json& manifest, const std::string& fingerprint) {
  std::string version = manifest.value("/platform/version"_json_pointer, "");
  return "platform " + manifest.value("/platform/id"_json_pointer, std::string("?")) + " " + version + " (manifest " +
         ShortFingerprint(fingerprint) + ")";
}

Result<std::optional<json>> ReadRecord(store::RecordTable& records, const char* key) {
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, records.GetRecord(kRecordKind, key));
  if (!row) return std::optional<json>();
  json value = json::parse(row->value, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    return DataLossError(std::string("the store's ") + kRecordKind + "/" + key + " record is not JSON");
  }
  return std::optional<json>(std::move(value));
}

std::string PlatformRecord(const json& manifest, const std::string& fingerprint, std::int64_t now_us) {
  return json{{"fingerprint", fingerprint}, {"manifest", manifest}, {"recorded_at", core::FormatTimestamp(now_us)},
              {"recorded_at_us", now_us}}
      .dump();
}

std::string PendingReason(const json& old_manifest, const std::string& old_fp, const json& manifest,
                          const std::string& fp, const std::optional<json>& cursor) {
  if (cursor && cursor->value("to", "") != fp) {
    return "a migration of this store to manifest " + ShortFingerprint(cursor->value("to", "")) +
           " stopped halfway, and bver.yaml now compiles to " + ShortFingerprint(fp) +
           ": restore the bver.yaml of that migration and run `bver migrate apply` to finish it first";
  }
  if (cursor) {
    return "a migration of this store to " + Describe(manifest, fp) +
           " stopped halfway: run `bver migrate apply` to finish it (it resumes where it stopped)";
  }
  return "this store holds data of " + Describe(old_manifest, old_fp) + " and bver.yaml declares " +
         Describe(manifest, fp) +
         ", whose changes rewrite stored references: run `bver migrate plan` to see them and `bver migrate apply` "
         "to apply them (reads are answered meanwhile; writes wait)";
}

// The pointers (as text) of a head row.
std::string PointerOf(const std::string& repo, const std::string& id) { return "bver://" + repo + "/" + id; }

std::pair<std::string, std::string> SplitRepo(const std::string& qualified) {
  std::size_t slash = qualified.find('/');
  return {qualified.substr(0, slash), qualified.substr(slash + 1)};
}

// Whether the head was written by a migration to `fp` already.
bool MigratedTo(const store::VersionRow& row, const std::string& fp) {
  if (row.change != store::ChangeType::kMigrated || row.provenance.empty()) return false;
  json prov = json::parse(row.provenance, nullptr, false);
  return !prov.is_discarded() && prov.value("/migration/to"_json_pointer, std::string()) == fp;
}

// Everything the dry run found. Counts, pointers and losses are as a
// plain apply sees the references; `rewritten`, `unchanged` and
// `yes_invalid` as apply --yes does (values the new schema refuses removed).
struct DryRun {
  std::uint64_t total = 0, rewritten = 0, unchanged = 0, already = 0;
  std::map<int, std::uint64_t> counts;              // change index (-1: invalid, no change names it) -> references
  std::map<int, std::vector<std::string>> pointers;  // the page of each
  std::map<int, std::string> example_loss;
  std::vector<json> failures;     // transform failures
  std::vector<json> yes_invalid;  // invalid even with --yes
  std::uint64_t failures_count = 0, invalid_count = 0, yes_invalid_count = 0, yes_needed = 0;
  std::map<std::string, std::uint64_t> dropped_repo_counts;
};

json ViolationsJson(const std::vector<Violation>& violations) {
  json vs = json::array();
  for (const Violation& v : violations) vs.push_back(json{{"path", v.path}, {"rule", v.rule}, {"message", v.message}});
  return vs;
}

// `resuming`: heads an earlier apply of this migration already wrote are
// skipped (only then: a head migrated to `fp` in an earlier migration, and
// changed since, must be examined like any other).
Result<DryRun> Scan(store::Store& store, const Migrator& m, const std::string& fp, bool resuming,
                    const PlanOptions& page) {
  DryRun d;
  store::Backend& b = store.backend();
  auto note = [&](int change, const std::string& pointer) {
    std::uint64_t n = d.counts[change]++;
    bool wanted = page.change < 0 ? n < page.limit : change == page.change && n >= page.offset && n < page.offset + page.limit;
    if (wanted) d.pointers[change].push_back(pointer);
  };
  // Every head of `repo`, a page at a time.
  auto each = [&](const std::string& repo, const std::function<Status(const store::VersionRow&)>& fn) -> Status {
    auto [ns, name] = SplitRepo(repo);
    for (std::string after;;) {
      BVER_ASSIGN_OR_RETURN(std::vector<store::VersionRow> rows, b.ListHeads(ns, name, "", after, kScanPage, false, {}));
      for (const store::VersionRow& row : rows) BVER_RETURN_IF_ERROR(fn(row));
      if (rows.size() < kScanPage) return Status::Ok();
      after = rows.back().id;
    }
  };
  for (const std::string& repo : m.repos()) {
    BVER_RETURN_IF_ERROR(each(repo, [&](const store::VersionRow& row) -> Status {
      ++d.total;
      if (resuming && MigratedTo(row, fp)) {
        ++d.already;
        return Status::Ok();
      }
      json body = json::parse(row.body, nullptr, false);
      if (body.is_discarded()) return DataLossError("the stored body of " + PointerOf(repo, row.id) + " is not JSON");
      std::string pointer = PointerOf(repo, row.id);
      Outcome o = m.Run(repo, row.kind, body, false);
      if (!o.failure.empty()) {
        if (d.failures.size() < 20) d.failures.push_back(json{{"pointer", pointer}, {"problem", o.failure}});
        ++d.failures_count;
        return Status::Ok();
      }
      for (int c : o.touched) note(c, pointer);
      for (std::size_t i = 0; i < o.touched.size() && i < o.losses.size(); ++i) {
        d.example_loss.emplace(o.touched[i], o.losses[i]);
      }
      if (!o.losses.empty()) ++d.yes_needed;
      if (!o.invalid.empty()) {
        ++d.invalid_count;
        o = m.Run(repo, row.kind, body, true);  // what --yes would make of it
        if (!o.invalid.empty()) {
          if (d.yes_invalid.size() < 20) d.yes_invalid.push_back(json{{"pointer", pointer}, {"violations", ViolationsJson(o.invalid)}});
          ++d.yes_invalid_count;
          return Status::Ok();
        }
      }
      ++(o.changed ? d.rewritten : d.unchanged);
      return Status::Ok();
    }));
  }
  for (const std::string& repo : m.dropped_repos()) {
    std::uint64_t& n = d.dropped_repo_counts[repo];
    BVER_RETURN_IF_ERROR(each(repo, [&n](const store::VersionRow&) {
      ++n;
      return Status::Ok();
    }));
  }
  return d;
}

json ToJson(const domain::MigrationPlan& plan, const DryRun& no_run, const PlanOptions& page) {
  json out = domain::MigrationPlanToJson(plan);
  for (std::size_t i = 0; i < plan.changes.size(); ++i) {
    json& c = out["changes"][i];
    int idx = static_cast<int>(i);
    std::uint64_t count = 0;
    if (auto it = no_run.counts.find(idx); it != no_run.counts.end()) count = it->second;
    if (plan.changes[i].what == "repo removed") {
      auto it = no_run.dropped_repo_counts.find(plan.changes[i].repo);
      if (it != no_run.dropped_repo_counts.end()) count = it->second;
    }
    if (plan.changes[i].cls == domain::ChangeClass::kDestructive) {
      json sweep = {{"count", count}, {"pointers", json::array()}};
      if (auto it = no_run.pointers.find(idx); it != no_run.pointers.end()) sweep["pointers"] = it->second;
      if (auto it = no_run.example_loss.find(idx); it != no_run.example_loss.end()) sweep["loses"] = it->second;
      sweep["more"] = page.change < 0 ? count > sweep["pointers"].size() : count > page.offset + page.limit;
      c["sweep"] = sweep;
    }
  }
  if (auto it = no_run.counts.find(-1); it != no_run.counts.end()) {
    json sweep = {{"count", it->second}, {"pointers", no_run.pointers.count(-1) ? json(no_run.pointers.at(-1)) : json::array()}};
    if (no_run.example_loss.count(-1)) sweep["loses"] = no_run.example_loss.at(-1);
    out["invalid_under_new_schema"] = sweep;
  }
  out["references"] = {{"examined", no_run.total},
                       {"rewritten", no_run.rewritten},
                       {"unchanged", no_run.unchanged},
                       {"already_migrated", no_run.already},
                       {"losing_data", no_run.yes_needed}};
  out["transform_failures"] = {{"count", no_run.failures_count}, {"first", no_run.failures}};
  out["invalid_even_with_yes"] = {{"count", no_run.yes_invalid_count}, {"first", no_run.yes_invalid}};
  std::uint64_t dropped = 0;
  for (const auto& [repo, n] : no_run.dropped_repo_counts) dropped += n;
  bool needs_yes = no_run.yes_needed > 0 || dropped > 0;
  json blocked = json::array();
  if (no_run.failures_count > 0) {
    blocked.push_back(std::to_string(no_run.failures_count) + " reference(s) fail a declared transform (first: " +
                      no_run.failures[0].value("pointer", "") + ": " + no_run.failures[0].value("problem", "") +
                      "); fix the transform under migrations:");
  }
  if (no_run.yes_invalid_count > 0 && no_run.failures_count == 0) {
    blocked.push_back(std::to_string(no_run.yes_invalid_count) +
                      " reference(s) would stay invalid under the new schema even with --yes (first: " +
                      no_run.yes_invalid[0].value("pointer", "") +
                      "); declare a transform under migrations: that makes them valid, or a default");
  }
  out["needs_yes"] = needs_yes;
  out["blocked_by"] = blocked;
  out["can_apply"] = blocked.empty();
  return out;
}

// The store's platform record (as stored, for compare-and-set, and parsed)
// and the cursor of a migration halfway, if any.
struct Loaded {
  json old_manifest;
  std::string old_fp;
  std::int64_t recorded_at_us = 0;
  std::string text;
  std::optional<json> cursor;
};

Result<std::optional<Loaded>> Load(store::RecordTable& records) {
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, records.GetRecord(kRecordKind, kCurrentKey));
  if (!row) return std::optional<Loaded>();
  json current = json::parse(row->value, nullptr, false);
  if (current.is_discarded() || !current.is_object()) {
    return DataLossError(std::string("the store's ") + kRecordKind + "/" + kCurrentKey + " record is not JSON");
  }
  Loaded l;
  l.old_manifest = current.value("manifest", json::object());
  l.old_fp = current.value("fingerprint", "");
  l.recorded_at_us = current.value("recorded_at_us", std::int64_t{0});
  l.text = std::move(row->value);
  BVER_ASSIGN_OR_RETURN(l.cursor, ReadRecord(records, kCursorKey));
  return std::optional<Loaded>(std::move(l));
}

Status CheckRuntimeApi(const json& old_manifest, const json& manifest) {
  int old_api = old_manifest.value("runtime_api", 0);
  int api = manifest.value("runtime_api", 0);
  if (old_api > api) {
    return FailedPreconditionError("this store was migrated by a newer BVER (runtime API " + std::to_string(old_api) +
                                   ", this build has " + std::to_string(api) +
                                   "): upgrade bver; an older build cannot read what a newer one wrote");
  }
  return Status::Ok();
}

json Current(const json& manifest, const std::string& fingerprint) {
  json at = {{"fingerprint", fingerprint}, {"version", manifest.value("/platform/version"_json_pointer, "")}};
  return json{{"state", "current"}, {"from", at}, {"to", at}, {"examined", 0}, {"migrated", 0}};
}

}  // namespace

std::string ShortFingerprint(const std::string& fingerprint) {
  std::string f = fingerprint.rfind("sha256:", 0) == 0 ? fingerprint.substr(7) : fingerprint;
  return f.substr(0, 12);
}

Result<std::optional<StoredPlatform>> ReadStoredPlatform(store::RecordTable& records) {
  BVER_ASSIGN_OR_RETURN(std::optional<Loaded> loaded, Load(records));
  if (!loaded) return std::optional<StoredPlatform>();
  return std::optional<StoredPlatform>(
      StoredPlatform{std::move(loaded->old_fp), std::move(loaded->old_manifest), loaded->recorded_at_us});
}

Result<OpenCheck> CheckOnOpen(store::Store& store, const json& manifest, const std::string& fingerprint,
                              const std::string& actor) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    BVER_ASSIGN_OR_RETURN(std::optional<Loaded> loaded, Load(store.backend()));
    OpenCheck check;
    if (!loaded) {
      // A new store (or one from before platform records): it holds what
      // bver.yaml declares now.
      store::RecordRow fresh{kRecordKind, kCurrentKey, PlatformRecord(manifest, fingerprint, store.Now()), store.Now()};
      BVER_ASSIGN_OR_RETURN(bool set, store.backend().CompareAndSetRecord(fresh, std::nullopt));
      if (!set) continue;
      check.state = OpenCheck::State::kAdopted;
      store.SetMigrationPending("");
      return check;
    }
    BVER_RETURN_IF_ERROR(CheckRuntimeApi(loaded->old_manifest, manifest));
    if (loaded->old_fp == fingerprint && !loaded->cursor) {
      store.SetMigrationPending("");
      return check;
    }
    domain::MigrationPlan plan = domain::PlanMigration(loaded->old_manifest, manifest);
    if (!loaded->cursor && !plan.Rewrites()) {
      // Nothing stored changes shape: adopt the manifest now, on the record.
      store::RecordRow next{kRecordKind, kCurrentKey, PlatformRecord(manifest, fingerprint, store.Now()), store.Now()};
      BVER_ASSIGN_OR_RETURN(bool set, store.backend().CompareAndSetRecord(next, loaded->text));
      if (!set) continue;
      store::WriteContext ctx;
      ctx.actor = actor;
      json payload = {{"from", loaded->old_fp}, {"to", fingerprint}, {"changes", plan.changes.size()}, {"rewritten", 0}};
      BVER_RETURN_IF_ERROR(store.AppendEvent("audit", "platform.adopted", "platform", payload, ctx, true).status());
      check.state = OpenCheck::State::kAdopted;
      store.SetMigrationPending("");
      return check;
    }
    check.state = OpenCheck::State::kPending;
    check.reason = PendingReason(loaded->old_manifest, loaded->old_fp, manifest, fingerprint, loaded->cursor);
    store.SetMigrationPending(check.reason);
    // A refused write asks again: `bver migrate apply` in another process
    // (beside a running `bver up`) may have finished since.
    const std::string waited_from = loaded->old_fp;
    const std::string reason = check.reason;
    store.SetMigrationRecheck([&store, fingerprint, waited_from, reason]() -> std::string {
      Result<std::optional<Loaded>> now = Load(store.backend());
      if (!now.ok() || !now->has_value()) return reason;
      const Loaded& l = **now;
      if (l.old_fp == fingerprint && !l.cursor) return "";
      if (l.old_fp != waited_from && !l.cursor) {
        return "the store was migrated by another process to manifest " + ShortFingerprint(l.old_fp) +
               ", not to this runtime's bver.yaml (" + ShortFingerprint(fingerprint) +
               "): restart this runtime with the bver.yaml the store was migrated to";
      }
      return reason;
    });
    return check;
  }
  return AbortedError("the store's platform record kept changing while it was read; try again");
}

Result<json> Plan(store::Store& store, const json& manifest, const std::string& fingerprint, const PlanOptions& options) {
  if (options.limit > 1000) return InvalidArgumentError("limit is at most 1000 pointers per change");
  BVER_ASSIGN_OR_RETURN(std::optional<Loaded> loaded, Load(store.backend()));
  json old_manifest = loaded ? loaded->old_manifest : manifest;
  std::string old_fp = loaded ? loaded->old_fp : fingerprint;
  if (loaded) BVER_RETURN_IF_ERROR(CheckRuntimeApi(loaded->old_manifest, manifest));
  if (loaded && loaded->cursor && loaded->cursor->value("to", "") != fingerprint) {
    return FailedPreconditionError(PendingReason(old_manifest, old_fp, manifest, fingerprint, loaded->cursor));
  }
  domain::MigrationPlan plan = domain::PlanMigration(old_manifest, manifest);
  Migrator m(old_manifest, manifest, store.platform(), plan);
  const bool resuming = loaded && loaded->cursor;
  BVER_ASSIGN_OR_RETURN(DryRun dry, Scan(store, m, fingerprint, resuming, options));
  json out = ToJson(plan, dry, options);
  out["from"] = {{"fingerprint", old_fp}, {"version", old_manifest.value("/platform/version"_json_pointer, "")}};
  out["to"] = {{"fingerprint", fingerprint}, {"version", manifest.value("/platform/version"_json_pointer, "")}};
  std::string state = "current";
  if (loaded && loaded->cursor) {
    state = "in_progress";
  } else if (old_fp != fingerprint) {
    state = plan.Rewrites() ? "needs_apply" : "adoptable";
  }
  out["state"] = state;
  return out;
}

Result<json> Apply(store::Store& store, const json& manifest, const std::string& fingerprint,
                   const ApplyOptions& options) {
  auto started = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  if (options.batch == 0 || options.batch > 10000) return InvalidArgumentError("batch is 1 to 10000 references");
  BVER_ASSIGN_OR_RETURN(std::optional<Loaded> loaded, Load(store.backend()));
  if (!loaded) {
    BVER_ASSIGN_OR_RETURN(OpenCheck c, CheckOnOpen(store, manifest, fingerprint, options.actor));
    (void)c;
    return Current(manifest, fingerprint);
  }
  BVER_RETURN_IF_ERROR(CheckRuntimeApi(loaded->old_manifest, manifest));
  if (loaded->old_fp == fingerprint && !loaded->cursor) {
    store.SetMigrationPending("");
    return Current(manifest, fingerprint);
  }
  if (loaded->cursor && loaded->cursor->value("to", "") != fingerprint) {
    return FailedPreconditionError(
        PendingReason(loaded->old_manifest, loaded->old_fp, manifest, fingerprint, loaded->cursor));
  }
  if (options.check_plugins) {
    if (Status s = options.check_plugins(); !s.ok()) {
      return Status(StatusCode::kFailedPrecondition,
                    "the migration is refused: a plugin installed in this store does not fit the new platform: " +
                        s.message(),
                    s.violations());
    }
  }
  const json& old_manifest = loaded->old_manifest;
  const std::string old_fp = loaded->old_fp;
  domain::MigrationPlan plan = domain::PlanMigration(old_manifest, manifest);
  Migrator m(old_manifest, manifest, store.platform(), plan);

  // The dry run: nothing is written unless every reference migrates.
  const bool resumed = loaded->cursor.has_value();
  BVER_ASSIGN_OR_RETURN(DryRun dry, Scan(store, m, fingerprint, resumed, PlanOptions{5, -1, 0}));
  if (dry.failures_count > 0) {
    json first = dry.failures[0];
    return FailedPreconditionError(std::to_string(dry.failures_count) +
                                   " reference(s) fail a declared transform; nothing was written. First: " +
                                   first.value("pointer", "") + ": " + first.value("problem", ""));
  }
  std::uint64_t dropped = 0;
  for (const auto& [repo, n] : dry.dropped_repo_counts) dropped += n;
  if (!options.yes && (dry.yes_needed > 0 || dry.invalid_count > 0 || dropped > 0)) {
    std::string what;
    for (const auto& [idx, n] : dry.counts) {
      std::string name = idx >= 0 ? plan.changes[idx].subject + " (" + plan.changes[idx].what + ")"
                                  : std::string("invalid under the new schema");
      what += (what.empty() ? "" : "; ") + name + ": " + std::to_string(n) + " reference(s)";
    }
    for (const auto& [repo, n] : dry.dropped_repo_counts) {
      if (n > 0) what += (what.empty() ? "" : "; ") + repo + " (repo removed): " + std::to_string(n) + " reference(s)";
    }
    return FailedPreconditionError("the migration loses data and needs confirmation (--yes): " + what +
                                   ". Nothing was written; `bver migrate plan` lists the references");
  }
  if (dry.yes_invalid_count > 0) {
    return FailedPreconditionError(std::to_string(dry.yes_invalid_count) +
                                   " reference(s) would stay invalid under the new schema even with --yes (first: " +
                                   dry.yes_invalid[0].value("pointer", "") +
                                   "); declare a transform under migrations: that makes them valid. Nothing was written");
  }

  json cursor = resumed ? *loaded->cursor
                        : json{{"from", old_fp}, {"to", fingerprint}, {"repo", ""}, {"after_id", ""},
                               {"migrated", 0}, {"batches", 0}, {"backup", ""},
                               {"started_at", core::FormatTimestamp(store.Now())}};
  std::string cursor_text = cursor.dump();
  if (!resumed) {
    // The snapshot first: a destructive migration without one is refused.
    if (options.backup) {
      std::string dir = options.backup_dir.empty() ? std::string(".bver/backups") : options.backup_dir;
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      std::string file = (std::filesystem::path(dir) / ("pre-migrate-" + ShortFingerprint(old_fp) + "-to-" + ShortFingerprint(fingerprint) +
                                                        "-" + std::to_string(store.Now()) +
                                                        (store.backend().Name() == "postgresql" ? ".pgdump" : ".db")))
                             .string();
      Status s = ec ? InvalidArgumentError("cannot create " + dir + ": " + ec.message())
                    : store.backend().SnapshotTo(file);
      if (s.ok()) {
        cursor["backup"] = file;
      } else if (s.code() != StatusCode::kUnimplemented || dry.yes_needed > 0 || dropped > 0) {
        return Status(s.code(), "no backup could be taken before the migration, so nothing was written: " +
                                    s.message() + (s.code() == StatusCode::kUnimplemented
                                                       ? "; back the database up yourself and pass --no-backup"
                                                       : ""));
      }
    }
    cursor_text = cursor.dump();
    BVER_ASSIGN_OR_RETURN(bool set, store.backend().CompareAndSetRecord(
                                        store::RecordRow{kRecordKind, kCursorKey, cursor_text, store.Now()}, std::nullopt));
    if (!set) return AbortedError("another `bver migrate apply` started on this store at the same time; let it finish");
  }
  std::string reason = PendingReason(old_manifest, old_fp, manifest, fingerprint, cursor);
  store.SetMigrationPending(reason);

  store::WriteContext ctx;
  ctx.actor = options.actor;
  ctx.correlation_id = options.correlation_id;
  auto provenance = std::make_shared<const json>(json{
      {"migration", {{"from", old_fp}, {"to", fingerprint},
                     {"from_version", old_manifest.value("/platform/version"_json_pointer, "")},
                     {"to_version", manifest.value("/platform/version"_json_pointer, "")}}}});
  ctx.provenance = provenance;

  Progress progress;
  progress.total = dry.total;
  std::uint64_t migrated = cursor.value("migrated", std::uint64_t{0});
  std::uint64_t batches = cursor.value("batches", std::uint64_t{0});
  std::uint64_t examined = 0, this_run = 0;
  auto report = [&](const std::string& repo) {
    if (!options.progress) return;
    progress.done = examined;
    progress.migrated = migrated;
    progress.repo = repo;
    double s = seconds();
    progress.rate = s > 0 ? static_cast<double>(examined) / s : 0;
    progress.eta_seconds = progress.rate > 0 ? static_cast<double>(progress.total - std::min(progress.total, examined)) / progress.rate : 0;
    options.progress(progress);
  };
  report("");

  // Writes `changes` with the cursor moved to (repo, after) in one
  // transaction; the cursor must still be what this apply last wrote.
  auto commit = [&](std::vector<store::Change> changes, const std::string& repo, const std::string& after,
                    std::uint64_t count) -> Status {
    json next = cursor;
    next["repo"] = repo;
    next["after_id"] = after;
    next["migrated"] = migrated + count;
    next["batches"] = batches + 1;
    std::string next_text = next.dump();
    std::string expected = cursor_text;
    BVER_RETURN_IF_ERROR(
        store.Apply(changes, ctx, [&](store::Txn& t, const store::Store::TxnHelpers&) -> Status {
               BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> now, t.GetRecord(kRecordKind, kCursorKey));
               if (!now || now->value != expected) {
                 return AbortedError("the migration cursor moved under this apply: another `bver migrate apply` "
                                     "is running on this store; let it finish");
               }
               return t.PutRecord(store::RecordRow{kRecordKind, kCursorKey, next_text, store.Now()});
             }).status());
    cursor = std::move(next);
    cursor_text = std::move(next_text);
    migrated += count;
    this_run += count;
    ++batches;
    if (options.after_batch) BVER_RETURN_IF_ERROR(options.after_batch(batches));
    return Status::Ok();
  };

  const std::string resume_repo = cursor.value("repo", "");
  bool reached = resume_repo.empty();
  for (const std::string& repo : m.repos()) {
    std::string after;
    if (!reached) {
      if (repo != resume_repo) continue;  // done before the stop
      reached = true;
      after = cursor.value("after_id", "");
    }
    auto [ns, name] = SplitRepo(repo);
    while (true) {
      BVER_ASSIGN_OR_RETURN(std::vector<store::VersionRow> rows,
                            store.backend().ListHeads(ns, name, "", after, options.batch, false, {}));
      if (rows.empty()) break;
      std::vector<store::Change> changes;
      for (const store::VersionRow& row : rows) {
        ++examined;
        if (resumed && MigratedTo(row, fingerprint)) continue;
        json body = json::parse(row.body, nullptr, false);
        if (body.is_discarded()) return DataLossError("the stored body of " + PointerOf(repo, row.id) + " is not JSON");
        Outcome o = m.Run(repo, row.kind, body, options.yes);
        if (!o.failure.empty()) return FailedPreconditionError(PointerOf(repo, row.id) + ": " + o.failure);
        if (!o.invalid.empty()) {
          return FailedPreconditionError(PointerOf(repo, row.id) + " changed since the dry run and is invalid under "
                                         "the new schema; run apply again");
        }
        if (!o.changed) continue;
        store::Change c;
        c.op = store::Change::Op::kMigrate;
        c.target = Pointer(ns, name, row.id);
        c.kind = o.kind;
        c.body = std::make_shared<const json>(std::move(o.body));
        c.body_checked = true;  // Migrator::Run checked it with the repo's validator
        c.base_version = row.version;
        changes.push_back(std::move(c));
      }
      after = rows.back().id;
      if (!changes.empty()) {
        std::uint64_t n = changes.size();
        BVER_RETURN_IF_ERROR(commit(std::move(changes), repo, after, n));
      }
      report(repo);
      if (rows.size() < options.batch) break;
    }
  }

  // The last transaction: the store now holds the new manifest.
  json payload = {{"from", old_fp}, {"to", fingerprint}, {"migrated", migrated}, {"batches", batches},
                  {"backup", cursor.value("backup", "")}};
  std::string record = PlatformRecord(manifest, fingerprint, store.Now());
  std::string expected = cursor_text;
  BVER_RETURN_IF_ERROR(store.Apply({}, ctx, [&](store::Txn& t, const store::Store::TxnHelpers& h) -> Status {
                            BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> now, t.GetRecord(kRecordKind, kCursorKey));
                            if (now && now->value != expected) {
                              return AbortedError("another `bver migrate apply` is running on this store; let it finish");
                            }
                            BVER_RETURN_IF_ERROR(t.PutRecord(store::RecordRow{kRecordKind, kCurrentKey, record, h.now_us()}));
                            BVER_RETURN_IF_ERROR(t.DeleteRecord(kRecordKind, kCursorKey).status());
                            return h.AppendEvent(t, "audit", "platform.migrated", "platform", payload, ctx, true).status();
                          }).status());
  store.SetMigrationPending("");
  report("");
  return json{{"state", "migrated"},
              {"from", {{"fingerprint", old_fp}, {"version", old_manifest.value("/platform/version"_json_pointer, "")}}},
              {"to", {{"fingerprint", fingerprint}, {"version", manifest.value("/platform/version"_json_pointer, "")}}},
              {"examined", examined},
              {"migrated", migrated},
              {"migrated_this_run", this_run},
              {"batches", batches},
              {"resumed", resumed},
              {"backup", cursor.value("backup", "")},
              {"seconds", seconds()}};
}

}  // namespace bver::migrate
