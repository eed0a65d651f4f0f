#include "src/store/postgres/postgres_backend.h"

#include <libpq-fe.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/store/group_commit.h"
#include "src/store/postgres/pg_dump.h"

namespace bver::store::postgres {
namespace {

// Serializes writers; any constant unique to BVER would do.
constexpr const char* kWriterLock = "SELECT pg_advisory_xact_lock(7206283546)";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS bver_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heads (
  ns TEXT NOT NULL, repo TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL, kind TEXT NOT NULL, deleted BOOLEAN NOT NULL,
  PRIMARY KEY (ns, repo, id));
CREATE TABLE IF NOT EXISTS versions (
  ns TEXT NOT NULL, repo TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL,
  kind TEXT NOT NULL, change TEXT NOT NULL, deleted BOOLEAN NOT NULL,
  created_at_us BIGINT NOT NULL, committed_at_us BIGINT NOT NULL,
  body JSONB NOT NULL, diff TEXT NOT NULL, provenance TEXT NOT NULL,
  actor TEXT NOT NULL, correlation_id TEXT NOT NULL, event_offset BIGINT NOT NULL,
  PRIMARY KEY (ns, repo, id, version));
CREATE INDEX IF NOT EXISTS versions_by_time ON versions (ns, repo, id, committed_at_us);
CREATE TABLE IF NOT EXISTS events (
  "offset" BIGINT PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, envelope TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (seq BIGINT PRIMARY KEY, entry TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY, request_digest TEXT NOT NULL, ns TEXT NOT NULL, repo TEXT NOT NULL,
  id TEXT NOT NULL, version BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
  target TEXT PRIMARY KEY, holder TEXT NOT NULL, acquired_at_us BIGINT NOT NULL,
  expires_at_us BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS edges (
  from_ref TEXT NOT NULL, path TEXT NOT NULL, to_ref TEXT NOT NULL, PRIMARY KEY (from_ref, path));
CREATE INDEX IF NOT EXISTS edges_to ON edges (to_ref);
CREATE TABLE IF NOT EXISTS link_revs (
  target TEXT NOT NULL, from_repo TEXT NOT NULL, rev BIGINT NOT NULL, PRIMARY KEY (target, from_repo));
CREATE TABLE IF NOT EXISTS artifacts (digest TEXT PRIMARY KEY, size BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL,
  created_at_us BIGINT NOT NULL, revoked_at_us BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  kind TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, value TEXT NOT NULL, updated_at_us BIGINT NOT NULL,
  PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT COLLATE "C" PRIMARY KEY, job TEXT NOT NULL, capability TEXT NOT NULL, state TEXT NOT NULL,
  input TEXT NOT NULL, labels TEXT NOT NULL, result TEXT NOT NULL, worker TEXT NOT NULL,
  correlation_id TEXT NOT NULL, actor TEXT NOT NULL, extra TEXT NOT NULL,
  attempts BIGINT NOT NULL, max_attempts BIGINT NOT NULL, created_at_us BIGINT NOT NULL,
  updated_at_us BIGINT NOT NULL, run_after_us BIGINT NOT NULL, lease_expires_at_us BIGINT NOT NULL,
  cancel_requested BOOLEAN NOT NULL);
DROP INDEX IF EXISTS jobs_ready;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, run_after_us, id);
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (state, lease_expires_at_us);
INSERT INTO bver_meta (key, value) VALUES ('store_format', '1') ON CONFLICT DO NOTHING;
)sql";

// Reads never need the stored diff (see the SQLite backend).
constexpr const char* kVersionColumns =
    "v.ns, v.repo, v.id, v.version, v.kind, v.change, v.deleted, v.created_at_us, "
    "v.committed_at_us, v.body::text, '' AS diff, v.provenance, v.actor, v.correlation_id, v.event_offset";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, ConnDeleter>;

Status PgError(PGconn* c, const PGresult* r, const std::string& what) {
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string full = "postgresql: " + what + ": " + msg;
  if (PQstatus(c) != CONNECTION_OK) return UnavailableError(full);
  if (state && std::string(state).rfind("40", 0) == 0) return AbortedError(full);  // serialization/deadlock
  if (state && std::string(state).rfind("08", 0) == 0) return UnavailableError(full);
  return InternalError(full);
}

// Runs a statement with text parameters.
Result<PgResult> Exec(PGconn* c, const std::string& sql, const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  PgResult r(params.empty() ? PQexec(c, sql.c_str())
                            : PQexecParams(c, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                           values.data(), nullptr, nullptr, 0));
  ExecStatusType st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return PgError(c, r.get(), "query");
  return r;
}

std::string S(std::uint64_t v) { return std::to_string(v); }
std::string S(std::int64_t v) { return std::to_string(v); }
std::string B(bool v) { return v ? "true" : "false"; }

std::string Get(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}
std::int64_t GetInt(const PGresult* r, int row, int col) { return std::stoll(Get(r, row, col)); }
bool GetBool(const PGresult* r, int row, int col) { return Get(r, row, col) == "t"; }

ChangeType ParseChange(const std::string& s) {
  if (s == "patched") return ChangeType::kPatched;
  if (s == "replaced") return ChangeType::kReplaced;
  if (s == "deleted") return ChangeType::kDeleted;
  if (s == "migrated") return ChangeType::kMigrated;
  return ChangeType::kCreated;
}

std::vector<VersionRow> ReadVersions(const PGresult* r) {
  std::vector<VersionRow> out;
  for (int i = 0; i < PQntuples(r); ++i) {
    VersionRow v;
    v.ns = Get(r, i, 0);
    v.repo = Get(r, i, 1);
    v.id = Get(r, i, 2);
    v.version = static_cast<std::uint64_t>(GetInt(r, i, 3));
    v.kind = Get(r, i, 4);
    v.change = ParseChange(Get(r, i, 5));
    v.deleted = GetBool(r, i, 6);
    v.created_at_us = GetInt(r, i, 7);
    v.committed_at_us = GetInt(r, i, 8);
    v.body = Get(r, i, 9);
    v.diff = Get(r, i, 10);
    v.provenance = Get(r, i, 11);
    v.actor = Get(r, i, 12);
    v.correlation_id = Get(r, i, 13);
    v.event_offset = static_cast<std::uint64_t>(GetInt(r, i, 14));
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::optional<VersionRow>> One(Result<PgResult> r) {
  if (!r.ok()) return r.status();
  std::vector<VersionRow> rows = ReadVersions(r->get());
  if (rows.empty()) return std::optional<VersionRow>();
  return std::optional<VersionRow>(std::move(rows.front()));
}

// The head is the highest version: one index seek, no join.
const std::string kHeadSql = std::string("SELECT ") + kVersionColumns +
                             " FROM versions v WHERE v.ns = $1 AND v.repo = $2 AND v.id = $3 "
                             "ORDER BY v.version DESC LIMIT 1";

Result<std::optional<VersionRow>> HeadOf(PGconn* c, const std::string& ns, const std::string& repo,
                                         const std::string& id) {
  return One(Exec(c, kHeadSql, {ns, repo, id}));
}

Result<std::optional<Lease>> LeaseOf(PGconn* c, const std::string& target) {
  BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c, "SELECT holder, acquired_at_us, expires_at_us FROM leases WHERE target = $1", {target}));
  if (PQntuples(r.get()) == 0) return std::optional<Lease>();
  Lease l;
  l.holder = Get(r.get(), 0, 0);
  l.acquired_at_us = GetInt(r.get(), 0, 1);
  l.expires_at_us = GetInt(r.get(), 0, 2);
  Result<Pointer> p = Pointer::Parse("bver://" + target);
  if (p.ok()) l.target = *p;
  return std::optional<Lease>(l);
}

Result<bool> ArtifactKnown(PGconn* c, const std::string& digest) {
  BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c, "SELECT 1 FROM artifacts WHERE digest = $1", {digest}));
  return PQntuples(r.get()) > 0;
}

constexpr const char* kApiKeyColumns = "id, name, scopes, secret_hash, created_at_us, revoked_at_us";

std::vector<ApiKeyRow> ReadApiKeys(const PGresult* r) {
  std::vector<ApiKeyRow> out;
  for (int i = 0; i < PQntuples(r); ++i) {
    out.push_back(ApiKeyRow{Get(r, i, 0), Get(r, i, 1), Get(r, i, 2), Get(r, i, 3), GetInt(r, i, 4), GetInt(r, i, 5)});
  }
  return out;
}

Result<std::optional<ApiKeyRow>> ApiKeyOf(PGconn* c, const std::string& id) {
  BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c, std::string("SELECT ") + kApiKeyColumns + " FROM api_keys WHERE id = $1", {id}));
  std::vector<ApiKeyRow> rows = ReadApiKeys(r.get());
  if (rows.empty()) return std::optional<ApiKeyRow>();
  return std::optional<ApiKeyRow>(std::move(rows.front()));
}

Result<std::optional<RecordRow>> RecordOf(PGconn* c, const std::string& kind, const std::string& key) {
  BVER_ASSIGN_OR_RETURN(PgResult r,
                        Exec(c, "SELECT value, updated_at_us FROM records WHERE kind = $1 AND key = $2", {kind, key}));
  if (PQntuples(r.get()) == 0) return std::optional<RecordRow>();
  return std::optional<RecordRow>(RecordRow{kind, key, Get(r.get(), 0, 0), GetInt(r.get(), 0, 1)});
}

constexpr const char* kJobColumns =
    "id, job, capability, state, input, labels, result, worker, correlation_id, actor, extra, attempts, "
    "max_attempts, created_at_us, updated_at_us, run_after_us, lease_expires_at_us, cancel_requested";

std::vector<JobRow> ReadJobs(const PGresult* r) {
  std::vector<JobRow> out;
  for (int i = 0; i < PQntuples(r); ++i) {
    JobRow j;
    j.id = Get(r, i, 0);
    j.job = Get(r, i, 1);
    j.capability = Get(r, i, 2);
    j.state = Get(r, i, 3);
    j.input = Get(r, i, 4);
    j.labels = Get(r, i, 5);
    j.result = Get(r, i, 6);
    j.worker = Get(r, i, 7);
    j.correlation_id = Get(r, i, 8);
    j.actor = Get(r, i, 9);
    j.extra = Get(r, i, 10);
    j.attempts = GetInt(r, i, 11);
    j.max_attempts = GetInt(r, i, 12);
    j.created_at_us = GetInt(r, i, 13);
    j.updated_at_us = GetInt(r, i, 14);
    j.run_after_us = GetInt(r, i, 15);
    j.lease_expires_at_us = GetInt(r, i, 16);
    j.cancel_requested = GetBool(r, i, 17);
    out.push_back(std::move(j));
  }
  return out;
}

Result<std::optional<JobRow>> JobOf(PGconn* c, const std::string& id, bool for_update = false) {
  BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1" +
                                                (for_update ? " FOR UPDATE" : ""),
                                         {id}));
  std::vector<JobRow> rows = ReadJobs(r.get());
  if (rows.empty()) return std::optional<JobRow>();
  return std::optional<JobRow>(std::move(rows.front()));
}

Status WriteJob(PGconn* c, const JobRow& j) {
  return Exec(c,
              "INSERT INTO jobs VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
              "$18) ON CONFLICT (id) DO UPDATE SET job = excluded.job, capability = excluded.capability, "
              "state = excluded.state, input = excluded.input, labels = excluded.labels, result = excluded.result, "
              "worker = excluded.worker, correlation_id = excluded.correlation_id, actor = excluded.actor, "
              "extra = excluded.extra, attempts = excluded.attempts, max_attempts = excluded.max_attempts, "
              "created_at_us = excluded.created_at_us, updated_at_us = excluded.updated_at_us, "
              "run_after_us = excluded.run_after_us, lease_expires_at_us = excluded.lease_expires_at_us, "
              "cancel_requested = excluded.cancel_requested",
              {j.id, j.job, j.capability, j.state, j.input, j.labels, j.result, j.worker, j.correlation_id, j.actor,
               j.extra, S(j.attempts), S(j.max_attempts), S(j.created_at_us), S(j.updated_at_us), S(j.run_after_us),
               S(j.lease_expires_at_us), B(j.cancel_requested)})
      .status();
}

class PgTxn : public Txn {
 public:
  explicit PgTxn(PGconn* c) : c_(c) {}

  Result<std::optional<VersionRow>> GetHead(const std::string& ns, const std::string& repo,
                                            const std::string& id) override {
    return HeadOf(c_, ns, repo, id);
  }

  Status PutVersion(const VersionRow& r) override {
    BVER_RETURN_IF_ERROR(Exec(c_,
                              "INSERT INTO versions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                              "$13, $14, $15)",
                              {r.ns, r.repo, r.id, S(r.version), r.kind, ChangeTypeName(r.change), B(r.deleted),
                               S(r.created_at_us), S(r.committed_at_us), r.body, r.diff, r.provenance, r.actor,
                               r.correlation_id, S(r.event_offset)})
                             .status());
    return Exec(c_,
                "INSERT INTO heads VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ns, repo, id) DO UPDATE SET "
                "version = excluded.version, kind = excluded.kind, deleted = excluded.deleted",
                {r.ns, r.repo, r.id, S(r.version), r.kind, B(r.deleted)})
        .status();
  }

  Result<std::uint64_t> NextEventOffset() override {
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c_, "SELECT COALESCE(MAX(\"offset\"), 0) + 1 FROM events"));
    return static_cast<std::uint64_t>(GetInt(r.get(), 0, 0));
  }

  Status AppendEvent(std::uint64_t offset, const std::string& event_id, const std::string& envelope) override {
    return Exec(c_, "INSERT INTO events VALUES ($1, $2, $3)", {S(offset), event_id, envelope}).status();
  }

  Result<std::optional<LedgerRow>> LastLedger() override {
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c_, "SELECT seq, entry, hash FROM ledger ORDER BY seq DESC LIMIT 1"));
    if (PQntuples(r.get()) == 0) return std::optional<LedgerRow>();
    return std::optional<LedgerRow>(
        LedgerRow{static_cast<std::uint64_t>(GetInt(r.get(), 0, 0)), Get(r.get(), 0, 1), Get(r.get(), 0, 2)});
  }

  Status AppendLedger(const LedgerRow& r) override {
    return Exec(c_, "INSERT INTO ledger VALUES ($1, $2, $3)", {S(r.seq), r.entry, r.hash}).status();
  }

  Status ReplaceEdges(const std::string& from, const std::vector<EdgeRow>& edges) override {
    BVER_RETURN_IF_ERROR(Exec(c_, "DELETE FROM edges WHERE from_ref = $1", {from}).status());
    for (const EdgeRow& e : edges) {
      BVER_RETURN_IF_ERROR(Exec(c_,
                                "INSERT INTO edges VALUES ($1, $2, $3) ON CONFLICT (from_ref, path) DO UPDATE "
                                "SET to_ref = excluded.to_ref",
                                {e.from, e.path, e.to})
                               .status());
    }
    return Status::Ok();
  }

  Status BumpLinkRev(const std::string& target, const std::string& from_repo, std::uint64_t by) override {
    return Exec(c_,
                "INSERT INTO link_revs VALUES ($1, $2, $3) ON CONFLICT (target, from_repo) "
                "DO UPDATE SET rev = link_revs.rev + excluded.rev",
                {target, from_repo, std::to_string(by)})
        .status();
  }

  Result<std::optional<IdempotencyRow>> GetIdempotency(const std::string& key) override {
    BVER_ASSIGN_OR_RETURN(PgResult r,
                          Exec(c_, "SELECT request_digest, ns, repo, id, version FROM idempotency WHERE key = $1", {key}));
    if (PQntuples(r.get()) == 0) return std::optional<IdempotencyRow>();
    return std::optional<IdempotencyRow>(IdempotencyRow{key, Get(r.get(), 0, 0), Get(r.get(), 0, 1), Get(r.get(), 0, 2),
                                                        Get(r.get(), 0, 3),
                                                        static_cast<std::uint64_t>(GetInt(r.get(), 0, 4))});
  }

  Status PutIdempotency(const IdempotencyRow& r) override {
    return Exec(c_, "INSERT INTO idempotency VALUES ($1, $2, $3, $4, $5, $6)",
                {r.key, r.request_digest, r.ns, r.repo, r.id, S(r.version)})
        .status();
  }

  Result<std::optional<Lease>> GetLease(const std::string& target) override { return LeaseOf(c_, target); }

  Status PutLease(const std::string& target, const Lease& l) override {
    return Exec(c_,
                "INSERT INTO leases VALUES ($1, $2, $3, $4) ON CONFLICT (target) DO UPDATE SET holder = "
                "excluded.holder, acquired_at_us = excluded.acquired_at_us, expires_at_us = excluded.expires_at_us",
                {target, l.holder, S(l.acquired_at_us), S(l.expires_at_us)})
        .status();
  }

  Status DeleteLease(const std::string& target) override {
    return Exec(c_, "DELETE FROM leases WHERE target = $1", {target}).status();
  }

  Result<bool> HasArtifact(const std::string& digest) override { return ArtifactKnown(c_, digest); }

  Status PutArtifact(const std::string& digest, std::uint64_t size) override {
    return Exec(c_, "INSERT INTO artifacts VALUES ($1, $2) ON CONFLICT DO NOTHING", {digest, S(size)}).status();
  }

  Status PutApiKey(const ApiKeyRow& r) override {
    // Writers hold the advisory lock, so the check and the insert cannot race.
    BVER_ASSIGN_OR_RETURN(std::optional<ApiKeyRow> existing, ApiKeyOf(c_, r.id));
    if (existing) return AlreadyExistsError("an API key with id \"" + r.id + "\" already exists");
    return Exec(c_, "INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, $6)",
                {r.id, r.name, r.scopes, r.secret_hash, S(r.created_at_us), S(r.revoked_at_us)})
        .status();
  }

  Result<bool> RevokeApiKey(const std::string& id, std::int64_t at_us) override {
    BVER_ASSIGN_OR_RETURN(std::optional<ApiKeyRow> existing, ApiKeyOf(c_, id));
    if (!existing) return false;
    if (existing->revoked_at_us != 0) return true;
    BVER_RETURN_IF_ERROR(Exec(c_, "UPDATE api_keys SET revoked_at_us = $2 WHERE id = $1", {id, S(at_us)}).status());
    return true;
  }

  Result<std::optional<RecordRow>> GetRecord(const std::string& kind, const std::string& key) override {
    return RecordOf(c_, kind, key);
  }

  Status PutRecord(const RecordRow& r) override {
    return Exec(c_,
                "INSERT INTO records VALUES ($1, $2, $3, $4) ON CONFLICT (kind, key) DO UPDATE SET value = "
                "excluded.value, updated_at_us = excluded.updated_at_us",
                {r.kind, r.key, r.value, S(r.updated_at_us)})
        .status();
  }

  Result<bool> DeleteRecord(const std::string& kind, const std::string& key) override {
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c_, "DELETE FROM records WHERE kind = $1 AND key = $2", {kind, key}));
    return std::string(PQcmdTuples(r.get())) != "0";
  }

  // FOR UPDATE: a claimer's short transaction (ClaimJob) does not hold the
  // writers' lock, so the row lock is what orders it against this writer.
  Result<std::optional<JobRow>> GetJob(const std::string& id) override { return JobOf(c_, id, true); }
  Status PutJob(const JobRow& row) override { return WriteJob(c_, row); }

 private:
  PGconn* c_;
};

// The SQL for one pushed filter (Backend::ListHeads states the semantics);
// its parameters are appended to `params`.
std::string FilterSql(const Filter& f, std::vector<std::string>& params) {
  std::string array = "{";
  for (std::size_t i = 0; i < f.path.segments().size(); ++i) {
    const PathSegment& s = f.path.segments()[i];
    array += (i ? ",\"" : "\"") + (s.is_key() ? s.key() : std::to_string(s.index())) + "\"";
  }
  array += "}";
  params.push_back(array);
  std::string p = "$" + std::to_string(params.size()) + "::text[]";
  std::string at = "(j.b #> " + p + ")";
  std::string type = "jsonb_typeof" + at;
  if (f.op == FilterOp::kExists) return at + " IS NOT NULL";
  if (f.op == FilterOp::kNotExists) return at + " IS NULL";
  const nlohmann::json& v = *f.value;
  std::string eq, cond, lhs, x;
  if (v.is_number()) {
    params.push_back(v.dump());
    x = "$" + std::to_string(params.size()) + "::numeric";
    cond = type + " = 'number'";
    lhs = "(CASE WHEN " + cond + " THEN (j.b #>> " + p + ")::numeric END)";
  } else if (v.is_string()) {
    params.push_back(v.get<std::string>());
    x = "$" + std::to_string(params.size()) + "::text COLLATE \"C\"";
    cond = type + " = 'string'";
    lhs = "(j.b #>> " + p + ") COLLATE \"C\"";
  }
  if (x.empty()) {
    eq = v.is_null() ? "(" + type + " = 'null')" : "(" + at + " = '" + (v.get<bool>() ? "true" : "false") + "'::jsonb)";
  } else {
    eq = "(" + cond + " AND " + lhs + " = " + x + ")";
  }
  switch (f.op) {
    case FilterOp::kEq: return eq;
    case FilterOp::kNe: return "(" + at + " IS NOT NULL AND NOT " + eq + ")";
    default: break;
  }
  // Booleans and null have no order; the path is still referenced, since
  // PostgreSQL rejects a parameter the statement does not use.
  if (x.empty()) return "(" + at + " IS NOT NULL AND false)";
  const char* op = f.op == FilterOp::kLt ? " < " : f.op == FilterOp::kLe ? " <= " : f.op == FilterOp::kGt ? " > " : " >= ";
  return "(" + cond + " AND " + lhs + op + x + ")";
}

class PostgresBackend : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> Open(const PostgresOptions& o) {
    auto b = std::unique_ptr<PostgresBackend>(new PostgresBackend());
    for (int i = 0; i < std::max(1, o.connections); ++i) {
      PgConn c(PQconnectdb(o.url.c_str()));
      if (PQstatus(c.get()) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(c.get());
        while (!msg.empty() && msg.back() == '\n') msg.pop_back();
        return UnavailableError("cannot connect to PostgreSQL: " + msg);
      }
      // Server notices ("relation already exists, skipping") are not errors and
      // must not reach the user's terminal.
      PQsetNoticeProcessor(c.get(), [](void*, const char*) {}, nullptr);
      b->pool_.push_back(std::move(c));
    }
    b->url_ = o.url;
    PGconn* c = b->pool_.front().get();
    // Concurrent first starts must not race on CREATE TABLE.
    BVER_RETURN_IF_ERROR(Exec(c, "BEGIN").status());
    BVER_RETURN_IF_ERROR(Exec(c, kWriterLock).status());
    Status s = Exec(c, kSchema).status();
    Status end = Exec(c, s.ok() ? "COMMIT" : "ROLLBACK").status();
    BVER_RETURN_IF_ERROR(s);
    BVER_RETURN_IF_ERROR(end);
    return std::unique_ptr<Backend>(std::move(b));
  }

  std::string Name() const override { return "postgresql"; }

  // pg_dump: one consistent snapshot of the database while writers go on.
  Status SnapshotTo(const std::string& path) override { return DumpDatabase(url_, path); }

  // Group commit (group_commit.h): every queued write in one transaction,
  // a savepoint each, so the writers' lock (which keeps event offsets
  // gap-free across processes) is taken once per batch, not once per write.
  Status DoWriteTxn(const std::function<Status(Txn&)>& fn) override { return group_.Submit(fn); }

  Result<std::optional<VersionRow>> GetHead(const std::string& ns, const std::string& repo,
                                            const std::string& id) override {
    Borrow c(this);
    return HeadOf(c.get(), ns, repo, id);
  }

  Result<std::optional<VersionRow>> GetVersion(const std::string& ns, const std::string& repo,
                                               const std::string& id, std::uint64_t version) override {
    Borrow c(this);
    return One(Exec(c.get(),
                    std::string("SELECT ") + kVersionColumns +
                        " FROM versions v WHERE ns = $1 AND repo = $2 AND id = $3 AND version = $4",
                    {ns, repo, id, S(version)}));
  }

  Result<std::optional<VersionRow>> GetAsOf(const std::string& ns, const std::string& repo,
                                            const std::string& id, std::int64_t at_us) override {
    Borrow c(this);
    return One(Exec(c.get(),
                    std::string("SELECT ") + kVersionColumns +
                        " FROM versions v WHERE ns = $1 AND repo = $2 AND id = $3 AND committed_at_us <= $4 "
                        "ORDER BY version DESC LIMIT 1",
                    {ns, repo, id, S(at_us)}));
  }

  Result<std::vector<VersionRow>> History(const std::string& ns, const std::string& repo,
                                          const std::string& id) override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(),
                                           std::string("SELECT ") + kVersionColumns +
                                               " FROM versions v WHERE ns = $1 AND repo = $2 AND id = $3 ORDER BY version",
                                           {ns, repo, id}));
    return ReadVersions(r.get());
  }

  Result<std::vector<VersionRow>> ListHeads(const std::string& ns, const std::string& repo,
                                            const std::string& kind, const std::string& after_id,
                                            std::size_t limit, bool include_deleted,
                                            const std::vector<Filter>& filters) override {
    std::vector<std::string> params = {ns, repo, after_id, kind, B(include_deleted),
                                       S(static_cast<std::uint64_t>(limit))};
    std::string sql = std::string("SELECT ") + kVersionColumns +
                      " FROM heads h JOIN versions v ON v.ns = h.ns AND v.repo = h.repo AND v.id = h.id AND "
                      "v.version = h.version CROSS JOIN LATERAL (SELECT v.body AS b) j "
                      "WHERE h.ns = $1 AND h.repo = $2 AND h.id COLLATE \"C\" > $3 AND "
                      "($4 = '' OR h.kind = $4) AND ($5 OR NOT h.deleted)";
    for (const Filter& f : filters) sql += " AND " + FilterSql(f, params);
    sql += " ORDER BY h.id COLLATE \"C\" LIMIT $6";
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(), sql, params));
    return ReadVersions(r.get());
  }

  Result<std::vector<Event>> ReadEvents(std::uint64_t from, std::size_t limit) override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(),
                                           "SELECT \"offset\", envelope FROM events WHERE \"offset\" >= $1 ORDER BY "
                                           "\"offset\" LIMIT $2",
                                           {S(from), S(static_cast<std::uint64_t>(limit))}));
    std::vector<Event> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      Event e;
      e.offset = static_cast<std::uint64_t>(GetInt(r.get(), i, 0));
      nlohmann::json env = nlohmann::json::parse(Get(r.get(), i, 1), nullptr, false);
      if (env.is_discarded()) return DataLossError("event " + std::to_string(e.offset) + " is not valid JSON");
      e.envelope = std::make_shared<const nlohmann::json>(std::move(env));
      out.push_back(std::move(e));
    }
    return out;
  }

  Result<std::uint64_t> LastEventOffset() override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(), "SELECT coalesce(max(\"offset\"), 0) FROM events", {}));
    return static_cast<std::uint64_t>(GetInt(r.get(), 0, 0));
  }

  Result<std::vector<LedgerRow>> ReadLedger(std::uint64_t from_seq, std::size_t limit) override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(), "SELECT seq, entry, hash FROM ledger WHERE seq >= $1 ORDER BY seq LIMIT $2",
                                           {S(from_seq), S(static_cast<std::uint64_t>(limit))}));
    std::vector<LedgerRow> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back({static_cast<std::uint64_t>(GetInt(r.get(), i, 0)), Get(r.get(), i, 1), Get(r.get(), i, 2)});
    }
    return out;
  }

  Result<std::optional<Lease>> GetLease(const std::string& target) override {
    Borrow c(this);
    return LeaseOf(c.get(), target);
  }

  Result<bool> HasArtifact(const std::string& digest) override {
    Borrow c(this);
    return ArtifactKnown(c.get(), digest);
  }

  Result<std::vector<EdgeRow>> EdgesTo(const std::string& to) override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(),
                                           "SELECT from_ref, path, to_ref FROM edges WHERE to_ref = $1 ORDER BY from_ref "
                                           "COLLATE \"C\", path COLLATE \"C\"",
                                           {to}));
    std::vector<EdgeRow> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back({Get(r.get(), i, 0), Get(r.get(), i, 1), Get(r.get(), i, 2)});
    return out;
  }

  Result<std::map<std::string, std::uint64_t>> LinkRevs(const std::string& target) override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(), "SELECT from_repo, rev FROM link_revs WHERE target = $1", {target}));
    std::map<std::string, std::uint64_t> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out[Get(r.get(), i, 0)] = std::stoull(Get(r.get(), i, 1));
    return out;
  }

  Result<std::optional<ApiKeyRow>> GetApiKey(const std::string& id) override {
    Borrow c(this);
    return ApiKeyOf(c.get(), id);
  }

  Result<std::vector<ApiKeyRow>> ListApiKeys() override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(), std::string("SELECT ") + kApiKeyColumns +
                                                        " FROM api_keys ORDER BY id COLLATE \"C\""));
    return ReadApiKeys(r.get());
  }

  Result<std::optional<RecordRow>> GetRecord(const std::string& kind, const std::string& key) override {
    Borrow c(this);
    return RecordOf(c.get(), kind, key);
  }

  Result<std::vector<RecordRow>> ListRecords(const std::string& kind, const std::string& after_key,
                                             std::size_t limit) override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(),
                                           "SELECT key, value, updated_at_us FROM records WHERE kind = $1 AND key > $2 "
                                           "ORDER BY key LIMIT $3",
                                           {kind, after_key, S(static_cast<std::uint64_t>(limit))}));
    std::vector<RecordRow> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back({kind, Get(r.get(), i, 0), Get(r.get(), i, 1), GetInt(r.get(), i, 2)});
    }
    return out;
  }

  Result<std::optional<JobRow>> GetJob(const std::string& id) override {
    Borrow c(this);
    return JobOf(c.get(), id);
  }

  Result<std::vector<JobRow>> ListJobs(const std::string& state, const std::string& after_id,
                                       std::size_t limit) override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(),
                                           std::string("SELECT ") + kJobColumns +
                                               " FROM jobs WHERE ($1 = '' OR state = $1) AND id > $2 ORDER BY id "
                                               "LIMIT $3",
                                           {state, after_id, S(static_cast<std::uint64_t>(limit))}));
    return ReadJobs(r.get());
  }

  // A short transaction of its own, without the writers' lock: claimers on
  // many connections and processes skip each other's locked rows.
  Result<std::optional<JobRow>> ClaimJob(const std::string& worker, const std::string& worker_labels,
                                         std::int64_t now_us, std::int64_t lease_until_us) override {
    Borrow c(this);
    BVER_RETURN_IF_ERROR(Exec(c.get(), "BEGIN").status());
    Result<std::optional<JobRow>> claimed = [&]() -> Result<std::optional<JobRow>> {
      // Expired running jobs first (their worker died), then due queued
      // ones, oldest first: two queries, each in its own index's order.
      BVER_ASSIGN_OR_RETURN(PgResult expired, Exec(c.get(),
                                                   std::string("SELECT ") + kJobColumns +
                                                       " FROM jobs WHERE state = 'running' AND "
                                                       "lease_expires_at_us < $1 ORDER BY lease_expires_at_us "
                                                       "LIMIT 16 FOR UPDATE SKIP LOCKED",
                                                   {S(now_us)}));
      BVER_ASSIGN_OR_RETURN(PgResult due, Exec(c.get(),
                                               std::string("SELECT ") + kJobColumns +
                                                   " FROM jobs WHERE state = 'queued' AND run_after_us <= $1 "
                                                   "ORDER BY run_after_us, id LIMIT 64 FOR UPDATE SKIP LOCKED",
                                               {S(now_us)}));
      std::vector<JobRow> candidates = ReadJobs(expired.get());
      for (JobRow& j : ReadJobs(due.get())) candidates.push_back(std::move(j));
      for (JobRow& j : candidates) {
        if (!LabelsMatch(j.labels, worker_labels)) continue;
        j.state = "running";
        j.worker = worker;
        j.attempts += 1;
        j.lease_expires_at_us = lease_until_us;
        j.updated_at_us = now_us;
        BVER_RETURN_IF_ERROR(Exec(c.get(),
                                  "UPDATE jobs SET state = $2, worker = $3, attempts = $4, lease_expires_at_us = $5, "
                                  "updated_at_us = $6 WHERE id = $1",
                                  {j.id, j.state, j.worker, S(j.attempts), S(j.lease_expires_at_us), S(j.updated_at_us)})
                                 .status());
        return std::optional<JobRow>(std::move(j));
      }
      return std::optional<JobRow>();
    }();
    if (!claimed.ok()) {
      Exec(c.get(), "ROLLBACK").status().ok();
      return claimed.status();
    }
    BVER_RETURN_IF_ERROR(Exec(c.get(), "COMMIT").status());
    return claimed;
  }

  Result<bool> RenewJobLease(const std::string& id, const std::string& worker, std::int64_t lease_until_us) override {
    Borrow c(this);
    BVER_ASSIGN_OR_RETURN(PgResult r, Exec(c.get(),
                                           "UPDATE jobs SET lease_expires_at_us = $3 WHERE id = $1 AND worker = $2 AND "
                                           "state = 'running'",
                                           {id, worker, S(lease_until_us)}));
    return std::string(PQcmdTuples(r.get())) != "0";
  }

 private:
  // Borrows a pooled connection for one call; resets it if it broke.
  class Borrow {
   public:
    explicit Borrow(PostgresBackend* b) : b_(b) {
      std::unique_lock<std::mutex> l(b_->mu_);
      b_->cv_.wait(l, [&] { return !b_->pool_.empty(); });
      c_ = std::move(b_->pool_.back());
      b_->pool_.pop_back();
      if (PQstatus(c_.get()) != CONNECTION_OK) PQreset(c_.get());
    }
    ~Borrow() {
      {
        std::lock_guard<std::mutex> l(b_->mu_);
        b_->pool_.push_back(std::move(c_));
      }
      b_->cv_.notify_one();
    }
    PGconn* get() { return c_.get(); }

   private:
    PostgresBackend* b_;
    PgConn c_;
  };

  static constexpr std::size_t kMaxBatch = 128;
  using Request = GroupCommit::Request;

  void RunBatch(const std::vector<Request*>& batch) {
    Borrow c(this);
    auto fail_all = [&](const Status& s) {
      for (Request* r : batch) r->status = s;
    };
    if (Status s = Exec(c.get(), "BEGIN").status(); !s.ok()) return fail_all(s);
    if (Status s = Exec(c.get(), kWriterLock).status(); !s.ok()) {
      Exec(c.get(), "ROLLBACK").status().ok();
      return fail_all(s);
    }
    std::vector<Status> results(batch.size());
    PgTxn txn(c.get());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Status s = batch.size() == 1 ? Status::Ok() : Exec(c.get(), "SAVEPOINT w").status();
      if (s.ok()) {
        try {
          s = (*batch[i]->write)(txn);
        } catch (const std::exception& e) {
          s = InternalError(std::string("write transaction threw: ") + e.what());
        }
        if (batch.size() > 1) {
          Status end = Exec(c.get(), s.ok() ? "RELEASE SAVEPOINT w" : "ROLLBACK TO SAVEPOINT w").status();
          if (!s.ok()) Exec(c.get(), "RELEASE SAVEPOINT w").status().ok();
          if (!end.ok()) s = end;
        }
      }
      results[i] = s;
    }
    // A lone failed callback: nothing of the transaction is kept.
    if (batch.size() == 1 && !results[0].ok()) {
      Exec(c.get(), "ROLLBACK").status().ok();
      return fail_all(results[0]);
    }
    if (Status commit = Exec(c.get(), "COMMIT").status(); !commit.ok()) {
      Exec(c.get(), "ROLLBACK").status().ok();
      return fail_all(commit);
    }
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->status = results[i];
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PgConn> pool_;  // GUARDED_BY(mu_)
  std::string url_;           // for pg_dump

  GroupCommit group_{kMaxBatch, [this](const std::vector<Request*>& batch) { RunBatch(batch); }};
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenPostgres(const PostgresOptions& options) {
  return PostgresBackend::Open(options);
}

}  // namespace bver::store::postgres
