#include "src/events/subscriptions.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <regex>

#include <nlohmann/json.hpp>

#include "src/core/clock.h"
#include "src/store/backend.h"
#include "src/store/follower.h"
#include "src/store/store.h"

namespace bver::events {
namespace {

using nlohmann::json;

constexpr const char* kRecordKind = "consumer";
constexpr std::size_t kMaxFetch = 1000;
constexpr std::int64_t kMaxWaitMs = 60000;
constexpr int kCasAttempts = 16;

std::int64_t NowUs() { return store::SystemClockMicros(); }

Status FieldError(const std::string& path, const std::string& message) {
  return InvalidArgumentError(message, {Violation{path, "invalid", message}});
}

Result<std::vector<std::string>> StringList(const json& j, const char* field) {
  std::vector<std::string> out;
  if (!j.contains(field)) return out;
  const json& v = j[field];
  std::string path = std::string("filter.") + field;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const json& x : v) {
      if (!x.is_string() || x.get<std::string>().empty()) {
        return FieldError(path, path + " must hold non-empty strings");
      }
      out.push_back(x.get<std::string>());
    }
  } else {
    return FieldError(path, path + " must be a string or an array of strings");
  }
  return out;
}

bool TypeMatches(const std::string& pattern, const std::string& type) {
  if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0) {
    return type.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  }
  return pattern == type;
}

// One pending delivery of a consumer.
struct Pending {
  std::uint64_t offset = 0;
  std::int64_t deliveries = 0;
  std::int64_t deadline_us = 0;  // handed out again after this
};

// The stored state of a consumer (the record's value).
struct Consumer {
  std::string name;
  EventFilter filter;
  std::int64_t ack_timeout_ms = 30000;
  std::size_t max_ack_pending = 1000;
  std::uint64_t next = 1;  // the next offset to scan
  std::vector<Pending> pending;  // by offset
  std::uint64_t delivered = 0, acked = 0, redelivered = 0;
  std::int64_t created_at_us = 0, updated_at_us = 0;
  std::uint64_t rev = 0;  // bumped by every change (the stored text is the compare-and-set token)

  json Stored() const {
    json p = json::array();
    for (const Pending& x : pending) p.push_back({x.offset, x.deliveries, x.deadline_us});
    return {{"name", name},           {"filter", filter.ToJson()}, {"ack_timeout_ms", ack_timeout_ms},
            {"max_ack_pending", max_ack_pending}, {"next", next}, {"pending", std::move(p)},
            {"delivered", delivered}, {"acked", acked},            {"redelivered", redelivered},
            {"created_at_us", created_at_us}, {"updated_at_us", updated_at_us}, {"rev", rev}};
  }

  static Result<Consumer> Load(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return DataLossError("a consumer record is not a JSON object");
    Consumer c;
    try {
      c.name = j.at("name").get<std::string>();
      BVER_ASSIGN_OR_RETURN(c.filter, EventFilter::FromJson(j.at("filter")));
      c.ack_timeout_ms = j.at("ack_timeout_ms").get<std::int64_t>();
      c.max_ack_pending = j.at("max_ack_pending").get<std::size_t>();
      c.next = j.at("next").get<std::uint64_t>();
      for (const json& p : j.at("pending")) {
        c.pending.push_back({p.at(0).get<std::uint64_t>(), p.at(1).get<std::int64_t>(), p.at(2).get<std::int64_t>()});
      }
      c.delivered = j.value("delivered", std::uint64_t{0});
      c.acked = j.value("acked", std::uint64_t{0});
      c.redelivered = j.value("redelivered", std::uint64_t{0});
      c.created_at_us = j.value("created_at_us", std::int64_t{0});
      c.updated_at_us = j.value("updated_at_us", std::int64_t{0});
      c.rev = j.value("rev", std::uint64_t{0});
    } catch (const json::exception& e) {
      return DataLossError(std::string("a consumer record is malformed: ") + e.what());
    }
    return c;
  }

  // What callers see.
  json Public(std::uint64_t log_end) const {
    std::uint64_t floor = pending.empty() ? next - 1 : pending.front().offset - 1;
    json offsets = json::array();
    for (std::size_t i = 0; i < pending.size() && i < 100; ++i) offsets.push_back(pending[i].offset);
    return {{"name", name},
            {"filter", filter.ToJson()},
            {"ack_timeout_ms", ack_timeout_ms},
            {"max_ack_pending", max_ack_pending},
            {"next_offset", next},
            {"ack_floor", floor},
            {"pending", pending.size()},
            {"pending_offsets", std::move(offsets)},
            {"log_end", log_end},
            {"lag", log_end > floor ? log_end - floor : 0},
            {"delivered", delivered},
            {"acked", acked},
            {"redelivered", redelivered},
            {"created_at", core::FormatTimestamp(created_at_us)},
            {"updated_at", core::FormatTimestamp(updated_at_us)}};
  }
};

Status ValidName(const std::string& name) {
  static const std::regex kName("[a-z0-9][a-z0-9_.-]{0,63}");
  if (!std::regex_match(name, kName)) {
    return FieldError("name", "consumer name \"" + name + "\" must match [a-z0-9][a-z0-9_.-]{0,63}");
  }
  return Status::Ok();
}

Status NoConsumer(const std::string& name) {
  return NotFoundError("no consumer named \"" + name + "\"; create it with events.consumers.create (POST "
                       "/v1/events/consumers) or see the list with `bver events consumers list`");
}

json EventOf(const store::Event& e) { return e.envelope ? *e.envelope : json::object(); }

}  // namespace

bool EventFilter::Matches(const json& envelope) const {
  if (!channels.empty()) {
    std::string ch = envelope.value("channel", "");
    if (std::find(channels.begin(), channels.end(), ch) == channels.end()) return false;
  }
  if (!event_types.empty()) {
    std::string type = envelope.value("event_type", "");
    if (std::none_of(event_types.begin(), event_types.end(), [&](const std::string& p) { return TypeMatches(p, type); })) {
      return false;
    }
  }
  if (!pointer_prefix.empty()) {
    auto it = envelope.find("object_pointer");
    std::string ptr = it != envelope.end() && it->is_string() ? it->get<std::string>() : envelope.value("subject", "");
    if (ptr.compare(0, pointer_prefix.size(), pointer_prefix) != 0) return false;
  }
  return true;
}

json EventFilter::ToJson() const {
  return {{"channels", channels}, {"event_types", event_types}, {"pointer_prefix", pointer_prefix}};
}

Result<EventFilter> EventFilter::FromJson(const json& j) {
  EventFilter f;
  if (j.is_null()) return f;
  if (!j.is_object()) return FieldError("filter", "filter must be an object");
  for (const auto& [k, v] : j.items()) {
    if (k != "channels" && k != "event_types" && k != "pointer_prefix") {
      return FieldError("filter." + k, "filter has no field \"" + k +
                                           "\"; use channels, event_types and pointer_prefix");
    }
  }
  BVER_ASSIGN_OR_RETURN(f.channels, StringList(j, "channels"));
  BVER_ASSIGN_OR_RETURN(f.event_types, StringList(j, "event_types"));
  if (j.contains("pointer_prefix")) {
    if (!j["pointer_prefix"].is_string()) return FieldError("filter.pointer_prefix", "filter.pointer_prefix must be a string");
    f.pointer_prefix = j["pointer_prefix"].get<std::string>();
  }
  return f;
}

struct Subscriptions::Impl {
  store::EventLog& log;
  store::RecordTable& records;
  Options options;

  // Runs `pass` until it finds something or `wait_ms` has passed.
  Result<bool> Wait(std::int64_t wait_ms, const std::function<Result<bool>()>& pass) {
    store::Follower follower(log, {.poll = options.poll_interval});
    return follower.WaitUntil(pass, std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms));
  }

  Result<std::optional<Consumer>> Find(const std::string& name) {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, records.GetRecord(kRecordKind, name));
    if (!row) return std::optional<Consumer>();
    BVER_ASSIGN_OR_RETURN(Consumer c, Consumer::Load(row->value));
    return std::optional<Consumer>(std::move(c));
  }

  Result<Consumer> MustFind(const std::string& name) {
    BVER_RETURN_IF_ERROR(ValidName(name));
    BVER_ASSIGN_OR_RETURN(std::optional<Consumer> c, Find(name));
    if (!c) return NoConsumer(name);
    return std::move(*c);
  }

  // Reads a consumer, lets `change` edit it (answering false when it
  // changed nothing), and stores it with compare-and-set, `change` running
  // again on the fresh record after a lost race (RecordTable::UpdateRecord).
  // The consumer as stored.
  Result<Consumer> Update(const std::string& name, const std::function<Result<bool>(Consumer&)>& change) {
    BVER_RETURN_IF_ERROR(ValidName(name));
    Consumer out;
    BVER_RETURN_IF_ERROR(
        records
            .UpdateRecord(kRecordKind, name, NowUs(),
                          [&](const std::optional<std::string>& text) -> Result<std::optional<std::string>> {
                            if (!text) return NoConsumer(name);
                            BVER_ASSIGN_OR_RETURN(Consumer c, Consumer::Load(*text));
                            BVER_ASSIGN_OR_RETURN(bool changed, change(c));
                            out = c;
                            if (!changed) return std::optional<std::string>();
                            out.rev += 1;
                            out.updated_at_us = NowUs();
                            return std::optional<std::string>(out.Stored().dump());
                          })
            .status());
    return out;
  }

  // What callers see of `c`, with the log's current end.
  Result<json> Public(const Consumer& c) {
    BVER_ASSIGN_OR_RETURN(std::uint64_t end, log.LastEventOffset());
    return c.Public(end);
  }

  // One attempt to hand out up to `max` deliveries.
  Result<json> FetchOnce(const std::string& name, std::size_t max) {
    json out;
    BVER_RETURN_IF_ERROR(Update(name, [&](Consumer& c) -> Result<bool> {
      const std::uint64_t stored_next = c.next;
      std::int64_t now = NowUs();
      std::int64_t deadline = now + c.ack_timeout_ms * 1000;
      out = json::array();
      std::vector<std::uint64_t> again;
      for (Pending& p : c.pending) {
        if (out.size() + again.size() >= max) break;
        if (p.deadline_us <= now) again.push_back(p.offset);
      }
      // Redeliveries first, in offset order; their envelopes are read back.
      for (std::uint64_t off : again) {
        BVER_ASSIGN_OR_RETURN(std::vector<store::Event> ev, log.ReadEvents(off, 1));
        Pending& p = *std::find_if(c.pending.begin(), c.pending.end(), [&](const Pending& x) { return x.offset == off; });
        p.deliveries += 1;
        p.deadline_us = deadline;
        c.redelivered += 1;
        c.delivered += 1;
        if (ev.empty() || ev[0].offset != off) continue;  // cannot happen: the log is append-only
        out.push_back({{"offset", off}, {"delivery", p.deliveries}, {"event", EventOf(ev[0])}});
      }
      // Then new events, while the pending window has room.
      std::size_t scanned = 0;
      while (out.size() < max && c.pending.size() < c.max_ack_pending && scanned < options.scan_budget) {
        std::size_t want = std::min<std::size_t>(500, options.scan_budget - scanned);
        BVER_ASSIGN_OR_RETURN(std::vector<store::Event> batch, log.ReadEvents(c.next, want));
        if (batch.empty()) break;
        bool full = false;
        for (const store::Event& e : batch) {
          ++scanned;
          c.next = e.offset + 1;
          if (!e.envelope || !c.filter.Matches(*e.envelope)) continue;
          c.pending.push_back({e.offset, 1, deadline});
          c.delivered += 1;
          out.push_back({{"offset", e.offset}, {"delivery", 1}, {"event", *e.envelope}});
          if (out.size() >= max || c.pending.size() >= c.max_ack_pending) {
            full = true;
            break;
          }
        }
        if (full || batch.size() < want) break;
      }
      std::sort(out.begin(), out.end(), [](const json& a, const json& b) { return a["offset"] < b["offset"]; });
      return !out.empty() || !again.empty() || c.next != stored_next;  // nothing changed: write nothing
    }).status());
    return out;
  }
};

Subscriptions::Subscriptions(store::EventLog& log, store::RecordTable& records)
    : Subscriptions(log, records, Options()) {}

Subscriptions::Subscriptions(store::EventLog& log, store::RecordTable& records, Options options)
    : impl_(std::make_unique<Impl>(Impl{log, records, options})) {}

Subscriptions::~Subscriptions() = default;

Result<json> Subscriptions::CreateConsumer(const json& spec) {
  if (!spec.is_object()) return FieldError("", "a consumer spec must be a JSON object");
  for (const auto& [k, v] : spec.items()) {
    if (k != "name" && k != "filter" && k != "from" && k != "ack_timeout_ms" && k != "max_ack_pending") {
      return FieldError(k, "a consumer spec has no field \"" + k +
                               "\"; use name, filter, from, ack_timeout_ms and max_ack_pending");
    }
  }
  if (!spec.contains("name") || !spec["name"].is_string()) return FieldError("name", "name is required (a string)");
  Consumer c;
  c.name = spec["name"].get<std::string>();
  BVER_RETURN_IF_ERROR(ValidName(c.name));
  BVER_ASSIGN_OR_RETURN(c.filter, EventFilter::FromJson(spec.contains("filter") ? spec["filter"] : json()));
  if (spec.contains("ack_timeout_ms")) {
    const json& v = spec["ack_timeout_ms"];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 100 || v.get<std::int64_t>() > 86400000) {
      return FieldError("ack_timeout_ms", "ack_timeout_ms must be an integer from 100 to 86400000");
    }
    c.ack_timeout_ms = v.get<std::int64_t>();
  }
  if (spec.contains("max_ack_pending")) {
    const json& v = spec["max_ack_pending"];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 10000) {
      return FieldError("max_ack_pending", "max_ack_pending must be an integer from 1 to 10000");
    }
    c.max_ack_pending = v.get<std::size_t>();
  }
  std::optional<std::uint64_t> from;
  if (spec.contains("from")) {
    const json& v = spec["from"];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1) {
      return FieldError("from", "from must be an offset (an integer >= 1; 1 replays the whole log)");
    }
    from = v.get<std::uint64_t>();
  }
  c.created_at_us = c.updated_at_us = NowUs();
  bool created = false;
  std::optional<Consumer> existing;
  // Inserted with compare-and-set against no record: of two creations
  // racing for one name, one creates and the other finds it.
  for (int i = 0; i < kCasAttempts && !created && !existing; ++i) {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, impl_->records.GetRecord(kRecordKind, c.name));
    if (row) {
      BVER_ASSIGN_OR_RETURN(Consumer old, Consumer::Load(row->value));
      existing = std::move(old);
      break;
    }
    if (from) {
      c.next = *from;
    } else {
      // New events only: from the end of the log as it is now (an event
      // committed while the consumer is being stored may be delivered too).
      BVER_ASSIGN_OR_RETURN(std::uint64_t end, impl_->log.LastEventOffset());
      c.next = end + 1;
    }
    BVER_ASSIGN_OR_RETURN(created, impl_->records.CompareAndSetRecord(
                                       {kRecordKind, c.name, c.Stored().dump(), c.updated_at_us}, std::nullopt));
  }
  if (!created && !existing) return AbortedError("consumer \"" + c.name + "\" is being created and deleted by many callers at once; try again");
  BVER_ASSIGN_OR_RETURN(std::uint64_t end, impl_->log.LastEventOffset());
  if (!created) {
    bool same = existing->filter.ToJson() == c.filter.ToJson() && existing->ack_timeout_ms == c.ack_timeout_ms &&
                existing->max_ack_pending == c.max_ack_pending;
    if (!same) {
      return AlreadyExistsError("consumer \"" + c.name +
                                "\" exists with another filter or settings; delete it first or choose another name");
    }
    json out = existing->Public(end);
    out["created"] = false;
    return out;
  }
  json out = c.Public(end);
  out["created"] = true;
  return out;
}

Result<json> Subscriptions::GetConsumer(const std::string& name) {
  BVER_ASSIGN_OR_RETURN(Consumer c, impl_->MustFind(name));
  return impl_->Public(c);
}

Result<json> Subscriptions::ListConsumers() {
  BVER_ASSIGN_OR_RETURN(std::uint64_t end, impl_->log.LastEventOffset());
  json out = json::array();
  std::string after;
  for (;;) {
    BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> rows, impl_->records.ListRecords(kRecordKind, after, 500));
    for (const store::RecordRow& r : rows) {
      BVER_ASSIGN_OR_RETURN(Consumer c, Consumer::Load(r.value));
      out.push_back(c.Public(end));
    }
    if (rows.size() < 500) break;
    after = rows.back().key;
  }
  return json{{"consumers", std::move(out)}};
}

Result<json> Subscriptions::DeleteConsumer(const std::string& name) {
  BVER_RETURN_IF_ERROR(ValidName(name));
  BVER_ASSIGN_OR_RETURN(bool existed, impl_->records.DeleteRecord(kRecordKind, name));
  if (!existed) return NoConsumer(name);
  return json{{"name", name}, {"deleted", true}};
}

Result<json> Subscriptions::Fetch(const std::string& name, std::size_t max, std::int64_t wait_ms) {
  if (max < 1 || max > kMaxFetch) return FieldError("max", "max must be from 1 to " + std::to_string(kMaxFetch));
  if (wait_ms < 0 || wait_ms > kMaxWaitMs) {
    return FieldError("wait_ms", "wait_ms must be from 0 to " + std::to_string(kMaxWaitMs));
  }
  json events;
  BVER_RETURN_IF_ERROR(impl_->Wait(wait_ms, [&]() -> Result<bool> {
                          BVER_ASSIGN_OR_RETURN(events, impl_->FetchOnce(name, max));
                          return !events.empty();
                        }).status());
  return json{{"consumer", name}, {"events", std::move(events)}};
}

Result<json> Subscriptions::Ack(const std::string& name, const std::vector<std::uint64_t>& offsets) {
  if (offsets.empty()) return FieldError("offsets", "offsets must name at least one delivered offset");
  json acked, unknown;
  BVER_ASSIGN_OR_RETURN(Consumer c, impl_->Update(name, [&](Consumer& c) -> Result<bool> {
    acked = json::array();
    unknown = json::array();
    for (std::uint64_t off : offsets) {
      auto it = std::find_if(c.pending.begin(), c.pending.end(), [&](const Pending& p) { return p.offset == off; });
      if (it == c.pending.end()) {
        unknown.push_back(off);
        continue;
      }
      c.pending.erase(it);
      c.acked += 1;
      acked.push_back(off);
    }
    return !acked.empty();
  }));
  BVER_ASSIGN_OR_RETURN(json consumer, impl_->Public(c));
  return json{{"acked", std::move(acked)}, {"unknown", std::move(unknown)}, {"consumer", std::move(consumer)}};
}

Result<json> Subscriptions::Seek(const std::string& name, std::uint64_t offset) {
  if (offset < 1) return FieldError("offset", "offset must be >= 1 (1 replays the whole log)");
  BVER_ASSIGN_OR_RETURN(Consumer c, impl_->Update(name, [&](Consumer& c) -> Result<bool> {
    c.pending.clear();
    c.next = offset;
    return true;
  }));
  return impl_->Public(c);
}

Result<Subscriptions::Page> Subscriptions::ReadPage(std::uint64_t from, const EventFilter& filter, std::size_t limit) {
  Page page;
  page.next_offset = std::max<std::uint64_t>(from, 1);
  std::size_t scanned = 0;
  while (page.events.size() < limit && scanned < impl_->options.scan_budget) {
    std::size_t want = std::min<std::size_t>(1000, impl_->options.scan_budget - scanned);
    BVER_ASSIGN_OR_RETURN(std::vector<store::Event> batch, impl_->log.ReadEvents(page.next_offset, want));
    for (store::Event& e : batch) {
      ++scanned;
      page.next_offset = e.offset + 1;
      if (e.envelope && filter.Matches(*e.envelope)) page.events.push_back(std::move(e));
      if (page.events.size() >= limit) break;
    }
    if (batch.size() < want) break;
  }
  return page;
}

Result<json> Subscriptions::Read(std::uint64_t from, const EventFilter& filter, std::size_t limit) {
  BVER_ASSIGN_OR_RETURN(Page page, ReadPage(from, filter, limit));
  json out = json::array();
  for (const store::Event& e : page.events) {
    json env = *e.envelope;
    env["offset"] = e.offset;
    out.push_back(std::move(env));
  }
  return json{{"events", std::move(out)}, {"next_offset", page.next_offset}};
}

Result<json> Subscriptions::Read(std::uint64_t from, const json& filter_json, std::size_t limit,
                                 std::int64_t wait_ms) {
  if (limit < 1 || limit > kMaxFetch) return FieldError("limit", "limit must be from 1 to " + std::to_string(kMaxFetch));
  if (wait_ms < 0 || wait_ms > kMaxWaitMs) {
    return FieldError("wait_ms", "wait_ms must be from 0 to " + std::to_string(kMaxWaitMs));
  }
  BVER_ASSIGN_OR_RETURN(EventFilter filter, EventFilter::FromJson(filter_json));
  if (from == 0) {
    BVER_ASSIGN_OR_RETURN(std::uint64_t end, impl_->log.LastEventOffset());
    from = end + 1;
  }
  json page;
  BVER_RETURN_IF_ERROR(impl_->Wait(wait_ms, [&]() -> Result<bool> {
                          BVER_ASSIGN_OR_RETURN(page, Read(from, filter, limit));
                          // Nothing passed the filter: resume past what was scanned.
                          from = page["next_offset"].get<std::uint64_t>();
                          return !page["events"].empty();
                        }).status());
  BVER_ASSIGN_OR_RETURN(std::uint64_t end, impl_->log.LastEventOffset());
  page["log_end"] = end;
  return page;
}

}  // namespace bver::events
