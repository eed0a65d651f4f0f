// What the operation table needs from the trigger processor (BVER.md §6,
// docs/triggers.md): list the triggers with their counts and cursor, and
// list their firings. The processor (src/triggers/processor.h) implements
// this interface, so src/runtime never depends on src/triggers.
//
// Thread safety: implementations are called from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

class TriggerService {
 public:
  virtual ~TriggerService() = default;
  // {"cursor": N, "running": bool, "triggers": [{name, on, start, fired,
  // failed, suppressed}, ...]} (docs/triggers.md).
  virtual Result<nlohmann::json> ListTriggers() = 0;
  // {"fires": [...], "next_cursor": "..."|null}: the firings of `trigger`
  // ("" every trigger) in key order after `after`, at most `limit`.
  // NotFound when `trigger` names no trigger of the platform.
  virtual Result<nlohmann::json> ListFires(const std::string& trigger, const std::string& after,
                                           std::size_t limit) = 0;
  // {"cursor": N}: the processor reads event N next (0: the end of the
  // log). Firings already recorded are not repeated.
  virtual Result<nlohmann::json> MoveCursor(std::uint64_t offset) = 0;
};

}  // namespace bver::runtime
