#include "src/api/openapi.h"

#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/runtime/operations.h"

namespace bver::api {
namespace {

using nlohmann::json;
using runtime::HttpSource;

constexpr std::string_view kSchemas = "#/components/schemas/";

// Component names must match ^[a-zA-Z0-9.\-_]+$ (Redocly's
// spec-components-invalid-map-name); a domain's $defs use ':' ("body:breaker").
std::string ComponentName(std::string_view s) {
  std::string out;
  for (char c : s) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    out.push_back(ok ? c : '.');
  }
  return out.empty() ? std::string("_") : out;
}

// One JSON pointer segment unescaped (~1 is '/', ~0 is '~').
std::string Unescape(std::string_view seg) {
  std::string out;
  for (std::size_t i = 0; i < seg.size(); ++i) {
    if (seg[i] == '~' && i + 1 < seg.size() && (seg[i + 1] == '0' || seg[i + 1] == '1')) {
      out.push_back(seg[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(seg[i]);
    }
  }
  return out;
}

// A schema placed in the document: its top-level $defs become components of
// their own ("<name>.<def>"), and every local "#/..." reference is rewritten
// to resolve against the document: "#/$defs/D/..." to the hoisted component,
// anything else to "#/components/schemas/<name>/...".
class Placer {
 public:
  Placer(const std::string& name, const json& schema, const json& taken) : name_(name) {
    if (schema.is_object() && schema.contains("$defs") && schema["$defs"].is_object()) {
      for (const auto& [def, unused] : schema["$defs"].items()) {
        std::string c = name + "." + ComponentName(def);
        for (int n = 2; taken.contains(c) || used_.contains(c); ++n) c = name + "." + ComponentName(def) + "_" + std::to_string(n);
        used_.insert(c);
        defs_[def] = c;
      }
    }
  }

  // Adds the schema and its hoisted $defs to `schemas`; returns the hoisted names.
  std::vector<std::string> Place(const json& schema, json* schemas) const {
    std::vector<std::string> hoisted;
    json root = Rewrite(schema);
    if (root.is_object() && root.contains("$defs") && !defs_.empty()) {
      for (auto& [def, body] : root["$defs"].items()) {
        (*schemas)[defs_.at(def)] = std::move(body);
        hoisted.push_back(defs_.at(def));
      }
      root.erase("$defs");
    }
    (*schemas)[name_] = std::move(root);
    return hoisted;
  }

  json Rewrite(const json& schema) const {
    if (schema.is_object()) {
      json out = json::object();
      for (auto it = schema.begin(); it != schema.end(); ++it) {
        if (it.key() == "$ref" && it->is_string()) {
          out[it.key()] = Ref(it->get_ref<const std::string&>());
        } else {
          out[it.key()] = Rewrite(*it);
        }
      }
      return out;
    }
    if (schema.is_array()) {
      json out = json::array();
      for (const json& v : schema) out.push_back(Rewrite(v));
      return out;
    }
    return schema;
  }

 private:
  std::string Ref(const std::string& ref) const {
    if (ref.rfind("#/", 0) != 0) return ref;
    constexpr std::string_view kDefs = "#/$defs/";
    if (ref.rfind(kDefs, 0) == 0) {
      std::size_t end = ref.find('/', kDefs.size());
      std::string def = Unescape(std::string_view(ref).substr(kDefs.size(), end == std::string::npos ? std::string::npos
                                                                                                     : end - kDefs.size()));
      auto it = defs_.find(def);
      if (it != defs_.end()) return std::string(kSchemas) + it->second + (end == std::string::npos ? "" : ref.substr(end));
    }
    return std::string(kSchemas) + name_ + ref.substr(1);
  }

  std::string name_;
  std::map<std::string, std::string> defs_;  // $defs key -> component name
  std::set<std::string> used_;
};

// Every component a value refers to ("#/components/schemas/NAME...") into *out.
void Referenced(const json& v, std::set<std::string>* out) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it.key() == "$ref" && it->is_string() && it->get_ref<const std::string&>().rfind(kSchemas, 0) == 0) {
        std::string rest = it->get_ref<const std::string&>().substr(kSchemas.size());
        out->insert(Unescape(rest.substr(0, rest.find('/'))));
      } else {
        Referenced(*it, out);
      }
    }
  } else if (v.is_array()) {
    for (const json& e : v) Referenced(e, out);
  }
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json ProblemSchema() {
  return json::parse(R"({
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
      "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
      "detail": {"type": "string"}, "code": {"type": "string"}, "instance": {"type": "string"},
      "correlation_id": {"type": "string"},
      "errors": {"type": "array", "items": {"type": "object", "properties": {
        "path": {"type": "string"}, "rule": {"type": "string"}, "message": {"type": "string"}}}}
    }
  })");
}

}  // namespace

json OpenApiDocument(const runtime::OperationTable& table) {
  const domain::Platform& p = table.platform();
  json doc = {{"openapi", "3.1.1"},
              {"jsonSchemaDialect", "https://json-schema.org/draft/2020-12/schema"},
              {"info",
               {{"title", p.id.empty() ? std::string("BVER platform") : p.id},
                {"version", p.version.empty() ? std::string("0.0.0") : p.version},
                {"description", p.description.empty() ? std::string("Generated by BVER.") : p.description}}},
              // Relative: the server that serves this document.
              {"servers", {{{"url", "/"}, {"description", "The server that serves this document"}}}}};
  json scopes = json::object();
  for (const std::string& s : table.AllScopes()) {
    scopes[s] = s == "admin" ? "Every operation" : "Operations that require " + s;
  }
  json schemas = {{"Problem", ProblemSchema()}};
  std::set<std::string> hoisted;  // components made from $defs: dropped below when nothing refers to them
  doc["components"]["securitySchemes"] = {
      {"oauth2",
       {{"type", "oauth2"},
        {"description", "JWT bearer tokens from your identity provider; the scope claim carries the scopes."},
        {"flows", {{"clientCredentials", {{"tokenUrl", "https://issuer.invalid/oauth/token"}, {"scopes", scopes}}}}}}},
      {"apiKey", {{"type", "http"}, {"scheme", "bearer"}, {"description", "A BVER API key (bver keys create)."}}}};
  json paths = json::object();
  auto problem = [](std::string description) {
    return json{{"description", std::move(description)},
                {"content",
                 {{"application/problem+json", {{"schema", {{"$ref", std::string(kSchemas) + "Problem"}}}}}}}};
  };
  const json client_error = problem(
      "A client error (RFC 9457 problem): 400 invalid input, 401 missing or wrong credentials, 403 a missing "
      "scope, 404 not found, 405 another method, 409 a conflict, 412 a stale If-Match, 413 a body too large, "
      "415 an unsupported Content-Type, 431 headers too large");
  const json server_error = problem("A server error (RFC 9457 problem): 500 internal, 501 not implemented, 503 unavailable");
  for (const runtime::OperationRow& row : table.rows()) {
    const runtime::HttpBinding& h = row.http;
    std::string in_name = row.id + ".input", out_name = row.id + ".output";
    Placer in_placer(in_name, *row.input_schema, schemas);
    for (std::string& n : in_placer.Place(*row.input_schema, &schemas)) hoisted.insert(std::move(n));
    Placer out_placer(out_name, *row.output_schema, schemas);
    for (std::string& n : out_placer.Place(*row.output_schema, &schemas)) hoisted.insert(std::move(n));
    json security = {{{"oauth2", row.scopes}}, {{"apiKey", json::array()}}};
    std::string tag = row.target.empty() ? std::string("platform") : row.target;
    json ok_content = {{"application/json", {{"schema", {{"$ref", std::string(kSchemas) + out_name}}}}}};

    // POST /v1/ops/<id>: every operation, its input object as the body.
    json input_required = row.input_schema->value("required", json::array());
    json generic = {{"operationId", "ops." + row.id},
                    {"summary", row.summary.empty() ? row.id : row.summary},
                    {"description", "Runs " + row.id + " with its input object as the JSON body. " + row.description},
                    {"tags", {"ops"}},
                    {"security", security},
                    {"requestBody",
                     {{"required", !input_required.empty()},
                      {"content", {{"application/json", {{"schema", {{"$ref", std::string(kSchemas) + in_name}}}}}}}}},
                    {"responses",
                     {{"200", {{"description", row.summary.empty() ? std::string("OK") : row.summary}, {"content", ok_content}}},
                      {"4XX", client_error},
                      {"default", server_error}}}};
    paths["/v1/ops/" + row.id]["post"] = std::move(generic);

    if (h.method.empty() || h.path.empty() || h.raw_request_body || h.raw_response_body) continue;
    const json& props = row.input_schema->contains("properties") ? (*row.input_schema)["properties"] : json::object();
    auto field_schema = [&](const std::string& f) {
      return props.contains(f) ? in_placer.Rewrite(props[f]) : json::object();
    };
    auto is_required = [&](const std::string& f) {
      for (const json& r : input_required) {
        if (r == f) return true;
      }
      return false;
    };
    json op = {{"operationId", row.id},
               {"summary", row.summary},
               {"description", row.description},
               {"tags", {tag}},
               {"security", security}};
    json params = json::array();
    json content = json::object();
    bool body_required = false;
    for (const runtime::HttpParam& prm : h.params) {
      if (prm.source == HttpSource::kBody) {
        for (const std::string& mt : prm.media_types) content[mt] = {{"schema", field_schema(prm.field)}};
        body_required = body_required || is_required(prm.field);
        continue;
      }
      json s = field_schema(prm.field);
      if (prm.form == runtime::HttpForm::kIfMatchVersion) s = {{"type", "string"}, {"pattern", "^(\\*|(W/)?\"[1-9][0-9]*\")$"}};
      json param = {{"name", prm.name},
                    {"in", prm.source == HttpSource::kPath ? "path" : prm.source == HttpSource::kQuery ? "query" : "header"},
                    {"schema", s}};
      if (prm.source == HttpSource::kPath || is_required(prm.field)) param["required"] = true;
      if (s.is_object() && s.contains("description")) param["description"] = s["description"];
      params.push_back(std::move(param));
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (!content.empty()) op["requestBody"] = {{"required", body_required}, {"content", content}};
    json ok = {{"description", row.summary.empty() ? std::string("OK") : row.summary}, {"content", ok_content}};
    if (!h.etag_field.empty()) ok["headers"]["ETag"] = {{"description", "The version, \"N\""}, {"schema", {{"type", "string"}}}};
    if (!h.location.empty()) ok["headers"]["Location"] = {{"description", "The new resource"}, {"schema", {{"type", "string"}}}};
    op["responses"] = {{std::to_string(h.success_status), ok}, {"4XX", client_error}, {"default", server_error}};
    if (h.success_status == 202) {
      // Accepted and still running: 202; already ended (a cache hit, or
      // within ?wait): 200 with the same body.
      op["responses"]["202"]["description"] = "Accepted, not ended yet: " + ok["description"].get<std::string>();
      json ended = ok;
      ended["description"] = "Already ended (a cache hit, or within wait)";
      op["responses"]["200"] = std::move(ended);
    }
    paths[h.path][Lower(h.method)] = std::move(op);
  }
  doc["paths"] = std::move(paths);

  // A hoisted $def that nothing refers to (a kind-less "body" of a repo whose
  // kind is required) would only be an unused component: drop it.
  std::set<std::string> reached;
  std::vector<const json*> todo = {&doc["paths"]};
  for (const auto& [name, schema] : schemas.items()) {
    if (!hoisted.contains(name)) todo.push_back(&schema);
  }
  while (!todo.empty()) {
    const json* v = todo.back();
    todo.pop_back();
    std::set<std::string> refs;
    Referenced(*v, &refs);
    for (const std::string& r : refs) {
      if (hoisted.contains(r) && reached.insert(r).second && schemas.contains(r)) todo.push_back(&schemas[r]);
    }
  }
  for (const std::string& name : hoisted) {
    if (!reached.contains(name)) schemas.erase(name);
  }
  doc["components"]["schemas"] = std::move(schemas);
  return doc;
}

}  // namespace bver::api
