#include "src/server/logbook.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <ostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "src/core/clock.h"
#include "src/runtime/broker.h"
#include "src/store/follower.h"
#include "src/store/store.h"

namespace bver::server {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string ShortId(const std::string& id) { return id.size() > 8 ? id.substr(0, 8) : id; }

// `s` as a JSON string (RFC 8259 escapes; bytes >= 0x80 pass as they are).
void AppendJsonString(std::string_view s, std::string& out) {
  static const char* kHex = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

}  // namespace

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn" || text == "warning") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string DefaultLogPath(const std::string& project_dir) {
  return (fs::path(project_dir) / ".bver" / "logs" / "bver.jsonl").string();
}

struct Logbook::Impl {
  // A record as queued by the calling thread: its parts, formatted by the
  // writer thread (JSON text and readable line), off the request's path.
  struct Line {
    LogLevel level;
    std::int64_t ts_us;
    std::string component;
    std::string msg;
    std::string correlation_id;
    std::string extra;  // more JSON members, each as ,"key":value
  };

  static void AppendJson(const Line& l, std::string& out) {
    out += "{\"ts\":\"";
    out += core::FormatTimestamp(l.ts_us);
    out += "\",\"level\":\"";
    out += LogLevelName(l.level);
    out += "\",\"component\":";
    AppendJsonString(l.component, out);
    out += ",\"msg\":";
    AppendJsonString(l.msg, out);
    if (!l.correlation_id.empty()) {
      out += ",\"correlation_id\":";
      AppendJsonString(l.correlation_id, out);
    }
    out += l.extra;
    out += "}\n";
  }

  static std::string ReadableOf(const Line& l) {
    std::string ts = core::FormatTimestamp(l.ts_us);
    std::string level = LogLevelName(l.level);
    for (char& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string out = (ts.size() >= 23 ? ts.substr(11, 12) : ts) + " " + Pad(level, 5) + " " + Pad(l.component, 7) +
                      " " + l.msg;
    if (!l.correlation_id.empty()) out += "  [" + ShortId(l.correlation_id) + "]";
    return out;
  }

  LogOptions options;
  int fd = -1;
  std::mutex mu;
  std::condition_variable wake;      // the writer: lines queued or stopping
  std::condition_variable progress;  // Flush: lines written
  std::deque<Line> queue;
  std::uint64_t queued = 0, written = 0;
  bool stopping = false;
  std::thread writer;

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
    }
    wake.notify_all();
    if (writer.joinable()) writer.join();
    if (fd >= 0) ::close(fd);
  }

  Status OpenFile() {
    if (fd >= 0) ::close(fd);
    fd = ::open(options.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return UnavailableError("cannot open the log " + options.path + ": " + std::strerror(errno));
    return Status::Ok();
  }

  // Reopens when another process rotated the file; rotates when it is full.
  void MaybeRotate() {
    struct stat mine {}, named {};
    if (::fstat(fd, &mine) != 0) return;
    if (::stat(options.path.c_str(), &named) != 0 || named.st_ino != mine.st_ino) {
      (void)OpenFile();
      return;
    }
    if (static_cast<std::uint64_t>(mine.st_size) < options.max_bytes) return;
    for (int i = options.keep; i >= 1; --i) {
      std::string from = i == 1 ? options.path : options.path + "." + std::to_string(i - 1);
      std::error_code ec;
      fs::rename(from, options.path + "." + std::to_string(i), ec);
    }
    (void)OpenFile();
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty() && stopping) return;
      std::deque<Line> batch;
      batch.swap(queue);
      lock.unlock();
      if (fd >= 0) MaybeRotate();
      std::string file_text, terminal_text;
      for (const Line& l : batch) {
        if (fd >= 0 && l.level >= options.file_level) AppendJson(l, file_text);
        if (options.terminal != nullptr && l.level >= options.terminal_level) {
          terminal_text += ReadableOf(l);
          terminal_text += '\n';
        }
      }
      // One write per batch: O_APPEND keeps the batches of several
      // processes whole; a full disk loses log lines, never a request.
      for (std::size_t off = 0; off < file_text.size();) {
        ssize_t n = ::write(fd, file_text.data() + off, file_text.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      if (!terminal_text.empty()) {
        options.terminal->write(terminal_text.data(), static_cast<std::streamsize>(terminal_text.size()));
        options.terminal->flush();
      }
      lock.lock();
      written += batch.size();
      progress.notify_all();
    }
  }
};

Logbook::Logbook(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Logbook::~Logbook() = default;

Result<std::unique_ptr<Logbook>> Logbook::Open(LogOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (impl->options.keep < 1) impl->options.keep = 1;
  if (!impl->options.path.empty()) {
    std::error_code ec;
    fs::create_directories(fs::path(impl->options.path).parent_path(), ec);
    if (ec) return UnavailableError("cannot create the log folder: " + ec.message());
    BVER_RETURN_IF_ERROR(impl->OpenFile());
  }
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<Logbook>(new Logbook(std::move(impl)));
}

void Logbook::Log(LogLevel level, std::string_view component, std::string_view message,
                  std::string_view correlation_id, const json& fields) {
  if (!Wants(level)) return;  // nothing to build (the common case of --log-level warn)
  std::string extra;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (it.key() == "ts" || it.key() == "level" || it.key() == "component" || it.key() == "msg" ||
          it.key() == "correlation_id") {
        continue;
      }
      extra += ',';
      AppendJsonString(it.key(), extra);
      extra += ':';
      extra += it.value().dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  Enqueue(level, std::string(component), std::string(message), std::string(correlation_id), std::move(extra));
}

void Logbook::Enqueue(LogLevel level, std::string component, std::string message, std::string correlation_id,
                      std::string extra) {
  if (!Wants(level)) return;
  Impl::Line line{level, NowMicros(), std::move(component), std::move(message), std::move(correlation_id),
                  std::move(extra)};
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->queue.push_back(std::move(line));
    ++impl_->queued;
  }
  impl_->wake.notify_one();
}

bool Logbook::Wants(LogLevel level) const {
  const LogOptions& o = impl_->options;
  return (!o.path.empty() && level >= o.file_level) || (o.terminal != nullptr && level >= o.terminal_level);
}

void Logbook::Flush() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  const std::uint64_t target = impl_->queued;
  impl_->progress.wait(lock, [&] { return impl_->written >= target; });
}

std::string Logbook::Readable(const json& r) {
  std::string ts = r.value("ts", "");
  std::string clock = ts.size() >= 23 ? ts.substr(11, 12) : ts;
  std::string level = r.value("level", "info");
  for (char& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string out = clock + " " + Pad(level, 5) + " " + Pad(r.value("component", ""), 7) + " " + r.value("msg", "");
  if (std::string corr = r.value("correlation_id", ""); !corr.empty()) out += "  [" + ShortId(corr) + "]";
  return out;
}

json TransitionRecord(const json& e) {
  const std::string type = e.value("event_type", "");
  const std::string channel = e.value("channel", "");
  const json& p = e.contains("payload") && e["payload"].is_object() ? e["payload"] : json::object();
  std::string component, msg;
  LogLevel level = LogLevel::kInfo;
  auto error_text = [&]() -> std::string {
    if (!p.contains("error")) return "";
    const json& err = p["error"];
    if (err.is_object()) return ": " + err.value("code", std::string("error")) + " " + err.value("message", "");
    return ": " + err.dump();
  };
  if (type.rfind("job.", 0) == 0) {
    component = "job";
    std::string state = type.substr(4);
    msg = "job " + p.value("job", std::string("?")) + " " + state + " (" + ShortId(p.value("job_id", "")) + ")";
    if (p.value("cache_hit", false)) msg += " from the action cache";
    if (state == "failed" || state == "timed_out") level = LogLevel::kError;
    if (state == "retrying" || state == "cancelled") level = LogLevel::kWarn;
    msg += error_text();
  } else if (type.rfind("orch.", 0) == 0) {
    component = "orch";
    std::string what = type.substr(5);  // started, step.started, failed ...
    msg = "run " + p.value("orchestrator", std::string("?")) + " " + ShortId(p.value("run_id", "")) + " ";
    if (what.rfind("step.", 0) == 0) {
      msg += "step " + p.value("step", std::string("?")) + " " + what.substr(5);
      if (!p.value("op", std::string()).empty()) msg += " (" + p.value("op", std::string()) + ")";
    } else {
      msg += what;
    }
    if (what == "failed" || what == "step.failed") level = LogLevel::kError;
    if (what == "cancelled") level = LogLevel::kWarn;
    msg += error_text();
  } else if (type.rfind("trigger.", 0) == 0) {
    component = "trigger";
    msg = "trigger " + p.value("trigger", std::string("?")) + " " + type.substr(8);
    if (!p.value("operation", std::string()).empty()) msg += " (" + p.value("operation", std::string()) + ")";
    if (!p.value("reason", std::string()).empty()) msg += ": " + p.value("reason", std::string());
    level = type == "trigger.failed" ? LogLevel::kError : LogLevel::kWarn;
    msg += error_text();
  } else if (channel == "audit") {
    component = "audit";
    msg = type + " " + e.value("object_pointer", "");
  } else {
    return nullptr;
  }
  return json{{"level", LogLevelName(level)},
              {"component", component},
              {"msg", msg},
              {"correlation_id", e.value("correlation_id", "")},
              {"fields", {{"event_type", type}, {"offset", e.value("offset", 0)}}}};
}

// The log record of one operation call: info when it succeeded, warn when
// the caller's request was refused, error when the runtime failed.
void LogCall(Logbook& log, const runtime::CallRecord& r) {
  LogLevel level = LogLevel::kInfo;
  switch (r.code) {
    case StatusCode::kOk: break;
    case StatusCode::kInternal:
    case StatusCode::kUnknown:
    case StatusCode::kDataLoss:
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded: level = LogLevel::kError; break;
    default: level = LogLevel::kWarn; break;
  }
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f", static_cast<double>(r.duration_us) / 1000.0);
  std::string code(StatusCodeName(r.code));
  std::string msg = r.operation + " " + code + " " + ms + " ms";
  if (!r.subject.empty()) msg += " by " + r.subject;
  msg += " via " + r.transport;
  // What the caller was not shown (an internal error's cause) is the
  // operator's to see.
  if (!r.internal_detail.empty()) msg += ": " + r.internal_detail;
  // The members built by hand: this runs once per request.
  std::string extra = ",\"operation\":";
  AppendJsonString(r.operation, extra);
  extra += ",\"transport\":";
  AppendJsonString(r.transport, extra);
  extra += ",\"code\":\"" + code + "\",\"duration_ms\":" + ms;
  if (!r.subject.empty()) {
    extra += ",\"subject\":";
    AppendJsonString(r.subject, extra);
  }
  if (!r.internal_detail.empty()) {
    extra += ",\"detail\":";
    AppendJsonString(r.internal_detail, extra);
  }
  log.Enqueue(level, "op", std::move(msg), r.correlation_id, std::move(extra));
}

struct TransitionLog::Impl {
  store::Store& store;
  Logbook& log;
  store::Follower follower;
  std::thread thread;
  std::uint64_t next = 1;

  Impl(store::Store& s, Logbook& l) : store(s), log(l), follower(s.backend()) {}

  Result<bool> Pass() {
    BVER_ASSIGN_OR_RETURN(std::vector<store::Event> events, store.backend().ReadEvents(next, 256));
    for (const store::Event& ev : events) {
      next = ev.offset + 1;
      if (!ev.envelope) continue;
      json rec = TransitionRecord(*ev.envelope);
      if (rec.is_null()) continue;
      log.Log(*ParseLogLevel(rec["level"].get<std::string>()), rec["component"].get<std::string>(),
              rec["msg"].get<std::string>(), rec["correlation_id"].get<std::string>(), rec["fields"]);
    }
    return events.size() == 256;
  }
};

TransitionLog::TransitionLog(store::Store& store, Logbook& log) : impl_(std::make_unique<Impl>(store, log)) {}

TransitionLog::~TransitionLog() { Stop(); }

void TransitionLog::Start() {
  Result<std::uint64_t> last = impl_->store.backend().LastEventOffset();
  impl_->next = (last.ok() ? *last : 0) + 1;
  Impl* raw = impl_.get();
  impl_->thread = std::thread([raw] {
    raw->follower.Run([raw] { return raw->Pass(); },
                      [raw](const Status& s) {
                        raw->log.Log(LogLevel::kWarn, "up", "cannot read the event log: " + s.message(), "",
                                     nullptr);
                        return std::chrono::milliseconds(1000);
                      });
  });
}

void TransitionLog::Stop() {
  impl_->follower.Stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace bver::server
