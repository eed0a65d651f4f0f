// bver up | down | status
//
// `bver up` serves the platform of the current folder over HTTP in the
// foreground until SIGINT/SIGTERM (or `bver down`), then exits 0 once
// in-flight requests have finished. While it runs, <project>/.bver/up.json
// says where (pid, url, store, start time); `bver status` reads it and asks
// the server's /healthz, `bver down` sends SIGTERM and waits for the exit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/api/metrics.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/runtime.h"
#include "src/server/http_front.h"
#include "src/server/logbook.h"
#include "src/server/profile.h"
#include "src/store/open.h"
#include "src/core/clock.h"
#include "src/domain/platform.h"

namespace bver::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct UpFlags {
  StoreFlags store;
  std::string listen;  // empty: the profile's wiring.listen, else 127.0.0.1:8080
  unsigned threads = 0;
  unsigned handler_threads = 16;
  long request_timeout_ms = 10000;
  std::size_t max_connections = 1024;
  // The JetStream relay of the event log (docs/events.md); empty url: $BVER_NATS_URL, else off.
  std::string nats_url, nats_stream, nats_subject_prefix;
  // Do not run the trigger processor (another bver up on this store runs it).
  bool no_triggers = false;
  double job_lease_seconds = 0;  // 0: the engine's default
  std::string log_level = "info";  // the log file's and the terminal's
  bool quiet = false;              // no readable lines on the terminal
};



// "HOST:PORT" or "[V6]:PORT".
Status SplitListen(const std::string& text, std::string* host, std::uint16_t* port) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return InvalidArgumentError("--listen must be HOST:PORT, not " + text);
  *host = text.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoul(p) > 65535) {
    return InvalidArgumentError("--listen: not a port: " + p);
  }
  *port = static_cast<std::uint16_t>(std::stoul(p));
  return Status::Ok();
}



// ---- the status file ----

fs::path StatusPath(const std::string& project_dir) { return fs::path(project_dir) / ".bver" / "up.json"; }

Status WriteStatusFile(const fs::path& path, const json& doc) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return UnavailableError("cannot create " + path.parent_path().string() + ": " + ec.message());
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(2) << "\n";
    if (!out.flush()) return UnavailableError("cannot write " + tmp.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) return UnavailableError("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

// The status file's content; NotFound when there is none.
Result<json> ReadStatusFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("no server is running for this project (no " + path.string() + ")");
  std::stringstream s;
  s << in.rdbuf();
  json doc = json::parse(s.str(), nullptr, false);
  if (!doc.is_object() || !doc.contains("pid") || !doc["pid"].is_number_integer()) {
    return DataLossError(path.string() + " is not a bver status file; remove it if no server is running");
  }
  return doc;
}

// Whether `pid` runs: it exists and is not a zombie (exited, not yet
// reaped by its parent).
bool IsRunning(long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0) return errno == EPERM;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

// Whether `pid` is a live bver process (not just any process that reused the pid).
bool IsLiveBver(long pid) {
  if (!IsRunning(pid)) return false;
  std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
  std::string argv0;
  std::getline(cmd, argv0, '\0');
  return fs::path(argv0).filename().string().find("bver") != std::string::npos;
}

// GET /healthz on 127.0.0.1:port (the server's own loopback answer); true on 200.
bool Healthy(int port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      pollfd p{fd, POLLIN, 0};
      char buf[64] = {};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) > 0 && ::recv(fd, buf, sizeof buf - 1, 0) >= 12) {
        ok = std::strncmp(buf + 9, "200", 3) == 0;
      }
    }
  }
  ::close(fd);
  return ok;
}

// ---- bver up ----

int Up(const Output& o, const UpFlags& f) {
  Result<StoreLocation> where = LocateStore(f.store);
  if (!where.ok()) return o.Fail(where.status());
  const server::Profile* profile = &where->profile;
  std::string listen = !f.listen.empty() ? f.listen : !profile->wiring.listen.empty() ? profile->wiring.listen : "127.0.0.1:8080";
  std::string host;
  std::uint16_t port = 0;
  if (Status s = SplitListen(listen, &host, &port); !s.ok()) return o.Fail(s);
  if (host == "localhost") host = "127.0.0.1";

  fs::path status_path = StatusPath(where->project_dir);
  if (Result<json> running = ReadStatusFile(status_path);
      running.ok() && IsLiveBver((*running)["pid"].get<long>()) && (*running)["pid"].get<long>() != ::getpid()) {
    return o.Fail(FailedPreconditionError("a server already runs for this project: pid " +
                                          std::to_string((*running)["pid"].get<long>()) + " at " +
                                          running->value("url", std::string("?")) +
                                          "; stop it with `bver down` or serve another folder"));
  }

  // The log (file and terminal) and the metrics of every broker call (any
  // transport); declared first so they outlive the broker that reports to them.
  std::optional<server::LogLevel> level = server::ParseLogLevel(f.log_level);
  if (!level) return o.Fail(InvalidArgumentError("--log-level is debug, info, warn or error, not " + f.log_level));
  server::LogOptions log_options;
  log_options.path = server::DefaultLogPath(where->project_dir);
  log_options.terminal = &o.err;
  log_options.file_level = *level;
  // Quiet still shows failures: a failed run must never go unseen.
  log_options.terminal_level = f.quiet ? server::LogLevel::kError : *level;
  Result<std::unique_ptr<server::Logbook>> opened_log = server::Logbook::Open(log_options);
  if (!opened_log.ok()) return o.Fail(opened_log.status());
  server::Logbook& logbook = **opened_log;
  api::Metrics metrics;
  runtime::Broker::Options broker_options;
  broker_options.observer = [&metrics, &logbook](const runtime::CallRecord& record) {
    metrics.Observe(record);
    server::LogCall(logbook, record);  // internal errors with their detail, in the log and on the terminal
  };
  RuntimeOptions runtime_options;
  runtime_options.run_triggers = !f.no_triggers;
  runtime_options.job_lease_ms = static_cast<std::int64_t>(f.job_lease_seconds * 1000);
  runtime_options.nats_url = f.nats_url;
  if (const char* env = std::getenv("BVER_NATS_URL"); runtime_options.nats_url.empty() && env != nullptr) {
    runtime_options.nats_url = env;
  }
  if (runtime_options.nats_url.empty()) runtime_options.nats_url = profile->wiring.nats_url;
  runtime_options.record_policy = true;
  runtime_options.nats_stream = f.nats_stream;
  runtime_options.nats_subject_prefix = f.nats_subject_prefix;
  Result<std::unique_ptr<Runtime>> opened = OpenRuntime(f.store, std::move(broker_options), runtime_options);
  if (!opened.ok()) return o.Fail(opened.status());
  Runtime& rt = **opened;
  // Job, run, trigger and audit transitions as they commit (any process).
  server::TransitionLog transitions(*rt.store, logbook);
  transitions.Start();

  server::HttpFrontOptions front_options;
  front_options.host = host;
  front_options.port = port;
  front_options.threads = f.threads;
  front_options.handler_threads = f.handler_threads;
  front_options.request_timeout_ms = f.request_timeout_ms;
  front_options.max_connections = f.max_connections;
  Result<std::unique_ptr<server::HttpFront>> front = server::HttpFront::Create(rt, metrics, front_options);
  if (!front.ok()) return o.Fail(front.status());
  server::HttpFront& server = **front;
  if (Status s = server.Start(); !s.ok()) return o.Fail(s);
  const std::string url = server.url();
  const bool auth_configured = server.auth_configured();

  json status_doc = {{"pid", ::getpid()},
                     {"url", url},
                     {"port", server.port()},
                     {"store", store::RedactUrl(rt.project.store_url)},
                     {"platform", rt.platform->id},
                     {"auth", auth_configured ? "on" : "off (loopback: callers act as the local operator)"},
                     {"profile", {{"name", rt.project.profile.name}, {"revision", rt.project.profile.revision}}},
                     {"started_at", core::FormatTimestamp(std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count())}};
  if (Status s = WriteStatusFile(status_path, status_doc); !s.ok()) return o.Fail(s);

  o.out << "listening on " << url << std::endl;
  o.err << "bver up: platform " << rt.platform->id << ", store " << store::RedactUrl(rt.project.store_url) << ", profile "
        << rt.project.profile.name << " (policy " << rt.project.profile.revision << "), auth "
        << (auth_configured ? "on" : "off (loopback only)") << "; stop with `bver down` or Ctrl-C" << std::endl;
  logbook.Log(server::LogLevel::kInfo, "up",
              "serving " + url + ": platform " + rt.platform->id + ", profile " + rt.project.profile.name +
                  ", store " + store::RedactUrl(rt.project.store_url),
              "", json{{"url", url}, {"pid", ::getpid()}, {"policy_revision", rt.project.profile.revision}});
  server.Run();
  logbook.Log(server::LogLevel::kInfo, "up", "stopped", "", nullptr);
  transitions.Stop();
  logbook.Flush();

  // Remove the status file only if it is still ours.
  if (Result<json> now = ReadStatusFile(status_path); now.ok() && (*now)["pid"].get<long>() == ::getpid()) {
    std::error_code ec;
    fs::remove(status_path, ec);
  }
  return 0;
}

// ---- bver status / bver down ----

// Outside a project (RequireProject) there is nothing to ask about: say so,
// and how to point at one (rather than "not running", which reads as if
// there were one).

int StatusCommand(const Output& o, const StoreFlags& f) {
  if (Status s = RequireProject(f); !s.ok()) return o.Fail(s);
  Result<StoreLocation> where = LocateStore(f);
  if (!where.ok()) return o.Fail(where.status());
  fs::path path = StatusPath(where->project_dir);
  Result<json> doc = ReadStatusFile(path);
  if (!doc.ok()) {
    if (doc.status().code() != StatusCode::kNotFound) return o.Fail(doc.status());
    if (o.json) {
      o.Json({{"running", false}});
    } else {
      o.out << "not running\n";
    }
    return 1;
  }
  long pid = (*doc)["pid"].get<long>();
  bool live = IsLiveBver(pid);
  bool healthy = live && Healthy(doc->value("port", 0), std::chrono::milliseconds(2000));
  if (o.json) {
    json j = *doc;
    j["running"] = live;
    j["healthy"] = healthy;
    o.Json(j);
  } else if (!live) {
    o.out << "not running (stale " << path.string() << " from pid " << pid << ")\n";
  } else {
    o.out << "running: pid " << pid << " at " << doc->value("url", std::string("?")) << (healthy ? "" : " (NOT answering /healthz)")
          << "\n  store " << doc->value("store", std::string("?")) << "\n  since "
          << doc->value("started_at", std::string("?")) << "\n";
    if (doc->contains("profile") && (*doc)["profile"].is_object()) {
      o.out << "  profile " << (*doc)["profile"].value("name", "?") << " (policy "
            << (*doc)["profile"].value("revision", "?") << ")\n";
    }
  }
  return live ? 0 : 1;
}

int Down(const Output& o, const StoreFlags& f, int timeout_s) {
  if (Status s = RequireProject(f); !s.ok()) return o.Fail(s);
  Result<StoreLocation> where = LocateStore(f);
  if (!where.ok()) return o.Fail(where.status());
  fs::path path = StatusPath(where->project_dir);
  Result<json> doc = ReadStatusFile(path);
  if (!doc.ok()) return o.Fail(doc.status());
  long pid = (*doc)["pid"].get<long>();
  std::error_code ec;
  if (!IsLiveBver(pid)) {
    fs::remove(path, ec);
    if (o.json) {
      o.Json({{"stopped", false}, {"pid", pid}, {"detail", "was not running; removed the stale status file"}});
    } else {
      o.out << "not running (removed the stale status file of pid " << pid << ")\n";
    }
    return 0;
  }
  if (::kill(static_cast<pid_t>(pid), SIGTERM) != 0) {
    return o.Fail(PermissionDeniedError("cannot signal pid " + std::to_string(pid) + ": " + std::strerror(errno)));
  }
  if (!o.json) o.err << "bver down: asked pid " << pid << " to stop; waiting for in-flight requests" << std::flush;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  auto next_dot = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (IsRunning(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      if (!o.json) o.err << "\n";
      return o.Fail(Status(StatusCode::kDeadlineExceeded,
                           "pid " + std::to_string(pid) + " did not stop within " + std::to_string(timeout_s) +
                               " s; wait longer (--timeout) or end it with kill -9 " + std::to_string(pid)));
    }
    if (!o.json && std::chrono::steady_clock::now() >= next_dot) {
      o.err << "." << std::flush;
      next_dot += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fs::remove(path, ec);  // normally the server removed it already
  if (o.json) {
    o.Json({{"stopped", true}, {"pid", pid}});
  } else {
    o.err << "\n";
    o.out << "stopped pid " << pid << "\n";
  }
  return 0;
}

// ---- bver profiles ----

int ProfilesCommand(const Output& o, const StoreFlags& f, const std::string& only) {
  if (Status s = RequireProject(f); !s.ok()) return o.Fail(s);
  Result<StoreLocation> where = LocateStore(f);
  if (!where.ok()) return o.Fail(where.status());
  Result<std::vector<server::Profile>> all = server::ListProfiles(where->project_dir);
  if (!all.ok()) return o.Fail(all.status());
  json list = json::array();
  for (const server::Profile& p : *all) {
    if (!only.empty() && p.name != only) continue;
    json j = p.ToJson();
    j["active"] = p.name == where->profile.name;
    list.push_back(std::move(j));
  }
  if (!only.empty() && list.empty()) {
    return o.Fail(server::LoadProfile(where->project_dir, only).status());
  }
  if (o.json) {
    o.Json({{"active", where->profile.name}, {"profiles", list}});
    return 0;
  }
  for (const json& p : list) {
    const json& pol = p["policy"];
    o.out << (p["active"].get<bool>() ? "* " : "  ") << p["name"].get<std::string>() << "  " << p["revision"].get<std::string>()
          << "  (" << p["source"].get<std::string>() << ")\n"
          << "    " << p["description"].get<std::string>() << "\n"
          << "    policy: auth " << pol["auth"].get<std::string>() << ", durability " << pol["durability"].get<std::string>()
          << ", triggers " << pol["triggers"]["max_chain_firings"] << "/" << pol["triggers"]["max_per_trigger"]
          << ", rate limit "
          << (pol["rate_limit"].is_string() ? pol["rate_limit"].get<std::string>()
                                            : pol["rate_limit"]["requests_per_second"].dump() + "/s burst " +
                                                  pol["rate_limit"]["burst"].dump())
          << "\n";
    if (!p["wiring"].empty()) o.out << "    wiring: " << p["wiring"].dump() << "\n";
  }
  return 0;
}

}  // namespace

std::optional<RunningServer> FindRunningServer(const std::string& project_dir) {
  Result<json> doc = ReadStatusFile(StatusPath(project_dir));
  if (!doc.ok()) return std::nullopt;
  const long pid = (*doc)["pid"].get<long>();
  if (pid == ::getpid() || !IsLiveBver(pid)) return std::nullopt;
  return RunningServer{pid, doc->value("url", std::string("?"))};
}

void RegisterServeCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto f = std::make_shared<UpFlags>();
  CLI::App* up = app.add_subcommand(
      "up", "Serve the platform over HTTP (REST, OpenAPI, MCP) in the foreground; `bver down` or Ctrl-C stops it");
  AddStoreFlags(up, f->store);
  up->add_option("--listen", f->listen,
                 "HOST:PORT to listen on (port 0: a free port; default: the profile's wiring.listen, else "
                 "127.0.0.1:8080); loopback unless auth is on");
  up->add_option("--threads", f->threads, "I/O threads (default: one per core); they also run reads");
  up->add_option("--handler-threads", f->handler_threads,
                 "Threads that run writes, which wait for their commit: more let more writes share one "
                 "fsync (0: writes run on the I/O threads)")
      ->check(CLI::Range(0u, 1024u))
      ->capture_default_str();
  up->add_option("--request-timeout-ms", f->request_timeout_ms,
                 "A request (header and body) must arrive within this time, else 408")
      ->check(CLI::Range(100L, 3600000L))
      ->capture_default_str();
  up->add_option("--max-connections", f->max_connections, "Open connections at most; more get 503")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  up->add_option("--nats-url", f->nats_url,
                 "Relay the event log to this NATS server's JetStream, e.g. nats://127.0.0.1:4222 "
                 "(default: $BVER_NATS_URL; unset: no relay). docs/events.md");
  up->add_option("--nats-stream", f->nats_stream, "The JetStream stream the relay writes to (default BVER)");
  up->add_option("--nats-subject-prefix", f->nats_subject_prefix,
                 "Events go to <prefix>.<channel> (default bver.events)");
  up->add_option("--job-lease-seconds", f->job_lease_seconds,
                 "A running job's lease: a job whose worker died runs again after it (default 15)")
      ->check(CLI::Range(0.5, 3600.0));
  up->add_option("--log-level", f->log_level,
                 "debug, info, warn or error: what goes to .bver/logs/bver.jsonl and the terminal (bver logs reads it)")
      ->capture_default_str();
  up->add_flag("--quiet", f->quiet, "Only failures on the terminal, not a line per request and transition (the log file keeps them)");
  up->add_flag("--no-triggers", f->no_triggers,
               "Do not run the trigger processor (run it in one bver up per store). docs/triggers.md");
  up->callback([&ctx, f] {
    ctx.action = [&ctx, f] {
      Output o{ctx.out, ctx.err, f->store.json};
      return Up(o, *f);
    };
  });

  auto sf = std::make_shared<StoreFlags>();
  CLI::App* status = app.add_subcommand(
      "status", "Say whether `bver up` serves this project, where, and whether it answers (exit 1: not running)");
  AddStoreFlags(status, *sf);
  status->callback([&ctx, sf] {
    ctx.action = [&ctx, sf] { return StatusCommand(Output{ctx.out, ctx.err, sf->json}, *sf); };
  });

  auto pf = std::make_shared<StoreFlags>();
  auto only = std::make_shared<std::string>();
  CLI::App* profiles = app.add_subcommand(
      "profiles", "List the profiles (policy and wiring) this project can run under, with their policy revisions");
  AddStoreFlags(profiles, *pf);
  profiles->add_option("NAME", *only, "Show only this profile");
  profiles->callback([&ctx, pf, only] {
    ctx.action = [&ctx, pf, only] { return ProfilesCommand(Output{ctx.out, ctx.err, pf->json}, *pf, *only); };
  });

  auto df = std::make_shared<StoreFlags>();
  auto timeout = std::make_shared<int>(30);
  CLI::App* down = app.add_subcommand(
      "down", "Stop the `bver up` of this project gracefully: in-flight requests finish, then it exits");
  AddStoreFlags(down, *df);
  down->add_option("--timeout", *timeout, "Seconds to wait for the server to exit")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  down->callback([&ctx, df, timeout] {
    ctx.action = [&ctx, df, timeout] { return Down(Output{ctx.out, ctx.err, df->json}, *df, *timeout); };
  });
}

}  // namespace bver::cli
