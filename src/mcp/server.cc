#include "src/mcp/server.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <utility>

#include "bver/pointer.h"
#include "src/runtime/problem.h"

namespace bver::mcp {
namespace {

using nlohmann::json;

json Error(int code, std::string message, json data = nullptr) {
  json e = {{"code", code}, {"message", std::move(message)}};
  if (!data.is_null()) e["data"] = std::move(data);
  return e;
}

json Envelope(const json& id, const char* key, json value) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {key, std::move(value)}};
}

// Cursors are opaque to the client: "<n>" (an offset) or "<n>:<repo cursor>".
bool ParseIndex(std::string_view text, std::size_t* out) {
  if (text.empty() || text.size() > 9) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size();
}

// Reads params.cursor: false when present but not a string.
bool CursorParam(const json& params, std::string* cursor) {
  auto it = params.find("cursor");
  if (it == params.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *cursor = it->get<std::string>();
  return true;
}

// The caller's correlation id from params._meta, else a new one.
std::string CorrelationId(const json& params) {
  auto meta = params.find("_meta");
  if (meta != params.end() && meta->is_object()) {
    for (const char* key : {"correlation_id", "correlationId", "io.bver/correlation_id"}) {
      auto c = meta->find(key);
      if (c != meta->end() && c->is_string()) return c->get<std::string>();
    }
  }
  return runtime::Broker::NewCorrelationId();
}

}  // namespace

struct Server::Answer {
  json result;      // set on success
  json error;       // set on failure
  static Answer Ok(json r) { return {std::move(r), nullptr}; }
  static Answer Fail(int code, std::string message, json data = nullptr) {
    return {nullptr, Error(code, std::move(message), std::move(data))};
  }
};

const std::vector<std::string>& SupportedProtocolVersions() {
  static const std::vector<std::string> kVersions = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
  return kVersions;
}

Server::Server(std::shared_ptr<const runtime::Broker> broker) : Server(std::move(broker), Options()) {}
Server::Server(std::shared_ptr<const runtime::Broker> broker, Options options)
    : broker_(std::move(broker)), options_(std::move(options)) {
  if (options_.page_size == 0) options_.page_size = 50;
}

std::vector<std::string> Server::Handle(std::string_view text, const auth::Principal& who) const {
  json message = json::parse(text, nullptr, false);
  json answer;
  if (message.is_discarded()) {
    answer = Envelope(nullptr, "error", Error(kParseError, "Parse error: the message is not valid JSON"));
  } else {
    answer = HandleMessage(message, who);
  }
  if (answer.is_null()) return {};
  // Never throws on invalid UTF-8 from a handler: replace it.
  return {answer.dump(-1, ' ', false, json::error_handler_t::replace)};
}

json Server::HandleMessage(const json& message, const auth::Principal& who) const {
  if (message.is_array()) {
    return Envelope(nullptr, "error",
                    Error(kInvalidRequest, "Invalid Request: batches are not part of MCP 2025-11-25"));
  }
  if (!message.is_object()) {
    return Envelope(nullptr, "error", Error(kInvalidRequest, "Invalid Request: a message is a JSON object"));
  }
  auto method = message.find("method");
  bool has_id = message.contains("id");
  // A response from the client (we send no requests): nothing to answer.
  if (method == message.end() && has_id && (message.contains("result") || message.contains("error"))) {
    return nullptr;
  }
  json id = nullptr;
  if (has_id) {
    const json& given = message["id"];
    if (given.is_string() || given.is_number_integer()) id = given;
    else return Envelope(nullptr, "error", Error(kInvalidRequest, "Invalid Request: id must be a string or an integer"));
  }
  auto version = message.find("jsonrpc");
  if (version == message.end() || *version != "2.0" || method == message.end() || !method->is_string()) {
    return Envelope(id, "error", Error(kInvalidRequest, "Invalid Request: expected jsonrpc \"2.0\" and a method"));
  }
  static const json kEmpty = json::object();
  auto p = message.find("params");
  if (p != message.end() && !p->is_object() && !p->is_null()) {
    if (!has_id) return nullptr;
    return Envelope(id, "error", Error(kInvalidParams, "Invalid params: params must be an object"));
  }
  const json& params = (p == message.end() || p->is_null()) ? kEmpty : *p;
  const std::string name = method->get<std::string>();
  if (!has_id) return nullptr;  // notifications (initialized, cancelled, ...) need no answer
  Answer a;
  try {
    a = Dispatch(name, params, who);
  } catch (const std::exception&) {
    a = Answer::Fail(kInternalError, "Internal error");
  }
  if (!a.error.is_null()) return Envelope(id, "error", std::move(a.error));
  return Envelope(id, "result", std::move(a.result));
}

Server::Answer Server::Dispatch(const std::string& method, const json& params, const auth::Principal& who) const {
  if (method == "initialize") return Initialize(params);
  if (method == "ping") return Answer::Ok(json::object());
  if (method == "tools/list") return ListTools(params);
  if (method == "tools/call") return CallTool(params, who);
  if (method == "resources/list") return ListResources(params, who);
  if (method == "resources/templates/list") return ListTemplates(params);
  if (method == "resources/read") return ReadResource(params, who);
  return Answer::Fail(kMethodNotFound, "Method not found: " + method);
}

Server::Answer Server::Initialize(const json& params) const {
  std::string version(kLatestProtocolVersion);
  auto v = params.find("protocolVersion");
  if (v != params.end() && v->is_string()) {
    const auto& supported = SupportedProtocolVersions();
    if (std::find(supported.begin(), supported.end(), v->get<std::string>()) != supported.end()) {
      version = v->get<std::string>();
    }
  }
  const domain::Platform& platform = broker_->table().platform();
  return Answer::Ok(
      {{"protocolVersion", version},
       {"capabilities", {{"tools", {{"listChanged", true}}}, {"resources", {{"subscribe", false}, {"listChanged", false}}}}},
       {"serverInfo", {{"name", options_.server_name}, {"version", options_.server_version}}},
       {"instructions", "BVER platform " + platform.id +
                            ". Every operation is a tool named by its operation id (refs.<repo>.create, "
                            "refs.<repo>.get, ...); references are resources addressed by bver://ns/repo/id "
                            "pointers, optionally pinned (~N) and with an attribute path (@path)."}});
}

namespace {

// An output schema lean enough for an agent's context: a reference's body
// is described once, in the input of the repo's create tool (and validated
// by the broker before it is answered), so outputs say `body` is an object
// and where its schema is, and drop the per-kind dispatch (allOf of
// if kind = K then body = body:K) that only chose among body schemas. The
// structured content still conforms (the same object, less constrained).
bool IsBodyRef(const json& s) {
  return s.is_object() && s.contains("$ref") && s["$ref"].is_string() &&
         s["$ref"].get<std::string>().rfind("#/$defs/body", 0) == 0;
}

// An allOf member "if ... then {properties: {body: {$ref: body...}}}".
bool IsBodyDispatch(const json& member) {
  if (!member.is_object() || !member.contains("then")) return false;
  const json& then = member["then"];
  return then.is_object() && then.size() == 1 && then.contains("properties") && then["properties"].size() == 1 &&
         then["properties"].contains("body") && IsBodyRef(then["properties"]["body"]);
}

void DropBodyDispatch(json& s) {
  if (s.is_array()) {
    for (json& e : s) DropBodyDispatch(e);
    return;
  }
  if (!s.is_object()) return;
  if (auto all = s.find("allOf"); all != s.end() && all->is_array() && !all->empty() &&
                                  std::all_of(all->begin(), all->end(), IsBodyDispatch)) {
    s.erase(all);
  }
  for (auto& [key, value] : s.items()) DropBodyDispatch(value);
}

json LeanOutputSchema(const json& schema, const runtime::OperationRow& row) {
  if (!schema.is_object()) return schema;
  json lean = schema;
  DropBodyDispatch(lean);
  const std::string create = row.target.empty() ? "" : "refs." + row.target.substr(row.target.find('/') + 1) + ".create";
  const std::string where = create.empty() ? "the repo's create tool" : "the input of tool " + create;
  json defs_none = json::object();
  json& defs = lean.contains("$defs") && lean["$defs"].is_object() ? lean["$defs"] : defs_none;
  for (auto it = defs.begin(); it != defs.end();) {
    const std::string name = it.key();
    if (name == "body" || name.rfind("body:", 0) == 0) {
      it = defs.erase(it);
    } else {
      ++it;
    }
  }
  if (lean.contains("$defs") && defs.empty()) lean.erase("$defs");
  // Whatever still names a body definition (a reference's body property) now
  // reads as a plain object that says where its schema is.
  std::function<void(json&)> retarget = [&](json& s) {
    if (s.is_array()) {
      for (json& e : s) retarget(e);
    } else if (s.is_object()) {
      if (IsBodyRef(s)) {
        s = {{"type", "object"}, {"description", "The reference's body; its schema is in " + where + "."}};
        return;
      }
      if (s.contains("properties") && s["properties"].is_object() && s["properties"].contains("body") &&
          s["properties"]["body"].is_object() && s["properties"]["body"].value("type", "") == "object" &&
          s.contains("required")) {
        json& body = s["properties"]["body"];
        if (!body.contains("$ref")) body["description"] = "The reference's body; its schema is in " + where + ".";
      }
      for (auto& [key, value] : s.items()) retarget(value);
    }
  };
  retarget(lean);
  // The fields' descriptions are the output's documentation for people
  // (OpenAPI keeps them); an agent reads the answer itself.
  std::function<void(json&)> undescribe = [&](json& schema) {
    if (schema.is_array()) {
      for (json& e : schema) undescribe(e);
      return;
    }
    if (!schema.is_object()) return;
    if (schema.contains("description") && schema["description"].is_string() &&
        schema["description"].get<std::string>().find("its schema is in") == std::string::npos) {
      schema.erase("description");
    }
    for (auto& [key, value] : schema.items()) {
      if ((key == "properties" || key == "$defs") && value.is_object()) {
        for (auto& [name, sub] : value.items()) undescribe(sub);  // a field named "description" stays
      } else if (value.is_object() || value.is_array()) {
        undescribe(value);
      }
    }
  };
  undescribe(lean);
  return lean;
}

}  // namespace

std::vector<const runtime::OperationRow*> Server::ToolRows() const {
  std::vector<const runtime::OperationRow*> rows;
  // Every row: the artifact rows' streamed HTTP routes aside, their JSON
  // form (content inline, base64, up to 4 MiB) is what a tool call uses.
  for (const runtime::OperationRow& row : broker_->table().rows()) rows.push_back(&row);
  return rows;
}

Server::Answer Server::ListTools(const json& params) const {
  std::string cursor;
  std::size_t from = 0;
  if (!CursorParam(params, &cursor) || (!cursor.empty() && !ParseIndex(cursor, &from))) {
    return Answer::Fail(kInvalidParams, "Invalid params: unknown cursor");
  }
  std::vector<const runtime::OperationRow*> rows = ToolRows();
  if (from > rows.size()) return Answer::Fail(kInvalidParams, "Invalid params: unknown cursor");
  json tools = json::array();
  std::size_t end = std::min(rows.size(), from + options_.page_size);
  for (std::size_t i = from; i < end; ++i) {
    const runtime::OperationRow& row = *rows[i];
    json tool = {{"name", row.id},
                 {"title", row.summary},
                 {"description", row.description.empty() ? row.summary : row.description},
                 {"inputSchema", row.input_schema ? *row.input_schema : json{{"type", "object"}}},
                 {"annotations",
                  {{"title", row.summary},
                   {"readOnlyHint", row.read_only},
                   {"destructiveHint", row.destructive},
                   {"idempotentHint", row.idempotent},
                   {"openWorldHint", false}}}};
    if (row.output_schema) tool["outputSchema"] = LeanOutputSchema(*row.output_schema, row);
    tools.push_back(std::move(tool));
  }
  json result = {{"tools", std::move(tools)}};
  if (end < rows.size()) result["nextCursor"] = std::to_string(end);
  return Answer::Ok(std::move(result));
}

Server::Answer Server::CallTool(const json& params, const auth::Principal& who) const {
  auto name = params.find("name");
  if (name == params.end() || !name->is_string()) {
    return Answer::Fail(kInvalidParams, "Invalid params: tools/call needs a tool name");
  }
  const std::string tool = name->get<std::string>();
  // Every row is a tool (ToolRows): found once, here, and handed to the broker.
  const runtime::OperationRow* row = broker_->table().Find(tool);
  if (row == nullptr) return Answer::Fail(kInvalidParams, "Unknown tool: " + tool);
  auto args = params.find("arguments");
  if (args != params.end() && !args->is_object() && !args->is_null()) {
    return Answer::Fail(kInvalidParams, "Invalid params: arguments must be an object");
  }
  runtime::Call call;
  call.operation = tool;
  call.row = row;
  call.input = std::make_shared<const json>((args == params.end() || args->is_null()) ? json::object() : *args);
  call.principal = who;
  call.transport = options_.transport;
  call.correlation_id = CorrelationId(params);
  Result<json> out = broker_->Invoke(call);
  if (!out.ok()) {
    // Input, domain, scope and internal (already made generic) failures
    // alike: a result the model can read and correct itself from.
    json problem = runtime::ProblemJson(out.status(), call.correlation_id);
    return Answer::Ok({{"content", json::array({{{"type", "text"}, {"text", problem.dump()}}})}, {"isError", true}});
  }
  std::string text = out->dump(-1, ' ', false, json::error_handler_t::replace);
  return Answer::Ok({{"content", json::array({{{"type", "text"}, {"text", std::move(text)}}})},
                     {"structuredContent", std::move(*out)},
                     {"isError", false}});
}

Server::Answer Server::ListResources(const json& params, const auth::Principal& who) const {
  // Cursor "<repo index>" or "<repo index>:<that repo's list cursor>".
  std::string cursor;
  std::size_t repo_index = 0;
  std::string repo_cursor;
  if (!CursorParam(params, &cursor)) return Answer::Fail(kInvalidParams, "Invalid params: unknown cursor");
  if (!cursor.empty()) {
    std::size_t colon = cursor.find(':');
    std::string_view head = std::string_view(cursor).substr(0, colon);
    if (!ParseIndex(head, &repo_index)) return Answer::Fail(kInvalidParams, "Invalid params: unknown cursor");
    if (colon != std::string::npos) repo_cursor = cursor.substr(colon + 1);
  }
  const auto& repos = broker_->table().platform().repos;
  if (repo_index > repos.size()) return Answer::Fail(kInvalidParams, "Invalid params: unknown cursor");

  json resources = json::array();
  std::string next;
  while (repo_index < repos.size() && resources.size() < options_.page_size) {
    const domain::Repo& repo = repos[repo_index];
    runtime::Call call;
    call.operation = "refs." + repo.name + ".list";
    if (broker_->table().Find(call.operation) == nullptr) {
      ++repo_index;
      repo_cursor.clear();
      continue;
    }
    json input = {{"limit", options_.page_size - resources.size()}};
    if (!repo_cursor.empty()) input["cursor"] = repo_cursor;
    call.input = std::make_shared<const json>(std::move(input));
    call.principal = who;
    call.transport = options_.transport;
    Result<json> page = broker_->Invoke(call);
    if (!page.ok()) {
      StatusCode code = page.status().code();
      if (code == StatusCode::kInvalidArgument && !repo_cursor.empty()) {
        return Answer::Fail(kInvalidParams, "Invalid params: unknown cursor");
      }
      if (code == StatusCode::kPermissionDenied || code == StatusCode::kUnauthenticated) {
        ++repo_index;  // a repo the caller may not read is not listed
        repo_cursor.clear();
        continue;
      }
      return Answer::Fail(kInternalError, page.status().message(), runtime::ProblemJson(page.status()));
    }
    for (const json& ref : page->value("items", json::array())) {
      std::string id = ref.value("id", "");
      std::string kind = ref.contains("kind") && ref["kind"].is_string() ? ref["kind"].get<std::string>() : "";
      json r = {{"uri", ref.value("pointer", "")},
                {"name", repo.qualified_name() + "/" + id},
                {"title", repo.name + " " + id},
                {"description", "A " + repo.name + " reference" + (kind.empty() ? "" : " of kind " + kind) +
                                    ", version " + std::to_string(ref.value("version", 0)) +
                                    (repo.description.empty() ? "" : ". " + repo.description)},
                {"mimeType", "application/json"}};
      resources.push_back(std::move(r));
    }
    auto nc = page->find("next_cursor");
    if (nc != page->end() && nc->is_string() && !nc->get<std::string>().empty()) {
      repo_cursor = nc->get<std::string>();
    } else {
      ++repo_index;
      repo_cursor.clear();
    }
  }
  if (repo_index < repos.size()) {
    next = std::to_string(repo_index) + (repo_cursor.empty() ? "" : ":" + repo_cursor);
  }
  json result = {{"resources", std::move(resources)}};
  if (!next.empty()) result["nextCursor"] = next;
  return Answer::Ok(std::move(result));
}

Server::Answer Server::ListTemplates(const json& params) const {
  std::string cursor;
  if (!CursorParam(params, &cursor) || !cursor.empty()) {
    return Answer::Fail(kInvalidParams, "Invalid params: unknown cursor");
  }
  // The attribute-path template first: the bare one would also match
  // "42@name" as an id.
  json templates = json::array(
      {{{"uriTemplate", "bver://{namespace}/{repo}/{id}@{+path}"},
        {"name", "attribute"},
        {"title", "An attribute of a reference"},
        {"description", "The value at an attribute path (e.g. name, location.lat, bays) of a reference's latest "
                        "version; pin a version with ~N after the id."},
        {"mimeType", "application/json"}},
       {{"uriTemplate", "bver://{namespace}/{repo}/{id}"},
        {"name", "reference"},
        {"title", "A reference"},
        {"description", "The body of a reference's latest version; pin a version with ~N after the id."},
        {"mimeType", "application/json"}}});
  return Answer::Ok({{"resourceTemplates", std::move(templates)}});
}

Server::Answer Server::ReadResource(const json& params, const auth::Principal& who) const {
  auto uri_it = params.find("uri");
  if (uri_it == params.end() || !uri_it->is_string()) {
    return Answer::Fail(kInvalidParams, "Invalid params: resources/read needs a uri");
  }
  const std::string uri = uri_it->get<std::string>();
  Result<Pointer> pointer = Pointer::Parse(uri);
  if (!pointer.ok()) {
    return Answer::Fail(kInvalidParams, "Invalid params: not a bver:// pointer: " + pointer.status().message(),
                        {{"uri", uri}});
  }
  runtime::Call call;
  call.operation = "resolve";
  call.input = std::make_shared<const json>(json{{"pointer", uri}});
  call.principal = who;
  call.transport = options_.transport;
  call.correlation_id = CorrelationId(params);
  Result<json> out = broker_->Invoke(call);
  if (!out.ok()) {
    const Status& s = out.status();
    if (s.code() == StatusCode::kNotFound) {
      return Answer::Fail(kResourceNotFound, "Resource not found: " + s.message(), {{"uri", uri}});
    }
    int code = s.code() == StatusCode::kInvalidArgument ? kInvalidParams : kInternalError;
    json data = runtime::ProblemJson(s, call.correlation_id);
    data["uri"] = uri;
    return Answer::Fail(code, s.message(), std::move(data));
  }
  json value = out->contains("value") ? (*out)["value"] : json(nullptr);
  return Answer::Ok(
      {{"contents", json::array({{{"uri", uri},
                                  {"mimeType", "application/json"},
                                  {"text", value.dump(-1, ' ', false, json::error_handler_t::replace)}}})}});
}

}  // namespace bver::mcp
