#include "src/store/open.h"

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "src/domain/source.h"
#include "src/store/postgres/postgres_backend.h"
#include "src/store/sqlite/sqlite_backend.h"

namespace bver::store {

namespace fs = std::filesystem;

Result<std::string> ChooseStoreUrl(const std::string& flag, const std::string& project_dir) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("BVER_STORE"); env != nullptr && *env != '\0') return std::string(env);
  fs::path config = fs::path(project_dir) / "bver.config.yaml";
  if (fs::exists(config)) {
    BVER_ASSIGN_OR_RETURN(domain::SourceDocument doc, domain::LoadYamlFile(config.string()));
    const nlohmann::json& v = doc.value();
    if (!v.is_object()) return InvalidArgumentError(config.string() + ": expected a mapping");
    if (v.contains("store")) {
      if (!v["store"].is_string()) {
        return InvalidArgumentError(doc.Where(AttributePath().Key("store")) + ": store must be a URL string");
      }
      return v["store"].get<std::string>();
    }
  }
  return std::string("sqlite:.bver/bver.db");
}

Result<std::unique_ptr<Backend>> OpenBackend(const std::string& url, const std::string& project_dir) {
  if (url.rfind("sqlite:", 0) == 0) {
    std::string rest = url.substr(7);
    sqlite::SqliteOptions o;
    std::size_t q = rest.find('?');
    if (q != std::string::npos) {
      std::string query = rest.substr(q + 1);
      rest = rest.substr(0, q);
      if (query == "durability=fast") {
        o.durability = sqlite::Durability::kFast;
      } else if (query != "durability=full") {
        return InvalidArgumentError("unknown store option \"" + query +
                                    "\" (expected durability=full or durability=fast)");
      }
    }
    if (rest.empty()) return InvalidArgumentError("sqlite: URL needs a path, e.g. sqlite:.bver/bver.db");
    fs::path path = fs::path(rest).is_absolute() ? fs::path(rest) : fs::path(project_dir) / rest;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return UnavailableError("cannot create " + path.parent_path().string() + ": " + ec.message());
    o.path = path.string();
    return sqlite::OpenSqlite(o);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return postgres::OpenPostgres({url, 4});
  }
  return InvalidArgumentError("unknown store URL \"" + url +
                              "\": expected sqlite:PATH or postgresql://user@host:port/db");
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const std::string& project_dir,
                                         std::shared_ptr<const domain::Platform> platform,
                                         const std::string& manifest_fingerprint) {
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, OpenBackend(url, project_dir));
  Store::Options o;
  o.manifest_fingerprint = manifest_fingerprint;
  return Store::Open(std::move(platform), std::move(backend), std::move(o));
}

}  // namespace bver::store
