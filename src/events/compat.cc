#include "src/events/compat.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

namespace bver::events {
namespace {

using nlohmann::json;

// Keywords that change no payload's validity.
const std::set<std::string, std::less<>>& Annotations() {
  static const std::set<std::string, std::less<>> k = {
      "$schema",  "$id",      "$comment",   "title",       "description",     "default",         "examples",
      "deprecated", "readOnly", "writeOnly", "format", "contentMediaType", "contentEncoding", "contentSchema"};
  return k;
}

// Keywords the rules below analyze.
const std::set<std::string, std::less<>>& Analyzed() {
  static const std::set<std::string, std::less<>> k = {
      "type",      "enum",      "const",         "required",         "properties",       "additionalProperties",
      "items",     "minimum",   "exclusiveMinimum", "maximum",       "exclusiveMaximum", "minLength",
      "maxLength", "minItems",  "maxItems",      "minProperties",    "maxProperties",    "pattern",
      "multipleOf", "uniqueItems"};
  return k;
}

const json& True() {
  static const json t = true;
  return t;
}

std::string Join(const std::string& path, const std::string& name) { return path.empty() ? name : path + "." + name; }
std::string Where(const std::string& path) { return path.empty() ? "the payload" : path; }

std::optional<std::set<std::string>> Types(const json& s) {
  auto it = s.find("type");
  if (it == s.end()) return std::nullopt;
  std::set<std::string> out;
  if (it->is_string()) out.insert(it->get<std::string>());
  if (it->is_array()) {
    for (const json& t : *it) {
      if (t.is_string()) out.insert(t.get<std::string>());
    }
  }
  return out;
}

bool Accepts(const std::set<std::string>& types, const std::string& t) {
  return types.count(t) > 0 || (t == "integer" && types.count("number") > 0);
}

bool InEnum(const json& value, const json& enumeration) {
  return enumeration.is_array() && std::find(enumeration.begin(), enumeration.end(), value) != enumeration.end();
}

// A schema with no keyword that constrains anything.
bool AcceptsAll(const json& s) {
  if (s.is_boolean()) return s.get<bool>();
  if (!s.is_object()) return false;
  return std::all_of(s.items().begin(), s.items().end(),
                     [](const auto& kv) { return Annotations().count(kv.key()) > 0; });
}

void Walk(const json& wide_in, const json& narrow_in, const std::string& path, std::vector<Violation>& out);

void CheckTypes(const json& w, const json& n, const std::string& path, std::vector<Violation>& out) {
  std::optional<std::set<std::string>> nt = Types(n);
  if (!nt) return;
  std::optional<std::set<std::string>> wt = Types(w);
  if (!wt) {
    std::string names;
    for (const std::string& t : *nt) names += (names.empty() ? "" : ", ") + t;
    out.push_back({path, "type", Where(path) + " accepted any type and is restricted to " + names + " now"});
    return;
  }
  for (const std::string& t : *wt) {
    if (!Accepts(*nt, t)) {
      out.push_back({path, "type", Where(path) + " of type " + t + " was accepted and is refused now"});
    }
  }
}

void CheckEnum(const json& w, const json& n, const std::string& path, std::vector<Violation>& out) {
  if (n.contains("enum")) {
    const json& ne = n["enum"];
    if (w.contains("const")) {
      if (!InEnum(w["const"], ne)) {
        out.push_back({path, "enum", "value " + w["const"].dump() + " was accepted and is not in the enum now"});
      }
    } else if (w.contains("enum") && w["enum"].is_array()) {
      for (const json& v : w["enum"]) {
        if (!InEnum(v, ne)) out.push_back({path, "enum", "value " + v.dump() + " was accepted and is not in the enum now"});
      }
    } else {
      out.push_back({path, "enum", Where(path) + " is restricted to an enum now"});
    }
  }
  if (n.contains("const")) {
    const json& nc = n["const"];
    bool same = (w.contains("const") && w["const"] == nc) ||
                (!w.contains("const") && w.contains("enum") && w["enum"].is_array() && !w["enum"].empty() &&
                 std::all_of(w["enum"].begin(), w["enum"].end(), [&](const json& v) { return v == nc; }));
    if (!same) out.push_back({path, "const", Where(path) + " must equal " + nc.dump() + " now"});
  }
}

void CheckRequired(const json& w, const json& n, const std::string& path, std::vector<Violation>& out) {
  if (!n.contains("required") || !n["required"].is_array()) return;
  const json none = json::array();
  const json& wr = w.contains("required") && w["required"].is_array() ? w["required"] : none;
  for (const json& name : n["required"]) {
    if (!InEnum(name, wr)) {
      std::string s = name.is_string() ? name.get<std::string>() : name.dump();
      out.push_back({Join(path, s), "required", "property " + s + " is required now"});
    }
  }
}

void CheckProperties(const json& w, const json& n, const std::string& path, std::vector<Violation>& out) {
  const json empty = json::object();
  const json& wp = w.contains("properties") && w["properties"].is_object() ? w["properties"] : empty;
  const json& np = n.contains("properties") && n["properties"].is_object() ? n["properties"] : empty;
  const json& wa = w.contains("additionalProperties") ? w["additionalProperties"] : True();
  const json& na = n.contains("additionalProperties") ? n["additionalProperties"] : True();
  std::set<std::string> names;
  for (const auto& kv : wp.items()) names.insert(kv.key());
  for (const auto& kv : np.items()) names.insert(kv.key());
  for (const std::string& name : names) {
    bool in_w = wp.contains(name);
    bool in_n = np.contains(name);
    std::string at = Join(path, name);
    if (in_w && !in_n && na == json(false)) {
      out.push_back({at, "property.removed",
                     "property " + name + " was accepted and is gone while additionalProperties is false"});
      continue;
    }
    if (!in_w && in_n && wa != json(false)) {
      // The previous schema accepted any value there (as additionalProperties).
      std::vector<Violation> inner;
      Walk(wa, np[name], at, inner);
      if (!inner.empty()) {
        out.push_back({at, "property.added",
                       "property " + name +
                           " is new and constrained, where additional properties were accepted before (" +
                           inner.front().rule + ": " + inner.front().message + ")"});
      }
      continue;
    }
    Walk(in_w ? wp[name] : wa, in_n ? np[name] : na, at, out);
  }
  if (wa != na) {
    if (na == json(false)) {
      out.push_back({path, "additionalProperties",
                     "properties not listed in " + Where(path) + " were accepted and are refused now"});
    } else {
      Walk(wa, na, Join(path, "*"), out);
    }
  }
}

void CheckBounds(const json& w, const json& n, const std::string& path, std::vector<Violation>& out) {
  for (const char* k : {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"}) {
    if (!n.contains(k) || !n[k].is_number()) continue;
    if (!w.contains(k) || !w[k].is_number() || n[k].get<double>() > w[k].get<double>()) {
      out.push_back({path, k, std::string(k) + " is " + n[k].dump() + " now" +
                                  (w.contains(k) ? " (was " + w[k].dump() + ")" : " (there was none)")});
    }
  }
  for (const char* k : {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"}) {
    if (!n.contains(k) || !n[k].is_number()) continue;
    if (!w.contains(k) || !w[k].is_number() || n[k].get<double>() < w[k].get<double>()) {
      out.push_back({path, k, std::string(k) + " is " + n[k].dump() + " now" +
                                  (w.contains(k) ? " (was " + w[k].dump() + ")" : " (there was none)")});
    }
  }
  for (const char* k : {"pattern", "multipleOf"}) {
    if (n.contains(k) && (!w.contains(k) || w[k] != n[k])) {
      out.push_back({path, k, std::string(k) + " " + n[k].dump() + " is new or changed"});
    }
  }
  if (n.value("uniqueItems", false) == true && w.value("uniqueItems", false) != true) {
    out.push_back({path, "uniqueItems", "items of " + Where(path) + " must be unique now"});
  }
}

void Walk(const json& wide_in, const json& narrow_in, const std::string& path, std::vector<Violation>& out) {
  static const json kEmpty = json::object();
  if (wide_in == json(false)) return;  // accepted nothing: nothing to lose
  if (narrow_in == json(true) || AcceptsAll(narrow_in)) return;
  if (narrow_in == json(false)) {
    out.push_back({path, "false", Where(path) + " was accepted and is refused entirely now"});
    return;
  }
  const json& w = wide_in.is_boolean() ? kEmpty : wide_in;
  const json& n = narrow_in;
  if (!w.is_object() || !n.is_object()) {
    if (w != n) out.push_back({path, "schema", "not a schema object; changed"});
    return;
  }
  CheckTypes(w, n, path, out);
  CheckEnum(w, n, path, out);
  CheckRequired(w, n, path, out);
  CheckProperties(w, n, path, out);
  if (w.contains("items") || n.contains("items")) {
    Walk(w.contains("items") ? w["items"] : True(), n.contains("items") ? n["items"] : True(), path + "[]", out);
  }
  CheckBounds(w, n, path, out);
  // Anything else that differs is beyond these rules: assume it narrows.
  std::set<std::string> keys;
  for (const auto& kv : w.items()) keys.insert(kv.key());
  for (const auto& kv : n.items()) keys.insert(kv.key());
  for (const std::string& k : keys) {
    if (Annotations().count(k) || Analyzed().count(k)) continue;
    const json& a = w.contains(k) ? w[k] : json();
    const json& b = n.contains(k) ? n[k] : json();
    if (w.contains(k) != n.contains(k) || a != b) {
      out.push_back({path, "unanalyzed",
                     "keyword " + k + " differs and is not analyzed structurally, so it is assumed to break"});
    }
  }
}

}  // namespace

std::string_view CompatModeName(CompatMode mode) {
  switch (mode) {
    case CompatMode::kBackward: return "backward";
    case CompatMode::kForward: return "forward";
    case CompatMode::kFull: return "full";
    case CompatMode::kNone: return "none";
  }
  return "none";
}

std::optional<CompatMode> ParseCompatMode(std::string_view text) {
  for (CompatMode m : {CompatMode::kBackward, CompatMode::kForward, CompatMode::kFull, CompatMode::kNone}) {
    if (CompatModeName(m) == text) return m;
  }
  return std::nullopt;
}

std::vector<Violation> Narrowings(const json& wide, const json& narrow) {
  std::vector<Violation> out;
  Walk(wide, narrow, "", out);
  return out;
}

std::vector<Violation> CheckCompatibility(const json& previous, const json& next, CompatMode mode) {
  std::vector<Violation> out;
  auto add = [&out](std::vector<Violation> found, const char* prefix) {
    for (Violation& v : found) {
      v.rule = std::string(prefix) + v.rule;
      out.push_back(std::move(v));
    }
  };
  if (mode == CompatMode::kBackward || mode == CompatMode::kFull) add(Narrowings(previous, next), "backward.");
  if (mode == CompatMode::kForward || mode == CompatMode::kFull) add(Narrowings(next, previous), "forward.");
  return out;
}

}  // namespace bver::events
