// The compiled form of a schema: a graph of Nodes, one per schema object or
// boolean, with every keyword parsed and every reference resolved to a Node
// pointer. Built once by the Compiler, then read-only: the Evaluator only
// reads it, so one CompiledSchema serves any number of threads at once.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/schema/json_util.h"
#include "src/schema/pattern.h"

namespace bver::schema::internal {

// Vocabularies of draft 2020-12, as bits. Keywords of a vocabulary that the
// governing metaschema leaves out are ignored.
enum Vocabulary : unsigned {
  kVocabCore = 1u << 0,
  kVocabApplicator = 1u << 1,
  kVocabUnevaluated = 1u << 2,
  kVocabValidation = 1u << 3,
  kVocabMetaData = 1u << 4,
  kVocabFormatAnnotation = 1u << 5,
  kVocabContent = 1u << 6,
  kVocabAll = (1u << 7) - 1,
};

// "type" as a bit set.
enum TypeBit : std::uint8_t {
  kTypeNull = 1u << 0,
  kTypeBoolean = 1u << 1,
  kTypeObject = 1u << 2,
  kTypeArray = 1u << 3,
  kTypeNumber = 1u << 4,
  kTypeString = 1u << 5,
  kTypeInteger = 1u << 6,
};

struct Node;

// A schema resource: the subtree of a document root or of a schema with
// "$id". Anchors are looked up here; the resources entered during
// evaluation form the dynamic scope that "$dynamicRef" searches.
struct Resource {
  std::string uri;             // absolute, without fragment
  std::string document_label;  // for messages: the document's URI, "" for the root document
  const Json* root_json = nullptr;
  const Node* root = nullptr;
  unsigned vocabulary = kVocabAll;
  std::unordered_map<std::string, const Node*> anchors;          // $anchor and $dynamicAnchor
  std::unordered_map<std::string, const Node*> dynamic_anchors;  // $dynamicAnchor only
};

struct Node {
  enum class Kind : std::uint8_t { kTrue, kFalse, kObject };
  Kind kind = Kind::kTrue;
  const Resource* resource = nullptr;
  // True when this node has unevaluatedProperties/unevaluatedItems and so
  // must collect the annotations of its other keywords.
  bool has_unevaluated = false;

  // Validation vocabulary.
  std::uint8_t types = 0;  // 0: no "type"
  const Json* const_value = nullptr;
  const Json* enum_values = nullptr;  // an array
  std::optional<Number> multiple_of, maximum, exclusive_maximum, minimum, exclusive_minimum;
  std::optional<std::uint64_t> max_length, min_length;
  const Pattern* pattern = nullptr;
  std::optional<std::uint64_t> max_items, min_items, max_contains, min_contains;
  bool unique_items = false;
  std::optional<std::uint64_t> max_properties, min_properties;
  std::vector<std::string> required;
  std::vector<std::pair<std::string, std::vector<std::string>>> dependent_required;

  // Core.
  const Node* ref = nullptr;
  const Node* dynamic_ref = nullptr;
  // Non-empty when the "$dynamicRef" target carries a matching
  // "$dynamicAnchor" (the "bookend"), so that the dynamic scope decides.
  std::string dynamic_anchor;

  // Applicator vocabulary.
  std::vector<const Node*> all_of, any_of, one_of;
  const Node* not_schema = nullptr;
  const Node* if_schema = nullptr;
  const Node* then_schema = nullptr;
  const Node* else_schema = nullptr;
  std::vector<std::pair<std::string, const Node*>> dependent_schemas;
  std::vector<std::pair<std::string, const Node*>> properties;  // sorted by key
  std::vector<std::pair<const Pattern*, const Node*>> pattern_properties;
  const Node* additional_properties = nullptr;
  const Node* property_names = nullptr;
  std::vector<const Node*> prefix_items;
  const Node* items = nullptr;
  const Node* contains = nullptr;

  // Unevaluated vocabulary.
  const Node* unevaluated_items = nullptr;
  const Node* unevaluated_properties = nullptr;
};

// A compiled schema with everything it points into.
class CompiledSchema {
 public:
  const Node* root = nullptr;
  // True when some node has a "$dynamicRef" that consults the dynamic scope;
  // only then does evaluation track the scope.
  bool uses_dynamic_scope = false;

  std::vector<std::shared_ptr<const Json>> documents;
  std::deque<Node> nodes;
  std::deque<Resource> resources;
  std::vector<std::unique_ptr<Pattern>> patterns;
};

// What a SchemaRegistry holds.
struct RegistryData {
  // Document URI → document.
  std::unordered_map<std::string, std::shared_ptr<const Json>> documents;
  // URI of a resource declared inside a document by "$id" → document URI.
  std::unordered_map<std::string, std::string> embedded;
};

}  // namespace bver::schema::internal
