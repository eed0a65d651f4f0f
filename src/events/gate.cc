#include "src/events/gate.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "src/core/clock.h"
#include "src/core/uuid.h"

namespace bver::events {
namespace {

using nlohmann::json;

constexpr const char* kDefaultChannel = "traffic";
constexpr std::size_t kMaxFieldLength = 1024;

const std::set<std::string, std::less<>>& OptionalStrings() {
  static const std::set<std::string, std::less<>> k = {"ts_utc",         "object_pointer", "change_type",
                                                       "correlation_id", "causation_id",   "manifest_fingerprint",
                                                       "partition_key"};
  return k;
}

// 8-4-4-4-12 hexadecimal digits; lower-cased, or empty when not a UUID.
std::string NormalizeUuid(const json& v) {
  if (!v.is_string()) return "";
  std::string s = v.get<std::string>();
  if (s.size() != 36) return "";
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return "";
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return "";
    s[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
  }
  return s;
}

bool NameLike(const std::string& s, std::size_t max, const char* extra) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [extra](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view(extra).find(c) != std::string_view::npos;
  });
}

std::string PayloadPath(const std::string& p) {
  if (p.empty()) return "payload";
  return p[0] == '[' ? "payload" + p : "payload." + p;
}

json ReasonsJson(const std::vector<Violation>& reasons) {
  json out = json::array();
  for (const Violation& v : reasons) out.push_back({{"path", v.path}, {"rule", v.rule}, {"message", v.message}});
  return out;
}

}  // namespace

std::string_view OutcomeName(Receipt::Outcome outcome) {
  switch (outcome) {
    case Receipt::Outcome::kAdmit: return "ADMIT";
    case Receipt::Outcome::kDuplicate: return "DUPLICATE";
    case Receipt::Outcome::kQuarantine: return "QUARANTINE";
  }
  return "QUARANTINE";
}

json Receipt::ToJson() const {
  json j = {{"event_id", event_id.empty() ? json(nullptr) : json(event_id)},
            {"status", std::string(OutcomeName(outcome))}};
  if (outcome == Outcome::kQuarantine) {
    j["quarantine_id"] = quarantine_id;
    j["reasons"] = ReasonsJson(reasons);
  } else {
    j["offset"] = offset;
  }
  if (!policy_revision.empty()) j["policy_revision"] = policy_revision;
  return j;
}

Gate::Gate(store::Store& store, PayloadRegistry& registry) : store_(store), registry_(registry) {}

Result<Receipt> Gate::IngestOne(const json& event, const runtime::IngestContext& ctx, const std::string& readmit_key) {
  Receipt r;
  r.policy_revision = store_.policy_revision();
  std::vector<Violation>& why = r.reasons;
  std::string channel = kDefaultChannel;
  std::string event_type;
  std::string schema_ref;
  if (!event.is_object()) {
    why.push_back({"", "envelope.type", "an event is a JSON object"});
  } else {
    r.event_id = NormalizeUuid(event.contains("event_id") ? event["event_id"] : json());
    if (r.event_id.empty()) {
      why.push_back({"event_id", event.contains("event_id") ? "envelope.event_id" : "envelope.required",
                     "event_id must be a UUID (8-4-4-4-12 hexadecimal digits; UUIDv7 recommended)"});
    }
    if (event.contains("event_type") && event["event_type"].is_string() &&
        NameLike(event["event_type"].get<std::string>(), 200, "._:/-")) {
      event_type = event["event_type"].get<std::string>();
    } else {
      why.push_back({"event_type", event.contains("event_type") ? "envelope.event_type" : "envelope.required",
                     "event_type must be a name of letters, digits and . _ : / - (at most 200)"});
    }
    if (event.contains("channel") && !event["channel"].is_null()) {
      const json& c = event["channel"];
      if (c.is_string() && NameLike(c.get<std::string>(), 64, "._-") && std::islower(static_cast<unsigned char>(c.get<std::string>()[0]))) {
        channel = c.get<std::string>();
      } else {
        why.push_back({"channel", "envelope.channel",
                       "channel must start with a lower-case letter, then letters, digits, . _ - (at most 64)"});
      }
    }
    if (!event.contains("payload_schema")) {
      why.push_back({"payload_schema", "envelope.required", "payload_schema (id@X.Y.Z) is required"});
    } else if (!event["payload_schema"].is_string()) {
      why.push_back({"payload_schema", "envelope.payload_schema", "payload_schema must be a string id@X.Y.Z"});
    } else {
      Result<SchemaRef> ref = ParseSchemaRef(event["payload_schema"].get<std::string>());
      if (!ref.ok()) {
        why.push_back({"payload_schema", "envelope.payload_schema", ref.status().message()});
      } else {
        schema_ref = ref->ToString();
      }
    }
    if (!event.contains("payload")) why.push_back({"payload", "envelope.required", "payload is required"});
    if (event.contains("envelope_version") && event["envelope_version"] != json(1)) {
      why.push_back({"envelope_version", "envelope.version", "envelope_version must be 1 (or absent)"});
    }
    for (const auto& [key, value] : event.items()) {
      if (key == "offset") {
        why.push_back({"offset", "envelope.offset", "the log assigns the offset; a producer does not send one"});
      } else if (OptionalStrings().count(key)) {
        if (!value.is_null() && (!value.is_string() || value.get<std::string>().size() > kMaxFieldLength)) {
          why.push_back({key, "envelope.field", key + " must be a string of at most 1024 bytes, or null"});
        }
      } else if (key != "event_id" && key != "event_type" && key != "channel" && key != "payload_schema" &&
                 key != "payload" && key != "envelope_version") {
        why.push_back({key, "envelope.unknown", "not a field of the event envelope"});
      }
    }
    if (!schema_ref.empty()) {
      Result<std::shared_ptr<const schema::Validator>> v = registry_.ValidatorFor(schema_ref);
      if (!v.ok() && v.status().code() == StatusCode::kNotFound) {
        why.push_back({"payload_schema", "payload_schema.unknown",
                       schema_ref + " is not registered (bver schemas register)"});
      } else if (!v.ok()) {
        return v.status();
      } else if (event.contains("payload")) {
        Status valid = (*v)->Validate(event["payload"]);
        for (const Violation& p : valid.violations()) {
          why.push_back({PayloadPath(p.path), "payload." + p.rule, p.message});
        }
        if (!valid.ok() && valid.violations().empty()) {
          why.push_back({"payload", "payload.invalid", valid.message()});
        }
      }
    }
  }

  // Already admitted? An event_id seen before is a DUPLICATE whatever the
  // rest of the event says now: a producer's retry with a changed payload
  // must neither quarantine nor replace the admitted original.
  auto offset_of = [](const store::RecordRow& row) -> Result<std::uint64_t> {
    json j = json::parse(row.value, nullptr, false);
    if (!j.is_object() || !j.contains("offset") || !j["offset"].is_number_unsigned()) {
      return DataLossError("ingested record " + row.key + " holds no offset");
    }
    return j["offset"].get<std::uint64_t>();
  };
  if (!r.event_id.empty() && readmit_key.empty()) {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> seen, store_.backend().GetRecord(kIngestedRecord, r.event_id));
    if (seen) {
      BVER_ASSIGN_OR_RETURN(r.offset, offset_of(*seen));
      r.outcome = Receipt::Outcome::kDuplicate;
      return r;
    }
  }

  if (!why.empty()) {
    r.outcome = Receipt::Outcome::kQuarantine;
    r.quarantine_id = !readmit_key.empty() ? readmit_key : (!r.event_id.empty() ? r.event_id : core::NewUuidV7());
    std::int64_t now = store_.Now();
    auto change = [&](const std::optional<std::string>& old) -> Result<std::optional<std::string>> {
      std::int64_t attempts = 1;
      json first = core::FormatTimestamp(now);
      if (old) {
        json o = json::parse(*old, nullptr, false);
        if (o.is_object()) {
          attempts = o.value("attempts", std::int64_t{0}) + 1;
          if (o.contains("first_quarantined_at")) first = o["first_quarantined_at"];
        }
      }
      json value = {{"quarantine_id", r.quarantine_id},
                    {"event_id", r.event_id.empty() ? json(nullptr) : json(r.event_id)},
                    {"event", event},
                    {"reasons", ReasonsJson(why)},
                    {"attempts", attempts},
                    {"first_quarantined_at", first},
                    {"quarantined_at", core::FormatTimestamp(now)},
                    {"actor", ctx.actor}};
      return std::optional<std::string>(value.dump());
    };
    BVER_RETURN_IF_ERROR(store_.backend().UpdateRecord(kQuarantineRecord, r.quarantine_id, now, change).status());
    return r;
  }

  // (The admitted check is repeated inside the transaction against races.)

  store::WriteContext wctx;
  wctx.actor = ctx.actor;
  wctx.correlation_id = event.value("correlation_id", json()).is_string() ? event["correlation_id"].get<std::string>()
                                                                          : ctx.correlation_id;
  bool duplicate = false;
  Result<std::vector<store::Reference>> applied = store_.Apply(
      {}, wctx, [&](store::Txn& t, const store::Store::TxnHelpers& h) -> Status {
        if (!readmit_key.empty()) {
          BVER_RETURN_IF_ERROR(t.DeleteRecord(kQuarantineRecord, readmit_key).status());
        }
        BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> again, t.GetRecord(kIngestedRecord, r.event_id));
        if (again) {
          duplicate = true;
          BVER_ASSIGN_OR_RETURN(r.offset, offset_of(*again));
          return Status::Ok();
        }
        BVER_ASSIGN_OR_RETURN(r.offset, t.NextEventOffset());
        // As the store's own events: absent text fields are "" (events.read
        // documents them as strings), change_type null.
        auto str_or = [&](const char* k, json absent) {
          return event.contains(k) && event[k].is_string() ? event[k] : absent;
        };
        std::string ts = core::FormatTimestamp(h.now_us());
        json envelope = {{"event_id", r.event_id},
                         {"envelope_version", 1},
                         {"event_type", event_type},
                         {"channel", channel},
                         {"ts_utc", event.contains("ts_utc") && event["ts_utc"].is_string() ? event["ts_utc"] : json(ts)},
                         {"object_pointer", str_or("object_pointer", "")},
                         {"change_type", str_or("change_type", nullptr)},
                         {"payload_schema", schema_ref},
                         {"payload", event["payload"]},
                         {"correlation_id", wctx.correlation_id},
                         {"causation_id", str_or("causation_id", "")},
                         {"manifest_fingerprint", str_or("manifest_fingerprint", "")},
                         {"partition_key", str_or("partition_key", "")},
                         {"offset", r.offset}};
        if (!store_.policy_revision().empty()) envelope["policy_revision"] = store_.policy_revision();
        BVER_RETURN_IF_ERROR(t.AppendEvent(r.offset, r.event_id, envelope.dump()));
        BVER_RETURN_IF_ERROR(t.DeleteRecord(kQuarantineRecord, r.event_id).status());
        json record = {{"offset", r.offset}, {"ingested_at", ts}, {"actor", ctx.actor}};
        return t.PutRecord({kIngestedRecord, r.event_id, record.dump(), h.now_us()});
      });
  BVER_RETURN_IF_ERROR(applied.status());
  r.outcome = duplicate ? Receipt::Outcome::kDuplicate : Receipt::Outcome::kAdmit;
  return r;
}

Result<std::vector<Receipt>> Gate::IngestEvents(const std::vector<json>& events, const runtime::IngestContext& ctx) {
  if (events.size() > kMaxIngestBatch) {
    return InvalidArgumentError("at most " + std::to_string(kMaxIngestBatch) + " events per call, not " +
                                std::to_string(events.size()));
  }
  std::vector<Receipt> out;
  out.reserve(events.size());
  for (const json& e : events) {
    BVER_ASSIGN_OR_RETURN(Receipt r, IngestOne(e, ctx, ""));
    out.push_back(std::move(r));
  }
  return out;
}

Result<Receipt> Gate::ReadmitEvent(const std::string& quarantine_id, const json* corrected,
                                   const runtime::IngestContext& ctx) {
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, store_.backend().GetRecord(kQuarantineRecord, quarantine_id));
  if (!row) return NotFoundError("nothing is quarantined under " + quarantine_id);
  if (corrected != nullptr) return IngestOne(*corrected, ctx, quarantine_id);
  json stored = json::parse(row->value, nullptr, false);
  if (!stored.is_object() || !stored.contains("event")) {
    return DataLossError("quarantine record " + quarantine_id + " holds no event");
  }
  return IngestOne(stored["event"], ctx, quarantine_id);
}

Result<json> Gate::Ingest(const json& events, const runtime::IngestContext& ctx) {
  if (!events.is_array()) return InvalidArgumentError("events must be a JSON array");
  BVER_ASSIGN_OR_RETURN(std::vector<Receipt> receipts,
                        IngestEvents(std::vector<json>(events.begin(), events.end()), ctx));
  json out = json::array();
  for (const Receipt& r : receipts) out.push_back(r.ToJson());
  return json{{"receipts", std::move(out)}};
}

Result<json> Gate::ListQuarantine(const std::string& after, std::size_t limit) {
  limit = std::clamp<std::size_t>(limit == 0 ? 100 : limit, 1, 1000);
  BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> rows,
                        store_.backend().ListRecords(kQuarantineRecord, after, limit + 1));
  json out = json::array();
  for (std::size_t i = 0; i < rows.size() && i < limit; ++i) {
    json j = json::parse(rows[i].value, nullptr, false);
    if (!j.is_object()) return DataLossError("quarantine record " + rows[i].key + " is not JSON");
    out.push_back(std::move(j));
  }
  json next = rows.size() > limit ? json(rows[limit - 1].key) : json(nullptr);
  return json{{"events", std::move(out)}, {"next_cursor", next}};
}

Result<json> Gate::Readmit(const std::string& quarantine_id, std::shared_ptr<const json> corrected,
                           const runtime::IngestContext& ctx) {
  BVER_ASSIGN_OR_RETURN(Receipt r, ReadmitEvent(quarantine_id, corrected.get(), ctx));
  return r.ToJson();
}

}  // namespace bver::events
