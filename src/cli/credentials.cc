#include "src/cli/credentials.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace bver::cli {

namespace fs = std::filesystem;
using nlohmann::json;

std::string CredentialsPath() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return (fs::path(xdg) / "bver" / "credentials.json").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home != nullptr && *home != '\0' ? home : ".") / ".config" / "bver" / "credentials.json").string();
}

std::string NormalizedServer(std::string server) {
  while (!server.empty() && server.back() == '/') server.pop_back();
  return server;
}

namespace {

Result<json> Load() {
  const std::string path = CredentialsPath();
  std::ifstream in(path);
  if (!in) return json{{"servers", json::object()}};
  std::stringstream s;
  s << in.rdbuf();
  json doc = json::parse(s.str(), nullptr, false);
  if (!doc.is_object() || !doc["servers"].is_object()) {
    return DataLossError(path + " is not a bver credentials file; remove it and run bver login again");
  }
  return doc;
}

}  // namespace

Result<std::string> StoredKey(const std::string& server) {
  BVER_ASSIGN_OR_RETURN(json doc, Load());
  const json& entry = doc["servers"].value(NormalizedServer(server), json::object());
  return entry.is_object() ? entry.value("api_key", std::string()) : std::string();
}

Status StoreKey(const std::string& server, const std::string& key) {
  BVER_ASSIGN_OR_RETURN(json doc, Load());
  if (key.empty()) {
    doc["servers"].erase(NormalizedServer(server));
  } else {
    doc["servers"][NormalizedServer(server)] = {{"api_key", key}};
  }
  const fs::path path = CredentialsPath();
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return UnavailableError("cannot create " + path.parent_path().string() + ": " + ec.message());
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    // Readable by its owner only, from the first byte.
    const mode_t old = ::umask(077);
    std::ofstream out(tmp, std::ios::trunc);
    ::umask(old);
    out << doc.dump(2) << "\n";
    if (!out.flush()) return UnavailableError("cannot write " + tmp.string());
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
  fs::rename(tmp, path, ec);
  if (ec) return UnavailableError("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace bver::cli
