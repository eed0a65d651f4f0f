// Applying an AttributePath to a JSON value. Kept apart from bver/pointer.h so
// that the public header does not pull in nlohmann/json.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "bver/pointer.h"
#include "bver/status.h"

namespace bver::core {

// The value at `path` inside `doc`. A key that is absent, an index past the
// end, or a step into a scalar is NotFound naming the first missing segment;
// never a crash. The returned pointer lives as long as `doc`.
Result<const nlohmann::json*> ResolvePath(const nlohmann::json& doc, const AttributePath& path);

}  // namespace bver::core
