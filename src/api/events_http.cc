#include "src/api/events_http.h"

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "src/api/http_common.h"
#include "src/events/subscriptions.h"
#include "src/runtime/broker.h"
#include "src/runtime/problem.h"
#include "src/store/backend.h"

namespace bver::api {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kPath = "/v1/events/stream";
constexpr std::chrono::milliseconds kPoll{250};

// One SSE frame: the offset as id, the type as event name, the envelope as data.
std::string Frame(std::uint64_t offset, const json& envelope) {
  return "id: " + std::to_string(offset) + "\nevent: " + envelope.value("event_type", "message") +
         "\ndata: " + envelope.dump() + "\n\n";
}

Result<std::uint64_t> Offset(std::string_view text, const std::string& what) {
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || s[0] == '-' || s[0] == '+') {
    return InvalidArgumentError(what + " must be an event offset (a non-negative integer), got \"" + s + "\"",
                                {{what, "type", "not an offset"}});
  }
  return static_cast<std::uint64_t>(v);
}

// What a stream was asked for.
struct StreamSpec {
  events::EventFilter filter;
  std::uint64_t from = 0;  // 0: after the current end of the log
  std::string consumer;
  std::chrono::milliseconds heartbeat{15000};
};

Result<StreamSpec> ParseSpec(const HttpRequest& request) {
  std::string_view target = request.target;
  std::size_t q = target.find('?');
  BVER_ASSIGN_OR_RETURN(auto query, ParseQuery(q == std::string_view::npos ? std::string_view() : target.substr(q + 1)));
  StreamSpec spec;
  for (const auto& [k, v] : query) {
    if (k == "channel") {
      spec.filter.channels.push_back(v);
    } else if (k == "event_type") {
      spec.filter.event_types.push_back(v);
    } else if (k == "pointer_prefix") {
      spec.filter.pointer_prefix = v;
    } else if (k == "from") {
      BVER_ASSIGN_OR_RETURN(spec.from, Offset(v, "query.from"));
    } else if (k == "consumer") {
      spec.consumer = v;
    } else if (k == "heartbeat_ms") {
      BVER_ASSIGN_OR_RETURN(std::uint64_t ms, Offset(v, "query.heartbeat_ms"));
      if (ms < 1000 || ms > 60000) {
        return InvalidArgumentError("heartbeat_ms must be from 1000 to 60000",
                                    {{"query.heartbeat_ms", "range", "1000-60000"}});
      }
      spec.heartbeat = std::chrono::milliseconds(ms);
    } else {
      return InvalidArgumentError("unknown query parameter " + k +
                                      "; use from, channel, event_type, pointer_prefix, consumer, heartbeat_ms",
                                  {{"query." + k, "additionalProperties", "not a parameter of the event stream"}});
    }
  }
  // A reconnecting EventSource resumes after the last id it saw.
  if (std::string_view last = request.Header("Last-Event-ID"); !last.empty()) {
    BVER_ASSIGN_OR_RETURN(std::uint64_t seen, Offset(last, "header.Last-Event-ID"));
    spec.from = seen + 1;
  }
  if (!spec.consumer.empty() && (spec.from != 0 || !spec.filter.channels.empty() ||
                                 !spec.filter.event_types.empty() || !spec.filter.pointer_prefix.empty())) {
    return InvalidArgumentError(
        "consumer= streams the consumer's own filter and cursor; do not combine it with from, filters or "
        "Last-Event-ID (use events.consumers.seek to replay)",
        {{"query.consumer", "exclusive", "given with from, a filter or Last-Event-ID"}});
  }
  return spec;
}

// Sleeps until a commit, the next heartbeat or a poll interval, whichever
// is first; writes the heartbeat when due. False when the client is gone.
bool Idle(StreamSink& sink, store::Backend& backend, std::uint64_t seen, const StreamSpec& spec,
          Clock::time_point* last_write) {
  auto due = *last_write + spec.heartbeat;
  auto now = Clock::now();
  if (now >= due) {
    *last_write = now;
    return sink.Write(": keepalive\n\n");
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - now);
  backend.WaitForCommit(seen, std::min(left, kPoll));
  return true;
}

void StreamLog(StreamSink& sink, events::Subscriptions& subs, StreamSpec spec, std::uint64_t next) {
  auto last_write = Clock::now();
  while (!sink.Done()) {
    std::uint64_t seen = subs.backend().commit_seq();
    Result<events::Subscriptions::Page> page = subs.ReadPage(next, spec.filter, 256);
    if (!page.ok()) {
      sink.Write("event: error\ndata: " + runtime::ErrorJson(page.status()).dump() + "\n\n");
      return;
    }
    for (const store::Event& e : page->events) {
      if (!sink.Write(Frame(e.offset, *e.envelope))) return;
      last_write = Clock::now();
    }
    std::uint64_t after = page->next_offset;
    bool caught_up = page->events.empty() && after == next;
    next = after;
    if (caught_up && !Idle(sink, subs.backend(), seen, spec, &last_write)) return;
  }
}

void StreamConsumer(StreamSink& sink, events::Subscriptions& subs, const StreamSpec& spec) {
  auto last_write = Clock::now();
  while (!sink.Done()) {
    std::uint64_t seen = subs.backend().commit_seq();
    Result<json> got = subs.Fetch(spec.consumer, 100, 0);
    if (!got.ok()) {
      sink.Write("event: error\ndata: " + runtime::ErrorJson(got.status()).dump() + "\n\n");
      return;
    }
    std::vector<std::uint64_t> written;
    for (const json& d : (*got)["events"]) {
      if (!sink.Write(Frame(d["offset"].get<std::uint64_t>(), d["event"]))) break;
      written.push_back(d["offset"].get<std::uint64_t>());
    }
    // Only what reached the socket is acked; the rest comes again.
    if (!written.empty()) {
      (void)subs.Ack(spec.consumer, written);
      last_write = Clock::now();
    }
    if (written.size() != (*got)["events"].size()) return;
    if (written.empty() && !Idle(sink, subs.backend(), seen, spec, &last_write)) return;
  }
}

}  // namespace

EventsHttp::EventsHttp(const runtime::Broker& broker, events::Subscriptions& subscriptions,
                       const auth::Authenticator* authenticator, bool local_operator)
    : broker_(broker), subscriptions_(subscriptions), authenticator_(authenticator), local_operator_(local_operator) {}

bool EventsHttp::Matches(std::string_view method, std::string_view target) {
  return method == "GET" && TargetPath(target) == kPath;
}

HttpResponse EventsHttp::Handle(const HttpRequest& request) const {
  Result<std::string> corr = CorrelationIdFor(request);
  if (!corr.ok()) return ProblemResponse(corr.status(), runtime::Broker::NewCorrelationId(), kPath);
  Result<auth::Principal> who = AuthenticateRequest(request, authenticator_, local_operator_);
  if (!who.ok()) return ProblemResponse(who.status(), *corr, kPath);
  Result<StreamSpec> spec = ParseSpec(request);
  if (!spec.ok()) return ProblemResponse(spec.status(), *corr, kPath);
  runtime::Call call;
  call.principal = *std::move(who);
  call.correlation_id = *corr;
  call.transport = "http";
  if (spec->consumer.empty()) {
    call.operation = "events.read";
  } else {
    call.operation = "events.consumers.fetch";
    call.input = std::make_shared<const json>(json{{"name", spec->consumer}});
  }
  if (Status s = broker_.Authorize(call); !s.ok()) return ProblemResponse(s, *corr, kPath);
  std::uint64_t from = spec->from;
  if (spec->consumer.empty() && from == 0) {
    Result<std::uint64_t> end = subscriptions_.backend().LastEventOffset();
    if (!end.ok()) return ProblemResponse(end.status(), *corr, kPath);
    from = *end + 1;
  }
  if (!spec->consumer.empty()) {
    if (Result<json> c = subscriptions_.GetConsumer(spec->consumer); !c.ok()) {
      return ProblemResponse(c.status(), *corr, kPath);
    }
  }
  HttpResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", "text/event-stream"},
               {"Cache-Control", "no-cache"},
               {"X-Accel-Buffering", "no"},
               {"X-Correlation-ID", *corr}};
  events::Subscriptions* subs = &subscriptions_;
  r.stream = [subs, spec = *std::move(spec), from](StreamSink& sink) {
    // Tell the client how long to wait before reconnecting.
    if (!sink.Write("retry: 1000\n\n")) return;
    if (spec.consumer.empty()) {
      StreamLog(sink, *subs, spec, from);
    } else {
      StreamConsumer(sink, *subs, spec);
    }
  };
  return r;
}

}  // namespace bver::api
