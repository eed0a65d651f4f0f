#include "src/net/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace bver::net {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

Result<ClientTarget> ParseServerUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind("https://", 0) == 0) {
    return InvalidArgumentError("server " + url +
                                ": https is not spoken by the CLI yet; use http:// on loopback or through a "
                                "TLS-terminating proxy");
  }
  if (url.rfind(scheme, 0) != 0) return InvalidArgumentError("server " + url + ": expected http://HOST[:PORT]");
  std::string rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string::npos) {
    return InvalidArgumentError("server " + url + ": a server URL has no query or fragment");
  }
  ClientTarget t;
  const std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) t.base = rest.substr(slash);
  while (!t.base.empty() && t.base.back() == '/') t.base.pop_back();
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    t.host = authority.substr(0, colon);
    t.port = authority.substr(colon + 1);
  } else {
    t.host = authority;
    t.port = "80";
  }
  if (t.host.empty()) return InvalidArgumentError("server " + url + ": no host");
  if (t.port.empty() || t.port.find_first_not_of("0123456789") != std::string::npos || t.port.size() > 5) {
    return InvalidArgumentError("server " + url + ": the port must be a number");
  }
  return t;
}

Result<api::HttpResponse> SendRequest(const ClientTarget& to, const api::HttpRequest& request,
                                      std::chrono::milliseconds timeout) {
  const std::string where = "http://" + to.host + ":" + to.port + to.base;
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    beast::error_code ec;
    auto endpoints = resolver.resolve(to.host, to.port, ec);
    if (ec) return Status(StatusCode::kUnavailable, "cannot resolve " + to.host + ": " + ec.message());
    stream.expires_after(timeout);
    stream.connect(endpoints, ec);
    if (ec) {
      return Status(StatusCode::kUnavailable,
                    "cannot reach " + where + ": " + ec.message() + " (is `bver up` running there?)");
    }
    http::verb verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) return InvalidArgumentError("unknown HTTP method " + request.method);
    http::request<http::string_body> req{verb, to.base + request.target, 11};
    req.set(http::field::host, to.host + ":" + to.port);
    req.set(http::field::user_agent, "bver-cli");
    for (const auto& [name, value] : request.headers) req.set(name, value);
    if (!request.body.empty()) req.body() = request.body;
    req.prepare_payload();
    http::write(stream, req, ec);
    if (ec) return Status(StatusCode::kUnavailable, "sending to " + where + ": " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser, ec);
    if (ec) {
      const bool late = ec == beast::error::timeout;
      return Status(StatusCode::kUnavailable, where + (late ? " did not answer in time" : " answered badly: ") +
                                                  (late ? "" : ec.message()));
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    const auto& res = parser.get();
    api::HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = res.body();
    return out;
  } catch (const std::exception& e) {
    return Status(StatusCode::kUnavailable, "talking to " + where + ": " + e.what());
  }
}

}  // namespace bver::net
