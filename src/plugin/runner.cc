// The parts of the invocation protocol both runners share.
#include "src/plugin/runner.h"

namespace bver::plugin {

using nlohmann::json;

Runner::~Runner() = default;

json RequestJson(const Invocation& inv) {
  return {{"bver_plugin_protocol", kProtocolVersion},
          {"capability", inv.capability_id},
          {"version", inv.capability_version},
          {"input", inv.input.is_null() ? json::object() : inv.input},
          {"resolved", inv.resolved.is_null() ? json::object() : inv.resolved},
          {"related", inv.related.is_null() ? json::object() : inv.related},
          {"artifacts", inv.artifacts.is_null() ? json::object() : inv.artifacts},
          {"job", {{"id", inv.job_id}, {"attempt", inv.attempt}}}};
}

std::string RequestText(const Invocation& inv) {
  // The same object as RequestJson(inv).dump(), written part by part: the
  // related references of a large input (a 10,000-bus network) are
  // serialized once instead of being copied into a new tree first.
  auto part = [](const json& v, const char* empty) { return v.is_null() ? std::string(empty) : v.dump(); };
  std::string out = "{\"artifacts\":" + part(inv.artifacts, "{}");
  out += ",\"bver_plugin_protocol\":" + std::to_string(kProtocolVersion);
  out += ",\"capability\":" + json(inv.capability_id).dump();
  out += ",\"input\":" + part(inv.input, "{}");
  out += ",\"job\":" + json{{"id", inv.job_id}, {"attempt", inv.attempt}}.dump();
  out += ",\"related\":" + part(inv.related, "{}");
  out += ",\"resolved\":" + part(inv.resolved, "{}");
  out += ",\"version\":" + json(inv.capability_version).dump();
  out += "}";
  return out;
}

namespace {

// The first `n` bytes of `text`, printable: control bytes become '?'.
std::string Excerpt(std::string_view text, std::size_t n) {
  std::string s(text.substr(0, n));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') c = '?';
  }
  if (text.size() > n) s += "...";
  return s;
}

StatusCode CodeFromName(const std::string& name) {
  for (int i = 1; i <= static_cast<int>(StatusCode::kUnauthenticated); ++i) {
    auto code = static_cast<StatusCode>(i);
    if (StatusCodeName(code) == name) return code;
  }
  return StatusCode::kUnknown;
}

}  // namespace

Result<json> ParseResponse(const std::string& plugin_id, std::string_view text) {
  std::size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) {
    return DataLossError("plugin " + plugin_id + " answered nothing (expected one JSON response)");
  }
  json r = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (r.is_discarded()) {
    return DataLossError("plugin " + plugin_id + " answered non-JSON: " + Excerpt(text, 200));
  }
  if (!r.is_object() || !r.contains("ok") || !r["ok"].is_boolean()) {
    return DataLossError("plugin " + plugin_id +
                         " answered JSON that is not a protocol response ({\"ok\": true, "
                         "\"output\": ...} or {\"ok\": false, \"error\": ...}): " +
                         Excerpt(text, 200));
  }
  if (r["ok"].get<bool>()) {
    auto out = r.find("output");
    if (out == r.end() || !out->is_object()) {
      return DataLossError("plugin " + plugin_id +
                           " answered ok without an \"output\" object: " + Excerpt(text, 200));
    }
    return std::move(*out);
  }
  std::string code_name = "unknown", message = "(no message)";
  if (auto e = r.find("error"); e != r.end() && e->is_object()) {
    if (e->contains("code") && (*e)["code"].is_string()) code_name = (*e)["code"].get<std::string>();
    if (e->contains("message") && (*e)["message"].is_string()) {
      message = (*e)["message"].get<std::string>();
    }
  }
  StatusCode code = CodeFromName(code_name);
  std::string prefix = "plugin " + plugin_id + " failed";
  if (code == StatusCode::kUnknown && code_name != "unknown") prefix += " (" + Excerpt(code_name, 64) + ")";
  return Status(code, prefix + ": " + Excerpt(message, 2000));
}

}  // namespace bver::plugin
