#include "src/runtime/broker.h"

#include <cassert>
#include <chrono>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "src/core/clock.h"
#include "src/core/uuid.h"
#include "src/runtime/handlers.h"
#include "src/schema/validator.h"

namespace bver::runtime {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxCorrelationId = 128;

std::string Clip(std::string_view s, std::size_t n = 128) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

bool IsHidden(StatusCode c) {
  return c == StatusCode::kInternal || c == StatusCode::kUnknown || c == StatusCode::kDataLoss ||
         c == StatusCode::kUnavailable;
}

// The default observer: one JSON line on stderr per call whose detail the
// caller did not see, so an operator can find it by correlation id.
void LogHidden(const CallRecord& r) {
  if (r.internal_detail.empty()) return;
  json line = {{"ts", core::FormatTimestamp(std::chrono::duration_cast<std::chrono::microseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count())},
               {"level", "error"},
               {"msg", "operation failed"},
               {"operation", r.operation},
               {"transport", r.transport},
               {"subject", r.subject},
               {"correlation_id", r.correlation_id},
               {"code", std::string(StatusCodeName(r.code))},
               {"detail", r.internal_detail}};
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace

Broker::Broker(std::shared_ptr<const OperationTable> table) : Broker(std::move(table), Options{}) {}

Broker::Broker(std::shared_ptr<const OperationTable> table, Options options)
    : table_(std::move(table)), options_(std::move(options)) {
  if (!options_.observer) options_.observer = LogHidden;
}

void Broker::DefaultObserver(const CallRecord& record) { LogHidden(record); }

Broker::~Broker() = default;

std::string Broker::NewCorrelationId() { return core::NewUuidV7(); }

Status Broker::CheckCorrelationId(std::string_view id) {
  bool ok = !id.empty() && id.size() <= kMaxCorrelationId;
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                c == ':' || c == '-');
  }
  if (ok) return Status::Ok();
  return InvalidArgumentError("invalid correlation id: expected 1-128 characters of A-Z a-z 0-9 . _ : -",
                              {{"correlation_id", "correlation_id", "1-128 characters of A-Z a-z 0-9 . _ : -"}});
}

Status Broker::CheckScopes(const auth::Principal& who, const OperationRow& row) const {
  if (!who.authenticated()) {
    return UnauthenticatedError("operation " + row.id + " needs credentials: an API key or a bearer token");
  }
  for (const std::string& scope : row.scopes) {
    if (!who.HasScope(scope)) return PermissionDeniedError("operation " + row.id + " needs scope " + scope);
  }
  return Status::Ok();
}

Status Broker::Check(const Call& call, const OperationRow& row, const json& input) const {
  const auth::Principal& who = call.principal;
  BVER_RETURN_IF_ERROR(CheckScopes(who, row));
  std::vector<Violation> problems = CheckInput(row, input);
  if (!problems.empty()) {
    const std::string message = "invalid input for " + row.id + ": " + std::to_string(problems.size()) + " problem(s)";
    return InvalidArgumentError(message, std::move(problems));
  }
  if (!row.scope_from_pointer.empty()) {
    auto field = input.find(row.scope_from_pointer);
    if (field == input.end() || !field->is_string()) {
      return InvalidArgumentError("operation " + row.id + " needs a pointer in " + row.scope_from_pointer);
    }
    Result<Pointer> p = Pointer::Parse(field->get_ref<const std::string&>());
    if (!p.ok()) {
      std::vector<Violation> v = p.status().violations();
      for (Violation& x : v) x.path = row.scope_from_pointer + (x.path.empty() ? "" : " (" + x.path + ")");
      return InvalidArgumentError(p.status().message(), v);
    }
    const domain::Repo* repo = table_->platform().FindRepo(p->ns() + "/" + p->repo());
    if (repo == nullptr) {
      return NotFoundError("no repo \"" + p->ns() + "/" + p->repo() + "\" in platform " + table_->platform().id);
    }
    if (!who.HasScope(repo->read_scope)) {
      return PermissionDeniedError("operation " + row.id + " on " + repo->qualified_name() + " needs scope " +
                                   repo->read_scope);
    }
  }
  return Status::Ok();
}

Status Broker::Sanitize(const Status& s, const std::string& correlation_id, std::string* detail) const {
  if (s.ok() || !IsHidden(s.code())) return s;
  *detail = s.ToString();
  if (options_.expose_internal_errors) return s;
  if (s.code() == StatusCode::kUnavailable) {
    return Status(s.code(), "the service is unavailable right now; try again (correlation id " + correlation_id + ")");
  }
  return Status(s.code(), "internal error; the server log has the details (correlation id " + correlation_id + ")");
}

const OperationRow* Broker::RowOf(const Call& call) const {
  if (call.row == nullptr) return table_->Find(call.operation);
  assert(call.row == table_->Find(call.operation) && "Call::row is not this table's row of the operation");
  return call.row;
}

void Broker::Observe(CallRecord record) const { options_.observer(record); }

Status Broker::Authorize(const Call& call) const {
  Status s = [&]() -> Status {
    const OperationRow* row = RowOf(call);
    if (row == nullptr) return NotFoundError("no operation \"" + Clip(call.operation) + "\"");
    if (!call.correlation_id.empty()) BVER_RETURN_IF_ERROR(CheckCorrelationId(call.correlation_id));
    if (call.input) {
      if (!call.input->is_object()) return InvalidArgumentError("the input of " + row->id + " must be a JSON object");
      return Check(call, *row, *call.input);
    }
    // Streaming routes carry no JSON input: the scopes alone decide.
    if (!row->scope_from_pointer.empty()) {
      return InvalidArgumentError("operation " + row->id + " needs its input to be authorized");
    }
    return CheckScopes(call.principal, *row);
  }();
  if (!s.ok()) {
    std::string id = CheckCorrelationId(call.correlation_id).ok() ? call.correlation_id : "";
    Observe({call.operation, call.transport, call.principal.subject, id, s.code(), 0, ""});
  }
  return s;
}

Result<json> Broker::Invoke(const Call& call_in) const {
  const auto start = std::chrono::steady_clock::now();
  // Fill in what the caller left out, copying the call only then.
  std::optional<Call> filled;
  if (call_in.correlation_id.empty() || !call_in.input) {
    filled = call_in;
    if (filled->correlation_id.empty()) filled->correlation_id = NewCorrelationId();
    if (!filled->input) filled->input = std::make_shared<const json>(json::object());
  }
  const Call& call = filled ? *filled : call_in;
  CallRecord record{call.operation, call.transport, call.principal.subject, call.correlation_id, StatusCode::kOk, 0,
                    ""};
  auto finish = [&](Result<json> r) -> Result<json> {
    Status s = Sanitize(r.status(), call.correlation_id, &record.internal_detail);
    record.code = s.code();
    record.duration_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    Observe(std::move(record));
    if (!s.ok()) return s;
    return r;
  };

  const OperationRow* row = RowOf(call);
  if (row == nullptr) return finish(NotFoundError("no operation \"" + Clip(call.operation) + "\""));
  if (!call_in.correlation_id.empty()) {
    Status s = CheckCorrelationId(call.correlation_id);
    if (!s.ok()) {
      // Never echo or record the malformed id.
      record.correlation_id.clear();
      return finish(s);
    }
  }
  const json& input = *call.input;
  if (!input.is_object()) return finish(InvalidArgumentError("the input of " + row->id + " must be a JSON object"));
  Status checked = Check(call, *row, input);
  if (!checked.ok()) return finish(checked);

  Result<json> out = InternalError("no answer");
  try {
    out = row->handler(call);
  } catch (const std::exception& e) {
    out = InternalError(std::string("handler of ") + row->id + " threw: " + e.what());
  }
  if (!out.ok()) return finish(out);
  Status valid = row->output_validator->Validate(*out);
  if (!valid.ok()) {
    return finish(InternalError("output of " + row->id + " does not match its schema: " + valid.ToString()));
  }
  return finish(std::move(out));
}

}  // namespace bver::runtime
