// The runtime's structured log: one JSON object per line in
// <project>/.bver/logs/bver.jsonl, and one readable line per record on the
// terminal of `bver up` (docs/operating.md "Logs").
//
//   {"ts":"2026-12-06T03:31:02.123456Z","level":"info","component":"op",
//    "msg":"refs.person.create ok 2.1 ms","correlation_id":"01a2...",
//    "operation":"refs.person.create","transport":"rest","subject":"jwt:ops",
//    "code":"ok","duration_ms":2.1}
//
// Components: "up" (start and stop), "op" (every operation call, any
// transport: REST, MCP, CLI, triggers, orchestrator steps), and, from the
// store's event log, "job", "orch", "trigger" and "audit" (their
// transitions, as they commit, whichever process made them).
//
// Log() only queues: a writer thread appends the lines, so a request never
// waits on the log's disk. Lines from several processes (bver up, bver
// worker) may share the file: each is one write(2) with O_APPEND. The file
// is rotated at max_bytes into bver.jsonl.1 .. .keep.
//
// Thread safety: Log may be called from any thread.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::store {
class Store;
}
namespace bver::runtime {
struct CallRecord;
}

namespace bver::server {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
const char* LogLevelName(LogLevel level);  // "info"
std::optional<LogLevel> ParseLogLevel(std::string_view text);

struct LogOptions {
  std::string path;                  // the JSON-lines file; empty: none
  std::ostream* terminal = nullptr;  // readable lines; null: none
  LogLevel file_level = LogLevel::kInfo;
  LogLevel terminal_level = LogLevel::kInfo;
  std::uint64_t max_bytes = 64ull << 20;
  int keep = 3;  // rotated files kept
};

class Logbook {
 public:
  // Creates the log folder when needed. Unavailable when the file cannot be opened.
  static Result<std::unique_ptr<Logbook>> Open(LogOptions options);
  ~Logbook();  // writes what is queued, then stops the writer

  // `fields` (an object, or null) are added to the record beside the
  // standard keys.
  void Log(LogLevel level, std::string_view component, std::string_view message, std::string_view correlation_id,
           const nlohmann::json& fields);
  // Log with the extra members already as JSON text (",\"k\":v" each):
  // the per-request path (LogCall), which builds no JSON values.
  void Enqueue(LogLevel level, std::string component, std::string message, std::string correlation_id,
               std::string extra_members);
  // Whether a record of `level` goes anywhere (file or terminal).
  bool Wants(LogLevel level) const;
  // Blocks until every record queued before the call is written.
  void Flush();

  // A record as `bver logs` and the terminal show it:
  // "03:31:02.123 INFO  op       refs.person.create ok 2.1 ms  [01a24963]"
  static std::string Readable(const nlohmann::json& record);

 private:
  struct Impl;
  explicit Logbook(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Logs one operation call (the broker's observer): component "op", info
// when it succeeded, warn when the request was refused, error when the
// runtime failed (with the detail the caller was not shown).
void LogCall(Logbook& log, const runtime::CallRecord& record);

// The default log file of a project: <dir>/.bver/logs/bver.jsonl.
std::string DefaultLogPath(const std::string& project_dir);

// Follows the store's event log from its current end and logs the job,
// orchestrator, trigger and audit events as they commit (one record each,
// failures at level error). Stops with Stop() or its destructor.
class TransitionLog {
 public:
  TransitionLog(store::Store& store, Logbook& log);
  ~TransitionLog();
  void Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The record TransitionLog writes for one event envelope, or null when the
// event is not one it logs (reference changes: the request line says them).
// {level, component, msg, correlation_id, fields}.
nlohmann::json TransitionRecord(const nlohmann::json& envelope);

}  // namespace bver::server
