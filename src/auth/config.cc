#include "src/auth/config.h"

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "src/domain/source.h"

namespace bver::auth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string InProject(const std::string& path, const std::string& project_dir) {
  return fs::path(path).is_absolute() ? path : (fs::path(project_dir) / path).string();
}

Result<std::string> ReadSecretFile(const std::string& path) {
  BVER_ASSIGN_OR_RETURN(std::string text, domain::ReadFileToString(path, 1 << 20));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

Result<std::int64_t> ParseLeeway(const std::string& text, const std::string& where) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || v < 0 || v > 300) {
    return InvalidArgumentError(where + ": leeway_seconds must be an integer from 0 to 300");
  }
  return static_cast<std::int64_t>(v);
}

}  // namespace

Result<AuthConfig> LoadAuthConfig(const std::string& project_dir, const std::string& profile) {
  JwtConfig jwt;
  bool any = false;
  fs::path file = fs::path(project_dir) / "bver.config.yaml";
  if (fs::exists(file)) {
    BVER_ASSIGN_OR_RETURN(domain::SourceDocument doc, domain::LoadYamlFile(file.string()));
    const json& root = doc.value();
    AttributePath at = AttributePath().Key("auth");
    // The profile's wiring, when it has a jwt mapping, replaces auth.jwt.
    const json* profile_jwt = nullptr;
    if (!profile.empty() && root.is_object()) {
      const json* p = root.contains("profiles") && root["profiles"].is_object() && root["profiles"].contains(profile)
                          ? &root["profiles"][profile]
                          : nullptr;
      if (p != nullptr && p->is_object() && p->contains("wiring") && (*p)["wiring"].is_object() &&
          (*p)["wiring"].contains("jwt")) {
        profile_jwt = &(*p)["wiring"]["jwt"];
      }
    }
    if (root.is_object() && root.contains("auth") && !root["auth"].is_null()) {
      const json& auth = root["auth"];
      if (!auth.is_object()) return InvalidArgumentError(doc.Where(at) + ": auth must be a mapping");
      for (auto it = auth.begin(); it != auth.end(); ++it) {
        if (it.key() != "jwt") {
          return InvalidArgumentError(doc.Where(at.Key(it.key())) + ": unknown key \"" + it.key() +
                                      "\" under auth (expected jwt)");
        }
      }
    }
    const json* jwt_section = profile_jwt;
    AttributePath jwt_at = AttributePath().Key("profiles").Key(profile).Key("wiring").Key("jwt");
    if (jwt_section == nullptr && root.is_object() && root.contains("auth") && root["auth"].is_object() &&
        root["auth"].contains("jwt") && !root["auth"]["jwt"].is_null()) {
      jwt_section = &root["auth"]["jwt"];
      jwt_at = at.Key("jwt");
    }
    {
      if (jwt_section != nullptr) {
        at = jwt_at;
        const json& j = *jwt_section;
        if (!j.is_object()) return InvalidArgumentError(doc.Where(at) + ": auth.jwt must be a mapping");
        for (auto it = j.begin(); it != j.end(); ++it) {
          const std::string& k = it.key();
          std::string where = doc.Where(at.Key(k));
          if (k == "hs256_secret") {
            return InvalidArgumentError(where + ": do not write the secret into bver.config.yaml; use "
                                                "hs256_secret_env or hs256_secret_file (see docs/auth.md)");
          }
          if (k == "leeway_seconds") {
            if (!it->is_number_integer()) return InvalidArgumentError(where + ": leeway_seconds must be an integer");
            BVER_ASSIGN_OR_RETURN(jwt.leeway_seconds, ParseLeeway(std::to_string(it->get<long long>()), where));
            continue;
          }
          if (!it->is_string() || it->get<std::string>().empty()) {
            return InvalidArgumentError(where + ": " + k + " must be a non-empty string");
          }
          std::string v = it->get<std::string>();
          if (k == "hs256_secret_env") {
            jwt.hs256_secret = Env(v.c_str());
            if (jwt.hs256_secret.empty()) {
              return InvalidArgumentError(where + ": the environment variable " + v + " is not set");
            }
            any = true;
          } else if (k == "hs256_secret_file") {
            BVER_ASSIGN_OR_RETURN(jwt.hs256_secret, ReadSecretFile(InProject(v, project_dir)));
            any = true;
          } else if (k == "rs256_public_key_file") {
            BVER_ASSIGN_OR_RETURN(jwt.rs256_public_key_pem,
                                  domain::ReadFileToString(InProject(v, project_dir), 1 << 20));
            any = true;
          } else if (k == "issuer") {
            jwt.issuer = v;
          } else if (k == "audience") {
            jwt.audience = v;
          } else {
            return InvalidArgumentError(where + ": unknown key \"" + k +
                                        "\" under jwt (expected hs256_secret_env, hs256_secret_file, "
                                        "rs256_public_key_file, issuer, audience, leeway_seconds)");
          }
        }
      }
    }
  }
  if (std::string s = Env("BVER_JWT_HS256_SECRET"); !s.empty()) {
    jwt.hs256_secret = s;
    any = true;
  } else if (std::string f = Env("BVER_JWT_HS256_SECRET_FILE"); !f.empty()) {
    BVER_ASSIGN_OR_RETURN(jwt.hs256_secret, ReadSecretFile(f));
    any = true;
  }
  if (std::string f = Env("BVER_JWT_RS256_PUBLIC_KEY_FILE"); !f.empty()) {
    BVER_ASSIGN_OR_RETURN(jwt.rs256_public_key_pem, domain::ReadFileToString(f, 1 << 20));
    any = true;
  }
  if (std::string v = Env("BVER_JWT_ISSUER"); !v.empty()) jwt.issuer = v;
  if (std::string v = Env("BVER_JWT_AUDIENCE"); !v.empty()) jwt.audience = v;
  if (std::string v = Env("BVER_JWT_LEEWAY_SECONDS"); !v.empty()) {
    BVER_ASSIGN_OR_RETURN(jwt.leeway_seconds, ParseLeeway(v, "BVER_JWT_LEEWAY_SECONDS"));
  }
  AuthConfig out;
  if (any) {
    // Checked here so that a bad key is reported when the server starts.
    Result<std::unique_ptr<JwtVerifier>> v = JwtVerifier::Create(jwt);
    if (!v.ok()) return v.status();
    out.jwt = std::move(jwt);
  }
  return out;
}

}  // namespace bver::auth
