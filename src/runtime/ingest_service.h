// What the operation table needs from the ingestion gate (BVER.md §6):
// admit external events, list the quarantine, re-admit from it. The gate
// (src/events/gate.h) implements this interface, so src/runtime never
// depends on src/events.
//
// Thread safety: implementations are called from any number of threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

// The scope of the operations that write through the gate (events.ingest,
// events.quarantine.readmit). The compiled platform does not know it (the
// rows are the runtime's own), so `bver keys create` accepts it besides
// the platform's scopes.
inline constexpr const char* kIngestScope = "events:write";

struct IngestContext {
  std::string actor;
  std::string correlation_id;
};

class IngestService {
 public:
  virtual ~IngestService() = default;
  // One receipt per event of `events` (a JSON array), in order (see
  // docs/events.md): {"receipts": [...]}. InvalidArgument when `events` is
  // not an array; a store failure answers its error (events admitted
  // before it are answered DUPLICATE when sent again).
  virtual Result<nlohmann::json> Ingest(const nlohmann::json& events, const IngestContext& ctx) = 0;
  // {"events": [...], "next_cursor": ...}: quarantined events in id order after `after`.
  virtual Result<nlohmann::json> ListQuarantine(const std::string& after, std::size_t limit) = 0;
  // Runs the checks again on quarantined event `quarantine_id` (or on
  // `corrected` in its place, when not null) and answers its receipt.
  // NotFound when nothing is quarantined under that id.
  virtual Result<nlohmann::json> Readmit(const std::string& quarantine_id,
                                         std::shared_ptr<const nlohmann::json> corrected,
                                         const IngestContext& ctx) = 0;
};

}  // namespace bver::runtime
