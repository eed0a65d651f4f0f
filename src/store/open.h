// Opening a store from one URL:
//
//   sqlite:PATH                      embedded (default .bver/bver.db in the project folder)
//   sqlite:PATH?durability=fast      development setting: may lose the last commits on power loss
//   postgresql://user@host:port/db   shared
//
// The URL comes from --store, else $BVER_STORE, else the `store:` key of
// bver.config.yaml in the project folder, else the default.
#pragma once

#include <memory>
#include <string>

#include "bver/status.h"
#include "src/domain/platform.h"
#include "src/store/store.h"

namespace bver::store {

// A store URL fit to print or log: the password of a
// postgresql://user:password@host URL masked ("***"); other URLs as given.
std::string RedactUrl(const std::string& url);

// Picks the URL by the precedence above. `project_dir` holds bver.yaml.
Result<std::string> ChooseStoreUrl(const std::string& flag, const std::string& project_dir);

// The folder that holds artifact content (artifact_store.h) for the store at
// `store_url`: $BVER_ARTIFACTS_DIR, else `artifacts_dir:` in
// bver.config.yaml, else, for sqlite:PATH, the folder `artifacts` beside the
// database file. A PostgreSQL store has no default (its processes may run on
// several machines, which must share one folder): FailedPrecondition saying
// what to set. Relative paths are relative to `project_dir`. Creates nothing.
Result<std::string> ChooseArtifactDir(const std::string& store_url, const std::string& project_dir);

// The database file of a sqlite:PATH URL (PATH resolved against
// `project_dir`, options dropped); it may not exist yet. FailedPrecondition
// for a PostgreSQL URL (its database is no file here), InvalidArgument for
// any other.
Result<std::string> SqliteFile(const std::string& store_url, const std::string& project_dir);

Result<std::unique_ptr<Backend>> OpenBackend(const std::string& url, const std::string& project_dir);

// Compiles nothing: takes an already compiled platform and its fingerprint.
// `policy_revision` (the profile's, src/server/profile.h) is stamped on
// every event when not empty.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const std::string& project_dir,
                                         std::shared_ptr<const domain::Platform> platform,
                                         const std::string& manifest_fingerprint,
                                         const std::string& policy_revision = "");

}  // namespace bver::store
