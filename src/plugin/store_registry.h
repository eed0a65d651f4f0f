// The plugin registry kept in the project's store: records of kind "plugin"
// keyed by plugin id, through the Backend's generic records (backend.h).
// Thread-safe as the Backend is.
#pragma once

#include <memory>

#include "src/plugin/registry.h"

namespace bver::store {
class Backend;
}

namespace bver::plugin {

// The record kind of registry entries.
inline constexpr const char* kPluginRecordKind = "plugin";

// A RegistryStorage over `backend`, which must outlive it.
std::unique_ptr<RegistryStorage> MakeStoreRegistryStorage(store::Backend& backend);

}  // namespace bver::plugin
