#include "src/schema/compiler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>
#include <utility>

#include "src/schema/metaschema.h"
#include "src/schema/uri.h"

namespace bver::schema::internal {

namespace {

constexpr std::array<std::string_view, 11> kSingleSchemaKeywords = {"additionalProperties",
                                                                    "propertyNames",
                                                                    "items",
                                                                    "contains",
                                                                    "not",
                                                                    "if",
                                                                    "then",
                                                                    "else",
                                                                    "unevaluatedItems",
                                                                    "unevaluatedProperties",
                                                                    "contentSchema"};
constexpr std::array<std::string_view, 4> kSchemaArrayKeywords = {"allOf", "anyOf", "oneOf",
                                                                  "prefixItems"};
constexpr std::array<std::string_view, 4> kSchemaMapKeywords = {"properties", "patternProperties",
                                                                "$defs", "dependentSchemas"};

constexpr std::string_view kVocabPrefix = "https://json-schema.org/draft/2020-12/vocab/";

std::string PointerOf(const AttributePath& path) {
  std::string out;
  for (const PathSegment& seg : path.segments()) {
    out += '/';
    if (seg.is_index()) {
      out += std::to_string(seg.index());
      continue;
    }
    for (char c : seg.key()) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
  }
  return out;
}

bool IsAnchorName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (!alpha(name[0]) && name[0] != '_') return false;
  for (char c : name) {
    if (!(alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

std::optional<std::uint64_t> NonNegativeInteger(const Json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    std::int64_t i = v.get<std::int64_t>();
    if (i < 0) return std::nullopt;
    return static_cast<std::uint64_t>(i);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d < 0 || d != std::trunc(d)) return std::nullopt;
    if (d >= 18446744073709551615.0) return UINT64_MAX;
    return static_cast<std::uint64_t>(d);
  }
  return std::nullopt;
}

std::optional<std::uint8_t> TypeBitOf(std::string_view name) {
  if (name == "null") return kTypeNull;
  if (name == "boolean") return kTypeBoolean;
  if (name == "object") return kTypeObject;
  if (name == "array") return kTypeArray;
  if (name == "number") return kTypeNumber;
  if (name == "string") return kTypeString;
  if (name == "integer") return kTypeInteger;
  return std::nullopt;
}

const Json* Find(const Json& s, std::string_view key) {
  auto it = s.find(key);
  return it == s.end() ? nullptr : &*it;
}

std::string Got(const Json& v) { return std::string(", got ") + std::string(JsonTypeName(v)); }

void CollectIds(const Json& s, const std::string& base, int depth, std::vector<std::string>* out) {
  if (!s.is_object() || depth > kMaxSchemaNesting) return;
  std::string here = base;
  if (const Json* id = Find(s, "$id"); id != nullptr && id->is_string()) {
    here = std::string(WithoutFragment(ResolveUri(base, id->get_ref<const std::string&>())));
    out->push_back(here);
  }
  for (std::string_view k : kSingleSchemaKeywords) {
    if (const Json* c = Find(s, k)) CollectIds(*c, here, depth + 1, out);
  }
  for (std::string_view k : kSchemaArrayKeywords) {
    if (const Json* c = Find(s, k); c != nullptr && c->is_array()) {
      for (const Json& e : *c) CollectIds(e, here, depth + 1, out);
    }
  }
  for (std::string_view k : kSchemaMapKeywords) {
    if (const Json* c = Find(s, k); c != nullptr && c->is_object()) {
      for (const Json& e : *c) CollectIds(e, here, depth + 1, out);
    }
  }
}

}  // namespace

std::vector<std::string> EmbeddedResourceIds(const Json& doc, const std::string& doc_uri) {
  std::vector<std::string> out;
  CollectIds(doc, doc_uri, 0, &out);
  return out;
}

std::size_t JsonDepth(const Json& value, std::size_t limit) {
  std::vector<std::pair<const Json*, std::size_t>> stack = {{&value, 1}};
  std::size_t max_depth = 0;
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    max_depth = std::max(max_depth, d);
    if (max_depth > limit) return limit + 1;
    if (v->is_structured()) {
      for (const Json& child : *v) stack.emplace_back(&child, d + 1);
    }
  }
  return max_depth;
}

Compiler::Compiler(const SchemaRegistry* registry)
    : registry_(registry == nullptr ? nullptr : registry->data_.get()),
      out_(std::make_unique<CompiledSchema>()) {}

void Compiler::Error(const Scope& scope, const AttributePath& path, std::string_view keyword,
                     std::string message) {
  AttributePath where = keyword.empty() ? path : path.Key(std::string(keyword));
  std::string label = scope.label == nullptr ? std::string() : *scope.label;
  message += " (at " + label + "#" + PointerOf(where) + ")";
  errors_.push_back(Violation{where.ToString(), keyword.empty() ? "schema" : std::string(keyword),
                              std::move(message)});
}

Result<std::unique_ptr<CompiledSchema>> Compiler::Compile(const Json& schema) {
  if (JsonDepth(schema, kMaxDocumentDepth) > kMaxDocumentDepth) {
    return InvalidArgumentError("invalid schema: nested deeper than " +
                                std::to_string(kMaxDocumentDepth) + " levels");
  }
  auto doc = std::make_shared<const Json>(schema);
  out_->documents.push_back(doc);
  loaded_documents_.push_back(kDefaultBaseUri);
  Node* root = CompileDocument(*doc, kDefaultBaseUri, "");
  ResolvePending();
  if (!errors_.empty()) {
    std::string message = "invalid schema: " + errors_.front().message;
    if (errors_.size() > 1) {
      message += " (and " + std::to_string(errors_.size() - 1) + " more problem" +
                 (errors_.size() > 2 ? "s" : "") + ")";
    }
    return InvalidArgumentError(std::move(message), std::move(errors_));
  }
  out_->root = root;
  return std::move(out_);
}

Resource* Compiler::NewResource(const std::string& uri, const Json* root_json,
                                const std::string& label) {
  Resource* r = &out_->resources.emplace_back();
  r->uri = uri;
  r->root_json = root_json;
  r->document_label = label;
  return r;
}

Resource* Compiler::FindResource(const std::string& uri) const {
  auto it = resources_.find(uri);
  return it == resources_.end() ? nullptr : it->second;
}

Node* Compiler::CompileDocument(const Json& doc, const std::string& uri, const std::string& label) {
  Resource* resource = NewResource(uri, &doc, label);
  resources_.emplace(uri, resource);
  Scope scope{uri, resource, kVocabAll, &resource->document_label};
  return CompileNode(doc, scope, AttributePath(), 0, /*document_root=*/true);
}

std::shared_ptr<const Json> Compiler::FindDocument(const std::string& uri,
                                                   std::string* doc_uri) const {
  if (registry_ != nullptr) {
    if (auto it = registry_->documents.find(uri); it != registry_->documents.end()) {
      *doc_uri = uri;
      return it->second;
    }
    if (auto it = registry_->embedded.find(uri); it != registry_->embedded.end()) {
      if (auto d = registry_->documents.find(it->second); d != registry_->documents.end()) {
        *doc_uri = it->second;
        return d->second;
      }
    }
  }
  const auto& builtin = BuiltinMetaschemas();
  if (auto it = builtin.find(uri); it != builtin.end()) {
    *doc_uri = uri;
    return it->second;
  }
  return nullptr;
}

void Compiler::LoadDocument(const std::string& uri) {
  std::string doc_uri;
  std::shared_ptr<const Json> doc = FindDocument(uri, &doc_uri);
  if (doc == nullptr) return;
  if (std::find(loaded_documents_.begin(), loaded_documents_.end(), doc_uri) !=
      loaded_documents_.end()) {
    return;
  }
  loaded_documents_.push_back(doc_uri);
  out_->documents.push_back(doc);
  CompileDocument(*doc, doc_uri, doc_uri);
}

unsigned Compiler::VocabularyOf(const std::string& metaschema, const Scope& scope,
                                const AttributePath& path) {
  std::string uri(WithoutFragment(metaschema));
  if (uri == kDraft202012MetaschemaUri) return kVocabAll;
  std::string doc_uri;
  std::shared_ptr<const Json> doc = FindDocument(uri, &doc_uri);
  // An unknown or older metaschema is read as draft 2020-12.
  if (doc == nullptr || !doc->is_object()) return kVocabAll;
  const Json* vocab = Find(*doc, "$vocabulary");
  if (vocab == nullptr || !vocab->is_object()) return kVocabAll;
  unsigned result = kVocabCore;
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    const std::string& name = it.key();
    bool required = it.value().is_boolean() && it.value().get<bool>();
    unsigned bit = 0;
    if (name.rfind(kVocabPrefix, 0) == 0) {
      std::string_view v = std::string_view(name).substr(kVocabPrefix.size());
      if (v == "core") bit = kVocabCore;
      if (v == "applicator") bit = kVocabApplicator;
      if (v == "unevaluated") bit = kVocabUnevaluated;
      if (v == "validation") bit = kVocabValidation;
      if (v == "meta-data") bit = kVocabMetaData;
      if (v == "format-annotation") bit = kVocabFormatAnnotation;
      if (v == "content") bit = kVocabContent;
    }
    if (bit != 0) {
      result |= bit;
    } else if (required) {
      Error(scope, path, "$schema",
            "metaschema " + Quote(uri) + " requires vocabulary " + Quote(name) +
                ", which this validator does not support");
    }
  }
  return result;
}

const Pattern* Compiler::NewPattern(const std::string& source, const Scope& scope,
                                    const AttributePath& path, std::string_view keyword) {
  Result<std::unique_ptr<Pattern>> p = Pattern::Create(source);
  if (!p.ok()) {
    Error(scope, path, keyword, Quote(source) + ": " + p.status().message());
    return nullptr;
  }
  out_->patterns.push_back(std::move(p).value());
  return out_->patterns.back().get();
}

Node* Compiler::CompileChild(const Json& s, const Scope& scope, const AttributePath& path,
                             int depth) {
  return CompileNode(s, scope, path, depth + 1, /*document_root=*/false);
}

Node* Compiler::CompileNode(const Json& s, const Scope& parent, const AttributePath& path,
                            int depth, bool document_root) {
  if (auto it = node_of_.find(&s); it != node_of_.end()) return it->second;
  Node* node = &out_->nodes.emplace_back();
  node->resource = parent.resource;
  if (depth > kMaxSchemaNesting) {
    Error(parent, path, "",
          "schemas are nested deeper than " + std::to_string(kMaxSchemaNesting) + " levels");
    return node;
  }
  node_of_.emplace(&s, node);
  if (s.is_boolean()) {
    node->kind = s.get<bool>() ? Node::Kind::kTrue : Node::Kind::kFalse;
    return node;
  }
  if (!s.is_object()) {
    Error(parent, path, "", "a schema must be an object or a boolean" + Got(s));
    return node;
  }
  node->kind = Node::Kind::kObject;

  Scope scope = parent;
  bool resource_root = document_root;
  if (const Json* id = Find(s, "$id")) {
    if (!id->is_string()) {
      Error(scope, path, "$id", "\"$id\" must be a string" + Got(*id));
    } else {
      std::string resolved = ResolveUri(scope.base, id->get_ref<const std::string&>());
      if (!FragmentOf(resolved).empty()) {
        Error(scope, path, "$id", "\"$id\" must not contain a fragment; use \"$anchor\"");
      } else {
        std::string uri(WithoutFragment(resolved));
        if (document_root) {
          // The document's own id: same resource, known by both URIs.
          resources_.emplace(uri, scope.resource);
          scope.resource->uri = uri;
        } else {
          Resource* r = NewResource(uri, &s, *scope.label);
          if (!resources_.emplace(uri, r).second) {
            Error(scope, path, "$id", "duplicate \"$id\" " + Quote(uri));
          }
          scope.resource = r;
          resource_root = true;
        }
        scope.base = uri;
      }
    }
  }
  if (resource_root) {
    scope.resource->root = node;
    if (const Json* ms = Find(s, "$schema")) {
      if (!ms->is_string()) {
        Error(scope, path, "$schema", "\"$schema\" must be a string" + Got(*ms));
      } else {
        scope.vocabulary = VocabularyOf(ms->get_ref<const std::string&>(), scope, path);
      }
    }
    scope.resource->vocabulary = scope.vocabulary;
  }
  node->resource = scope.resource;
  CompileKeywords(s, node, scope, path, depth);
  return node;
}

void Compiler::CompileKeywords(const Json& s, Node* node, const Scope& scope,
                               const AttributePath& path, int depth) {
  auto key_path = [&](std::string_view k) { return path.Key(std::string(k)); };
  auto single = [&](std::string_view k) -> const Node* {
    const Json* v = Find(s, k);
    return v == nullptr ? nullptr : CompileChild(*v, scope, key_path(k), depth);
  };
  auto schema_array = [&](std::string_view k, std::vector<const Node*>* out) {
    const Json* v = Find(s, k);
    if (v == nullptr) return;
    if (!v->is_array() || v->empty()) {
      Error(scope, path, k, Quote(k) + " must be a non-empty array of schemas" + Got(*v));
      return;
    }
    AttributePath base = key_path(k);
    for (std::size_t i = 0; i < v->size(); ++i) {
      out->push_back(CompileChild((*v)[i], scope, base.Index(i), depth));
    }
  };
  auto schema_map = [&](std::string_view k, std::vector<std::pair<std::string, const Node*>>* out) {
    const Json* v = Find(s, k);
    if (v == nullptr) return;
    if (!v->is_object()) {
      Error(scope, path, k, Quote(k) + " must be an object of schemas" + Got(*v));
      return;
    }
    AttributePath base = key_path(k);
    for (auto it = v->begin(); it != v->end(); ++it) {
      const Node* child = CompileChild(it.value(), scope, base.Key(it.key()), depth);
      if (out != nullptr) out->emplace_back(it.key(), child);
    }
  };
  auto number = [&](std::string_view k, std::optional<Number>* out) {
    const Json* v = Find(s, k);
    if (v == nullptr) return;
    if (!v->is_number()) {
      Error(scope, path, k, Quote(k) + " must be a number" + Got(*v));
      return;
    }
    *out = Number::From(*v);
  };
  auto count = [&](std::string_view k, std::optional<std::uint64_t>* out) {
    const Json* v = Find(s, k);
    if (v == nullptr) return;
    *out = NonNegativeInteger(*v);
    if (!out->has_value()) {
      Error(scope, path, k,
            Quote(k) + " must be a non-negative integer, got " + Abbreviate(*v, 40));
    }
  };
  auto string_array = [&](const Json& v, std::string_view k, std::vector<std::string>* out) {
    if (!v.is_array()) {
      Error(scope, path, k, Quote(k) + " must be an array of strings" + Got(v));
      return;
    }
    for (const Json& e : v) {
      if (!e.is_string()) {
        Error(scope, path, k, Quote(k) + " must contain only strings" + Got(e));
        return;
      }
      out->push_back(e.get<std::string>());
    }
  };

  // Core vocabulary.
  for (std::string_view k : {std::string_view("$anchor"), std::string_view("$dynamicAnchor")}) {
    const Json* v = Find(s, k);
    if (v == nullptr) continue;
    if (!v->is_string() || !IsAnchorName(v->get_ref<const std::string&>())) {
      Error(scope, path, k,
            Quote(k) + " must be a name matching ^[A-Za-z_][-A-Za-z0-9._]*$, got " +
                Abbreviate(*v, 40));
      continue;
    }
    const std::string& name = v->get_ref<const std::string&>();
    auto [it, inserted] = scope.resource->anchors.emplace(name, node);
    if (!inserted && it->second != node) {
      Error(scope, path, k, "duplicate anchor " + Quote(name) + " in " + Quote(scope.base));
    }
    if (k == "$dynamicAnchor") scope.resource->dynamic_anchors.emplace(name, node);
  }
  for (std::string_view k : {std::string_view("$ref"), std::string_view("$dynamicRef")}) {
    const Json* v = Find(s, k);
    if (v == nullptr) continue;
    if (!v->is_string()) {
      Error(scope, path, k, Quote(k) + " must be a string" + Got(*v));
      continue;
    }
    const std::string& raw = v->get_ref<const std::string&>();
    pending_.push_back(
        PendingRef{node, ResolveUri(scope.base, raw), raw, k == "$dynamicRef", scope, path});
  }
  schema_map("$defs", nullptr);
  if (const Json* v = Find(s, "$comment"); v != nullptr && !v->is_string()) {
    Error(scope, path, "$comment", "\"$comment\" must be a string" + Got(*v));
  }

  if ((scope.vocabulary & kVocabApplicator) != 0) {
    schema_array("allOf", &node->all_of);
    schema_array("anyOf", &node->any_of);
    schema_array("oneOf", &node->one_of);
    node->not_schema = single("not");
    node->if_schema = single("if");
    node->then_schema = single("then");
    node->else_schema = single("else");
    schema_map("dependentSchemas", &node->dependent_schemas);
    schema_map("properties", &node->properties);
    // std::map iteration already gives sorted keys; keep the invariant explicit.
    std::sort(node->properties.begin(), node->properties.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    if (const Json* v = Find(s, "patternProperties")) {
      if (!v->is_object()) {
        Error(scope, path, "patternProperties",
              "\"patternProperties\" must be an object of schemas" + Got(*v));
      } else {
        AttributePath base = key_path("patternProperties");
        for (auto it = v->begin(); it != v->end(); ++it) {
          const Pattern* p = NewPattern(it.key(), scope, path, "patternProperties");
          const Node* child = CompileChild(it.value(), scope, base.Key(it.key()), depth);
          if (p != nullptr) node->pattern_properties.emplace_back(p, child);
        }
      }
    }
    node->additional_properties = single("additionalProperties");
    node->property_names = single("propertyNames");
    if (const Json* v = Find(s, "prefixItems")) {
      if (!v->is_array() || v->empty()) {
        Error(scope, path, "prefixItems",
              "\"prefixItems\" must be a non-empty array of schemas" + Got(*v));
      } else {
        schema_array("prefixItems", &node->prefix_items);
      }
    }
    if (const Json* v = Find(s, "items"); v != nullptr && v->is_array()) {
      Error(scope, path, "items",
            "\"items\" must be a schema; for tuples use \"prefixItems\" (draft 2020-12)");
    } else {
      node->items = single("items");
    }
    node->contains = single("contains");
  }

  if ((scope.vocabulary & kVocabUnevaluated) != 0) {
    node->unevaluated_items = single("unevaluatedItems");
    node->unevaluated_properties = single("unevaluatedProperties");
    node->has_unevaluated =
        node->unevaluated_items != nullptr || node->unevaluated_properties != nullptr;
  }

  if ((scope.vocabulary & kVocabValidation) != 0) {
    if (const Json* v = Find(s, "type")) {
      auto add = [&](const Json& name) {
        std::optional<std::uint8_t> bit =
            name.is_string() ? TypeBitOf(name.get_ref<const std::string&>()) : std::nullopt;
        if (!bit) {
          Error(scope, path, "type",
                "\"type\" names must be one of null, boolean, object, array, number, string, "
                "integer; got " +
                    Abbreviate(name, 40));
          return;
        }
        node->types |= *bit;
      };
      if (v->is_array()) {
        if (v->empty()) Error(scope, path, "type", "\"type\" must not be an empty array");
        for (const Json& e : *v) add(e);
      } else {
        add(*v);
      }
    }
    if (const Json* v = Find(s, "const")) node->const_value = v;
    if (const Json* v = Find(s, "enum")) {
      if (!v->is_array()) {
        Error(scope, path, "enum", "\"enum\" must be an array" + Got(*v));
      } else {
        node->enum_values = v;
      }
    }
    number("multipleOf", &node->multiple_of);
    if (node->multiple_of && !(node->multiple_of->AsLongDouble() > 0)) {
      Error(scope, path, "multipleOf", "\"multipleOf\" must be greater than 0");
      node->multiple_of.reset();
    }
    number("maximum", &node->maximum);
    number("exclusiveMaximum", &node->exclusive_maximum);
    number("minimum", &node->minimum);
    number("exclusiveMinimum", &node->exclusive_minimum);
    count("maxLength", &node->max_length);
    count("minLength", &node->min_length);
    if (const Json* v = Find(s, "pattern")) {
      if (!v->is_string()) {
        Error(scope, path, "pattern", "\"pattern\" must be a string" + Got(*v));
      } else {
        node->pattern = NewPattern(v->get<std::string>(), scope, path, "pattern");
      }
    }
    count("maxItems", &node->max_items);
    count("minItems", &node->min_items);
    count("maxContains", &node->max_contains);
    count("minContains", &node->min_contains);
    if (const Json* v = Find(s, "uniqueItems")) {
      if (!v->is_boolean()) {
        Error(scope, path, "uniqueItems", "\"uniqueItems\" must be a boolean" + Got(*v));
      } else {
        node->unique_items = v->get<bool>();
      }
    }
    count("maxProperties", &node->max_properties);
    count("minProperties", &node->min_properties);
    if (const Json* v = Find(s, "required")) string_array(*v, "required", &node->required);
    if (const Json* v = Find(s, "dependentRequired")) {
      if (!v->is_object()) {
        Error(scope, path, "dependentRequired",
              "\"dependentRequired\" must be an object of string arrays" + Got(*v));
      } else {
        for (auto it = v->begin(); it != v->end(); ++it) {
          std::vector<std::string> names;
          string_array(it.value(), "dependentRequired", &names);
          node->dependent_required.emplace_back(it.key(), std::move(names));
        }
      }
    }
  }

  if ((scope.vocabulary & kVocabFormatAnnotation) != 0) {
    if (const Json* v = Find(s, "format"); v != nullptr && !v->is_string()) {
      Error(scope, path, "format", "\"format\" must be a string" + Got(*v));
    }
  }
  if ((scope.vocabulary & kVocabContent) != 0) {
    // An annotation only, but compiled so that resources inside it exist.
    single("contentSchema");
  }
}

void Compiler::ResolvePending() {
  // Resolving may load documents, which appends to pending_.
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    PendingRef ref = pending_[i];
    std::string why;
    const Node* target = Resolve(ref.uri, &why);
    std::string_view keyword = ref.dynamic ? "$dynamicRef" : "$ref";
    if (target == nullptr) {
      Error(ref.scope, ref.path, keyword,
            "cannot resolve " + Quote(keyword) + " " + Quote(ref.raw) + ": " + why);
      continue;
    }
    if (!ref.dynamic) {
      ref.node->ref = target;
      continue;
    }
    ref.node->dynamic_ref = target;
    std::string fragment = PercentDecode(FragmentOf(ref.uri));
    if (!fragment.empty() && fragment[0] != '/') {
      const auto& dyn = target->resource->dynamic_anchors;
      auto it = dyn.find(fragment);
      if (it != dyn.end() && it->second == target) {
        ref.node->dynamic_anchor = fragment;
        out_->uses_dynamic_scope = true;
      }
    }
  }
}

const Node* Compiler::Resolve(const std::string& uri, std::string* why) {
  std::string base(WithoutFragment(uri));
  std::string fragment = PercentDecode(FragmentOf(uri));
  Resource* r = FindResource(base);
  if (r == nullptr) {
    LoadDocument(base);
    r = FindResource(base);
  }
  if (r == nullptr) {
    *why = "no schema is known by the URI " + Quote(base == kDefaultBaseUri ? "" : base);
    return nullptr;
  }
  if (fragment.empty()) {
    if (r->root == nullptr) *why = "the resource " + Quote(base) + " has no root schema";
    return r->root;
  }
  if (fragment[0] != '/') {
    auto it = r->anchors.find(fragment);
    if (it == r->anchors.end()) {
      *why = "no anchor " + Quote(fragment) + " in " + Quote(base);
      return nullptr;
    }
    return it->second;
  }
  // A JSON pointer, relative to the resource root.
  const Json* at = r->root_json;
  AttributePath path;
  std::size_t pos = 1;
  while (true) {
    std::size_t slash = fragment.find('/', pos);
    std::string token =
        fragment.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    std::string key;
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
        key += token[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        key += token[i];
      }
    }
    if (at->is_object()) {
      auto it = at->find(key);
      if (it == at->end()) break;
      at = &*it;
      path = path.Key(key);
    } else if (at->is_array()) {
      bool digits =
          !key.empty() && key.size() <= 18 &&
          std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
          (key.size() == 1 || key[0] != '0');
      if (!digits) break;
      std::size_t index = std::stoull(key);
      if (index >= at->size()) break;
      at = &(*at)[index];
      path = path.Index(index);
    } else {
      break;
    }
    if (slash == std::string::npos) {
      if (auto it = node_of_.find(at); it != node_of_.end()) return it->second;
      // A pointer into something not compiled as a schema (an unknown
      // keyword, say): compile it now, in the scope of the resource.
      Scope scope{r->uri, r, r->vocabulary, &r->document_label};
      return CompileNode(*at, scope, path, 0, /*document_root=*/false);
    }
    pos = slash + 1;
  }
  *why = "the JSON pointer " + Quote(fragment) + " does not exist in " + Quote(base);
  return nullptr;
}

}  // namespace bver::schema::internal
