// What a trigger sees of one event (BVER.md §6, docs/triggers.md): whether
// the event matches a trigger's `on` pattern, and the operation input the
// trigger's `input` template renders to for it. Pure functions over the
// event envelope (JSON, as Store::ReadEvents answers it); no store access.
//
// Thread safety: every function is safe to call from any thread.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/domain/platform.h"

namespace bver::triggers {

// The reference an event is about, unpinned ("bver://ns/repo/id"), when its
// object_pointer is a pointer; otherwise the object_pointer as it is (a
// control event's subject, "job:<id>"), or "" when it has none.
std::string ObjectOf(const nlohmann::json& envelope);

// "ns/repo" of the event's object_pointer when it is a pointer, else "".
std::string RepoOf(const nlohmann::json& envelope);

// Whether `changed` (an attribute path: "status", "meta.owner",
// "terminals[0]") was touched by `diff` (RFC 6902 operations): an
// operation's path (or, for move, its from) equals the attribute path, lies
// under it (a change inside it) or over it (it was replaced, added or
// removed as part of a larger value). Paths that do not parse never match.
bool PathTouched(const std::string& changed, const nlohmann::json& diff);

// Whether `envelope` matches `pattern`: channel and event_type exactly;
// repo: the object_pointer's "ns/repo" (pattern.repo must be qualified; a
// bare repo name matches any namespace's repo of that name); kind:
// payload.kind; changed: PathTouched on payload.diff, where a ref.created
// event (version 1, whose diff is empty) changed every path. Empty fields
// of the pattern match anything.
bool Matches(const domain::EventPattern& pattern, const nlohmann::json& envelope);

// The trigger's input template rendered for `envelope`: every string that
// is exactly "${event.<path>}" is replaced by the value at that attribute
// path of the envelope (its JSON type kept: a number stays a number);
// "${event.object}" is ObjectOf(envelope) and "${event}" the whole
// envelope; a reference inside a longer string is replaced by the value's
// text (strings as they are, other values as compact JSON). Keys are left
// as they are. InvalidArgument, one Violation per problem (path: where in
// the template, rule "trigger.input"), when a reference names nothing in
// the event or is malformed.
Result<nlohmann::json> RenderInput(const nlohmann::json& input_template, const nlohmann::json& envelope);

}  // namespace bver::triggers
