#include "bver/pointer.h"

#include "src/core/canonical_json.h"


namespace bver {
namespace {

bool IsLowerAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }


}  // namespace

bool IsPathIdentifier(std::string_view key) {
  if (key.empty() || !(IsAlpha(key[0]) || key[0] == '_')) return false;
  for (char c : key) {
    if (!(IsAlpha(c) || IsDigit(c) || c == '_')) return false;
  }
  return true;
}

bool IsValidNamespaceName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !IsLowerAlpha(name[0])) return false;
  for (char c : name) {
    if (!(IsLowerAlpha(c) || IsDigit(c) || c == '_' || c == '-')) return false;
  }
  return true;
}

bool IsValidReferenceId(std::string_view id) {
  if (id.empty() || id.size() > 128 || !(IsAlpha(id[0]) || IsDigit(id[0]))) return false;
  for (char c : id) {
    if (!(IsAlpha(c) || IsDigit(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string AttributePath::ToString() const {
  std::string out;
  for (const PathSegment& s : segments_) {
    if (s.is_index()) {
      out += '[';
      out += std::to_string(s.index());
      out += ']';
      continue;
    }
    if (!out.empty()) out += '.';
    if (IsPathIdentifier(s.key())) {
      out += s.key();
    } else {
      out += '[';
      core::AppendJsonString(out, s.key());
      out += ']';
    }
  }
  return out;
}

AttributePath AttributePath::Key(std::string key) const {
  AttributePath copy = *this;
  copy.segments_.push_back(PathSegment::Key(std::move(key)));
  return copy;
}

AttributePath AttributePath::Index(std::uint64_t index) const {
  AttributePath copy = *this;
  copy.segments_.push_back(PathSegment::Index(index));
  return copy;
}

bool AttributePath::StartsWith(const AttributePath& prefix) const {
  if (prefix.size() > size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (!(segments_[i] == prefix.segments_[i])) return false;
  }
  return true;
}

Pointer::Pointer(std::string ns, std::string repo, std::string id,
                 std::optional<std::uint64_t> version, AttributePath path)
    : ns_(std::move(ns)),
      repo_(std::move(repo)),
      id_(std::move(id)),
      version_(version),
      path_(std::move(path)) {}

std::string Pointer::ToString() const {
  std::string out = "bver://";
  out += ns_;
  out += '/';
  out += repo_;
  out += '/';
  out += id_;
  if (version_) {
    out += '~';
    out += std::to_string(*version_);
  }
  if (!path_.empty()) {
    out += '@';
    out += path_.ToString();
  }
  return out;
}

Pointer Pointer::WithVersion(std::uint64_t version) const {
  Pointer p = *this;
  p.version_ = version;
  return p;
}

Pointer Pointer::Unpinned() const {
  Pointer p = *this;
  p.version_.reset();
  return p;
}

Pointer Pointer::WithPath(AttributePath path) const {
  Pointer p = *this;
  p.path_ = std::move(path);
  return p;
}

Pointer Pointer::Reference() const { return Pointer(ns_, repo_, id_); }

// Parse, Make and ResolvePath: see pointer_parse.cc and json_path.cc.

}  // namespace bver
