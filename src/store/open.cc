#include "src/store/open.h"

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "src/domain/source.h"
#include "src/store/postgres/postgres_backend.h"
#include "src/store/sqlite/sqlite_backend.h"

namespace bver::store {

namespace fs = std::filesystem;

namespace {

// The string value of `key` in bver.config.yaml of `project_dir`; empty when
// the file or the key is absent.
Result<std::string> ConfigString(const std::string& project_dir, const char* key, const char* what) {
  fs::path config = fs::path(project_dir) / "bver.config.yaml";
  if (!fs::exists(config)) return std::string();
  BVER_ASSIGN_OR_RETURN(domain::SourceDocument doc, domain::LoadYamlFile(config.string()));
  const nlohmann::json& v = doc.value();
  if (!v.is_object()) return InvalidArgumentError(config.string() + ": expected a mapping");
  if (!v.contains(key)) return std::string();
  if (!v[key].is_string() || v[key].get<std::string>().empty()) {
    return InvalidArgumentError(doc.Where(AttributePath().Key(key)) + ": " + key + " must be " + what);
  }
  return v[key].get<std::string>();
}

fs::path InProject(const std::string& path, const std::string& project_dir) {
  return fs::path(path).is_absolute() ? fs::path(path) : fs::path(project_dir) / path;
}

}  // namespace

std::string RedactUrl(const std::string& url) {
  std::size_t scheme = url.find("://");
  std::size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  std::size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

Result<std::string> ChooseStoreUrl(const std::string& flag, const std::string& project_dir) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("BVER_STORE"); env != nullptr && *env != '\0') return std::string(env);
  BVER_ASSIGN_OR_RETURN(std::string configured, ConfigString(project_dir, "store", "a URL string"));
  if (!configured.empty()) return configured;
  return std::string("sqlite:.bver/bver.db");
}

Result<std::string> ChooseArtifactDir(const std::string& store_url, const std::string& project_dir) {
  if (const char* env = std::getenv("BVER_ARTIFACTS_DIR"); env != nullptr && *env != '\0') {
    return InProject(env, project_dir).string();
  }
  BVER_ASSIGN_OR_RETURN(std::string configured, ConfigString(project_dir, "artifacts_dir", "a folder path"));
  if (!configured.empty()) return InProject(configured, project_dir).string();
  if (store_url.rfind("sqlite:", 0) == 0) {
    std::string path = store_url.substr(7);
    path = path.substr(0, path.find('?'));
    if (path.empty()) return InvalidArgumentError("sqlite: URL needs a path, e.g. sqlite:.bver/bver.db");
    return (InProject(path, project_dir).parent_path() / "artifacts").string();
  }
  if (store_url.rfind("postgresql://", 0) == 0 || store_url.rfind("postgres://", 0) == 0) {
    return FailedPreconditionError(
        "a PostgreSQL store keeps artifact content in a folder that every bver process using the "
        "database must share: set artifacts_dir: in bver.config.yaml or $BVER_ARTIFACTS_DIR");
  }
  return InvalidArgumentError("unknown store URL \"" + store_url +
                              "\": expected sqlite:PATH or postgresql://user@host:port/db");
}

Result<std::string> SqliteFile(const std::string& store_url, const std::string& project_dir) {
  if (store_url.rfind("sqlite:", 0) == 0) {
    std::string path = store_url.substr(7);
    path = path.substr(0, path.find('?'));
    if (path.empty()) return InvalidArgumentError("sqlite: URL needs a path, e.g. sqlite:.bver/bver.db");
    return InProject(path, project_dir).string();
  }
  if (store_url.rfind("postgresql://", 0) == 0 || store_url.rfind("postgres://", 0) == 0) {
    return FailedPreconditionError("a PostgreSQL store is a database on its server, not a file of this project");
  }
  return InvalidArgumentError("unknown store URL \"" + store_url +
                              "\": expected sqlite:PATH or postgresql://user@host:port/db");
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
    fs::path path = InProject(rest, project_dir);
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
                                         const std::string& manifest_fingerprint,
                                         const std::string& policy_revision) {
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, OpenBackend(url, project_dir));
  Store::Options o;
  o.manifest_fingerprint = manifest_fingerprint;
  o.policy_revision = policy_revision;
  return Store::Open(std::move(platform), std::move(backend), std::move(o));
}

}  // namespace bver::store
