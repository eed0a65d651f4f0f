// The contract shapes of the six primitives (BVER.md §5) and the check of a
// capability's output against them.
//
// Every output is checked against its primitive's standard shape; a schema
// the capability declares (in bver.yaml or in the plugin manifest) narrows
// it further and cannot replace it, because the runtime relies on the shape
// (it commits a generator's changeset, reads a validator's `passed`).
// A generator's changeset is also checked against the repos the capability
// may write.
//
// An OutputContract is immutable once made and may be used from any number
// of threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/domain/platform.h"

namespace bver::schema {
class Validator;
}

namespace bver::plugin {

// The standard output JSON Schema of a primitive (shared, immutable):
//   generator   {changeset: {creates: [{repo, kind?, id?, body}],
//                            patches: [{pointer, merge | patch}], deletes: [{pointer}]}, summary?}
//   validator   {passed: bool, findings: [{severity: error|warning|info, pointer, rule, message}]}
//   interpreter {proposed: [...]}
//   resolver    {pointers: [...]}
//   simulator   {results: {}, evidence?: []}
//   evaluator   {metrics: {}}
domain::JsonPtr StandardOutputSchema(domain::Primitive primitive);

class OutputContract {
 public:
  ~OutputContract();
  OutputContract(const OutputContract&) = delete;
  OutputContract& operator=(const OutputContract&) = delete;

  // Compiles the standard shape of `primitive` and every non-null schema of
  // `declared`. `writes` are the repos ("ns/repo") a generator may change.
  // InvalidArgument when a declared schema does not compile.
  static Result<std::unique_ptr<OutputContract>> Make(std::string capability_id,
                                                      domain::Primitive primitive,
                                                      const std::vector<domain::JsonPtr>& declared,
                                                      std::vector<std::string> writes);

  // OK; InvalidArgument "capability X returned output that breaks its
  // contract" with one Violation per failure (path in the output); or, for a
  // generator whose changeset touches a repo outside `writes`,
  // PermissionDenied naming every such entry ("changeset.creates[2]").
  Status Check(const nlohmann::json& output) const;

  const std::string& capability_id() const { return capability_id_; }
  domain::Primitive primitive() const { return primitive_; }
  const std::vector<std::string>& writes() const { return writes_; }

 private:
  OutputContract() = default;
  std::string capability_id_;
  domain::Primitive primitive_ = domain::Primitive::kGenerator;
  std::vector<std::unique_ptr<schema::Validator>> validators_;
  std::vector<std::string> writes_;
};

// Checks that every entry of a (shape-valid) changeset targets a repo in
// `writes`: creates by their "repo" ("ns/repo", or the bare repo name of a
// writes entry), patches and deletes by their pointer's ns/repo.
// PermissionDenied naming each entry outside; InvalidArgument for a pointer
// that does not parse.
Status CheckChangesetWrites(const std::string& capability_id, const nlohmann::json& changeset,
                            const std::vector<std::string>& writes);

}  // namespace bver::plugin
