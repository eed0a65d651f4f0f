// Generation of the input and output JSON Schemas of each operation row
// from the platform's repo schemas and kinds. Internal to src/runtime.
//
// A repo's body schemas (the base and each kind's effective schema) are
// embedded under the operation schema's "$defs" ("body" and "body:<kind>"),
// with their "#..." references rewritten to point into that copy, so the
// operation schema is one self-contained document: MCP clients, OpenAPI
// tools and our own Validator all read it without a registry.
#pragma once

#include <nlohmann/json.hpp>

#include "src/domain/platform.h"

namespace bver::runtime::internal {

// Input and output schema of `op`; `repo` is its repo for refs.* (else null).
nlohmann::json InputSchema(const domain::Operation& op, const domain::Repo* repo);
nlohmann::json OutputSchema(const domain::Operation& op, const domain::Repo* repo);

// `schema` copied for use at "#/$defs/<key>": "$schema" dropped, a root
// "$id" dropped, and every "#" reference (and reference to the dropped
// root id) rewritten to point inside the copy. Values of enum, const,
// default, examples and x-* keys are data and left alone.
nlohmann::json EmbedAt(const nlohmann::json& schema, const std::string& key);

}  // namespace bver::runtime::internal
