// The "${...}" references of orchestrator steps (docs/orchestrators.md):
// step inputs, `when` conditions and `for_each` lists refer to the run's
// input, to earlier steps' outputs and, in a fan-out, to the current item.
//
//   ${input.site}                      a field of the run's input
//   ${steps.validate.output.passed}    a field of step validate's output
//   ${item}, ${item.name}              the fan-out item (for_each steps)
//   ${run.id}, ${run.correlation_id}   the run itself
//
// A path continues with ".name" or "[n]". A string that is exactly one
// reference becomes the referenced value (any JSON type); references inside
// a longer string are replaced by their text (strings as they are, other
// values as JSON).
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bver/status.h"

namespace bver::orch {

struct TemplateScope {
  const nlohmann::json* input = nullptr;  // the run's input
  const nlohmann::json* steps = nullptr;  // {"<step id>": <output>} of succeeded steps
  const nlohmann::json* item = nullptr;   // the fan-out item, or null
  std::string run_id;
  std::string correlation_id;
};

// The value `expr` (without "${" and "}") refers to; nullopt when the path
// leads nowhere (a missing field, an index past the end, a step that has
// not succeeded). InvalidArgument when `expr` is malformed.
Result<std::optional<nlohmann::json>> Lookup(std::string_view expr, const TemplateScope& scope);

// `value` with every reference in every string replaced. InvalidArgument
// naming the reference when one is malformed or leads nowhere.
Result<nlohmann::json> Expand(const nlohmann::json& value, const TemplateScope& scope);

// A `when` condition: the referenced value is true unless it is missing,
// null, false, 0, "" or an empty array or object.
Result<bool> Condition(const std::string& when, const TemplateScope& scope);

}  // namespace bver::orch
