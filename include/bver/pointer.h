// Pointers and attribute paths: BVER's universal address.
//
//   pointer   = "bver://" namespace "/" repo "/" id [ "~" version ] [ "@" path ]
//   namespace = repo = [a-z][a-z0-9_-]{0,62}
//   id        = [A-Za-z0-9][A-Za-z0-9._-]{0,127}
//   version   = [1-9][0-9]*                 (absent: the latest version)
//   path      = segment *( "." segment / "[" index "]" )
//   segment   = [A-Za-z_][A-Za-z0-9_]* / "[" json-string "]"
//   index     = "0" / [1-9][0-9]*
//
// Round trip: Parse(x.ToString()) == x for every value, and ToString() of a
// parsed text gives that text back whenever the text is already in canonical
// form (a quoted key is written quoted only when it is not an identifier, and
// JSON strings use the minimal escapes of RFC 8785). A malformed text is an
// InvalidArgument Status whose message names the 1-based column and what was
// expected there; its single Violation has rule "pointer.syntax" (or
// "path.syntax") and path "column N". Columns count Unicode characters, so
// they match what an editor shows.
//
// The round trip covers every value that Make accepts. Two kinds of value
// built in code have no text in the grammar, and Make rejects them: a path
// whose first segment is an index, and a key that is not valid UTF-8.
//
// Values are immutable once built and safe to share between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bver/status.h"

namespace bver {

// One step of an attribute path: an object key or an array index.
class PathSegment {
 public:
  static PathSegment Key(std::string key) { return PathSegment(std::move(key)); }
  static PathSegment Index(std::uint64_t index) { return PathSegment(index); }

  bool is_key() const { return std::holds_alternative<std::string>(v_); }
  bool is_index() const { return !is_key(); }
  // Precondition: is_key().
  const std::string& key() const { return std::get<std::string>(v_); }
  // Precondition: is_index().
  std::uint64_t index() const { return std::get<std::uint64_t>(v_); }

  friend bool operator==(const PathSegment&, const PathSegment&) = default;

 private:
  explicit PathSegment(std::string key) : v_(std::move(key)) {}
  explicit PathSegment(std::uint64_t index) : v_(index) {}
  std::variant<std::string, std::uint64_t> v_;
};

// A dotted path into a JSON body: "name", "meta.owner.name", "terminals[0].label".
// The empty path addresses the whole body.
class AttributePath {
 public:
  AttributePath() = default;
  explicit AttributePath(std::vector<PathSegment> segments) : segments_(std::move(segments)) {}

  // Parses the text form. The empty string is an error (use AttributePath()).
  static Result<AttributePath> Parse(std::string_view text);

  // Canonical text; "" for the empty path.
  std::string ToString() const;

  const std::vector<PathSegment>& segments() const { return segments_; }
  bool empty() const { return segments_.empty(); }
  std::size_t size() const { return segments_.size(); }

  // Copies with one more segment.
  AttributePath Key(std::string key) const;
  AttributePath Index(std::uint64_t index) const;

  // True when `prefix` is this path or one of its ancestors.
  bool StartsWith(const AttributePath& prefix) const;

  friend bool operator==(const AttributePath&, const AttributePath&) = default;

 private:
  std::vector<PathSegment> segments_;
};

// True for [A-Za-z_][A-Za-z0-9_]*: a key that needs no quoting in a path.
bool IsPathIdentifier(std::string_view key);

class Pointer {
 public:
  Pointer() = default;
  // Precondition: the parts are valid per the grammar (use Make to check).
  Pointer(std::string ns, std::string repo, std::string id,
          std::optional<std::uint64_t> version = std::nullopt, AttributePath path = {});

  // Checks each part against the grammar; errors name the part.
  static Result<Pointer> Make(std::string ns, std::string repo, std::string id,
                              std::optional<std::uint64_t> version = std::nullopt,
                              AttributePath path = {});

  static Result<Pointer> Parse(std::string_view text);
  std::string ToString() const;

  const std::string& ns() const { return ns_; }
  const std::string& repo() const { return repo_; }
  const std::string& id() const { return id_; }
  // Absent: the latest version.
  std::optional<std::uint64_t> version() const { return version_; }
  const AttributePath& path() const { return path_; }

  // Copies with the version pinned, the version dropped, or another path.
  Pointer WithVersion(std::uint64_t version) const;
  Pointer Unpinned() const;
  Pointer WithPath(AttributePath path) const;
  // The reference itself: no version, no path.
  Pointer Reference() const;

  friend bool operator==(const Pointer&, const Pointer&) = default;

 private:
  std::string ns_;
  std::string repo_;
  std::string id_;
  std::optional<std::uint64_t> version_;
  AttributePath path_;
};

// Grammar checks for the parts, usable on their own (for example to check
// a repo name in bver.yaml).
bool IsValidNamespaceName(std::string_view name);  // also repo names
bool IsValidReferenceId(std::string_view id);

}  // namespace bver
