// Turns schema JSON into a CompiledSchema: checks every keyword, compiles
// every regex, registers $id resources and anchors, and resolves every $ref
// and $dynamicRef (pulling documents from the registry or the built-in
// metaschemas as needed). Single-use, single-threaded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bver/pointer.h"
#include "bver/status.h"
#include "src/schema/compiled.h"
#include "src/schema/validator.h"

namespace bver::schema::internal {

// Nesting limits. Schemas nest schema objects; the document as a whole
// (including "enum" and "const" values) nests JSON.
inline constexpr int kMaxSchemaNesting = 200;
inline constexpr std::size_t kMaxDocumentDepth = 1000;

// The base URI of a root schema that declares no "$id".
inline constexpr char kDefaultBaseUri[] = "bver:///schema.json";

class Compiler {
 public:
  explicit Compiler(const SchemaRegistry* registry);

  Result<std::unique_ptr<CompiledSchema>> Compile(const Json& schema);

 private:
  struct Scope {
    std::string base;              // absolute base URI, no fragment
    Resource* resource = nullptr;  // the enclosing resource
    unsigned vocabulary = kVocabAll;
    const std::string* label = nullptr;  // Resource::document_label of the document
  };
  // A $ref or $dynamicRef, resolved once every document is compiled.
  struct PendingRef {
    Node* node;
    std::string uri;  // absolute
    std::string raw;  // as written
    bool dynamic;
    Scope scope;
    AttributePath path;
  };

  Node* CompileNode(const Json& s, const Scope& parent, const AttributePath& path, int depth,
                    bool document_root);
  void CompileKeywords(const Json& s, Node* node, const Scope& scope, const AttributePath& path,
                       int depth);
  Node* CompileChild(const Json& s, const Scope& scope, const AttributePath& path, int depth);
  Node* CompileDocument(const Json& doc, const std::string& uri, const std::string& label);
  void LoadDocument(const std::string& uri);
  std::shared_ptr<const Json> FindDocument(const std::string& uri, std::string* doc_uri) const;
  unsigned VocabularyOf(const std::string& metaschema, const Scope& scope,
                        const AttributePath& path);
  void ResolvePending();
  const Node* Resolve(const std::string& uri, std::string* why);
  Resource* FindResource(const std::string& uri) const;
  Resource* NewResource(const std::string& uri, const Json* root_json, const std::string& label);
  const Pattern* NewPattern(const std::string& source, const Scope& scope,
                            const AttributePath& path, std::string_view keyword);

  void Error(const Scope& scope, const AttributePath& path, std::string_view keyword,
             std::string message);

  const RegistryData* registry_;
  std::unique_ptr<CompiledSchema> out_;
  std::unordered_map<std::string, Resource*> resources_;
  std::unordered_map<const Json*, Node*> node_of_;
  std::vector<std::string> loaded_documents_;
  std::vector<PendingRef> pending_;
  std::vector<Violation> errors_;
};

// The URIs of the resources that `doc` (retrieved from `doc_uri`) declares
// with "$id", resolved; used by SchemaRegistry to find embedded resources.
std::vector<std::string> EmbeddedResourceIds(const Json& doc, const std::string& doc_uri);

// Nesting depth of a JSON value (a scalar is 1), computed without recursion
// and giving up once past `limit` (returns limit + 1 then).
std::size_t JsonDepth(const Json& value, std::size_t limit);

}  // namespace bver::schema::internal
