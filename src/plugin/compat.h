// Compatibility of plugins with this runtime, with the platform compiled from
// bver.yaml, and with each other. Checked when a plugin is installed and when
// the runtime starts; every problem is reported at once.
//
// Pure functions over immutable values: safe from any thread.
#pragma once

#include <vector>

#include "bver/status.h"
#include "src/domain/platform.h"
#include "src/plugin/manifest.h"

namespace bver::plugin {

// Every problem of `manifest` (one Violation each, path naming where, rule
// "compat.<what>"):
//   compat.runtime_api   kRuntimeApiLevel is outside [runtime_api_min, runtime_api_max]
//   compat.capability    a capability the platform declares with `plugin: <id>`
//                        is not provided by the plugin
//   compat.type          ... is provided as another primitive type
//   compat.version       ... is provided with an incompatible version (the
//                        major must be the same and the plugin's minor at
//                        least the declared one)
//   compat.writes        the plugin's capability writes a repo the platform
//                        does not declare for it
//   compat.owner         a namespace or kind the plugin owns is owned by
//                        another installed plugin (or, for a namespace, by
//                        another owner in bver.yaml)
// `platform` may be null (only the API level and ownership among `others`
// are checked then). `others` are the other installed plugins; one with the
// same plugin_id is ignored (it is the one being replaced).
std::vector<Violation> CompatibilityProblems(const Manifest& manifest, const domain::Platform* platform,
                                             const std::vector<const Manifest*>& others);

// OK, or FailedPrecondition "plugin X is not compatible: ..." carrying the
// problems above.
Status CheckCompatibility(const Manifest& manifest, const domain::Platform* platform,
                          const std::vector<const Manifest*>& others);

// At start: every capability of the platform names an installed plugin
// (rule compat.not_installed) and every installed plugin is compatible.
// OK, or FailedPrecondition listing every problem.
Status CheckPlatformPlugins(const domain::Platform& platform, const std::vector<const Manifest*>& installed);

}  // namespace bver::plugin
