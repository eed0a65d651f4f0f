// The compiled platform: what bver.yaml declares, checked and resolved.
//
// Built once by Compile() (compiler.h) and immutable afterwards, so any
// number of threads may read it. Schemas are shared, read-only JSON values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::schema {
class Validator;
}

namespace bver::domain {

// A body's violations as a request names them: "name" -> "body.name",
// "" -> "body", "[0]" -> "body[0]".
std::vector<Violation> AtBody(std::vector<Violation> violations);

using JsonPtr = std::shared_ptr<const nlohmann::json>;

// The manifest and platform format this build writes and reads.
inline constexpr int kManifestFormatVersion = 1;
// The runtime API level: what plugins and manifests are checked against.
inline constexpr int kRuntimeApiLevel = 1;

// A body field holding a pointer to another reference. `path` is an
// attribute-path pattern where "[*]" stands for every array element and ".*"
// for every value of a free map: "site", "terminals[*].connects_to".
struct PointerField {
  std::string path;
  std::string target;  // "ns/repo", or "*" for any repo
};

struct Kind {
  std::string name;  // "power.substation"
  std::string description;
  // The kind's former name (`renamed_from:`): `migrate apply` moves the
  // references of that kind to this one instead of dropping a kind and
  // adding another.
  std::string renamed_from;
  // The figments the kind includes (`use:`), as "id@version".
  std::vector<std::string> figments;
  JsonPtr extension;         // as declared, with its figments merged in
  JsonPtr effective_schema;  // repo schema with the extension merged in
  // effective_schema compiled by Compile(): the one validator the store and
  // the operation table share for this kind's bodies.
  std::shared_ptr<const schema::Validator> validator;
};

struct Repo {
  std::string ns;
  std::string name;
  std::string description;
  std::string schema_version;  // semver of the body schema
  JsonPtr schema;              // effective base schema (pointer fields expanded)
  // `schema` compiled by Compile(), shared like Kind::validator.
  std::shared_ptr<const schema::Validator> validator;
  std::vector<Kind> kinds;
  bool kind_required = false;
  std::string read_scope;
  std::string write_scope;
  std::vector<PointerField> pointers;
  std::vector<std::string> artifact_fields;  // path patterns holding sha256 digests
  // The figments the repo includes (`use:`), as "id@version".
  std::vector<std::string> figments;

  std::string qualified_name() const { return ns + "/" + name; }
  const Kind* FindKind(const std::string& kind) const;
  // `body` with the defaults declared at the top level of the repo schema
  // filled in where absent: what a create stores.
  nlohmann::json WithDefaults(nlohmann::json body) const;
  // The validator of bodies of `kind` ("" for the base schema): the
  // compiler's (Repo/Kind::validator), or compiled now for a platform
  // assembled by hand. NotFound for an unknown kind.
  Result<std::shared_ptr<const schema::Validator>> BodyValidator(const std::string& kind) const;
};

struct Namespace {
  std::string name;
  std::string owner;  // "core" or a plugin id
  std::string description;
  std::vector<std::string> repos;
};

enum class Primitive { kInterpreter, kResolver, kGenerator, kValidator, kSimulator, kEvaluator };
const char* PrimitiveName(Primitive p);  // "generator"

struct Capability {
  std::string id;       // "substation.skeleton"
  Primitive primitive = Primitive::kGenerator;
  std::string version;  // semver
  std::string plugin;   // plugin id that provides it
  std::string description;
  bool deterministic = true;
  JsonPtr input_schema;
  JsonPtr output_schema;
  std::vector<std::string> writes;  // "ns/repo" the capability may write
  // "ns/repo" whose references pointing at an input reference are passed as
  // `related` and pin the cache key; empty: every repo.
  std::vector<std::string> reads;
  std::vector<std::string> requires_labels;
  // The figments whose schema the input contract includes (`use:`).
  std::vector<std::string> figments;
};

enum class ConflictPolicy { kFail, kRetry, kRestartOnWrite };
const char* ConflictPolicyName(ConflictPolicy p);

struct Job {
  std::string name;
  std::string capability;
  std::string description;
  ConflictPolicy on_conflict = ConflictPolicy::kFail;
  std::int64_t timeout_seconds = 300;
  int max_retries = 3;
  std::string scope;  // needed to start it
};

struct Step {
  std::string id;
  std::string op;  // operation id
  JsonPtr input;   // values and "${...}" references to earlier outputs
  std::vector<std::string> after;
  std::string when;      // condition, e.g. "${steps.validate.output.passed}"
  std::string for_each;  // fan-out over a list of pointers
  int retries = 0;
};

struct Orchestrator {
  std::string name;
  std::string description;
  JsonPtr input_schema;
  std::vector<Step> steps;
  std::string scope;
  // "id@version" of the figment this orchestrator was instantiated from;
  // empty when declared under `orchestrators:`.
  std::string figment;
};

struct EventPattern {
  std::string channel;     // traffic | control | audit; empty: any
  std::string event_type;  // e.g. "ref.created"; empty: any
  std::string repo;        // "ns/repo"; empty: any
  std::string kind;        // empty: any
  std::string changed;     // attribute path that must have changed; empty: any
  // Attribute paths whose changes alone do not count: an update (patch or
  // replace) whose every diff operation lies at or under one of them does
  // not match (a workflow that marks the object it watches).
  std::vector<std::string> ignore_changes;
};

struct Trigger {
  std::string name;
  EventPattern on;
  std::string start;  // operation id (jobs.*.start or orch.*.start)
  JsonPtr input;
  std::string figment;  // as Orchestrator::figment
};

enum class OperationKind {
  kRefCreate, kRefGet, kRefPatch, kRefReplace, kRefDelete, kRefList, kRefHistory, kRefVersion,
  kRefDiff, kResolve, kEventsRead, kLedgerVerify, kArtifactPut, kArtifactGet, kJobStart,
  kJobStatus, kJobCancel, kOrchStart, kOrchGet, kOrchCancel,
  // A row a runtime module registers with its own schemas, binding and
  // handler (events.consumers.*, keys.*, triggers.*, ingest): nothing about
  // it follows from the kind.
  kModule,
};

// One row of the operation table. Transports (REST, MCP, CLI) are derived
// from these rows; the broker adds handlers.
struct Operation {
  std::string id;  // "refs.site.create"
  OperationKind kind;
  std::string summary;
  std::string target;  // "ns/repo", job or orchestrator name; empty for global ones
  std::vector<std::string> scopes;
  bool read_only = false;
  bool destructive = false;
  bool idempotent = false;
};

// A declared data transform (`migrations:` in bver.yaml): steps applied to
// every stored body of a repo (and kind) when the store migrates from
// platform version `from`. The steps are RFC 6902 operations plus `split`
// and `map` (docs/migrations.md); src/migrate/ runs them.
struct Transform {
  std::string name;
  std::string from;  // the platform version the store migrates from
  std::string repo;  // "ns/repo"
  std::string kind;  // empty: every reference of the repo
  JsonPtr steps;     // array of step objects, as declared
};

// A reusable fragment of a domain, declared once under `figments:` and
// included by repos, kinds and capabilities with `use: [id@version]`. The
// compiler expands it where it is used: its schema and rules are merged into
// the user's schema (as a kind extension is), and its triggers and
// orchestrators are instantiated once per using repo or kind
// (docs/domain-format.md "Figments").
struct Figment {
  std::string id;
  std::string version;  // semver
  std::string description;
  JsonPtr schema;         // the fragment, expanded (pointer and artifact fields)
  JsonPtr rules;          // {name: {description, schema}}, as declared
  JsonPtr triggers;       // templates, as declared ({} when none)
  JsonPtr orchestrators;  // templates, as declared ({} when none)
  // Who includes it: "ns/repo", "ns/repo#kind", "capability:id".
  std::vector<std::string> used_by;

  std::string ref() const { return id + "@" + version; }
};

struct Platform {
  std::string id;
  std::string version;
  std::string description;
  std::vector<Namespace> namespaces;
  std::vector<Repo> repos;
  std::vector<Capability> capabilities;
  std::vector<Job> jobs;
  std::vector<Orchestrator> orchestrators;
  std::vector<Trigger> triggers;
  std::vector<Operation> operations;
  std::vector<Transform> migrations;
  std::vector<Figment> figments;

  const Repo* FindRepo(const std::string& name) const;  // by repo name or "ns/repo"
  const Capability* FindCapability(const std::string& id) const;
  const Operation* FindOperation(const std::string& id) const;
  // Every scope any operation needs, plus "admin", sorted.
  std::vector<std::string> AllScopes() const;
};

}  // namespace bver::domain
