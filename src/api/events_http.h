// The event stream over Server-Sent Events (BVER.md §6, docs/events.md):
//
//   GET /v1/events/stream   text/event-stream; each event is
//                             id: <offset>
//                             event: <event_type>
//                             data: <the envelope, one line of JSON>
//
// Query: from=N (first offset; default: only events after the connection),
// channel, event_type ("ref.*" prefixes) and pointer_prefix (each
// repeatable where it makes sense), heartbeat_ms (a ": keepalive" comment
// when idle, 1000-60000, default 15000). A reconnecting client sends
// Last-Event-ID: the stream resumes after that offset, so nothing is lost
// or repeated. With consumer=NAME the stream is that durable consumer's
// (events.consumers.*): each event is acked once written to the socket, and
// what was delivered but not written comes again after the ack timeout.
//
// The broker's checks for events.read (scopes; events.consumers.fetch with
// consumer=) run before the first byte; bad parameters answer a problem.
// A stream is nothing but those operations called in a loop as the client
// (events.read with wait_ms; events.consumers.fetch and .ack), so it sees
// exactly what the operations allow.
//
// Thread safety: Handle may be called from any number of threads; each
// stream runs on the transport's thread for it.
#pragma once

#include <string_view>

#include "src/api/http_message.h"

namespace bver::auth {
class Authenticator;
}
namespace bver::runtime {
class Broker;
}

namespace bver::api {

class EventsHttp {
 public:
  // Everything must outlive this object and every stream it started.
  EventsHttp(const runtime::Broker& broker, const auth::Authenticator* authenticator, bool local_operator);

  static bool Matches(std::string_view method, std::string_view target);

  // The stream (HttpResponse::stream set), or a problem.
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  const runtime::Broker& broker_;
  const auth::Authenticator* authenticator_;
  bool local_operator_;
};

}  // namespace bver::api
