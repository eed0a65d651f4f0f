// The CLI's door to the composition root (src/server/runtime.h): the same
// runtime `bver up` serves, opened from the flags every store command takes.
#pragma once

#include <memory>

#include "bver/status.h"
#include "src/cli/commands.h"
#include "src/server/runtime.h"

namespace bver::cli {

using server::Runtime;
using server::RuntimeOptions;

Result<std::unique_ptr<Runtime>> OpenRuntime(const StoreFlags& flags, runtime::Broker::Options options = {},
                                             RuntimeOptions runtime_options = {});

}  // namespace bver::cli
