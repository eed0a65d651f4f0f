#include "src/domain/schema_walk.h"

#include <set>

namespace bver::domain {
namespace {

using nlohmann::json;

const std::set<std::string>& KnownKeywords() {
  static const std::set<std::string>* const k = new std::set<std::string>{
      "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$defs", "$comment",
      "$vocabulary", "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum",
      "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
      "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required",
      "dependentRequired", "properties", "patternProperties", "additionalProperties",
      "propertyNames", "items", "prefixItems", "contains", "allOf", "anyOf", "oneOf", "not", "if",
      "then", "else", "dependentSchemas", "unevaluatedItems", "unevaluatedProperties", "format",
      "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
      "contentEncoding", "contentMediaType", "contentSchema"};
  return *k;
}

class Walker {
 public:
  explicit Walker(Diagnostics& diag) : diag_(diag) {}

  // `instance` is the attribute-path pattern of the values this schema
  // describes, or empty when it is not a fixed place (inside $defs, not...).
  json Walk(const json& s, const AttributePath& at, const std::string& instance, bool fixed,
            int depth) {
    if (depth > 64) {
      diag_.Error(at, "domain.schema", "schema nested deeper than 64 levels");
      return s;
    }
    if (s.is_boolean()) return s;
    if (!s.is_object()) {
      diag_.Error(at, "domain.schema", "a schema must be a mapping or true/false");
      return s;
    }
    json out = json::object();
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& k = it.key();
      const json& v = it.value();
      AttributePath kp = at.Key(k);
      if (k == "x-bver-pointer" || k == "x-bver-artifact") continue;  // handled below
      if (k.rfind("x-", 0) == 0) {
        out[k] = v;
        continue;
      }
      if (KnownKeywords().count(k) == 0) {
        diag_.Error(kp, "domain.schema",
                    "unknown JSON Schema keyword \"" + k +
                        "\" (a typo? extensions must start with \"x-\")");
        continue;
      }
      if (k == "properties" || k == "patternProperties" || k == "$defs" ||
          k == "dependentSchemas") {
        if (!v.is_object()) {
          diag_.Error(kp, "domain.schema", "\"" + k + "\" must be a mapping of schemas");
          out[k] = v;
          continue;
        }
        json m = json::object();
        for (auto p = v.begin(); p != v.end(); ++p) {
          bool child_fixed = fixed && k == "properties";
          std::string child = child_fixed ? Join(instance, p.key()) : std::string();
          if (k == "patternProperties" && fixed) {
            child = instance.empty() ? "*" : instance + ".*";
            child_fixed = true;
          }
          m[p.key()] = Walk(p.value(), kp.Key(p.key()), child, child_fixed, depth + 1);
        }
        out[k] = std::move(m);
      } else if (k == "items" || k == "contains" || k == "unevaluatedItems") {
        out[k] = Walk(v, kp, instance + "[*]", fixed, depth + 1);
      } else if (k == "additionalProperties" || k == "unevaluatedProperties") {
        out[k] = Walk(v, kp, instance.empty() ? "*" : instance + ".*", fixed, depth + 1);
      } else if (k == "propertyNames" || k == "not" || k == "contentSchema") {
        out[k] = Walk(v, kp, "", false, depth + 1);
      } else if (k == "if" || k == "then" || k == "else") {
        out[k] = Walk(v, kp, instance, fixed && k != "if", depth + 1);
      } else if (k == "allOf" || k == "anyOf" || k == "oneOf" || k == "prefixItems") {
        if (!v.is_array() || v.empty()) {
          diag_.Error(kp, "domain.schema", "\"" + k + "\" must be a non-empty list of schemas");
          out[k] = v;
          continue;
        }
        json a = json::array();
        for (std::size_t i = 0; i < v.size(); ++i) {
          std::string child = k == "prefixItems" ? instance + "[" + std::to_string(i) + "]"
                                                 : instance;
          a.push_back(Walk(v[i], kp.Index(i), child, fixed, depth + 1));
        }
        out[k] = std::move(a);
      } else {
        out[k] = v;
      }
    }
    if (s.contains("x-bver-pointer")) {
      const json& t = s["x-bver-pointer"];
      AttributePath tp = at.Key("x-bver-pointer");
      if (!t.is_string() || t.get<std::string>().empty()) {
        diag_.Error(tp, "domain.schema", "x-bver-pointer takes a repo as \"ns/repo\", or \"*\"");
      } else {
        std::string target = t.get<std::string>();
        out["x-bver-pointer"] = target;
        if (!out.contains("type")) out["type"] = "string";
        if (!out.contains("pattern")) out["pattern"] = PointerPattern(target);
        if (!fixed || instance.empty()) {
          diag_.Error(tp, "domain.schema",
                      "x-bver-pointer must describe a body field (under properties/items), not " +
                          std::string(instance.empty() ? "the body itself" : "a conditional schema"));
        } else {
          pointers_.push_back({instance, target});
        }
      }
    }
    if (s.contains("x-bver-artifact")) {
      AttributePath tp = at.Key("x-bver-artifact");
      if (s["x-bver-artifact"] != true) {
        diag_.Error(tp, "domain.schema", "x-bver-artifact takes true");
      } else {
        out["x-bver-artifact"] = true;
        if (!out.contains("type")) out["type"] = "string";
        if (!out.contains("pattern")) out["pattern"] = kArtifactDigestPattern;
        if (!fixed || instance.empty()) {
          diag_.Error(tp, "domain.schema", "x-bver-artifact must describe a body field");
        } else {
          artifacts_.push_back(instance);
        }
      }
    }
    return out;
  }

  std::vector<PointerField> pointers_;
  std::vector<std::string> artifacts_;

 private:
  static std::string Join(const std::string& base, const std::string& key) {
    std::string seg = IsPathIdentifier(key) ? key : AttributePath().Key(key).ToString();
    if (base.empty()) return seg;
    return base + "." + seg;
  }

  Diagnostics& diag_;
};

}  // namespace

std::string PointerPattern(const std::string& target) {
  std::string prefix = target == "*" ? std::string("[a-z][a-z0-9_-]{0,62}/[a-z][a-z0-9_-]{0,62}")
                                     : target;
  return "^bver://" + prefix + "/[A-Za-z0-9][A-Za-z0-9._-]{0,127}(~[1-9][0-9]*)?$";
}

SchemaWalkResult WalkSchema(const json& schema, const AttributePath& doc_path, Diagnostics& diag) {
  Walker w(diag);
  SchemaWalkResult r;
  r.expanded = w.Walk(schema, doc_path, "", true, 0);
  r.pointers = std::move(w.pointers_);
  r.artifacts = std::move(w.artifacts_);
  return r;
}

Result<json> MergeKindSchema(const json& base, const json& ext) {
  json out = base;
  for (auto it = ext.begin(); it != ext.end(); ++it) {
    const std::string& k = it.key();
    if (k == "properties") {
      if (!out.contains("properties")) out["properties"] = json::object();
      for (auto p = it.value().begin(); p != it.value().end(); ++p) {
        if (out["properties"].contains(p.key()) && out["properties"][p.key()] != p.value()) {
          return InvalidArgumentError("the kind redefines property \"" + p.key() +
                                      "\" of the repo schema; give it another name");
        }
        out["properties"][p.key()] = p.value();
      }
    } else if (k == "required") {
      if (!it.value().is_array()) return InvalidArgumentError("\"required\" must be a list");
      if (!out.contains("required")) out["required"] = json::array();
      for (const json& r : it.value()) {
        bool present = false;
        for (const json& e : out["required"]) present = present || e == r;
        if (!present) out["required"].push_back(r);
      }
    } else if (k == "type" && it.value() == "object") {
      continue;
    } else {
      if (!out.contains("allOf")) out["allOf"] = json::array();
      out["allOf"].push_back(json{{k, it.value()}});
    }
  }
  return out;
}

}  // namespace bver::domain
