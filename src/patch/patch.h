// Patching JSON documents: RFC 6902 JSON Patch, RFC 7386 JSON Merge Patch,
// a JSON Patch generator (Diff), and the RFC 6901 JSON Pointer helpers they
// share.
//
// Every function is a pure function of its arguments (the only state touched
// is the `doc` passed in), so calls on different documents may run on any
// threads at once. No function throws; failures are a Status.
//
// Errors of ApplyJsonPatch name the failing operation by its zero-based index
// ("operation 2 (replace): ...") and carry exactly one Violation whose path is
// an RFC 6901 pointer into the patch document: "/2" for the operation as a
// whole, "/2/path", "/2/from", "/2/value" or "/2/op" when one member is at
// fault, "" when the patch itself is not an array. docs/patch.md lists the
// rules and messages.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bver/status.h"

namespace bver::patch {

// Applies an RFC 6902 patch (a JSON array of operations) to `doc`: all
// operations or none, so on any error `doc` is left exactly as it was.
// Errors:
//   InvalidArgument  the patch is malformed (not an array; an operation that
//                    is not an object; "op" missing, not a string or unknown;
//                    "path"/"from"/"value" missing where required, or
//                    "path"/"from" not a string; a pointer that breaks RFC 6901
//                    such as "a/b" or "/~2"), or a location does not resolve
//                    (missing member, index out of range or with leading
//                    zeros, "-" where an existing element is needed, a step
//                    into a scalar, "move" into its own child, "remove" of the
//                    whole document);
//   FailedPrecondition  a "test" operation did not hold (unequal value, or its
//                    path does not exist in the document).
// Numbers compare by mathematical value in "test" (1 == 1.0), exactly, also
// beyond 2^53. Members of an operation other than the ones it uses are ignored.
Status ApplyJsonPatch(nlohmann::json& doc, const nlohmann::json& patch);

// Applies an RFC 7386 merge patch: an object patch merges member by member
// (null deletes), anything else replaces `doc`. Never fails for a JSON value;
// returns a Status for symmetry with ApplyJsonPatch.
Status ApplyMergePatch(nlohmann::json& doc, const nlohmann::json& merge_patch);

// A JSON Patch that turns `from` into `to`: ApplyJsonPatch(from, Diff(from, to))
// always succeeds and yields a value equal to `to`. Objects are compared member
// by member in key order; arrays by common prefix and suffix, then in place,
// then "remove"s or "add"s for the difference in length. Uses only "add",
// "remove" and "replace". Deterministic: equal inputs give identical patches.
// Equal inputs (numbers by value) give [].
nlohmann::json Diff(const nlohmann::json& from, const nlohmann::json& to);

// RFC 6901 token escaping: "~" -> "~0", "/" -> "~1".
std::string EscapePointerToken(std::string_view token);

// The inverse of EscapePointerToken. InvalidArgument when a "~" is not
// followed by "0" or "1".
Result<std::string> UnescapePointerToken(std::string_view token);

// Splits an RFC 6901 pointer into unescaped reference tokens: "" -> {},
// "/" -> {""}, "/a~1b/0" -> {"a/b", "0"}. InvalidArgument when a non-empty
// pointer does not start with "/" or an escape is malformed.
Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer);

// The pointer text of `tokens`, escaping each: the inverse of ParseJsonPointer.
std::string FormatJsonPointer(const std::vector<std::string>& tokens);

// JSON equality as RFC 6902 "test" defines it: same type, numbers by exact
// mathematical value whatever their representation, strings by code units,
// arrays element-wise, objects by member set. Iterative: no recursion depth
// limit.
bool JsonEqual(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace bver::patch
