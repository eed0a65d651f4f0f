// The payload schema registry (BVER.md §6): payload contracts registered as
// id@semver, each a JSON Schema 2020-12 document that src/schema compiles,
// kept as records of the store's record table (kind "payload_schema", key
// "id@X.Y.Z"). Each id has a compatibility mode (compat.h) checked against
// its latest version when a new one is registered (docs/events.md).
//
// Registered versions never change. Thread safety: a PayloadRegistry may be
// used from any number of threads (compiled validators are cached under a
// mutex; the record table is thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bver/status.h"
#include "src/events/compat.h"
#include "src/schema/validator.h"
#include "src/store/backend.h"

namespace bver::events {

inline constexpr const char* kPayloadSchemaRecord = "payload_schema";

struct SemVer {
  std::uint64_t major = 0, minor = 0, patch = 0;
  // "X.Y.Z", digits only, no leading zeros; nullopt otherwise.
  static std::optional<SemVer> Parse(std::string_view text);
  std::string ToString() const;
  friend auto operator<=>(const SemVer&, const SemVer&) = default;
};

// "id@X.Y.Z" split; InvalidArgument when malformed. Ids are lower-case
// letters, digits, '.', '_' and '-', starting with a letter or digit, at most
// 128 characters.
struct SchemaRef {
  std::string id;
  SemVer version;
  std::string ToString() const { return id + "@" + version.ToString(); }
};
Result<SchemaRef> ParseSchemaRef(std::string_view text);
Status CheckSchemaId(std::string_view id);

struct PayloadSchema {
  std::string id;
  SemVer version;
  CompatMode mode = CompatMode::kBackward;
  nlohmann::json schema;
  std::int64_t registered_at_us = 0;
  std::string Ref() const { return id + "@" + version.ToString(); }
  nlohmann::json ToJson() const;  // {id, version, ref, mode, registered_at, schema}
};

// What registering `schema` as the next version of an id would do.
struct CompatReport {
  std::string id;
  CompatMode mode = CompatMode::kBackward;
  std::optional<std::string> previous;   // "id@X.Y.Z" checked against; none for a new id
  std::vector<Violation> breaks;         // empty: compatible
  bool compatible() const { return breaks.empty(); }
  nlohmann::json ToJson() const;  // {id, mode, previous, compatible, breaks:[{path,rule,message}]}
};

class PayloadRegistry {
 public:
  // `records` must outlive the registry.
  explicit PayloadRegistry(store::RecordTable& records);

  // Registers `schema` as id@version. `mode` empty: the id's mode (its
  // latest version's), or backward for a new id. Errors: InvalidArgument
  // (bad id or version, the schema does not compile: every problem listed);
  // FailedPrecondition (version not above the latest, or incompatible under
  // the mode: every break listed as a Violation); AlreadyExists (that
  // version holds another schema; the same schema again answers the
  // existing registration).
  Result<PayloadSchema> Register(const std::string& id, const std::string& version, const nlohmann::json& schema,
                                 std::optional<CompatMode> mode = std::nullopt);
  // The report Register would check, writing nothing. InvalidArgument as
  // Register for a bad id or a schema that does not compile.
  Result<CompatReport> Check(const std::string& id, const nlohmann::json& schema,
                             std::optional<CompatMode> mode = std::nullopt);

  // One version; `version` empty: the latest. NotFound when absent.
  Result<PayloadSchema> Get(const std::string& id, const std::string& version = "");
  // Every version of every id, by id then version.
  Result<std::vector<PayloadSchema>> List();
  // Every version of `id`, oldest first (empty when unknown).
  Result<std::vector<PayloadSchema>> Versions(const std::string& id);

  // The compiled validator of "id@X.Y.Z". NotFound when not registered,
  // InvalidArgument when malformed.
  Result<std::shared_ptr<const schema::Validator>> ValidatorFor(const std::string& ref);

 private:
  store::RecordTable& records_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const schema::Validator>> validators_;  // GUARDED_BY(mu_)
};

}  // namespace bver::events
