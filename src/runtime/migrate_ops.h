// The rows of the migration operations (migrate.plan, migrate.apply; scope
// admin) over a MigrationService. Internal to src/runtime.
#pragma once

#include <vector>

#include "src/runtime/migrate_service.h"
#include "src/runtime/operations.h"

namespace bver::runtime::internal {

// `migrations` may be null (declared only).
Result<std::vector<OperationRow>> MigrateRows(MigrationService* migrations);

}  // namespace bver::runtime::internal
