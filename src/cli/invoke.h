// How a CLI command runs an operation: by its row id, through the broker
// in-process as the local operator, or against a running `bver up` (POST
// /v1/ops/OP, the key in $BVER_API_KEY) when --server or $BVER_SERVER names
// one. Either way the command gets the operation's output -- the JSON REST
// answers -- or a Status with the problem's code, detail and violations,
// and prints it the same way: `bver call` and the subcommands that are
// aliases of it (bver ref ..., resolve, ledger verify) share this.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bver/status.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"

namespace CLI {
class App;
}

namespace bver::cli {


struct CallOptions {
  StoreFlags store;            // -f, --store, --json
  std::string server;          // --server; empty: $BVER_SERVER, else in-process
  std::string correlation_id;  // --correlation-id; empty: a new UUIDv7 per call
  double timeout_seconds = 600;
  // In-process: start job workers (a job's wait) and orchestrator workers.
  bool job_workers = false;
  bool orch_workers = false;
  int job_threads = -1;       // with job_workers: threads (-1: $BVER_JOB_THREADS, else 2)
  int orch_threads = 2;       // with orch_workers
  std::int64_t job_lease_ms = 0;  // > 0: the lease of a running job
  std::string worker_labels;  // with job_workers: labels besides the detected ones
};

// --server, --correlation-id and --timeout on `cmd`.
void AddCallFlags(CLI::App* cmd, CallOptions& o);

// Where calls go: --server, else $BVER_SERVER; empty: in-process.
std::string ChosenServer(const CallOptions& o);

class Invoker {
 public:
  // In-process: opens the project's runtime. Remote: checks the URL.
  static Result<std::unique_ptr<Invoker>> Open(const CallOptions& options);
  virtual ~Invoker() = default;

  // Runs `op` with `input`. The correlation id used is correlation_id().
  virtual Result<nlohmann::json> Call(const std::string& op, nlohmann::json input) = 0;
  // The rows: {id, summary, http?, scopes?, read_only?, description?,
  // input_schema?, output_schema?} (remote: from the server's OpenAPI).
  virtual Result<std::vector<nlohmann::json>> Rows(bool with_schemas) = 0;
  // Where calls go: "in-process" or the server URL.
  virtual std::string where() const = 0;
  const std::string& correlation_id() const { return correlation_id_; }

 protected:
  explicit Invoker(std::string correlation_id) : correlation_id_(std::move(correlation_id)) {}
  std::string correlation_id_;
};

// A failed call as a problem: on stderr for a terminal ("error: Not found
// (not_found): detail", each violation, the correlation id), or the RFC 9457
// document on stdout with --json (with an "error" member, the CLI's older
// error shape, kept for scripts written against it). The exit code.
int PrintProblem(const Output& o, const Status& status, const std::string& correlation_id,
                 const std::vector<std::string>& suggestions = {});

// Opens an invoker, runs `op` once, prints the output (`text` for a
// terminal; the JSON itself with --json) or the problem. The exit code is
// `text`'s, or with --json `exit_code`'s (1 for a ledger that does not
// verify), else 0.
// Calls `status_op` ({id_field: id, wait}) until the answer's state has
// ended or `timeout_seconds` have passed (0: no limit), each call waiting at
// most `max_wait` seconds: how --wait goes past REST's per-call cap.
Result<nlohmann::json> WaitUntilEnded(Invoker& invoker, const std::string& status_op, const std::string& id_field,
                                      nlohmann::json current, double timeout_seconds, double max_wait);

int RunOperation(Context& ctx, const CallOptions& options, const std::string& op, nlohmann::json input,
                 const std::function<int(const Output&, const nlohmann::json&)>& text,
                 const std::function<int(const nlohmann::json&)>& exit_code = nullptr);

}  // namespace bver::cli
