#include "src/triggers/match.h"

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "bver/pointer.h"
#include "src/core/json_path.h"

namespace bver::triggers {
namespace {

using nlohmann::json;

std::string Text(const json& envelope, const char* field) {
  auto it = envelope.find(field);
  return it != envelope.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// RFC 6901 pointer ("/a/b~1c") as its unescaped tokens.
std::vector<std::string> PointerTokens(const std::string& pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) return out;
  std::size_t pos = 1;  // a pointer starts with '/'
  while (true) {
    std::size_t next = pointer.find('/', pos);
    std::string raw = pointer.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    out.push_back(std::move(token));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

// An attribute path as pointer tokens (indexes as decimal text).
std::vector<std::string> Tokens(const AttributePath& path) {
  std::vector<std::string> out;
  for (const PathSegment& s : path.segments()) out.push_back(s.is_key() ? s.key() : std::to_string(s.index()));
  return out;
}

// One is a prefix of the other (or they are equal).
bool Related(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t n = std::min(a.size(), b.size());
  return std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin());
}

std::string Stringify(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The value "${event...}" names: `ref` is what is between "${" and "}".
Result<json> Lookup(const std::string& ref, const json& envelope) {
  if (ref == "event") return envelope;
  if (ref.rfind("event.", 0) != 0) {
    return InvalidArgumentError("\"${" + ref + "}\" does not start with event.; a trigger's input can name "
                                "only the event (${event.object_pointer}, ${event.payload.kind}, ...)");
  }
  std::string rest = ref.substr(6);
  if (rest == "object") return json(ObjectOf(envelope));
  Result<AttributePath> path = AttributePath::Parse(rest);
  if (!path.ok()) return InvalidArgumentError("\"${" + ref + "}\": " + path.status().message());
  Result<const json*> v = core::ResolvePath(envelope, *path);
  if (!v.ok()) {
    return InvalidArgumentError("\"${" + ref + "}\" names nothing in event " + Text(envelope, "event_id") + " (" +
                                Text(envelope, "event_type") + "): " + v.status().message());
  }
  return **v;
}

json Render(const json& t, const json& envelope, const std::string& where, std::vector<Violation>& problems) {
  if (t.is_object()) {
    json out = json::object();
    for (auto it = t.begin(); it != t.end(); ++it) {
      out[it.key()] = Render(it.value(), envelope, where.empty() ? it.key() : where + "." + it.key(), problems);
    }
    return out;
  }
  if (t.is_array()) {
    json out = json::array();
    for (std::size_t i = 0; i < t.size(); ++i) {
      out.push_back(Render(t[i], envelope, where + "[" + std::to_string(i) + "]", problems));
    }
    return out;
  }
  if (!t.is_string()) return t;
  const std::string& s = t.get_ref<const std::string&>();
  // A whole-string reference keeps the value's JSON type.
  if (s.size() > 3 && s.rfind("${", 0) == 0 && s.back() == '}' && s.find("${", 2) == std::string::npos &&
      s.find('}') == s.size() - 1) {
    Result<json> v = Lookup(s.substr(2, s.size() - 3), envelope);
    if (!v.ok()) {
      problems.push_back({where, "trigger.input", v.status().message()});
      return nullptr;
    }
    return *std::move(v);
  }
  std::string out;
  std::size_t pos = 0;
  while (true) {
    std::size_t open = s.find("${", pos);
    if (open == std::string::npos) {
      out += s.substr(pos);
      break;
    }
    std::size_t close = s.find('}', open + 2);
    if (close == std::string::npos) {
      problems.push_back({where, "trigger.input", "\"" + s + "\" has a ${ without its closing }"});
      return nullptr;
    }
    out += s.substr(pos, open - pos);
    Result<json> v = Lookup(s.substr(open + 2, close - open - 2), envelope);
    if (!v.ok()) {
      problems.push_back({where, "trigger.input", v.status().message()});
      return nullptr;
    }
    out += Stringify(*v);
    pos = close + 1;
  }
  return out;
}

}  // namespace

std::string ObjectOf(const json& envelope) {
  std::string object = Text(envelope, "object_pointer");
  if (object.rfind("bver://", 0) == 0) {
    if (Result<Pointer> p = Pointer::Parse(object); p.ok()) return p->Reference().ToString();
  }
  return object;
}

std::string RepoOf(const json& envelope) {
  std::string object = Text(envelope, "object_pointer");
  if (object.rfind("bver://", 0) != 0) return "";
  Result<Pointer> p = Pointer::Parse(object);
  return p.ok() ? p->ns() + "/" + p->repo() : std::string();
}

bool PathTouched(const std::string& changed, const json& diff) {
  Result<AttributePath> path = AttributePath::Parse(changed);
  if (!path.ok() || !diff.is_array()) return false;
  std::vector<std::string> want = Tokens(*path);
  for (const json& op : diff) {
    if (!op.is_object()) continue;
    for (const char* field : {"path", "from"}) {
      if (std::string(field) == "from" && op.value("op", "") != "move") continue;
      auto it = op.find(field);
      if (it == op.end() || !it->is_string()) continue;
      if (Related(PointerTokens(it->get<std::string>()), want)) return true;
    }
  }
  return false;
}

// Every operation of the diff lies at or under one of `paths` (a non-empty
// diff). An operation over a path (replacing its parent) is not under it.
bool OnlyUnder(const std::vector<std::string>& paths, const json& diff) {
  if (!diff.is_array() || diff.empty()) return false;
  std::vector<std::vector<std::string>> wants;
  for (const std::string& p : paths) {
    Result<AttributePath> path = AttributePath::Parse(p);
    if (path.ok()) wants.push_back(Tokens(*path));
  }
  for (const json& op : diff) {
    if (!op.is_object()) return false;
    for (const char* field : {"path", "from"}) {
      if (std::string(field) == "from" && op.value("op", "") != "move") continue;
      auto it = op.find(field);
      if (it == op.end() || !it->is_string()) return false;
      std::vector<std::string> at = PointerTokens(it->get<std::string>());
      bool under = std::any_of(wants.begin(), wants.end(), [&](const std::vector<std::string>& w) {
        return at.size() >= w.size() && Related(at, w);
      });
      if (!under) return false;
    }
  }
  return true;
}

bool Matches(const domain::EventPattern& pattern, const json& envelope) {
  if (!envelope.is_object()) return false;
  if (!pattern.channel.empty() && Text(envelope, "channel") != pattern.channel) return false;
  if (!pattern.event_type.empty() && Text(envelope, "event_type") != pattern.event_type) return false;
  if (!pattern.repo.empty()) {
    std::string repo = RepoOf(envelope);
    if (repo.empty()) return false;
    if (pattern.repo.find('/') != std::string::npos ? repo != pattern.repo
                                                    : repo.substr(repo.find('/') + 1) != pattern.repo) {
      return false;
    }
  }
  auto payload = envelope.find("payload");
  bool has_payload = payload != envelope.end() && payload->is_object();
  if (!pattern.kind.empty()) {
    if (!has_payload || payload->value("kind", json()) != json(pattern.kind)) return false;
  }
  if (!pattern.changed.empty()) {
    if (Text(envelope, "event_type") == "ref.created") return true;
    if (!has_payload) return false;
    auto diff = payload->find("diff");
    if (diff == payload->end() || !PathTouched(pattern.changed, *diff)) return false;
  }
  if (!pattern.ignore_changes.empty() && has_payload) {
    const std::string type = Text(envelope, "event_type");
    auto diff = payload->find("diff");
    if ((type == "ref.patched" || type == "ref.replaced") && diff != payload->end() &&
        OnlyUnder(pattern.ignore_changes, *diff)) {
      return false;
    }
  }
  return true;
}

Result<json> RenderInput(const json& input_template, const json& envelope) {
  std::vector<Violation> problems;
  json out = Render(input_template, envelope, "", problems);
  if (!problems.empty()) {
    return InvalidArgumentError("the trigger's input cannot be rendered for this event: " +
                                    std::to_string(problems.size()) + " problem(s)",
                                std::move(problems));
  }
  return out;
}

}  // namespace bver::triggers
