// The ingestion gate (BVER.md §6): how events of external producers enter
// the log. Every event gets a receipt: ADMIT (appended, with its offset),
// DUPLICATE (its event_id was admitted before: the original offset, nothing
// appended) or QUARANTINE (every reason; the event is kept as a record of
// kind "quarantine" and can be re-admitted once its schema or the event is
// fixed). An event is admitted when its envelope is valid, its
// payload_schema is registered (registry.h) and its payload is valid
// against it. The append and the dedupe record ("ingested", key event_id)
// are written in one transaction. docs/events.md describes the envelope.
//
// Thread safety: a Gate may be used from any number of threads; two calls
// racing with one event_id admit it once (the other answers DUPLICATE).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bver/status.h"
#include "src/events/registry.h"
#include "src/runtime/ingest_service.h"
#include "src/store/store.h"

namespace bver::events {

inline constexpr const char* kIngestedRecord = "ingested";
inline constexpr const char* kQuarantineRecord = "quarantine";
inline constexpr std::size_t kMaxIngestBatch = 1000;

struct Receipt {
  enum class Outcome { kAdmit, kDuplicate, kQuarantine };
  Outcome outcome = Outcome::kQuarantine;
  std::string event_id;                // as normalized (lower case); empty when the event had none valid
  std::uint64_t offset = 0;            // kAdmit, kDuplicate
  std::string quarantine_id;           // kQuarantine: the key to re-admit it with
  std::vector<Violation> reasons;      // kQuarantine: every reason
  std::string policy_revision;         // the admitting runtime's profile policy, when it has one
  nlohmann::json ToJson() const;
};

class Gate : public runtime::IngestService {
 public:
  // Both must outlive the gate.
  Gate(store::Store& store, PayloadRegistry& registry);

  // One receipt per event, in order. InvalidArgument for more than
  // kMaxIngestBatch events; a store failure answers its error.
  Result<std::vector<Receipt>> IngestEvents(const std::vector<nlohmann::json>& events,
                                            const runtime::IngestContext& ctx);
  // Re-runs every check on the quarantined event (or `corrected` in its
  // place): admitted, it leaves the quarantine; refused again, its record
  // is updated with the new reasons. NotFound when nothing is quarantined
  // under `quarantine_id`.
  Result<Receipt> ReadmitEvent(const std::string& quarantine_id, const nlohmann::json* corrected,
                               const runtime::IngestContext& ctx);

  // runtime::IngestService.
  Result<nlohmann::json> Ingest(const nlohmann::json& events, const runtime::IngestContext& ctx) override;
  Result<nlohmann::json> ListQuarantine(const std::string& after, std::size_t limit) override;
  Result<nlohmann::json> Readmit(const std::string& quarantine_id, std::shared_ptr<const nlohmann::json> corrected,
                                 const runtime::IngestContext& ctx) override;

 private:
  Result<Receipt> IngestOne(const nlohmann::json& event, const runtime::IngestContext& ctx,
                            const std::string& readmit_key);
  store::Store& store_;
  PayloadRegistry& registry_;
};

std::string_view OutcomeName(Receipt::Outcome outcome);  // "ADMIT", "DUPLICATE", "QUARANTINE"

}  // namespace bver::events
