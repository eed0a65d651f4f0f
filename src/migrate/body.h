// What a migration does to one stored body (internal to src/migrate):
// kind renames, field renames, dropped fields, defaults, declared
// transforms, then the new schema's check -- and which destructive changes
// of the plan the reference is touched by.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bver/status.h"
#include "src/domain/migration.h"
#include "src/domain/platform.h"

namespace bver::migrate::internal {

struct Outcome {
  bool changed = false;       // the body or the kind differs: a new version
  std::string kind;           // the kind after the migration
  nlohmann::json body;        // the body after the migration
  std::vector<int> touched;   // indexes of the plan's changes that touch it; -1: invalid, no change names it
  std::vector<std::string> losses;  // what it loses, one sentence each
  std::string failure;        // a transform failed here (blocks the migration)
  std::vector<Violation> invalid;  // still invalid under the new schema (blocks)
};

class Migrator {
 public:
  // `platform` is the compiled new manifest `new_manifest`.
  Migrator(const nlohmann::json& old_manifest, const nlohmann::json& new_manifest,
           const domain::Platform& platform, const domain::MigrationPlan& plan);

  // The repos whose references are examined: those of the old manifest the
  // new one still has ("ns/repo", in manifest order).
  const std::vector<std::string>& repos() const { return repos_; }
  // Repos the new manifest dropped: their references stay in the database,
  // unreachable (docs/migrations.md).
  const std::vector<std::string>& dropped_repos() const { return dropped_; }

  // With `yes`, values the new schema refuses are removed where that makes
  // the body valid (the data loss the sweep listed).
  Outcome Run(const std::string& repo, const std::string& kind, const nlohmann::json& body, bool yes) const;

 private:
  // Pass 1 (!settle): field renames. Pass 2 (settle, after the
  // transforms): removed fields dropped, defaults filled.
  void Reshape(nlohmann::json& body, const nlohmann::json& old_schema, const nlohmann::json& new_schema,
               const std::string& repo, const std::string& kind, const std::string& path, bool settle,
               Outcome& out) const;
  int FindChange(const std::string& what, const std::string& repo, const std::string& kind,
                 const std::string& path) const;
  int MatchViolation(const std::string& repo, const std::string& kind, const Violation& v) const;
  const nlohmann::json* OldSchema(const std::string& repo, const std::string& kind) const;
  const nlohmann::json* NewSchema(const std::string& repo, const std::string& kind) const;

  const domain::Platform& platform_;
  const domain::MigrationPlan& plan_;
  std::map<std::string, nlohmann::json> old_repos_, new_repos_;  // "ns/repo" -> manifest entry
  std::map<std::string, std::map<std::string, std::string>> kind_renames_;  // repo -> old -> new
  std::vector<nlohmann::json> transforms_;  // those of the new manifest whose `from` is the old version
  std::vector<std::string> repos_, dropped_;
};

// Runs a transform's steps on `body` (RFC 6902 operations, split, map).
Status RunSteps(nlohmann::json& body, const nlohmann::json& steps);

}  // namespace bver::migrate::internal
