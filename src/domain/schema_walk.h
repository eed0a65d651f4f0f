// Walks a JSON Schema declared in bver.yaml: rejects unknown keywords (a
// typo such as "minLenght" would otherwise be silently ignored; extensions
// must start with "x-"), finds the BVER field annotations and expands them:
//
//   x-bver-pointer: ns/repo   the field holds a pointer to that repo ("*": any)
//   x-bver-artifact: true     the field holds an artifact digest (sha256:<hex>)
//
// Both add "type": "string" and a "pattern" that checks the form, so the
// ordinary validator enforces them.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/domain/platform.h"
#include "src/domain/reader.h"

namespace bver::domain {

struct SchemaWalkResult {
  nlohmann::json expanded;
  std::vector<PointerField> pointers;
  std::vector<std::string> artifacts;
};

SchemaWalkResult WalkSchema(const nlohmann::json& schema, const AttributePath& doc_path,
                            Diagnostics& diag);

// The schema of a kind: the repo's base schema with the kind's extension
// merged in. Properties are added (redefining a base property is an error),
// `required` lists are joined, and any other keyword of the extension is
// added under allOf.
Result<nlohmann::json> MergeKindSchema(const nlohmann::json& base, const nlohmann::json& ext);

// The regular expression a pointer field to `target` ("ns/repo" or "*") must match.
std::string PointerPattern(const std::string& target);
inline constexpr const char* kArtifactDigestPattern = "^sha256:[0-9a-f]{64}$";

}  // namespace bver::domain
