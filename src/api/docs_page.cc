#include "src/api/docs_page.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

namespace bver::api {
namespace {

using nlohmann::json;

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#fafbfc;line-height:1.45}
header{background:#1d2330;color:#fff;padding:1.2em 2em}
header h1{margin:0 0 .2em 0;font-size:1.6em}
main{max-width:70em;margin:0 auto;padding:1em 2em 4em 2em}
nav ul{columns:2;list-style:none;padding-left:0}
h2{border-bottom:2px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
section.op{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.8em 1.2em;margin:1em 0}
section.op h3{margin:.2em 0;font-size:1.1em}
.method{display:inline-block;min-width:4.5em;text-align:center;border-radius:4px;color:#fff;font-weight:bold;padding:0 .4em;font-family:monospace}
.GET{background:#2f7d32}.POST{background:#1565c0}.PUT{background:#8d5a00}.PATCH{background:#6a1b9a}.DELETE{background:#b71c1c}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f3f5f7;border:1px solid #e1e4e8;padding:.6em;overflow:auto;max-height:30em}
table{border-collapse:collapse;margin:.4em 0}
th,td{border:1px solid #d0d7de;padding:.2em .6em;text-align:left;vertical-align:top}
.scope{background:#eef3fb;border:1px solid #c8d7ee;border-radius:3px;padding:0 .3em;margin-right:.3em;font-family:monospace}
details{margin:.3em 0}
summary{cursor:pointer}
)";

constexpr std::string_view kMethods[] = {"get", "post", "put", "patch", "delete"};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Str(const json& obj, std::string_view key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Element content needs only & and < escaped (> too, for symmetry); quotes,
// frequent in JSON, stay as they are, which keeps the page a third smaller.
std::string TextEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string Pretty(const json& v) { return TextEscape(v.dump(2, ' ', false, json::error_handler_t::replace)); }

// An id usable as an HTML anchor: the operation id's characters are already
// safe ([a-z0-9._-]); anything else becomes '-'.
std::string Anchor(std::string_view prefix, std::string_view s) {
  std::string out(prefix);
  for (char c : s) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '-');
  }
  return out;
}

// The component a "#/components/schemas/NAME" reference names, or null.
const json* Component(const json& doc, const json& schema, std::string* name) {
  if (!schema.is_object() || !schema.contains("$ref") || !schema["$ref"].is_string()) return nullptr;
  const std::string ref = schema["$ref"].get<std::string>();
  constexpr std::string_view kPrefix = "#/components/schemas/";
  if (ref.rfind(kPrefix, 0) != 0) return nullptr;
  json::json_pointer ptr;
  try {
    ptr = json::json_pointer(ref.substr(1));
  } catch (const json::exception&) {
    return nullptr;
  }
  if (!doc.contains(ptr)) return nullptr;
  *name = ref.substr(kPrefix.size());
  return &doc.at(ptr);
}

// Components up to this size (pretty JSON) are shown inline; bigger ones
// (output schemas holding every kind's body) only as a link to the Schemas
// section, which shows each once, so the page stays small.
constexpr std::size_t kInlineSchemaChars = 4000;

// A schema for display: a reference to a component is shown as that
// component (named, linked), anything else as it is.
std::string SchemaBlock(const json& doc, const json& schema) {
  std::string name;
  if (const json* c = Component(doc, schema, &name)) {
    std::string out = "<p class=\"schema-name\">Schema <a href=\"#" + HtmlEscape(Anchor("schema-", name)) +
                      "\"><code>" + HtmlEscape(name) + "</code></a>";
    std::string pretty = c->dump(2, ' ', false, json::error_handler_t::replace);
    if (pretty.size() > kInlineSchemaChars) return out + " (see Schemas below)</p>";
    return out + "</p><pre>" + TextEscape(pretty) + "</pre>";
  }
  return "<pre>" + Pretty(schema) + "</pre>";
}

// A string a schema accepts, when one of a few everyday forms matches its
// pattern or format (an id, a version, a digest, a time, a pointer); else
// "..." for the reader to replace.
std::string ExampleString(const json& schema) {
  if (schema.value("format", "") == "date-time") return "2026-01-01T00:00:00Z";
  auto pattern = schema.find("pattern");
  if (pattern == schema.end() || !pattern->is_string()) return "example";
  static const char* const kCandidates[] = {
      "example", "example-1", "1.0.0", "bver://sites/site/example",
      "sha256:0000000000000000000000000000000000000000000000000000000000000000", "0123456789abcdef"};
  try {
    const std::regex re(pattern->get<std::string>(), std::regex::ECMAScript);
    for (const char* c : kCandidates) {
      if (std::regex_search(c, re)) return c;
    }
  } catch (const std::regex_error&) {
  }
  return "...";
}

// A small example value for a schema: required properties only, a
// placeholder per type. Good enough for a curl line a person then edits.
json Example(const json& doc, const json& schema, int depth) {
  if (depth > 8 || !schema.is_object()) return json::object();
  std::string name;
  if (const json* c = Component(doc, schema, &name)) return Example(doc, *c, depth + 1);
  if (schema.contains("$ref") && schema["$ref"].is_string()) {
    // A reference inside a component ("#/components/schemas/X/$defs/Y").
    const std::string ref = schema["$ref"].get<std::string>();
    if (ref.rfind("#/", 0) == 0) {
      try {
        json::json_pointer ptr(ref.substr(1));
        if (doc.contains(ptr)) return Example(doc, doc.at(ptr), depth + 1);
      } catch (const json::exception&) {
      }
    }
    return json::object();
  }
  if (schema.contains("examples") && schema["examples"].is_array() && !schema["examples"].empty()) {
    return schema["examples"][0];
  }
  if (schema.contains("default")) return schema["default"];
  if (schema.contains("const")) return schema["const"];
  if (schema.contains("enum") && schema["enum"].is_array() && !schema["enum"].empty()) return schema["enum"][0];
  for (const char* k : {"allOf", "anyOf", "oneOf"}) {
    if (schema.contains(k) && schema[k].is_array() && !schema[k].empty()) return Example(doc, schema[k][0], depth + 1);
  }
  std::string type;
  if (schema.contains("type")) {
    const json& t = schema["type"];
    if (t.is_string()) type = t.get<std::string>();
    if (t.is_array() && !t.empty() && t[0].is_string()) type = t[0].get<std::string>();
  } else if (schema.contains("properties")) {
    type = "object";
  }
  if (type == "string") return ExampleString(schema);
  if (type == "integer") return 1;
  if (type == "number") return 1.5;
  if (type == "boolean") return true;
  if (type == "null") return nullptr;
  if (type == "array") return json::array();
  json out = json::object();
  if (schema.contains("required") && schema["required"].is_array() && schema.contains("properties")) {
    for (const json& r : schema["required"]) {
      if (!r.is_string()) continue;
      const std::string key = r.get<std::string>();
      out[key] = schema["properties"].contains(key) ? Example(doc, schema["properties"][key], depth + 1) : json("...");
    }
  }
  return out;
}

// Single-quoted for a POSIX shell.
std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::string Curl(const json& doc, const std::string& method, const std::string& path, const json& op) {
  // Placeholders become upper-case words: curl would read "{id}" as a glob.
  std::string target;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      std::size_t close = path.find('}', i);
      if (close == std::string::npos) break;
      target += Upper(path.substr(i + 1, close - i - 1));
      i = close;
    } else {
      target.push_back(path[i]);
    }
  }
  std::string query;
  std::vector<std::string> headers;
  if (op.contains("parameters")) {
    for (const json& p : op["parameters"]) {
      if (!p.value("required", false)) continue;
      std::string in = Str(p, "in"), name = Str(p, "name");
      // A parameter with fixed choices (a kind) gets the first: pasted, it works.
      std::string value = Upper(name);
      if (p.contains("schema") && p["schema"].contains("enum") && p["schema"]["enum"].is_array() &&
          !p["schema"]["enum"].empty() && p["schema"]["enum"][0].is_string()) {
        value = p["schema"]["enum"][0].get<std::string>();
      }
      if (in == "query") query += (query.empty() ? "?" : "&") + name + "=" + value;
      if (in == "header") headers.push_back(name + ": " + Upper(name));
    }
  }
  std::string cmd = "curl -sS";
  if (method != "get") cmd += " -X " + Upper(method);
  cmd += " " + ShellQuote("http://127.0.0.1:8080" + target + query);
  cmd += " \\\n  -H 'Authorization: Bearer '\"$BVER_API_KEY\"";
  for (const std::string& h : headers) cmd += " \\\n  -H " + ShellQuote(h);
  if (op.contains("requestBody") && op["requestBody"].contains("content") && !op["requestBody"]["content"].empty()) {
    const json& content = op["requestBody"]["content"];
    // A merge patch reads most like what a person means by "change this".
    std::string media = method == "patch" && content.contains("application/merge-patch+json")
                            ? std::string("application/merge-patch+json")
                            : content.begin().key();
    json example = content[media].contains("schema") ? Example(doc, content[media]["schema"], 0) : json::object();
    if (example.is_object() && example.empty()) {
      // A body whose schema depends on the kind is a plain object here; the
      // operation's kind-less body schema ("<op>.input.body", or its
      // create's for a patch) gives a better example.
      const std::string id = Str(op, "operationId");
      const std::string prefix = id.substr(0, id.rfind('.') + 1);
      // A repo whose kind is required has only per-kind bodies
      // ("<op>.input.body.<kind>"): the first one will do.
      static const json kNone = json::object();
      json::json_pointer at("/components/schemas");
      const json& schemas = doc.contains(at) ? doc.at(at) : kNone;
      const json* found = nullptr;
      for (const std::string& name : {id + ".input.body", prefix + "create.input.body", prefix + "replace.input.body"}) {
        for (auto it = schemas.begin(); it != schemas.end() && found == nullptr; ++it) {
          if (it.key() == name || it.key().rfind(name + ".", 0) == 0) found = &*it;
        }
        if (found != nullptr) break;
      }
      if (found != nullptr) example = Example(doc, *found, 0);
    }
    cmd += " \\\n  -H " + ShellQuote("Content-Type: " + media);
    cmd += " \\\n  -d " + ShellQuote(example.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  return cmd;
}

std::string Parameters(const json& op) {
  if (!op.contains("parameters") || op["parameters"].empty()) return {};
  std::string out = "<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Required</th><th>Schema</th><th>Description</th></tr>";
  for (const json& p : op["parameters"]) {
    out += "<tr><td><code>" + HtmlEscape(Str(p, "name")) + "</code></td><td>" + HtmlEscape(Str(p, "in")) + "</td><td>" +
           (p.value("required", false) ? "yes" : "no") + "</td><td><code>" +
           HtmlEscape(p.contains("schema") ? p["schema"].dump(-1, ' ', false, json::error_handler_t::replace) : "") +
           "</code></td><td>" + HtmlEscape(Str(p, "description")) + "</td></tr>";
  }
  return out + "</table>";
}

std::string Operation(const json& doc, const std::string& method, const std::string& path, const json& op) {
  const std::string id = Str(op, "operationId");
  std::string out = "<section class=\"op\" id=\"" + HtmlEscape(Anchor("op-", id)) + "\">";
  out += "<h3><span class=\"method " + Upper(method) + "\">" + Upper(method) + "</span> <code>" + HtmlEscape(path) +
         "</code></h3>";
  out += "<p><strong>" + HtmlEscape(Str(op, "summary")) + "</strong> &mdash; operation <code>" + HtmlEscape(id) +
         "</code></p>";
  if (!Str(op, "description").empty()) out += "<p>" + HtmlEscape(Str(op, "description")) + "</p>";
  // Scopes: the oauth2 requirement lists them; the apiKey one carries none.
  std::set<std::string> scopes;
  if (op.contains("security") && op["security"].is_array()) {
    for (const json& req : op["security"]) {
      if (!req.is_object()) continue;
      for (const auto& [scheme, list] : req.items()) {
        if (!list.is_array()) continue;
        for (const json& s : list) {
          if (s.is_string()) scopes.insert(s.get<std::string>());
        }
      }
    }
  }
  out += "<p>Scopes:";
  if (scopes.empty()) out += " none";
  for (const std::string& s : scopes) out += " <span class=\"scope\">" + HtmlEscape(s) + "</span>";
  out += " (or <span class=\"scope\">admin</span>)</p>";
  out += Parameters(op);
  if (op.contains("requestBody") && op["requestBody"].contains("content")) {
    out += std::string("<h4>Request body") + (op["requestBody"].value("required", false) ? " (required)" : "") +
           "</h4>";
    for (const auto& [media, content] : op["requestBody"]["content"].items()) {
      out += "<details><summary><code>" + HtmlEscape(media) + "</code></summary>" +
             SchemaBlock(doc, content.value("schema", json::object())) + "</details>";
    }
  }
  if (op.contains("responses")) {
    out += "<h4>Responses</h4>";
    for (const auto& [status, response] : op["responses"].items()) {
      out += "<details><summary><code>" + HtmlEscape(status) + "</code> " + HtmlEscape(Str(response, "description"));
      if (response.contains("headers")) {
        out += " &mdash; headers:";
        for (const auto& [h, unused] : response["headers"].items()) out += " <code>" + HtmlEscape(h) + "</code>";
      }
      out += "</summary>";
      if (response.contains("content")) {
        for (const auto& [media, content] : response["content"].items()) {
          out += "<p><code>" + HtmlEscape(media) + "</code></p>" +
                 SchemaBlock(doc, content.value("schema", json::object()));
        }
      }
      out += "</details>";
    }
  }
  out += "<h4>Example</h4><pre>" + TextEscape(Curl(doc, method, path, op)) + "</pre>";
  return out + "</section>\n";
}

std::string Auth(const json& doc) {
  std::string out =
      "<h2 id=\"auth\">Authentication</h2>"
      "<p>Send an API key or a JWT as <code>Authorization: Bearer &lt;token&gt;</code>, or an API key as "
      "<code>X-API-Key: &lt;key&gt;</code>. API keys are made with "
      "<code>bver keys create --scopes SCOPE,SCOPE</code> (printed once). JWTs come from your identity provider; "
      "their <code>scope</code> claim lists the scopes, space-separated.</p>"
      "<p>Each operation needs every scope it lists; <code>admin</code> implies all. Without credentials the "
      "answer is <code>401</code>, with credentials that lack a scope <code>403</code>; wrong, expired or revoked "
      "credentials are <code>401</code>. A server on a loopback address with no auth configured runs "
      "callers without credentials as the local operator.</p>"
      "<p>Errors are <code>application/problem+json</code> (RFC 9457) with <code>type</code>, "
      "<code>title</code>, <code>status</code>, <code>code</code> and, for invalid input, <code>errors</code> "
      "with attribute paths. <code>X-Correlation-ID</code> is echoed on every answer.</p>";
  const json* scopes = nullptr;
  json::json_pointer ptr("/components/securitySchemes/oauth2/flows/clientCredentials/scopes");
  if (doc.contains(ptr)) scopes = &doc.at(ptr);
  if (scopes != nullptr && scopes->is_object() && !scopes->empty()) {
    out += "<table><tr><th>Scope</th><th>Grants</th></tr>";
    for (const auto& [name, text] : scopes->items()) {
      out += "<tr><td><span class=\"scope\">" + HtmlEscape(name) + "</span></td><td>" +
             HtmlEscape(text.is_string() ? text.get<std::string>() : "") + "</td></tr>";
    }
    out += "</table>";
  }
  return out;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string DocsPage(const json& openapi) {
  const json info = openapi.value("info", json::object());
  const std::string title = Str(info, "title"), version = Str(info, "version");

  // Operations by tag, in document order within a tag.
  struct Op {
    std::string method, path;
    const json* op;
  };
  std::vector<std::string> tag_order;
  std::map<std::string, std::vector<Op>> by_tag;
  if (openapi.contains("paths") && openapi["paths"].is_object()) {
    for (const auto& [path, item] : openapi["paths"].items()) {
      if (!item.is_object()) continue;
      for (std::string_view m : kMethods) {
        auto it = item.find(m);
        if (it == item.end() || !it->is_object()) continue;
        std::string tag = "other";
        if (it->contains("tags") && (*it)["tags"].is_array() && !(*it)["tags"].empty() && (*it)["tags"][0].is_string()) {
          tag = (*it)["tags"][0].get<std::string>();
        }
        if (!by_tag.contains(tag)) tag_order.push_back(tag);
        by_tag[tag].push_back({std::string(m), path, &*it});
      }
    }
  }

  // Repos first (the domain), then the platform's other operations, the
  // generic POST /v1/ops forms last.
  auto rank = [](const std::string& tag) { return tag == "ops" ? 2 : tag.find('/') != std::string::npos ? 0 : 1; };
  std::stable_sort(tag_order.begin(), tag_order.end(), [&](const std::string& a, const std::string& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });

  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<title>" + HtmlEscape(title) + " " + HtmlEscape(version) + " &mdash; API reference</title>"
                    "<style>" + std::string(kStyle) + "</style></head><body>\n";
  out += "<header><h1>" + HtmlEscape(title) + "</h1><div>version " + HtmlEscape(version) + " &middot; OpenAPI " +
         HtmlEscape(Str(openapi, "openapi")) + " &middot; <a style=\"color:#9cc3ff\" href=\"/v1/openapi.json\">"
         "/v1/openapi.json</a></div></header>\n<main>\n";
  if (!Str(info, "description").empty()) out += "<p>" + HtmlEscape(Str(info, "description")) + "</p>";
  out += "<p>Every operation also runs as <code>POST /v1/ops/{operation_id}</code> with its input object as the "
         "JSON body.</p>";
  out += "<nav><h2>Contents</h2><ul><li><a href=\"#auth\">Authentication</a></li>";
  for (const std::string& tag : tag_order) {
    out += "<li><a href=\"#" + HtmlEscape(Anchor("tag-", tag)) + "\">" + HtmlEscape(tag) + "</a> (" +
           std::to_string(by_tag[tag].size()) + ")</li>";
  }
  out += "<li><a href=\"#schemas\">Schemas</a></li></ul></nav>\n";
  out += Auth(openapi);
  for (const std::string& tag : tag_order) {
    out += "<h2 id=\"" + HtmlEscape(Anchor("tag-", tag)) + "\">" + HtmlEscape(tag) + "</h2>\n";
    for (const Op& o : by_tag[tag]) out += Operation(openapi, o.method, o.path, *o.op);
  }
  out += "<h2 id=\"schemas\">Schemas</h2>\n";
  json::json_pointer schemas_ptr("/components/schemas");
  if (openapi.contains(schemas_ptr) && openapi.at(schemas_ptr).is_object()) {
    for (const auto& [name, schema] : openapi.at(schemas_ptr).items()) {
      out += "<details id=\"" + HtmlEscape(Anchor("schema-", name)) + "\"><summary><code>" + HtmlEscape(name) +
             "</code></summary><pre>" + Pretty(schema) + "</pre></details>\n";
    }
  }
  out += "</main></body></html>\n";
  return out;
}

}  // namespace bver::api
