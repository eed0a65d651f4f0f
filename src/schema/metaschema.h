// The draft 2020-12 metaschema and its vocabulary metaschemas, built in so
// that "$ref": "https://json-schema.org/draft/2020-12/schema" and "$schema"
// lookups work without any network access. Parsed once, on first use, and
// shared read-only afterwards (thread-safe).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "src/schema/json_util.h"

namespace bver::schema::internal {

inline constexpr char kDraft202012MetaschemaUri[] = "https://json-schema.org/draft/2020-12/schema";

// URI (without fragment) → document.
const std::unordered_map<std::string, std::shared_ptr<const Json>>& BuiltinMetaschemas();

}  // namespace bver::schema::internal
