#include "src/net/server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace bver::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Shared {
  ServerOptions options;
  api::HttpHandler handler;
  // Runs the handlers of requests that may wait on the disk (every method
  // but GET, HEAD and OPTIONS) when options.handler_threads > 0, so that a
  // write waiting for its commit does not hold an I/O thread.
  std::unique_ptr<asio::thread_pool> blocking;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> stopping{false};
  // Streamed responses (HttpResponse::stream) run on threads of their own;
  // Run waits for them after the I/O threads stop.
  std::mutex streams_mu;
  std::condition_variable streams_cv;
  std::size_t streams = 0;  // guarded by streams_mu
};

// The body of a streamed response, written in chunks straight to the
// socket (taken from Beast) by the stream's own thread.
class SocketSink : public api::StreamSink {
 public:
  SocketSink(int fd, Shared& shared) : fd_(fd), shared_(shared) {}

  bool Write(std::string_view bytes) override {
    if (bytes.empty()) return !broken_;
    char size[32];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
    return SendAll(std::string_view(size, static_cast<std::size_t>(n))) && SendAll(bytes) && SendAll("\r\n");
  }

  bool Done() override {
    if (broken_ || shared_.stopping.load()) return true;
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) return broken_ = true;
    char scratch[512];  // the client may send bytes we do not read; a 0 means it closed
    ssize_t got = ::recv(fd_, scratch, sizeof scratch, MSG_DONTWAIT);
    if (got == 0) broken_ = true;
    return broken_;
  }

  // Ends the chunked body (when the client is still there).
  void Finish() {
    if (!broken_) SendAll("0\r\n\r\n");
  }

  bool SendAll(std::string_view bytes) {
    const auto timeout = static_cast<int>(shared_.options.request_timeout.count());
    while (!bytes.empty() && !broken_) {
      ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(sent));
        continue;
      }
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, timeout) <= 0) broken_ = true;  // a reader that stopped reading
        continue;
      }
      broken_ = true;
    }
    return !broken_;
  }

 private:
  int fd_;
  Shared& shared_;
  bool broken_ = false;
};

std::atomic<std::uint64_t> spool_counter{0};

template <class Body>
api::HttpRequest FromBeast(const http::request<Body>& req, const std::string& remote) {
  api::HttpRequest in;
  in.method = std::string(req.method_string());
  in.target = std::string(req.target());
  for (const auto& f : req) in.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  in.remote = remote;
  return in;
}

http::response<http::string_body> ToBeast(api::HttpResponse r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "bver");
  for (auto& [k, v] : r.headers) res.insert(k, v);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)), timer_(stream_.get_executor()) {
    shared_->connections.fetch_add(1);
    // The peer's address, once per connection (not a getpeername per request).
    beast::error_code ignored;
    remote_ = stream_.socket().remote_endpoint(ignored).address().to_string(ignored);
  }
  ~Session() {
    RemoveSpool();
    shared_->connections.fetch_sub(1);
  }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  // Answers `status` at once and closes: too many connections.
  void Refuse(api::HttpResponse r) {
    Fail(std::move(r));
  }

 private:
  void Read() {
    parser_.emplace();
    // Beast refuses a Content-Length above the limit while parsing the
    // header; the limit that applies is known only after on_header, so the
    // header is parsed with the larger one and BodyTooLarge checks after.
    parser_->body_limit(std::max<std::uint64_t>(shared_->options.body_limit, shared_->options.spool_body_limit));
    parser_->header_limit(static_cast<std::uint32_t>(shared_->options.header_limit));
    if (first_ || buffer_.size() > 0) {
      first_ = false;
      return ReadHeader();
    }
    // A kept-alive connection may idle for idle_timeout; once the next
    // request's first byte arrives, the whole request gets request_timeout
    // (else a client could trickle a header for the idle time).
    Arm(shared_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->OnReadError(ec);
      self->buffer_.commit(n);
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    Arm(shared_->options.request_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    bool spool = false;
    if (shared_->options.on_header) {
      api::HttpRequest head = FromBeast(parser_->get(), remote_);
      std::optional<api::HttpResponse> refused;
      try {
        refused = shared_->options.on_header(head, &spool);
      } catch (const std::exception&) {
        refused = api::TransportProblem(500, "internal", "Internal error", "the request could not be handled");
      }
      if (refused) {
        reading_ = false;
        timer_.cancel();
        return Fail(std::move(*refused));
      }
    }
    std::uint64_t limit = spool ? shared_->options.spool_body_limit : shared_->options.body_limit;
    if (auto length = parser_->content_length(); length && *length > limit) {
      reading_ = false;
      timer_.cancel();
      return Fail(api::TransportProblem(413, "payload_too_large", "Payload too large",
                                        "the request body exceeds " + std::to_string(limit) + " bytes"));
    }
    if (spool) return SpoolBody();
    parser_->body_limit(shared_->options.body_limit);  // a chunked body counts as it arrives
    ContinueIfExpected([self = shared_from_this()] {
      // The header arrived: the rest of the request gets request_timeout.
      self->Arm(self->shared_->options.request_timeout);
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code e, std::size_t) { self->OnRead(e); });
    });
  }

  // Answers "100 Continue" when the client waits for it, then runs `next`.
  template <class Next>
  void ContinueIfExpected(Next next) {
    auto expect = parser_->get().find(http::field::expect);
    if (expect == parser_->get().end() || !beast::iequals(expect->value(), "100-continue")) return next();
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this(), next](beast::error_code e, std::size_t) {
                        if (e) return self->Close();
                        next();
                      });
  }

  // Reads the body into a file under spool_dir (on_header asked for it).
  void SpoolBody() {
    spool_path_ = shared_->options.spool_dir + "/bver-upload-" + std::to_string(::getpid()) + "-" +
                  std::to_string(spool_counter.fetch_add(1)) + ".part";
    file_parser_.emplace(std::move(*parser_));
    file_parser_->body_limit(shared_->options.spool_body_limit);
    beast::error_code ec;
    file_parser_->get().body().open(spool_path_.c_str(), beast::file_mode::write_new, ec);
    if (ec) {
      reading_ = false;
      timer_.cancel();
      spool_path_.clear();
      return Fail(api::TransportProblem(503, "unavailable", "Unavailable",
                                        "cannot spool the request body: " + ec.message()));
    }
    ContinueIfExpected([self = shared_from_this()] {
      self->Arm(self->shared_->options.request_timeout);
      http::async_read(self->stream_, self->buffer_, *self->file_parser_,
                       [self](beast::error_code e, std::size_t) { self->OnSpooled(e); });
    });
  }

  void OnSpooled(beast::error_code ec) {
    if (ec) {
      RemoveSpool();
      if (ec == http::error::body_limit) {
        reading_ = false;
        timer_.cancel();
        return Fail(api::TransportProblem(413, "payload_too_large", "Payload too large",
                                          "the request body exceeds " +
                                              std::to_string(shared_->options.spool_body_limit) + " bytes"));
      }
      return OnReadError(ec);
    }
    reading_ = false;
    timer_.cancel();
    http::request<http::file_body> req = file_parser_->release();
    file_parser_.reset();
    req.body().close();
    api::HttpRequest in = FromBeast(req, remote_);
    in.body_file = spool_path_;
    Answer(std::move(in), req.keep_alive(), req.version());
  }

  void RemoveSpool() {
    if (file_parser_) file_parser_.reset();
    if (!spool_path_.empty()) std::remove(spool_path_.c_str());
    spool_path_.clear();
  }

  // Our own timer rather than tcp_stream's expiry, which closes the socket:
  // a client that sent part of a request gets a 408 before the close.
  void Arm(std::chrono::milliseconds timeout) {
    reading_ = true;
    timed_out_ = false;
    stream_.expires_never();
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code e) {
      if (e || !self->reading_) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }

  void OnReadError(beast::error_code ec) {
    reading_ = false;
    timer_.cancel();
    if (timed_out_) {
      if (buffer_.size() == 0 && !parser_->got_some()) return Close();  // idle keep-alive connection
      return Fail(api::TransportProblem(408, "request_timeout", "Request timeout",
                                        "the request did not arrive within " +
                                            std::to_string(shared_->options.request_timeout.count()) + " ms"));
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Fail(api::TransportProblem(413, "payload_too_large", "Payload too large",
                                        "the request body exceeds " +
                                            std::to_string(shared_->options.body_limit) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      return Fail(api::TransportProblem(431, "header_fields_too_large", "Request header fields too large",
                                        "the request header exceeds " +
                                            std::to_string(shared_->options.header_limit) + " bytes"));
    }
    Fail(api::TransportProblem(400, "bad_request", "Bad request", "malformed HTTP request: " + ec.message()));
  }

  void OnRead(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    reading_ = false;
    timer_.cancel();
    http::request<http::string_body> req = parser_->release();
    api::HttpRequest in = FromBeast(req, remote_);
    in.body = std::move(req.body());
    Answer(std::move(in), req.keep_alive(), req.version());
  }

  // Runs the handler and writes its response (from memory or from a file).
  void Answer(api::HttpRequest in, bool keep_alive, unsigned version) {
    shared_->in_flight.fetch_add(1);
    bool reads_only = in.method == "GET" || in.method == "HEAD" || in.method == "OPTIONS";
    if (shared_->blocking && !reads_only) {
      // Run the handler on the blocking pool, then write on this session's
      // strand again.
      asio::post(*shared_->blocking, [self = shared_from_this(), in = std::move(in), keep_alive, version]() mutable {
        auto out = std::make_shared<api::HttpResponse>(self->RunHandler(in));
        asio::post(self->stream_.get_executor(), [self, out, keep_alive, version]() mutable {
          self->Respond(std::move(*out), keep_alive, version);
        });
      });
      return;
    }
    Respond(RunHandler(in), keep_alive, version);
  }

  api::HttpResponse RunHandler(const api::HttpRequest& in) {
    try {
      return shared_->handler(in);
    } catch (const std::exception&) {
      // The handler's contract is to answer, never to throw; stay up anyway.
      return api::TransportProblem(500, "internal", "Internal error", "the request could not be handled");
    }
  }

  // Writes the handler's answer (in_flight was counted by Answer).
  void Respond(api::HttpResponse out, bool keep_alive, unsigned version) {
    RemoveSpool();
    bool keep = keep_alive && !shared_->stopping.load();
    if (out.stream) return StartStream(std::move(out), version);
    if (!out.body_file.empty()) return WriteFile(std::move(out), version, keep);
    res_ = std::make_shared<http::response<http::string_body>>(ToBeast(std::move(out), version, keep));
    stream_.expires_after(shared_->options.request_timeout);
    http::async_write(stream_, *res_, [self = shared_from_this(), keep](beast::error_code e, std::size_t) {
      self->shared_->in_flight.fetch_sub(1);
      self->res_.reset();
      if (e || !keep) return self->Close();
      self->Read();
    });
  }

  // Hands the connection to a thread of its own that writes the header,
  // then runs the producer; the session ends here. At most max_streams at
  // once (503 beyond).
  void StartStream(api::HttpResponse out, unsigned version) {
    shared_->in_flight.fetch_sub(1);
    {
      std::lock_guard<std::mutex> lock(shared_->streams_mu);
      if (shared_->streams >= shared_->options.max_streams || shared_->stopping.load()) {
        shared_->in_flight.fetch_add(1);
        return Respond(api::TransportProblem(503, "unavailable", "Unavailable", "too many open streams"), false,
                       version);
      }
      ++shared_->streams;
    }
    std::string head = "HTTP/1." + std::to_string(version % 10) + " " + std::to_string(out.status) + " " +
                       std::string(http::obsolete_reason(static_cast<http::status>(out.status))) + "\r\nServer: bver\r\n";
    for (const auto& [k, v] : out.headers) head += k + ": " + v + "\r\n";
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    timer_.cancel();
    beast::error_code ec;
    int fd = stream_.socket().release(ec);
    if (ec) {
      std::lock_guard<std::mutex> lock(shared_->streams_mu);
      --shared_->streams;
      shared_->streams_cv.notify_all();
      return Close();
    }
    std::thread([fd, head = std::move(head), producer = std::move(out.stream), shared = shared_] {
      {
        SocketSink sink(fd, *shared);
        if (sink.SendAll(head)) {
          try {
            producer(sink);
          } catch (const std::exception&) {
            // The producer's contract is to return; end the stream anyway.
          }
          sink.Finish();
        }
      }
      ::shutdown(fd, SHUT_RDWR);
      ::close(fd);
      std::lock_guard<std::mutex> lock(shared->streams_mu);
      --shared->streams;
      shared->streams_cv.notify_all();
    }).detach();
  }

  // Sends a response whose body is a file. The write may take long for a
  // big file: the deadline is per write operation (a stalled reader still
  // times out), not for the whole body.
  void WriteFile(api::HttpResponse out, unsigned version, bool keep) {
    auto res = std::make_shared<http::response<http::file_body>>(static_cast<http::status>(out.status), version);
    beast::error_code ec;
    res->body().open(out.body_file.c_str(), beast::file_mode::scan, ec);
    if (ec) {
      shared_->in_flight.fetch_sub(1);
      out = api::TransportProblem(503, "unavailable", "Unavailable", "cannot open the response body");
      out.body_file.clear();
      shared_->in_flight.fetch_add(1);
      res_ = std::make_shared<http::response<http::string_body>>(ToBeast(std::move(out), version, false));
      http::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code, std::size_t) {
        self->shared_->in_flight.fetch_sub(1);
        self->res_.reset();
        self->Close();
      });
      return;
    }
    res->set(http::field::server, "bver");
    for (auto& [k, v] : out.headers) res->insert(k, v);
    res->keep_alive(keep);
    res->prepare_payload();
    file_res_ = res;
    file_serializer_.emplace(*file_res_);
    WriteFileChunk(keep);
  }

  void WriteFileChunk(bool keep) {
    stream_.expires_after(shared_->options.request_timeout);
    http::async_write_some(stream_, *file_serializer_, [self = shared_from_this(), keep](beast::error_code e,
                                                                                         std::size_t) {
      if (!e && !self->file_serializer_->is_done()) return self->WriteFileChunk(keep);
      self->shared_->in_flight.fetch_sub(1);
      self->file_serializer_.reset();
      self->file_res_.reset();
      if (e || !keep) return self->Close();
      self->Read();
    });
  }

  // Writes a transport problem, then closes after draining what the client
  // still sends (closing with unread input would reset the connection and
  // could lose the answer).
  void Fail(api::HttpResponse r) {
    res_ = std::make_shared<http::response<http::string_body>>(ToBeast(std::move(r), 11, false));
    stream_.expires_after(shared_->options.request_timeout);
    http::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code e, std::size_t) {
      self->res_.reset();
      if (e) return self->Close();
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->Drain();
    });
  }

  void Drain() {
    stream_.expires_after(std::chrono::seconds(1));
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(64 * 1024), [self = shared_from_this()](beast::error_code e, std::size_t) {
      if (e) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::file_body>> file_parser_;  // a spooled body
  std::string spool_path_;
  std::string remote_;  // the peer's address, for logs
  std::shared_ptr<http::response<http::string_body>> res_;
  std::shared_ptr<http::response<http::file_body>> file_res_;
  std::optional<http::response_serializer<http::file_body>> file_serializer_;
  asio::steady_timer timer_;
  bool first_ = true;
  bool reading_ = false;    // a read of a request is pending
  bool timed_out_ = false;  // the timer cancelled it
};

}  // namespace

struct Server::Impl {
  explicit Impl(ServerOptions o, api::HttpHandler h)
      : threads(o.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : o.threads),
        ioc(static_cast<int>(threads)),
        acceptor(asio::make_strand(ioc)),
        signals(ioc),
        drain_timer(ioc),
        shared(std::make_shared<Shared>()) {
    shared->options = std::move(o);
    shared->handler = std::move(h);
    if (shared->options.handler_threads > 0) {
      shared->blocking = std::make_unique<asio::thread_pool>(shared->options.handler_threads);
    }
  }

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (!acceptor.is_open()) return;
        return Accept();
      }
      auto session = std::make_shared<Session>(std::move(socket), shared);
      if (shared->connections.load() > shared->options.max_connections) {
        session->Refuse(api::TransportProblem(503, "unavailable", "Unavailable", "too many connections"));
      } else {
        session->Start();
      }
      Accept();
    });
  }

  void BeginStop() {
    if (shared->stopping.exchange(true)) return;
    asio::post(acceptor.get_executor(), [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
    });
    deadline = std::chrono::steady_clock::now() + shared->options.request_timeout;
    WaitDrained();
  }

  // In-flight requests finish (bounded by request_timeout); idle
  // connections are dropped with the io_context.
  void WaitDrained() {
    if (shared->in_flight.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      ioc.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([this](beast::error_code) { WaitDrained(); });
  }

  unsigned threads;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  std::shared_ptr<Shared> shared;
  std::chrono::steady_clock::time_point deadline;
  std::uint16_t port = 0;
};

Server::Server(ServerOptions options, api::HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() = default;

Status Server::Start() {
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(impl_->shared->options.address, ec);
  if (ec) return InvalidArgumentError("not an IP address: " + impl_->shared->options.address);
  tcp::endpoint endpoint{address, impl_->shared->options.port};
  tcp::acceptor& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("cannot listen on " + impl_->shared->options.address + ":" +
                            std::to_string(impl_->shared->options.port) + ": " + ec.message());
  }
  impl_->port = a.local_endpoint(ec).port();
  if (impl_->shared->options.handle_signals) {
    impl_->signals.add(SIGINT);
    impl_->signals.add(SIGTERM);
    impl_->signals.async_wait([this](beast::error_code e, int) {
      if (!e) impl_->BeginStop();
    });
  }
  impl_->Accept();
  return Status::Ok();
}

std::uint16_t Server::port() const { return impl_->port; }

void Server::Run() {
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < impl_->threads; ++i) pool.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (std::thread& t : pool) t.join();
  {
    // Streams see `stopping` and return; their threads hold `shared`.
    std::unique_lock<std::mutex> lock(impl_->shared->streams_mu);
    impl_->shared->streams_cv.wait(lock, [this] { return impl_->shared->streams == 0; });
  }
  if (impl_->shared->blocking) impl_->shared->blocking->join();
}

void Server::Stop() {
  asio::post(impl_->ioc, [this] { impl_->BeginStop(); });
}

}  // namespace bver::net
