// The migration planner: compares two manifests and classifies each change.
//
//   additive     something new; existing records and callers are unaffected
//   compatible   something changed, but every existing record stays valid
//   destructive  existing records may become invalid or lose data; each such
//                change names the records it would touch (repo, kind, and a
//                filter on attribute paths) so a later `migrate apply` can
//                count, sweep or transform them
//
// Pure functions over JSON; no store access (applying plans is later work).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bver::domain {

enum class ChangeClass { kAdditive, kCompatible, kDestructive };
const char* ChangeClassName(ChangeClass c);

struct Touches {
  std::string repo;   // "ns/repo"
  std::string kind;   // empty: every kind
  std::string where;  // e.g. "status in [\"retired\"]", "meta.owner exists", "all"
};

struct Change {
  ChangeClass cls = ChangeClass::kAdditive;
  std::string subject;  // "sites/site", "sites/site#power.substation", "sites/site: status"
  std::string what;     // "enum value removed"
  std::string detail;   // human sentence
  std::vector<Touches> touches;  // destructive changes only
  // Where: the repo ("ns/repo"; empty for a change of no repo, such as a
  // job), the kind (empty: the repo's base schema) and the attribute path
  // in the body (dotted, "[*]" for array items; empty: the whole body).
  std::string repo;
  std::string kind;
  std::string path;
  // Stored bodies must be rewritten (a default filled, a field or kind
  // renamed, a transform, anything destructive): the store cannot adopt
  // the new manifest without `migrate apply`.
  bool rewrites = false;
  // The figment ("id@version") the changed field comes from, when it comes
  // from one the repo or kind uses: one figment change shows up as a change
  // to every repo using it, each marked with it.
  std::string figment;
};

struct MigrationPlan {
  std::string from_version;
  std::string to_version;
  std::vector<Change> changes;

  int Count(ChangeClass c) const;
  bool HasDestructive() const { return Count(ChangeClass::kDestructive) > 0; }
  bool Rewrites() const;
};

// Both arguments are manifests as written by ToManifest(). A changed
// figment is listed once (what changed, who uses it) and its effect on each
// user is listed under that repo, marked with the figment. Renames are
// declared in the new manifest (`x-bver-renamed-from: OLD` on a field's
// schema, `renamed_from: OLD` on a kind) and planned as renames, never as a
// drop and an add; the new manifest's transforms (`migrations:`) whose
// `from` is the old platform version are listed as changes too.
MigrationPlan PlanMigration(const nlohmann::json& old_manifest, const nlohmann::json& new_manifest);

nlohmann::json MigrationPlanToJson(const MigrationPlan& plan);

// The renames a new manifest declares, as the planner and src/migrate both
// read them: old name -> new name. A rename holds when the old name is gone
// from the new side and the new name is new.
//   FieldRenames: between two `properties` objects (x-bver-renamed-from);
//   KindRenames:  between two repo entries of manifests (renamed_from).
std::map<std::string, std::string> FieldRenames(const nlohmann::json& old_properties,
                                                const nlohmann::json& new_properties);
std::map<std::string, std::string> KindRenames(const nlohmann::json& old_repo, const nlohmann::json& new_repo);

}  // namespace bver::domain
