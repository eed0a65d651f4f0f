// The plugin registry kept in the project's store: records of kind "plugin"
// keyed by plugin id, in the store's record table (store::RecordTable,
// backend.h). Thread-safe as the table is.
#pragma once

#include <memory>

#include "src/plugin/registry.h"

namespace bver::store {
class RecordTable;
}

namespace bver::plugin {

// The record kind of registry entries.
inline constexpr const char* kPluginRecordKind = "plugin";

// A RegistryStorage over `records`, which must outlive it.
std::unique_ptr<RegistryStorage> MakeStoreRegistryStorage(store::RecordTable& records);

}  // namespace bver::plugin
