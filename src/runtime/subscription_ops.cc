#include "src/runtime/subscription_ops.h"

#include <nlohmann/json.hpp>

#include "src/runtime/ingest_ops.h"
#include "src/runtime/subscription_service.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;

constexpr const char* kReadScope = "events:read";

json NameField() {
  return {{"type", "string"},
          {"pattern", "^[a-z0-9][a-z0-9_.-]{0,63}$"},
          {"description", "The consumer's name."}};
}

json FilterSchema() {
  json strings = {{"type", "array"}, {"items", {{"type", "string"}, {"minLength", 1}}}};
  return {{"type", "object"},
          {"additionalProperties", false},
          {"description", "Every given field must match; empty matches all."},
          {"properties",
           {{"channels", strings},
            {"event_types", {{"type", "array"},
                             {"items", {{"type", "string"}, {"minLength", 1}}},
                             {"description", "Exact types, or a prefix ending in \".*\" (\"ref.*\")."}}},
            {"pointer_prefix", {{"type", "string"}, {"description", "object_pointer starts with it."}}}}}};
}

json ConsumerSchema() {
  json count = {{"type", "integer"}, {"minimum", 0}};
  return {{"type", "object"},
          {"required",
           {"name", "filter", "ack_timeout_ms", "max_ack_pending", "next_offset", "ack_floor", "pending", "log_end",
            "lag", "delivered", "acked", "redelivered"}},
          {"properties",
           {{"name", {{"type", "string"}}},
            {"filter", FilterSchema()},
            {"ack_timeout_ms", count},
            {"max_ack_pending", count},
            {"next_offset", count},
            {"ack_floor", {{"type", "integer"}, {"minimum", 0}, {"description", "Every offset up to it is handled."}}},
            {"pending", {{"type", "integer"}, {"minimum", 0}, {"description", "Delivered, not yet acked."}}},
            {"pending_offsets", {{"type", "array"}, {"items", count}}},
            {"log_end", count},
            {"lag", count},
            {"delivered", count},
            {"acked", count},
            {"redelivered", count},
            {"created_at", {{"type", "string"}}},
            {"updated_at", {{"type", "string"}}},
            {"created", {{"type", "boolean"}}}}}};
}

json DeliverySchema() {
  return {{"type", "object"},
          {"required", {"offset", "delivery", "event"}},
          {"properties",
           {{"offset", {{"type", "integer"}, {"minimum", 1}}},
            {"delivery", {{"type", "integer"}, {"minimum", 1}, {"description", "1 the first time, then 2, 3..."}}},
            {"event", {{"type", "object"}}}}}};
}

HttpParam PathName() { return HttpParam{"name", HttpSource::kPath, "name", HttpForm::kValue, {}}; }
HttpParam QueryOf(const char* field) { return HttpParam{field, HttpSource::kQuery, field, HttpForm::kValue, {}}; }

// One row: everything but what varies set as the consumer rows share it.
OperationRow Row(const char* id, const char* summary, std::string description, json input, json output,
                 HttpBinding http) {
  OperationRow r;
  r.id = id;
  r.kind = domain::OperationKind::kModule;
  r.summary = summary;
  r.description = std::move(description);
  r.scopes = {kReadScope};
  r.input_schema = std::make_shared<const json>(std::move(input));
  r.output_schema = std::make_shared<const json>(std::move(output));
  r.http = std::move(http);
  return r;
}

const json& In(const Call& call) {
  static const json kEmpty = json::object();
  return call.input ? *call.input : kEmpty;
}

}  // namespace

Result<std::vector<OperationRow>> SubscriptionRows(SubscriptionService* subscriptions) {
  SubscriptionService* svc = subscriptions;
  std::vector<OperationRow> rows;
  const std::string base = "/v1/events/consumers";
  const std::string item = base + "/{name}";
  {
    json spec = {{"type", "object"},
                 {"required", {"name"}},
                 {"additionalProperties", false},
                 {"properties",
                  {{"name", NameField()},
                   {"filter", FilterSchema()},
                   {"from", {{"type", "integer"}, {"minimum", 1}, {"description", "First offset (1: the whole log); absent: new events only."}}},
                   {"ack_timeout_ms", {{"type", "integer"}, {"minimum", 100}, {"maximum", 86400000}, {"default", 30000}}},
                   {"max_ack_pending", {{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}, {"default", 1000}}}}}};
    OperationRow r = Row(
        "events.consumers.create", "Create a durable consumer of the event log",
        "A named cursor kept in the store: events.consumers.fetch hands out the events passing its filter, each "
        "pending until acked and handed out again after ack_timeout_ms (at-least-once). Creating the same consumer "
        "again answers it; another filter under a taken name is a conflict. HTTP: the body is the spec.",
        ObjectRoot({{"consumer", {{"description", "The spec (HTTP: the request body)."}, {"allOf", {spec}}}}}, {"consumer"}),
        ConsumerSchema(),
        {"POST", base, {HttpParam{"consumer", HttpSource::kBody, "", HttpForm::kValue, {"application/json"}}}, 200, "",
         "", false, false});
    r.idempotent = true;
    r.handler = [svc](const Call& call) { return svc->CreateConsumer(In(call).value("consumer", json::object())); };
    rows.push_back(std::move(r));
  }
  {
    OperationRow r = Row("events.consumers.list", "List the consumers of the event log",
                         "Every durable consumer with its cursor, pending count and lag.", ObjectRoot(json::object()),
                         ObjectRoot({{"consumers", {{"type", "array"}, {"items", ConsumerSchema()}}}}, {"consumers"}),
                         {"GET", base, {}, 200, "", "", false, false});
    r.read_only = r.idempotent = true;
    r.handler = [svc](const Call&) { return svc->ListConsumers(); };
    rows.push_back(std::move(r));
  }
  {
    OperationRow r = Row("events.consumers.get", "Get a consumer", "One consumer: its cursor, pending count and lag.",
                         ObjectRoot({{"name", NameField()}}, {"name"}), ConsumerSchema(),
                         {"GET", item, {PathName()}, 200, "", "", false, false});
    r.read_only = r.idempotent = true;
    r.handler = [svc](const Call& call) { return svc->GetConsumer(In(call).value("name", "")); };
    rows.push_back(std::move(r));
  }
  {
    OperationRow r = Row("events.consumers.delete", "Delete a consumer",
                         "Forgets the consumer and its cursor; the events stay in the log.",
                         ObjectRoot({{"name", NameField()}}, {"name"}),
                         ObjectRoot({{"name", {{"type", "string"}}}, {"deleted", {{"type", "boolean"}}}}, {"name", "deleted"}),
                         {"DELETE", item, {PathName()}, 200, "", "", false, false});
    r.destructive = true;
    r.handler = [svc](const Call& call) { return svc->DeleteConsumer(In(call).value("name", "")); };
    rows.push_back(std::move(r));
  }
  {
    OperationRow r = Row(
        "events.consumers.fetch", "Fetch the next events of a consumer",
        "Hands out up to max events: first those whose ack timeout passed (delivery > 1), then new ones passing the "
        "filter, in offset order. Each stays pending until acked. wait_ms > 0 waits that long for the first event.",
        ObjectRoot({{"name", NameField()},
                    {"max", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 100}}},
                    {"wait_ms", {{"type", "integer"}, {"minimum", 0}, {"maximum", 60000}, {"default", 0}}}},
                   {"name"}),
        ObjectRoot({{"consumer", {{"type", "string"}}}, {"events", {{"type", "array"}, {"items", DeliverySchema()}}}},
                   {"consumer", "events"}),
        {"POST", item + "/fetch", {PathName(), QueryOf("max"), QueryOf("wait_ms")}, 200, "", "", false, false});
    r.handler = [svc](const Call& call) {
      const json& in = In(call);
      return svc->Fetch(in.value("name", ""), in.value("max", std::size_t{100}), in.value("wait_ms", std::int64_t{0}));
    };
    rows.push_back(std::move(r));
  }
  {
    OperationRow r = Row(
        "events.consumers.ack", "Acknowledge delivered events",
        "Forgets the pending deliveries at these offsets; offsets not pending (acked before, never delivered, or "
        "handed out again after a seek) are answered under unknown. HTTP: ?offsets=5&offsets=6.",
        ObjectRoot({{"name", NameField()},
                    {"offsets", {{"type", "array"}, {"minItems", 1}, {"maxItems", 1000}, {"items", {{"type", "integer"}, {"minimum", 1}}}}}},
                   {"name", "offsets"}),
        ObjectRoot({{"acked", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
                    {"unknown", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
                    {"consumer", ConsumerSchema()}},
                   {"acked", "unknown", "consumer"}),
        {"POST", item + "/ack", {PathName(), QueryOf("offsets")}, 200, "", "", false, false});
    r.idempotent = true;
    r.handler = [svc](const Call& call) {
      const json& in = In(call);
      return svc->Ack(in.value("name", ""), in.value("offsets", std::vector<std::uint64_t>{}));
    };
    rows.push_back(std::move(r));
  }
  {
    OperationRow r = Row("events.consumers.seek", "Replay a consumer from an offset",
                         "Drops the consumer's pending deliveries; the next fetch starts at offset (1: the whole log).",
                         ObjectRoot({{"name", NameField()}, {"offset", {{"type", "integer"}, {"minimum", 1}}}},
                                    {"name", "offset"}),
                         ConsumerSchema(),
                         {"POST", item + "/seek", {PathName(), QueryOf("offset")}, 200, "", "", false, false});
    r.idempotent = true;
    r.handler = [svc](const Call& call) {
      const json& in = In(call);
      return svc->Seek(in.value("name", ""), in.value("offset", std::uint64_t{1}));
    };
    rows.push_back(std::move(r));
  }
  for (OperationRow& r : rows) {
    BVER_ASSIGN_OR_RETURN(OperationRow compiled, CompileRow(std::move(r)));
    r = std::move(compiled);
  }
  return rows;
}

}  // namespace bver::runtime::internal
