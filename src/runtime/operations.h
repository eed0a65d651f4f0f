// The operation table (BVER.md §1 "operation", §7; STYLE.md "One operation
// table"): one row per operation the runtime can execute, generated from a
// compiled domain::Platform. A row is data — id, summary, input and output
// JSON Schemas (object roots, draft 2020-12), required scopes, hints, and
// how it maps onto HTTP — plus a handler bound to a store. REST routes, the
// OpenAPI document, MCP tools and CLI commands are all derived from these
// rows (docs/operations.md says how), so they cannot disagree.
//
// Rows are built for refs.<repo>.{create,get,patch,replace,delete,list,
// history,version,diff}, resolve, events.read, ledger.verify, artifacts.put
// and artifacts.get, and for jobs.<name>.start, jobs.status and jobs.cancel
// (handled by a JobService, job_service.h), and, when an IngestService is
// bound, the runtime-only rows events.ingest, events.quarantine.list and
// events.quarantine.readmit (ingest_ops.h, docs/events.md), and, when an
// OrchestratorService is bound, orch.<name>.start|get|cancel and the
// runtime-only orch.runs.list (orch_ops.h, docs/orchestrators.md); without
// one the orch.* operations the compiler declares get no row.
//
// Thread safety: a table is immutable once built; rows and their compiled
// validators may be read, and handlers called, from any number of threads
// (the handlers' store is itself thread-safe).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/auth/principal.h"
#include "src/domain/platform.h"

namespace bver::schema {
class Validator;
}
namespace bver::store {
class Store;
class ArtifactStore;
}  // namespace bver::store

namespace bver::runtime {

class JobService;
class IngestService;
class TriggerService;
class OrchestratorService;
class SubscriptionService;
class KeyService;
class SchemaService;
class MigrationService;

using JsonPtr = std::shared_ptr<const nlohmann::json>;

// One invocation of an operation, as a transport hands it to the broker.
struct OperationRow;

struct Call {
  std::string operation;  // "refs.site.create"
  JsonPtr input;          // the arguments object; null means {}
  auth::Principal principal;
  // Given by the caller (X-Correlation-ID, MCP _meta) or empty: the broker
  // then generates a UUIDv7. Carried into events, ledger entries and logs.
  std::string correlation_id;
  std::string causation_id;  // optional: the event or call that caused this one
  std::string transport;     // "http", "mcp", "cli", "test": for logs and metrics
  // The row of `operation`, when the transport has already found it in the
  // broker's own table (REST finds it by route): the broker then does not
  // look it up again. Null: the broker finds it by `operation`.
  const OperationRow* row = nullptr;
};

// Where an input field comes from in an HTTP request. Path, query and header
// values are text; the transport converts them by the field's type in the
// input schema (integer, boolean; an array field takes the parameter
// repeated). kIfMatchVersion parses an entity tag "\"N\"" (or N) into the
// integer N. A body binding puts the request body (parsed as JSON) into the
// field; `media_types` says for which Content-Types, so PATCH can route
// merge patches and JSON Patches to different fields.
enum class HttpSource { kPath, kQuery, kHeader, kBody };
enum class HttpForm { kValue, kIfMatchVersion };

struct HttpParam {
  std::string field;  // the input field
  HttpSource source = HttpSource::kQuery;
  std::string name;   // path placeholder, query parameter or header name ("" for a body)
  HttpForm form = HttpForm::kValue;
  std::vector<std::string> media_types;  // kBody only: Content-Types that select this field
};

struct HttpBinding {
  std::string method;  // "GET", "POST", "PUT", "PATCH", "DELETE"
  // Path template; "{name}" placeholders are HttpParams with source kPath.
  std::string path;
  std::vector<HttpParam> params;
  int success_status = 200;      // 201 for creates
  std::string etag_field;        // output field whose value is the ETag ("version"), or empty
  std::string location;          // template filled from output fields for the Location header, or empty
  // Streaming routes: the request body is raw bytes, or the response is the
  // raw artifact. The transport streams them itself (ArtifactStore) after
  // Broker::Authorize; the JSON handler serves the generic POST /v1/ops form.
  bool raw_request_body = false;
  bool raw_response_body = false;
};

using Handler = std::function<Result<nlohmann::json>(const Call&)>;

struct OperationRow {
  std::string id;
  domain::OperationKind kind = domain::OperationKind::kRefGet;
  std::string summary;      // one line
  std::string description;  // a paragraph for people and for MCP tool descriptions
  std::string target;       // "ns/repo" for refs.*, empty otherwise
  // Every one of these is required ("admin" implies all).
  std::vector<std::string> scopes;
  // Non-empty: this input field holds a pointer, and the read scope of the
  // pointer's repo is required too (resolve).
  std::string scope_from_pointer;
  bool read_only = false;
  bool destructive = false;
  bool idempotent = false;
  JsonPtr input_schema;   // {"type":"object", ...}
  JsonPtr output_schema;  // {"type":"object", ...}
  std::shared_ptr<const schema::Validator> input_validator;
  // The answer's shape, except reference bodies (checked by the store when
  // written; an old version keeps the shape it was written with).
  std::shared_ptr<const schema::Validator> output_validator;
  HttpBinding http;
  // A create's body check, after input_validator (which checks only that
  // the body is an object): the body with its defaults against the
  // validator the store itself uses for the repo and kind
  // (domain::Repo/Kind::validator), violations at "body.<path>". The
  // handler then tells the store the body is checked: one pass. Null for
  // every other row.
  std::function<std::vector<Violation>(const nlohmann::json& input)> check_body;
  // Runs the operation on input the broker has already validated. Never
  // call it directly: Broker::Invoke checks scopes and schemas first.
  Handler handler;
};

class KeyService;

// Every problem with `input` for `row`: its input schema, then its body
// check. What Broker::Invoke checks before the handler runs.
std::vector<Violation> CheckInput(const OperationRow& row, const nlohmann::json& input);

class OperationTable {
 public:
  // What handlers run against. Any may be null: handlers that need it
  // then answer FailedPrecondition (a table without a store still serves
  // documentation: OpenAPI, MCP tool lists). Both must outlive the table.
  struct Bindings {
    store::Store* store = nullptr;
    store::ArtifactStore* artifacts = nullptr;
    // The job engine; null: the job operations answer FailedPrecondition.
    JobService* jobs = nullptr;
    // The ingestion gate; null: the table has no events.ingest rows.
    IngestService* ingest = nullptr;
    // The trigger processor; null: no triggers.list/triggers.fires rows (trigger_ops.h).
    TriggerService* triggers = nullptr;
    // The orchestrator engine; null: the table has no orch.* rows.
    OrchestratorService* orchestrators = nullptr;
    // Durable consumers; null: no events.consumers.* rows.
    SubscriptionService* subscriptions = nullptr;
    // The API key table; null: no keys.* rows (unless declare_every_row).
    KeyService* keys = nullptr;
    // The event payload schema registry; null: no schemas.* rows.
    SchemaService* schemas = nullptr;
    // The store's domain migration; null: no migrate.* rows.
    MigrationService* migrations = nullptr;
    // Declare every kernel row even without its service (the manifest, the
    // documentation): those rows answer FailedPrecondition when called.
    bool declare_every_row = false;
  };

  // Builds every row and compiles every schema. Internal when a generated
  // schema does not compile (a bug, or a domain schema using $id/$anchor in
  // a way that cannot be embedded; the message names the operation).
  static Result<std::unique_ptr<OperationTable>> Build(std::shared_ptr<const domain::Platform> platform,
                                                       Bindings bindings);
  ~OperationTable();

  const domain::Platform& platform() const { return *platform_; }
  // In the platform's operation order.
  const std::vector<OperationRow>& rows() const { return rows_; }
  const OperationRow* Find(std::string_view id) const;
  // Every scope a row needs, plus the read scope of every repo and "admin", sorted.
  std::vector<std::string> AllScopes() const;

  // Swaps the handler of row `id` (NotFound when absent): lets tests make a
  // handler misbehave, e.g. answer what its output schema forbids.
  Status ReplaceHandlerForTest(std::string_view id, Handler handler);

 private:
  OperationTable() = default;
  std::shared_ptr<const domain::Platform> platform_;
  std::vector<OperationRow> rows_;
  std::map<std::string, std::size_t, std::less<>> index_;  // id -> position in rows_
};

// Largest artifact carried inline (base64) by artifacts.put / artifacts.get;
// bigger ones go through the streaming routes.
inline constexpr std::size_t kMaxInlineArtifactBytes = 4u << 20;

}  // namespace bver::runtime
