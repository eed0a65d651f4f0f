// How an engine calls another operation without knowing what serves it: an
// orchestrator step starting a job, a trigger starting a run. In a server
// the broker is the dispatcher (scopes, schemas, audit); a test may pass
// its own. Engines receive it when they start, so nothing holds the broker
// before it exists and no object cycle (broker -> table -> engine ->
// broker) needs breaking by hand.
//
// Thread safety: Invoke may be called from any number of threads at once.
#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/runtime/operations.h"

namespace bver::runtime {

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // The row of operation `id` (its schemas, kind), or null when none serves it.
  virtual const OperationRow* Find(std::string_view id) const = 0;
  // Runs `call`; the operation's output object, or why not.
  virtual Result<nlohmann::json> Invoke(const Call& call) const = 0;
};

}  // namespace bver::runtime
