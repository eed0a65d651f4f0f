#include "src/api/events_http.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "src/api/http_common.h"
#include "src/runtime/broker.h"
#include "src/runtime/problem.h"

namespace bver::api {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kPath = "/v1/events/stream";
constexpr std::chrono::milliseconds kPoll{1000};

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
  json filter = json::object();  // channels, event_types, pointer_prefix (events.read's fields)
  std::uint64_t from = 0;        // 0: after the current end of the log
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
      spec.filter["channels"].push_back(v);
    } else if (k == "event_type") {
      spec.filter["event_types"].push_back(v);
    } else if (k == "pointer_prefix") {
      spec.filter["pointer_prefix"] = v;
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
  if (!spec.consumer.empty() && (spec.from != 0 || !spec.filter.empty())) {
    return InvalidArgumentError(
        "consumer= streams the consumer's own filter and cursor; do not combine it with from, filters or "
        "Last-Event-ID (use events.consumers.seek to replay)",
        {{"query.consumer", "exclusive", "given with from, a filter or Last-Event-ID"}});
  }
  return spec;
}

// A stream is a loop of operation calls made as the client who opened it:
// events.read (or events.consumers.fetch, then .ack for what reached the
// socket), each waiting at most kPoll for something new so a closed socket
// is noticed soon, with a ": keepalive" comment when nothing was written
// for a heartbeat.
class Stream {
 public:
  Stream(const runtime::Dispatcher& ops, runtime::Call call, StreamSpec spec)
      : ops_(ops), call_(std::move(call)), spec_(std::move(spec)) {}

  void Run(StreamSink& sink) {
    // Tell the client how long to wait before reconnecting.
    if (!sink.Write("retry: 1000\n\n")) return;
    last_write_ = Clock::now();
    std::uint64_t next = spec_.from;
    while (!sink.Done()) {
      Result<std::size_t> wrote = spec_.consumer.empty() ? LogOnce(sink, &next) : ConsumerOnce(sink);
      if (!wrote.ok()) {
        sink.Write("event: error\ndata: " + runtime::ErrorJson(wrote.status()).dump() + "\n\n");
        return;
      }
      if (*wrote > 0) {
        last_write_ = Clock::now();
      } else if (Clock::now() - last_write_ >= spec_.heartbeat) {
        if (!sink.Write(": keepalive\n\n")) return;
        last_write_ = Clock::now();
      }
    }
  }

 private:
  Result<json> Call(const char* op, json input) {
    call_.operation = op;
    call_.input = std::make_shared<const json>(std::move(input));
    return ops_.Invoke(call_);
  }

  std::int64_t WaitMs() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(last_write_ + spec_.heartbeat - Clock::now());
    return std::clamp<std::int64_t>(left.count(), 0, kPoll.count());
  }

  // Events written; a failed write ends the loop through sink.Done().
  Result<std::size_t> LogOnce(StreamSink& sink, std::uint64_t* next) {
    json input = spec_.filter;
    input["from"] = *next;
    input["limit"] = 256;
    input["wait_ms"] = WaitMs();
    BVER_ASSIGN_OR_RETURN(json page, Call("events.read", std::move(input)));
    std::size_t wrote = 0;
    for (const json& e : page["events"]) {
      if (!sink.Write(Frame(e["offset"].get<std::uint64_t>(), e))) return wrote;
      ++wrote;
    }
    *next = page["next_offset"].get<std::uint64_t>();
    return wrote;
  }

  // A fetch hands events out, so it never waits: a client that left while
  // it waited would hold them until their ack timeout. The wait is a read
  // of the log for anything new; the loop then checks the client first.
  Result<std::size_t> ConsumerOnce(StreamSink& sink) {
    BVER_ASSIGN_OR_RETURN(json got, Call("events.consumers.fetch", {{"name", spec_.consumer}, {"max", 100}}));
    if (got["events"].empty()) {
      BVER_ASSIGN_OR_RETURN(json waited, Call("events.read", {{"from", 0}, {"limit", 1}, {"wait_ms", WaitMs()}}));
      (void)waited;
      return 0;
    }
    json written = json::array();
    for (const json& d : got["events"]) {
      if (!sink.Write(Frame(d["offset"].get<std::uint64_t>(), d["event"]))) break;
      written.push_back(d["offset"]);
    }
    // Only what reached the socket is acked; the rest comes again.
    if (!written.empty()) {
      BVER_ASSIGN_OR_RETURN(json acked, Call("events.consumers.ack", {{"name", spec_.consumer}, {"offsets", written}}));
      (void)acked;
    }
    return written.size();
  }

  const runtime::Dispatcher& ops_;
  runtime::Call call_;
  StreamSpec spec_;
  Clock::time_point last_write_;
};

}  // namespace

EventsHttp::EventsHttp(const runtime::Broker& broker, const auth::Authenticator* authenticator, bool local_operator)
    : broker_(broker), authenticator_(authenticator), local_operator_(local_operator) {}

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
  // Where "only new events" starts is fixed now, before the client sees
  // the response, so nothing it writes afterwards is missed.
  if (spec->consumer.empty() && spec->from == 0) {
    runtime::Call end = call;
    end.input = std::make_shared<const json>(json{{"from", 0}, {"limit", 1}});
    Result<json> page = broker_.Invoke(end);
    if (!page.ok()) return ProblemResponse(page.status(), *corr, kPath);
    spec->from = (*page)["events"].empty() ? (*page)["next_offset"].get<std::uint64_t>()
                                           : (*page)["events"][0]["offset"].get<std::uint64_t>();
  }
  // A consumer that does not exist is a 404 now, not an error event later.
  if (!spec->consumer.empty()) {
    runtime::Call get = call;
    get.operation = "events.consumers.get";
    if (Result<json> c = broker_.Invoke(get); !c.ok()) return ProblemResponse(c.status(), *corr, kPath);
  }
  HttpResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", "text/event-stream"},
               {"Cache-Control", "no-cache"},
               {"X-Accel-Buffering", "no"},
               {"X-Correlation-ID", *corr}};
  auto stream = std::make_shared<Stream>(broker_, std::move(call), *std::move(spec));
  r.stream = [stream](StreamSink& sink) { stream->Run(sink); };
  return r;
}

}  // namespace bver::api
