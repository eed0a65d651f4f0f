// Structural compatibility between two versions of a payload schema (a JSON
// Schema 2020-12 document), as the schema registry checks it on register
// (docs/events.md lists every rule).
//
// Narrowings(wide, narrow) lists the ways `narrow` may reject a payload that
// `wide` accepts. The check is conservative: it never answers "compatible"
// for a pair it cannot analyze (a keyword outside the rules that differs
// between the two is reported as a narrowing), so it may refuse a change
// that is in fact compatible, never the other way round.
//
// Pure functions of their arguments: safe from any number of threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::events {

// backward: the new version accepts every payload the previous one did
// (consumers on the new schema read old events). forward: the previous
// version accepts every payload of the new one (old consumers read new
// events). full: both. none: no check.
enum class CompatMode { kBackward, kForward, kFull, kNone };

std::string_view CompatModeName(CompatMode mode);
// "backward", "forward", "full", "none"; nullopt otherwise.
std::optional<CompatMode> ParseCompatMode(std::string_view text);

// Every way `narrow` rejects something `wide` accepts: path = where in the
// payload ("" for the root, "meta.owner", "items[]"), rule = which structural
// rule ("type", "required", "property.removed", ...), message for people.
std::vector<Violation> Narrowings(const nlohmann::json& wide, const nlohmann::json& narrow);

// What would break when `next` replaces `previous` under `mode`: the
// narrowings of the direction(s) the mode checks, each rule prefixed with
// "backward." or "forward.". Empty: compatible.
std::vector<Violation> CheckCompatibility(const nlohmann::json& previous, const nlohmann::json& next,
                                          CompatMode mode);

}  // namespace bver::events
