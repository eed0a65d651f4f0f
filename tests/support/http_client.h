// A minimal HTTP/1.1 client over a plain TCP socket, for end-to-end tests of
// `bver up`: it writes exactly the bytes a test asks for (so tests can send
// malformed, huge or slow requests) and reads Content-Length framed answers.
// Not thread-safe: one connection per thread.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace bver::testing {

struct HttpReply {
  int status = 0;                              // 0: no answer (the connection closed or timed out)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The body parsed as JSON; a discarded value when it is not JSON.
  nlohmann::json Json() const;
  // The header's value ("" when absent); `name` lower-case.
  std::string Header(const std::string& name) const;
};

// One TCP connection to 127.0.0.1:port; requests on it use keep-alive.
class HttpConnection {
 public:
  explicit HttpConnection(int port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Writes raw bytes; false when the connection is gone.
  bool Send(const std::string& data);

  // Reads one response (Content-Length framed) within `timeout`.
  HttpReply Read(std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));

  // Sends a request (Host, Content-Type application/json for a body unless
  // given, Content-Length for a body or POST/PUT/PATCH) and reads the answer.
  HttpReply Request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {});

  // True when the server closed the connection (within `timeout`).
  bool ClosedWithin(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::string buf_;
};

// One request on a fresh connection.
HttpReply HttpRequestOnce(int port, const std::string& method, const std::string& target, const std::string& body = "",
                          const std::map<std::string, std::string>& headers = {});

}  // namespace bver::testing
