#include "src/events/nats_relay.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <nats/nats.h>
#include <nlohmann/json.hpp>

namespace bver::events {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string NatsText(natsStatus s) {
  std::string out = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && out != detail) out += std::string(" (") + detail + ")";
  return out;
}

std::string JsText(natsStatus s, jsErrCode code) {
  std::string out = NatsText(s);
  if (code != 0) out += " [JetStream error " + std::to_string(static_cast<int>(code)) + "]";
  return out;
}

std::string JsonString(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string RelayCursorKey(const std::string& stream) { return "nats:" + stream; }

std::string RelaySubject(const std::string& prefix, const std::string& channel) {
  std::string token = channel.empty() ? "_" : channel;
  for (char& c : token) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return prefix + "." + token;
}

// One NATS connection and its JetStream context, and the counters its
// async ack handler fills for the batch in flight.
struct NatsRelay::Conn {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::mutex mu;
  std::uint64_t acked = 0, duplicates = 0, errors = 0;
  std::string first_error;

  ~Conn() {
    if (nc != nullptr) natsConnection_Close(nc);
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) natsConnection_Destroy(nc);
  }
  bool closed() const {
    natsConnStatus st = natsConnection_Status(nc);
    return st == NATS_CONN_STATUS_CLOSED || st == NATS_CONN_STATUS_DISCONNECTED;
  }
  static void OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Conn*>(closure);
    {
      std::lock_guard<std::mutex> lock(self->mu);
      if (pa != nullptr) {
        ++self->acked;
        if (pa->Duplicate) ++self->duplicates;
      } else {
        ++self->errors;
        if (self->first_error.empty() && pae != nullptr) {
          self->first_error = pae->ErrText != nullptr && *pae->ErrText != '\0' ? pae->ErrText
                                                                              : natsStatus_GetText(pae->Err);
        }
      }
    }
    natsMsg_Destroy(msg);
  }
};

NatsRelay::NatsRelay(store::Store& store, NatsRelayOptions options) : store_(store), options_(std::move(options)) {}

Result<std::unique_ptr<NatsRelay>> NatsRelay::Create(store::Store& store, NatsRelayOptions options) {
  auto bad = [](const std::string& what) {
    return InvalidArgumentError("nats relay: " + what);
  };
  if (options.url.empty()) return bad("url is empty (e.g. nats://127.0.0.1:4222)");
  if (options.stream.empty() ||
      options.stream.find_first_of(" \t.*>/\\") != std::string::npos) {
    return bad("stream name '" + options.stream + "' must be non-empty without spaces, '.', '*', '>', '/' or '\\'");
  }
  if (options.subject_prefix.empty() || options.subject_prefix.front() == '.' ||
      options.subject_prefix.back() == '.' ||
      options.subject_prefix.find_first_of(" \t*>") != std::string::npos ||
      options.subject_prefix.find("..") != std::string::npos) {
    return bad("subject prefix '" + options.subject_prefix +
               "' must be dot-separated tokens without spaces or wildcards (e.g. bver.events)");
  }
  if (options.batch_size == 0 || options.batch_size > 10000) return bad("batch size must be 1-10000 (the store reads at most 10000 events at once)");
  if (options.duplicate_window < std::chrono::seconds(1)) {
    return bad("duplicate window must be at least 1 s (it is what drops resent events)");
  }
  if (options.ack_timeout <= milliseconds(0) || options.connect_timeout <= milliseconds(0) ||
      options.backoff_initial <= milliseconds(0) || options.backoff_max < options.backoff_initial ||
      options.poll <= milliseconds(0)) {
    return bad("timeouts, poll and backoff must be positive (backoff_max >= backoff_initial)");
  }
  return std::unique_ptr<NatsRelay>(new NatsRelay(store, std::move(options)));
}

NatsRelay::~NatsRelay() { Stop(); }

void NatsRelay::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  follower_ = std::make_unique<store::Follower>(store_.backend(), store::Follower::Options{.poll = options_.poll});
  status_.running = true;
  thread_ = std::thread([this] { Run(); });
}

void NatsRelay::Stop() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    t = std::move(thread_);
  }
  follower_->Stop();
  t.join();
  std::lock_guard<std::mutex> lock(mu_);
  status_.running = false;
  status_.connected = false;
}

NatsRelayStatus NatsRelay::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

bool NatsRelay::stopping() const { return follower_ != nullptr && follower_->stopped(); }

Result<std::uint64_t> NatsRelay::ReadCursor(store::RecordTable& records, const std::string& stream) {
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, records.GetRecord(kRelayRecord, RelayCursorKey(stream)));
  if (!row) return std::uint64_t{0};
  json v = json::parse(row->value, nullptr, false);
  if (!v.is_object() || !v.contains("offset") || !v["offset"].is_number_unsigned()) {
    return DataLossError("relay cursor record (kind relay, key " + RelayCursorKey(stream) + ") is not {\"offset\": N}: " +
                         row->value + "; fix or delete it (deleting resends the whole log, deduped by JetStream)");
  }
  return v["offset"].get<std::uint64_t>();
}

Result<std::unique_ptr<NatsRelay::Conn>> NatsRelay::Connect() {
  auto conn = std::make_unique<Conn>();
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, options_.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options_.connect_timeout.count());
  // The relay reconnects itself (with its backoff, resending from the
  // cursor), so the client library must not buffer publishes meanwhile.
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, false);
  if (s == NATS_OK) s = natsOptions_SetName(opts, "bver-nats-relay");
  if (s == NATS_OK) s = natsConnection_Connect(&conn->nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    return UnavailableError("nats relay: cannot connect to " + options_.url + ": " + NatsText(s) +
                            "; is nats-server running with JetStream (-js)? (retrying with backoff)");
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options_.ack_timeout.count();
  jo.PublishAsync.MaxPending = static_cast<int64_t>(options_.batch_size) + 16;
  jo.PublishAsync.AckHandler = &Conn::OnAck;
  jo.PublishAsync.AckHandlerClosure = conn.get();
  s = natsConnection_JetStream(&conn->js, conn->nc, &jo);
  if (s != NATS_OK) return UnavailableError("nats relay: JetStream context on " + options_.url + ": " + NatsText(s));
  BVER_RETURN_IF_ERROR(EnsureStream(*conn));
  return conn;
}

bver::Status NatsRelay::EnsureStream(Conn& conn) {
  const std::string wanted = options_.subject_prefix + ".>";
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, conn.js, options_.stream.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    bool covers = false;
    for (int i = 0; i < si->Config->SubjectsLen; ++i) {
      std::string subj = si->Config->Subjects[i];
      if (subj == wanted || subj == ">") covers = true;
    }
    std::int64_t window_ns = si->Config->Duplicates;
    std::string subjects;
    for (int i = 0; i < si->Config->SubjectsLen; ++i) subjects += (i ? ", " : "") + std::string(si->Config->Subjects[i]);
    jsStreamInfo_Destroy(si);
    if (!covers) {
      return FailedPreconditionError("nats relay: stream " + options_.stream + " exists with subjects [" + subjects +
                                     "], which do not capture " + wanted +
                                     "; add that subject to the stream, or configure another stream or prefix");
    }
    if (window_ns <= 0) {
      return FailedPreconditionError("nats relay: stream " + options_.stream +
                                     " has no duplicate window, so resent events would be stored twice; "
                                     "set one (e.g. nats stream edit " + options_.stream + " --dupe-window 2m)");
    }
    return bver::Status::Ok();
  }
  if (code != JSStreamNotFoundErr) {
    std::string hint = code == JSNotEnabledErr || s == NATS_NO_RESPONDERS
                           ? "; JetStream is not enabled on the server (start nats-server with -js)"
                           : "";
    return UnavailableError("nats relay: cannot look up stream " + options_.stream + ": " + JsText(s, code) + hint);
  }
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = options_.stream.c_str();
  const char* subjects[] = {wanted.c_str()};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Duplicates = static_cast<int64_t>(options_.duplicate_window.count()) * 1000000;  // ns
  cfg.Description = "BVER event log (bver up --nats-url), one message per event";
  code = static_cast<jsErrCode>(0);
  s = js_AddStream(&si, conn.js, &cfg, nullptr, &code);
  if (s != NATS_OK) {
    return FailedPreconditionError("nats relay: cannot create stream " + options_.stream + " on subjects " + wanted +
                                   ": " + JsText(s, code) +
                                   " (another stream may already capture these subjects; configure another prefix)");
  }
  jsStreamInfo_Destroy(si);
  return bver::Status::Ok();
}

bver::Status NatsRelay::PublishBatch(Conn& conn, const std::vector<store::Event>& events) {
  {
    std::lock_guard<std::mutex> lock(conn.mu);
    conn.acked = conn.duplicates = conn.errors = 0;
    conn.first_error.clear();
  }
  std::uint64_t sync_acked = 0, sync_dups = 0;
  for (const store::Event& e : events) {
    const json& env = *e.envelope;
    std::string subject = RelaySubject(options_.subject_prefix, JsonString(env, "channel"));
    std::string event_id = JsonString(env, "event_id");
    if (event_id.empty()) event_id = "bver-offset-" + std::to_string(e.offset);
    std::string data = env.dump();
    std::string offset = std::to_string(e.offset);
    std::string event_type = JsonString(env, "event_type");
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", event_id.c_str());
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Bver-Offset", offset.c_str());
    if (s == NATS_OK && !event_type.empty()) s = natsMsgHeader_Set(msg, "Bver-Event-Type", event_type.c_str());
    if (s == NATS_OK) {
      if (options_.async_publish) {
        s = js_PublishMsgAsync(conn.js, &msg, nullptr);
      } else {
        jsPubAck* pa = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        s = js_PublishMsg(&pa, conn.js, msg, nullptr, &code);
        if (s == NATS_OK) {
          ++sync_acked;
          if (pa->Duplicate) ++sync_dups;
          jsPubAck_Destroy(pa);
        } else {
          natsMsg_Destroy(msg);
          return UnavailableError("nats relay: publish of event " + offset + " to " + subject + ": " +
                                  JsText(s, code));
        }
      }
    }
    natsMsg_Destroy(msg);  // no-op once the library owns it
    if (s != NATS_OK) {
      return UnavailableError("nats relay: publish of event " + offset + " to " + subject + ": " + NatsText(s));
    }
    if (stopping()) return bver::Status(StatusCode::kCancelled, "nats relay: stopping");
  }
  if (options_.async_publish) {
    // The server stores and acks meanwhile: read what follows (only when
    // this batch was full, so more is likely waiting).
    if (events.size() == options_.batch_size) {
      Result<std::vector<store::Event>> next = store_.ReadEvents(events.back().offset + 1, options_.batch_size);
      if (next.ok()) prefetched_ = std::move(*next);
    }
    // Wait in short slices so Stop is never held up by a silent server.
    const auto deadline = Clock::now() + options_.ack_timeout;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 200;
    natsStatus s = NATS_TIMEOUT;
    while (true) {
      s = js_PublishAsyncComplete(conn.js, &po);
      if (s != NATS_TIMEOUT) break;
      if (stopping() || Clock::now() >= deadline || conn.closed()) break;
    }
    std::uint64_t acked, dups, errors;
    std::string first_error;
    {
      std::lock_guard<std::mutex> lock(conn.mu);
      acked = conn.acked;
      dups = conn.duplicates;
      errors = conn.errors;
      first_error = conn.first_error;
    }
    if (s != NATS_OK || errors > 0 || acked != events.size()) {
      if (stopping()) return bver::Status(StatusCode::kCancelled, "nats relay: stopping");
      std::string why = errors > 0         ? first_error
                        : conn.closed()      ? "connection to " + options_.url + " lost"
                        : s == NATS_TIMEOUT  ? "no ack within " + std::to_string(options_.ack_timeout.count()) + " ms"
                                             : NatsText(s);
      return UnavailableError("nats relay: " + std::to_string(acked) + " of " + std::to_string(events.size()) +
                              " publishes acknowledged (" + why + "); resending from offset " +
                              std::to_string(events.front().offset));
    }
    sync_acked = acked;
    sync_dups = dups;
  }
  std::lock_guard<std::mutex> lock(mu_);
  status_.published += sync_acked - sync_dups;
  status_.duplicates += sync_dups;
  return bver::Status::Ok();
}

Result<std::size_t> NatsRelay::Round(std::unique_ptr<Conn>& conn, std::uint64_t& cursor) {
  if (conn != nullptr && conn->closed()) conn.reset();
  if (conn == nullptr) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_.connected = false;
    }
    BVER_ASSIGN_OR_RETURN(conn, Connect());
    // The cursor may have been moved by hand while we were away.
    BVER_ASSIGN_OR_RETURN(cursor, ReadCursor(store_.backend(), options_.stream));
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_.connected = true;
      status_.cursor = cursor;
    }
    if (options_.log) {
      options_.log("nats relay: connected to " + options_.url + ", stream " + options_.stream + " (subjects " +
                   options_.subject_prefix + ".>), relaying from offset " + std::to_string(cursor + 1));
    }
  }
  std::vector<store::Event> events;
  if (!prefetched_.empty() && prefetched_.front().offset == cursor + 1) {
    events = std::move(prefetched_);
  } else {
    BVER_ASSIGN_OR_RETURN(events, store_.ReadEvents(cursor + 1, options_.batch_size));
  }
  prefetched_.clear();
  if (events.empty()) return std::size_t{0};
  bver::Status published = PublishBatch(*conn, events);
  if (!published.ok()) {
    prefetched_.clear();
    conn.reset();  // late acks of this batch go nowhere; the batch is resent
    return published;
  }
  const std::uint64_t last = events.back().offset;
  json value = {{"offset", last}};
  BVER_RETURN_IF_ERROR(
      store_.backend().PutRecord({kRelayRecord, RelayCursorKey(options_.stream), value.dump(), store_.Now()}));
  cursor = last;
  std::lock_guard<std::mutex> lock(mu_);
  status_.cursor = cursor;
  return events.size();
}

void NatsRelay::Run() {
  std::unique_ptr<Conn> conn;
  std::uint64_t cursor = 0;
  milliseconds backoff = options_.backoff_initial;
  auto pass = [&]() -> Result<bool> {
    BVER_ASSIGN_OR_RETURN(std::size_t relayed, Round(conn, cursor));
    backoff = options_.backoff_initial;
    bool recovered = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      recovered = !status_.last_error.empty();
      status_.last_error.clear();
    }
    if (recovered && options_.log) options_.log("nats relay: recovered, cursor at offset " + std::to_string(cursor));
    return relayed >= options_.batch_size;  // a full batch: more may be waiting
  };
  auto failed = [&](const bver::Status& s) -> milliseconds {
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      changed = status_.last_error != s.message();
      status_.last_error = s.message();
      status_.connected = conn != nullptr;
      ++status_.failures;
    }
    if (changed && options_.log) options_.log(s.message());
    milliseconds wait = backoff;
    backoff = std::min(backoff * 2, options_.backoff_max);
    return wait;
  };
  follower_->Run(pass, failed);
  conn.reset();
}

}  // namespace bver::events
