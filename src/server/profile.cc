#include "src/server/profile.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "src/core/digest.h"
#include "src/domain/source.h"

namespace bver::server {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kBuiltins[] = {"local", "dev", "prod"};

bool IsBuiltin(const std::string& name) {
  for (const char* b : kBuiltins) {
    if (name == b) return true;
  }
  return false;
}

Profile Builtin(const std::string& name) {
  Profile p;
  p.name = name;
  p.source = "built-in";
  if (name == "local") {
    p.description = "one machine, one person: no auth on loopback, every write durable";
  } else if (name == "dev") {
    p.description = "a development machine: no auth on loopback, fast durability (a power cut may lose the last commits)";
    p.policy.durability = "fast";
  } else if (name == "prod") {
    p.description = "production: every caller authenticated, every write durable";
    p.policy.auth_required = true;
  }
  return p;
}

// Reads one profile's declaration over `p` (what it extends).
class ProfileReader {
 public:
  explicit ProfileReader(const domain::SourceDocument& doc) : doc_(doc) {}

  Status Read(const json& v, const AttributePath& at, Profile& p) {
    BVER_RETURN_IF_ERROR(Keys(v, at, {"extends", "description", "policy", "wiring"}));
    if (v.contains("description")) {
      BVER_ASSIGN_OR_RETURN(p.description, String(v, at, "description"));
    }
    if (v.contains("policy")) BVER_RETURN_IF_ERROR(ReadPolicy(v["policy"], at.Key("policy"), p.policy));
    if (v.contains("wiring")) BVER_RETURN_IF_ERROR(ReadWiring(v["wiring"], at.Key("wiring"), p.wiring));
    return Status::Ok();
  }

 private:
  Status Bad(const AttributePath& at, const std::string& message) const {
    return InvalidArgumentError(doc_.Where(at) + ": " + message);
  }

  Status Keys(const json& v, const AttributePath& at, std::initializer_list<const char*> allowed) const {
    if (!v.is_object()) return Bad(at, "expected a mapping");
    for (auto it = v.begin(); it != v.end(); ++it) {
      bool ok = false;
      std::string list;
      for (const char* a : allowed) {
        ok = ok || it.key() == a;
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      if (!ok) return Bad(at.Key(it.key()), "unknown key \"" + it.key() + "\" (expected " + list + ")");
    }
    return Status::Ok();
  }

  Result<std::string> String(const json& v, const AttributePath& at, const char* key) const {
    if (!v[key].is_string()) return Bad(at.Key(key), std::string(key) + " must be a string");
    return v[key].get<std::string>();
  }

  Result<double> Number(const json& v, const AttributePath& at, const char* key, double min, double max) const {
    if (!v[key].is_number() || v[key].get<double>() < min || v[key].get<double>() > max) {
      return Bad(at.Key(key), std::string(key) + " must be a number from " + json(min).dump() + " to " + json(max).dump());
    }
    return v[key].get<double>();
  }

  Status ReadPolicy(const json& v, const AttributePath& at, Policy& p) const {
    BVER_RETURN_IF_ERROR(Keys(v, at, {"auth", "durability", "triggers", "rate_limit"}));
    if (v.contains("auth")) {
      BVER_ASSIGN_OR_RETURN(std::string a, String(v, at, "auth"));
      if (a != "required" && a != "optional") return Bad(at.Key("auth"), "auth is required or optional, not \"" + a + "\"");
      p.auth_required = a == "required";
    }
    if (v.contains("durability")) {
      BVER_ASSIGN_OR_RETURN(std::string d, String(v, at, "durability"));
      if (d != "full" && d != "fast") return Bad(at.Key("durability"), "durability is full or fast, not \"" + d + "\"");
      p.durability = d;
    }
    if (v.contains("triggers")) {
      const json& t = v["triggers"];
      AttributePath tat = at.Key("triggers");
      BVER_RETURN_IF_ERROR(Keys(t, tat, {"max_chain_firings", "max_per_trigger"}));
      if (t.contains("max_chain_firings")) {
        BVER_ASSIGN_OR_RETURN(double n, Number(t, tat, "max_chain_firings", 1, 10000));
        p.max_chain_firings = static_cast<int>(n);
      }
      if (t.contains("max_per_trigger")) {
        BVER_ASSIGN_OR_RETURN(double n, Number(t, tat, "max_per_trigger", 1, 10000));
        p.max_per_trigger = static_cast<int>(n);
      }
    }
    if (v.contains("rate_limit")) {
      const json& r = v["rate_limit"];
      AttributePath rat = at.Key("rate_limit");
      if (r.is_string() && r.get<std::string>() == "off") {
        p.rate_limit_rps = 0;
        p.rate_limit_burst = 0;
      } else {
        BVER_RETURN_IF_ERROR(Keys(r, rat, {"requests_per_second", "burst"}));
        if (!r.contains("requests_per_second")) return Bad(rat, "rate_limit needs requests_per_second (or write: off)");
        BVER_ASSIGN_OR_RETURN(p.rate_limit_rps, Number(r, rat, "requests_per_second", 0.1, 1e7));
        double burst = p.rate_limit_rps;
        if (r.contains("burst")) {
          BVER_ASSIGN_OR_RETURN(burst, Number(r, rat, "burst", 1, 1e8));
        }
        p.rate_limit_burst = static_cast<int>(std::max(1.0, burst));
      }
    }
    return Status::Ok();
  }

  Status ReadWiring(const json& v, const AttributePath& at, Wiring& w) const {
    BVER_RETURN_IF_ERROR(Keys(v, at, {"store", "store_passfile", "nats_url", "listen", "jwt"}));
    if (v.contains("store")) {
      BVER_ASSIGN_OR_RETURN(w.store, String(v, at, "store"));
      // postgresql://user:password@host: a password in the file that names secrets.
      std::size_t scheme = w.store.find("://"), at_sign = w.store.find('@');
      if (scheme != std::string::npos && at_sign != std::string::npos &&
          w.store.find(':', scheme + 3) < at_sign) {
        return Bad(at.Key("store"),
                   "the store URL holds a password; remove it and name a libpq password file with "
                   "store_passfile: (or set PGPASSWORD in the environment)");
      }
    }
    if (v.contains("store_passfile")) {
      BVER_ASSIGN_OR_RETURN(w.store_passfile, String(v, at, "store_passfile"));
    }
    if (v.contains("nats_url")) {
      BVER_ASSIGN_OR_RETURN(w.nats_url, String(v, at, "nats_url"));
    }
    if (v.contains("listen")) {
      BVER_ASSIGN_OR_RETURN(w.listen, String(v, at, "listen"));
    }
    if (v.contains("jwt")) {
      if (!v["jwt"].is_object()) return Bad(at.Key("jwt"), "jwt is a mapping, as auth.jwt (docs/auth.md)");
      w.has_jwt = true;  // its keys are checked by auth::LoadAuthConfig
    }
    return Status::Ok();
  }

  const domain::SourceDocument& doc_;
};

struct Declared {
  const json* value;
  AttributePath at;
};

Result<std::optional<domain::SourceDocument>> LoadConfig(const std::string& project_dir) {
  fs::path config = fs::path(project_dir) / "bver.config.yaml";
  std::error_code ec;
  if (!fs::exists(config, ec)) return std::optional<domain::SourceDocument>();
  BVER_ASSIGN_OR_RETURN(domain::SourceDocument doc, domain::LoadYamlFile(config.string()));
  return std::optional<domain::SourceDocument>(std::move(doc));
}

Result<std::map<std::string, Declared>> DeclaredProfiles(const domain::SourceDocument& doc) {
  std::map<std::string, Declared> out;
  const json& root = doc.value();
  if (!root.is_object() || !root.contains("profiles") || root["profiles"].is_null()) return out;
  AttributePath at = AttributePath().Key("profiles");
  if (!root["profiles"].is_object()) return InvalidArgumentError(doc.Where(at) + ": profiles must be a mapping");
  for (auto it = root["profiles"].begin(); it != root["profiles"].end(); ++it) {
    const std::string& name = it.key();
    bool ok = !name.empty() && name.size() <= 63 && name[0] >= 'a' && name[0] <= 'z' &&
              name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
    if (!ok) return InvalidArgumentError(doc.Where(at.Key(name)) + ": profile name must match [a-z][a-z0-9_-]{0,62}");
    out[name] = Declared{&it.value(), at.Key(name)};
  }
  return out;
}

Result<Profile> Resolve(const std::string& name, const domain::SourceDocument* doc,
                        const std::map<std::string, Declared>& declared, std::set<std::string>& seen) {
  auto it = declared.find(name);
  if (it == declared.end()) {
    if (IsBuiltin(name)) return Builtin(name);
    std::string known = "local, dev, prod";
    for (const auto& [n, d] : declared) {
      if (!IsBuiltin(n)) known += ", " + n;
    }
    return NotFoundError("no profile \"" + name + "\"; known: " + known +
                         " (declare more under profiles: in bver.config.yaml, docs/operating.md)");
  }
  if (!seen.insert(name).second) {
    return InvalidArgumentError(doc->Where(it->second.at) + ": profile \"" + name + "\" extends itself (a cycle)");
  }
  const json& v = *it->second.value;
  std::string base = IsBuiltin(name) ? name : "local";
  if (v.is_object() && v.contains("extends")) {
    if (!v["extends"].is_string()) {
      return InvalidArgumentError(doc->Where(it->second.at.Key("extends")) + ": extends names a profile");
    }
    base = v["extends"].get<std::string>();
  }
  Profile p;
  if (base == name && IsBuiltin(name)) {
    p = Builtin(name);
  } else {
    BVER_ASSIGN_OR_RETURN(p, Resolve(base, doc, declared, seen));
  }
  p.name = name;
  p.source = doc->Where(it->second.at);
  ProfileReader reader(*doc);
  BVER_RETURN_IF_ERROR(reader.Read(v, it->second.at, p));
  return p;
}

void Finish(Profile& p, const std::string& project_dir) {
  Result<std::string> digest = core::JsonDigest(p.policy.ToJson());
  std::string hex = digest.ok() ? digest->substr(digest->find(':') + 1) : std::string(12, '0');
  p.revision = p.name + "#" + hex.substr(0, 12);
  if (!p.wiring.store_passfile.empty() && fs::path(p.wiring.store_passfile).is_relative()) {
    p.wiring.store_passfile = (fs::path(project_dir) / p.wiring.store_passfile).string();
  }
}

}  // namespace

json Policy::ToJson() const {
  json j = {{"auth", auth_required ? "required" : "optional"},
            {"durability", durability},
            {"triggers", {{"max_chain_firings", max_chain_firings}, {"max_per_trigger", max_per_trigger}}}};
  if (rate_limit_rps > 0) {
    j["rate_limit"] = {{"requests_per_second", rate_limit_rps}, {"burst", rate_limit_burst}};
  } else {
    j["rate_limit"] = "off";
  }
  return j;
}

json Wiring::ToJson() const {
  json j = json::object();
  if (!store.empty()) j["store"] = store;
  if (!store_passfile.empty()) j["store_passfile"] = store_passfile;
  if (!nats_url.empty()) j["nats_url"] = nats_url;
  if (!listen.empty()) j["listen"] = listen;
  if (has_jwt) j["jwt"] = "profiles.<name>.wiring.jwt";
  return j;
}

json Profile::ToJson() const {
  return json{{"name", name},
              {"description", description},
              {"revision", revision},
              {"source", source},
              {"policy", policy.ToJson()},
              {"wiring", wiring.ToJson()}};
}

Result<Profile> LoadProfile(const std::string& project_dir, const std::string& requested) {
  std::string name = requested;
  if (name.empty()) {
    const char* env = std::getenv("BVER_PROFILE");
    name = env != nullptr && *env != '\0' ? env : "local";
  }
  BVER_ASSIGN_OR_RETURN(std::optional<domain::SourceDocument> doc, LoadConfig(project_dir));
  std::map<std::string, Declared> declared;
  if (doc) {
    BVER_ASSIGN_OR_RETURN(declared, DeclaredProfiles(*doc));
  }
  std::set<std::string> seen;
  BVER_ASSIGN_OR_RETURN(Profile p, Resolve(name, doc ? &*doc : nullptr, declared, seen));
  Finish(p, project_dir);
  return p;
}

Result<std::vector<Profile>> ListProfiles(const std::string& project_dir) {
  BVER_ASSIGN_OR_RETURN(std::optional<domain::SourceDocument> doc, LoadConfig(project_dir));
  std::map<std::string, Declared> declared;
  if (doc) {
    BVER_ASSIGN_OR_RETURN(declared, DeclaredProfiles(*doc));
  }
  std::set<std::string> names(std::begin(kBuiltins), std::end(kBuiltins));
  for (const auto& [n, d] : declared) names.insert(n);
  std::vector<Profile> out;
  for (const std::string& n : names) {
    std::set<std::string> seen;
    BVER_ASSIGN_OR_RETURN(Profile p, Resolve(n, doc ? &*doc : nullptr, declared, seen));
    Finish(p, project_dir);
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::string> ApplyDurability(const std::string& store_url, const Profile& profile) {
  if (store_url.rfind("sqlite:", 0) != 0) return store_url;
  std::size_t q = store_url.find('?');
  if (q == std::string::npos) {
    return profile.policy.durability == "full" ? store_url : store_url + "?durability=" + profile.policy.durability;
  }
  if (store_url.substr(q + 1) != "durability=" + profile.policy.durability) {
    return FailedPreconditionError("profile " + profile.name + " sets durability " + profile.policy.durability +
                                   ", but the store URL asks for " + store_url.substr(q + 1) +
                                   ": drop the option from the URL, or use a profile whose policy says so");
  }
  return store_url;
}

}  // namespace bver::server
