#include "src/store/sqlite/sqlite_backend.h"

#include <sqlite3.h>

#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/store/group_commit.h"

namespace bver::store::sqlite {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS bver_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heads (
  ns TEXT NOT NULL, repo TEXT NOT NULL, id TEXT NOT NULL,
  version INTEGER NOT NULL, kind TEXT NOT NULL, deleted INTEGER NOT NULL,
  PRIMARY KEY (ns, repo, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
  ns TEXT NOT NULL, repo TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
  kind TEXT NOT NULL, change TEXT NOT NULL, deleted INTEGER NOT NULL,
  created_at_us INTEGER NOT NULL, committed_at_us INTEGER NOT NULL,
  body TEXT NOT NULL, diff TEXT NOT NULL, provenance TEXT NOT NULL,
  actor TEXT NOT NULL, correlation_id TEXT NOT NULL, event_offset INTEGER NOT NULL,
  PRIMARY KEY (ns, repo, id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  offset INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, envelope TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY, request_digest TEXT NOT NULL, ns TEXT NOT NULL, repo TEXT NOT NULL,
  id TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  target TEXT PRIMARY KEY, holder TEXT NOT NULL, acquired_at_us INTEGER NOT NULL,
  expires_at_us INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edges (
  from_ref TEXT NOT NULL, path TEXT NOT NULL, to_ref TEXT NOT NULL,
  PRIMARY KEY (from_ref, path)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_to ON edges (to_ref);
CREATE TABLE IF NOT EXISTS link_revs (
  target TEXT NOT NULL, from_repo TEXT NOT NULL, rev INTEGER NOT NULL,
  PRIMARY KEY (target, from_repo)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS artifacts (digest TEXT PRIMARY KEY, size INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL,
  created_at_us INTEGER NOT NULL, revoked_at_us INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
  kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_at_us INTEGER NOT NULL,
  PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, job TEXT NOT NULL, capability TEXT NOT NULL, state TEXT NOT NULL,
  input TEXT NOT NULL, labels TEXT NOT NULL, result TEXT NOT NULL, worker TEXT NOT NULL,
  correlation_id TEXT NOT NULL, actor TEXT NOT NULL, extra TEXT NOT NULL,
  attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, created_at_us INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL, run_after_us INTEGER NOT NULL, lease_expires_at_us INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL) WITHOUT ROWID;
DROP INDEX IF EXISTS jobs_ready;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, run_after_us, id);
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (state, lease_expires_at_us);
INSERT OR IGNORE INTO bver_meta (key, value) VALUES ('store_format', '1');
)sql";

// Reads never need the stored diff (events carry it, and diffs between any
// two versions are computed from snapshots), so it is not fetched.
constexpr const char* kVersionColumns =
    "v.ns, v.repo, v.id, v.version, v.kind, v.change, v.deleted, v.created_at_us, "
    "v.committed_at_us, v.body, '' AS diff, v.provenance, v.actor, v.correlation_id, v.event_offset";

Status SqliteError(sqlite3* db, const std::string& what) {
  int rc = sqlite3_extended_errcode(db);
  std::string msg = "sqlite: " + what + ": " + sqlite3_errmsg(db);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return UnavailableError(msg);
  if (rc == SQLITE_FULL || rc == SQLITE_IOERR || (rc & 0xff) == SQLITE_IOERR) return UnavailableError(msg);
  if ((rc & 0xff) == SQLITE_CORRUPT) return DataLossError(msg);
  return InternalError(msg);
}

// A connection with its prepared statements.
class Conn {
 public:
  ~Conn() {
    for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
    if (db_) sqlite3_close_v2(db_);
  }

  static Result<std::unique_ptr<Conn>> Open(const std::string& path, bool read_only, Durability d) {
    auto c = std::make_unique<Conn>();
    int flags = (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) |
                SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr) != SQLITE_OK) {
      std::string msg = c->db_ ? sqlite3_errmsg(c->db_) : "out of memory";
      return UnavailableError("cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(c->db_, 5000);
    // Reads come from the OS page cache through mmap, and each connection
    // keeps a larger page cache of its own (64 MiB), so hot data costs no
    // read(2) per page.
    BVER_RETURN_IF_ERROR(c->Exec("PRAGMA mmap_size=1073741824"));
    BVER_RETURN_IF_ERROR(c->Exec("PRAGMA cache_size=-65536"));
    if (!read_only) {
      BVER_RETURN_IF_ERROR(c->Exec("PRAGMA journal_mode=WAL"));
      BVER_RETURN_IF_ERROR(c->Exec(d == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                          : "PRAGMA synchronous=NORMAL"));
      // Checkpoint every ~40 MB of WAL rather than 4 MB: the hot pages (log
      // tails) are then copied back once per many commits. Durability is
      // unchanged: every commit is still synced to the WAL.
      BVER_RETURN_IF_ERROR(c->Exec("PRAGMA wal_autocheckpoint=10000"));
      BVER_RETURN_IF_ERROR(c->Exec(kSchema));
    }
    return c;
  }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return SqliteError(db_, msg);
    }
    return Status::Ok();
  }

  // A cached statement, reset and with bindings cleared.
  Result<sqlite3_stmt*> Prepare(const std::string& sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK) {
      return SqliteError(db_, "prepare");
    }
    stmts_.emplace(sql, st);
    return st;
  }

  sqlite3* db() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

// Binds positional parameters of mixed types.
void BindOne(sqlite3_stmt* st, int i, const std::string& v) {
  sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void BindOne(sqlite3_stmt* st, int i, const char* v) { sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT); }
void BindOne(sqlite3_stmt* st, int i, std::int64_t v) { sqlite3_bind_int64(st, i, v); }
void BindOne(sqlite3_stmt* st, int i, std::uint64_t v) { sqlite3_bind_int64(st, i, static_cast<std::int64_t>(v)); }
void BindOne(sqlite3_stmt* st, int i, bool v) { sqlite3_bind_int(st, i, v ? 1 : 0); }

template <typename... Args>
void Bind(sqlite3_stmt* st, const Args&... args) {
  int i = 1;
  (BindOne(st, i++, args), ...);
}

std::string Text(sqlite3_stmt* st, int col) {
  const unsigned char* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st, col)) : std::string();
}

ChangeType ParseChange(const std::string& s) {
  if (s == "patched") return ChangeType::kPatched;
  if (s == "replaced") return ChangeType::kReplaced;
  if (s == "deleted") return ChangeType::kDeleted;
  return ChangeType::kCreated;
}

VersionRow ReadVersion(sqlite3_stmt* st) {
  VersionRow r;
  r.ns = Text(st, 0);
  r.repo = Text(st, 1);
  r.id = Text(st, 2);
  r.version = static_cast<std::uint64_t>(sqlite3_column_int64(st, 3));
  r.kind = Text(st, 4);
  r.change = ParseChange(Text(st, 5));
  r.deleted = sqlite3_column_int(st, 6) != 0;
  r.created_at_us = sqlite3_column_int64(st, 7);
  r.committed_at_us = sqlite3_column_int64(st, 8);
  r.body = Text(st, 9);
  r.diff = Text(st, 10);
  r.provenance = Text(st, 11);
  r.actor = Text(st, 12);
  r.correlation_id = Text(st, 13);
  r.event_offset = static_cast<std::uint64_t>(sqlite3_column_int64(st, 14));
  return r;
}

Result<std::optional<VersionRow>> QueryOneVersion(Conn& c, const std::string& sql,
                                                  const std::function<void(sqlite3_stmt*)>& bind) {
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c.Prepare(sql));
  bind(st);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    VersionRow r = ReadVersion(st);
    sqlite3_reset(st);
    return std::optional<VersionRow>(std::move(r));
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return std::optional<VersionRow>();
  return SqliteError(c.db(), "query");
}

Status StepDone(Conn& c, sqlite3_stmt* st, const char* what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return SqliteError(c.db(), what);
  return Status::Ok();
}

// The head is the highest version: one backwards seek on the versions
// primary key, no join (the heads table serves listing and the writer).
const std::string kHeadSql = std::string("SELECT ") + kVersionColumns +
                             " FROM versions v WHERE v.ns = ?1 AND v.repo = ?2 AND v.id = ?3 "
                             "ORDER BY v.version DESC LIMIT 1";

Result<std::optional<VersionRow>> HeadOf(Conn& c, const std::string& ns, const std::string& repo,
                                         const std::string& id) {
  return QueryOneVersion(c, kHeadSql, [&](sqlite3_stmt* st) { Bind(st, ns, repo, id); });
}

Result<std::optional<Lease>> LeaseOf(Conn& c, const std::string& target) {
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                        c.Prepare("SELECT holder, acquired_at_us, expires_at_us FROM leases WHERE target = ?1"));
  Bind(st, target);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    Lease l;
    l.holder = Text(st, 0);
    l.acquired_at_us = sqlite3_column_int64(st, 1);
    l.expires_at_us = sqlite3_column_int64(st, 2);
    Result<Pointer> p = Pointer::Parse("bver://" + target);
    if (p.ok()) l.target = *p;
    sqlite3_reset(st);
    return std::optional<Lease>(l);
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return std::optional<Lease>();
  return SqliteError(c.db(), "lease");
}

Result<bool> ArtifactKnown(Conn& c, const std::string& digest) {
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c.Prepare("SELECT 1 FROM artifacts WHERE digest = ?1"));
  Bind(st, digest);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(c.db(), "artifact");
}

constexpr const char* kApiKeyColumns = "id, name, scopes, secret_hash, created_at_us, revoked_at_us";

ApiKeyRow ReadApiKey(sqlite3_stmt* st) {
  return ApiKeyRow{Text(st, 0), Text(st, 1), Text(st, 2), Text(st, 3), sqlite3_column_int64(st, 4),
                   sqlite3_column_int64(st, 5)};
}

Result<std::optional<ApiKeyRow>> ApiKeyOf(Conn& c, const std::string& id) {
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                        c.Prepare(std::string("SELECT ") + kApiKeyColumns + " FROM api_keys WHERE id = ?1"));
  Bind(st, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    ApiKeyRow r = ReadApiKey(st);
    sqlite3_reset(st);
    return std::optional<ApiKeyRow>(std::move(r));
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return std::optional<ApiKeyRow>();
  return SqliteError(c.db(), "api key");
}

Result<std::optional<RecordRow>> RecordOf(Conn& c, const std::string& kind, const std::string& key) {
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                        c.Prepare("SELECT value, updated_at_us FROM records WHERE kind = ?1 AND key = ?2"));
  Bind(st, kind, key);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    RecordRow r{kind, key, Text(st, 0), sqlite3_column_int64(st, 1)};
    sqlite3_reset(st);
    return std::optional<RecordRow>(std::move(r));
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return std::optional<RecordRow>();
  return SqliteError(c.db(), "record");
}

constexpr const char* kJobColumns =
    "id, job, capability, state, input, labels, result, worker, correlation_id, actor, extra, attempts, "
    "max_attempts, created_at_us, updated_at_us, run_after_us, lease_expires_at_us, cancel_requested";

JobRow ReadJob(sqlite3_stmt* st) {
  JobRow j;
  j.id = Text(st, 0);
  j.job = Text(st, 1);
  j.capability = Text(st, 2);
  j.state = Text(st, 3);
  j.input = Text(st, 4);
  j.labels = Text(st, 5);
  j.result = Text(st, 6);
  j.worker = Text(st, 7);
  j.correlation_id = Text(st, 8);
  j.actor = Text(st, 9);
  j.extra = Text(st, 10);
  j.attempts = sqlite3_column_int64(st, 11);
  j.max_attempts = sqlite3_column_int64(st, 12);
  j.created_at_us = sqlite3_column_int64(st, 13);
  j.updated_at_us = sqlite3_column_int64(st, 14);
  j.run_after_us = sqlite3_column_int64(st, 15);
  j.lease_expires_at_us = sqlite3_column_int64(st, 16);
  j.cancel_requested = sqlite3_column_int(st, 17) != 0;
  return j;
}

Result<std::vector<JobRow>> CollectJobs(Conn& c, sqlite3_stmt* st) {
  std::vector<JobRow> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(ReadJob(st));
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return SqliteError(c.db(), "jobs");
  return out;
}

Result<std::optional<JobRow>> JobOf(Conn& c, const std::string& id) {
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c.Prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?1"));
  Bind(st, id);
  BVER_ASSIGN_OR_RETURN(std::vector<JobRow> rows, CollectJobs(c, st));
  if (rows.empty()) return std::optional<JobRow>();
  return std::optional<JobRow>(std::move(rows.front()));
}

Status WriteJob(Conn& c, const JobRow& j) {
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                        c.Prepare("INSERT OR REPLACE INTO jobs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                  "?12, ?13, ?14, ?15, ?16, ?17, ?18)"));
  Bind(st, j.id, j.job, j.capability, j.state, j.input, j.labels, j.result, j.worker, j.correlation_id, j.actor,
       j.extra, j.attempts, j.max_attempts, j.created_at_us, j.updated_at_us, j.run_after_us, j.lease_expires_at_us,
       j.cancel_requested);
  return StepDone(c, st, "job");
}

class SqliteTxn : public Txn {
 public:
  explicit SqliteTxn(Conn& c) : c_(c) {}

  Result<std::optional<VersionRow>> GetHead(const std::string& ns, const std::string& repo,
                                            const std::string& id) override {
    return HeadOf(c_, ns, repo, id);
  }

  Status PutVersion(const VersionRow& r) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                          c_.Prepare("INSERT INTO versions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                     "?12, ?13, ?14, ?15)"));
    Bind(st, r.ns, r.repo, r.id, r.version, r.kind, ChangeTypeName(r.change), r.deleted, r.created_at_us,
         r.committed_at_us, r.body, r.diff, r.provenance, r.actor, r.correlation_id, r.event_offset);
    BVER_RETURN_IF_ERROR(StepDone(c_, st, "insert version"));
    BVER_ASSIGN_OR_RETURN(st, c_.Prepare("INSERT INTO heads VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT "
                                         "(ns, repo, id) DO UPDATE SET version = excluded.version, "
                                         "kind = excluded.kind, deleted = excluded.deleted"));
    Bind(st, r.ns, r.repo, r.id, r.version, r.kind, r.deleted);
    return StepDone(c_, st, "update head");
  }

  Result<std::uint64_t> NextEventOffset() override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("SELECT COALESCE(MAX(offset), 0) + 1 FROM events"));
    int rc = sqlite3_step(st);
    std::uint64_t next = rc == SQLITE_ROW ? static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) return SqliteError(c_.db(), "next offset");
    return next;
  }

  Status AppendEvent(std::uint64_t offset, const std::string& event_id, const std::string& envelope) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("INSERT INTO events VALUES (?1, ?2, ?3)"));
    Bind(st, offset, event_id, envelope);
    return StepDone(c_, st, "append event");
  }

  Result<std::optional<LedgerRow>> LastLedger() override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                          c_.Prepare("SELECT seq, entry, hash FROM ledger ORDER BY seq DESC LIMIT 1"));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      LedgerRow r{static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)), Text(st, 1), Text(st, 2)};
      sqlite3_reset(st);
      return std::optional<LedgerRow>(r);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return std::optional<LedgerRow>();
    return SqliteError(c_.db(), "ledger");
  }

  Status AppendLedger(const LedgerRow& r) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("INSERT INTO ledger VALUES (?1, ?2, ?3)"));
    Bind(st, r.seq, r.entry, r.hash);
    return StepDone(c_, st, "append ledger");
  }

  Status ReplaceEdges(const std::string& from, const std::vector<EdgeRow>& edges) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("DELETE FROM edges WHERE from_ref = ?1"));
    Bind(st, from);
    BVER_RETURN_IF_ERROR(StepDone(c_, st, "delete edges"));
    for (const EdgeRow& e : edges) {
      BVER_ASSIGN_OR_RETURN(st, c_.Prepare("INSERT OR REPLACE INTO edges VALUES (?1, ?2, ?3)"));
      Bind(st, e.from, e.path, e.to);
      BVER_RETURN_IF_ERROR(StepDone(c_, st, "insert edge"));
    }
    return Status::Ok();
  }

  Status BumpLinkRev(const std::string& target, const std::string& from_repo, std::uint64_t by) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                          c_.Prepare("INSERT INTO link_revs VALUES (?1, ?2, ?3) ON CONFLICT (target, from_repo) "
                                     "DO UPDATE SET rev = rev + excluded.rev"));
    Bind(st, target, from_repo, by);
    return StepDone(c_, st, "bump link revision");
  }

  Result<std::optional<IdempotencyRow>> GetIdempotency(const std::string& key) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                          c_.Prepare("SELECT request_digest, ns, repo, id, version FROM idempotency WHERE key = ?1"));
    Bind(st, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      IdempotencyRow r{key, Text(st, 0), Text(st, 1), Text(st, 2), Text(st, 3),
                       static_cast<std::uint64_t>(sqlite3_column_int64(st, 4))};
      sqlite3_reset(st);
      return std::optional<IdempotencyRow>(r);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return std::optional<IdempotencyRow>();
    return SqliteError(c_.db(), "idempotency");
  }

  Status PutIdempotency(const IdempotencyRow& r) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("INSERT INTO idempotency VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    Bind(st, r.key, r.request_digest, r.ns, r.repo, r.id, r.version);
    return StepDone(c_, st, "idempotency");
  }

  Result<std::optional<Lease>> GetLease(const std::string& target) override { return LeaseOf(c_, target); }

  Status PutLease(const std::string& target, const Lease& l) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("INSERT OR REPLACE INTO leases VALUES (?1, ?2, ?3, ?4)"));
    Bind(st, target, l.holder, l.acquired_at_us, l.expires_at_us);
    return StepDone(c_, st, "lease");
  }

  Status DeleteLease(const std::string& target) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("DELETE FROM leases WHERE target = ?1"));
    Bind(st, target);
    return StepDone(c_, st, "lease");
  }

  Result<bool> HasArtifact(const std::string& digest) override { return ArtifactKnown(c_, digest); }

  Status PutArtifact(const std::string& digest, std::uint64_t size) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("INSERT OR IGNORE INTO artifacts VALUES (?1, ?2)"));
    Bind(st, digest, size);
    return StepDone(c_, st, "artifact");
  }

  Status PutApiKey(const ApiKeyRow& r) override {
    BVER_ASSIGN_OR_RETURN(std::optional<ApiKeyRow> existing, ApiKeyOf(c_, r.id));
    if (existing) return AlreadyExistsError("an API key with id \"" + r.id + "\" already exists");
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("INSERT INTO api_keys VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    Bind(st, r.id, r.name, r.scopes, r.secret_hash, r.created_at_us, r.revoked_at_us);
    return StepDone(c_, st, "api key");
  }

  Result<bool> RevokeApiKey(const std::string& id, std::int64_t at_us) override {
    BVER_ASSIGN_OR_RETURN(std::optional<ApiKeyRow> existing, ApiKeyOf(c_, id));
    if (!existing) return false;
    if (existing->revoked_at_us != 0) return true;
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("UPDATE api_keys SET revoked_at_us = ?2 WHERE id = ?1"));
    Bind(st, id, at_us);
    BVER_RETURN_IF_ERROR(StepDone(c_, st, "api key"));
    return true;
  }

  Result<std::optional<RecordRow>> GetRecord(const std::string& kind, const std::string& key) override {
    return RecordOf(c_, kind, key);
  }

  Status PutRecord(const RecordRow& r) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("INSERT OR REPLACE INTO records VALUES (?1, ?2, ?3, ?4)"));
    Bind(st, r.kind, r.key, r.value, r.updated_at_us);
    return StepDone(c_, st, "record");
  }

  Result<bool> DeleteRecord(const std::string& kind, const std::string& key) override {
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, c_.Prepare("DELETE FROM records WHERE kind = ?1 AND key = ?2"));
    Bind(st, kind, key);
    BVER_RETURN_IF_ERROR(StepDone(c_, st, "record"));
    return sqlite3_changes(c_.db()) > 0;
  }

  Result<std::optional<JobRow>> GetJob(const std::string& id) override { return JobOf(c_, id); }
  Status PutJob(const JobRow& row) override { return WriteJob(c_, row); }

 private:
  Conn& c_;
};

// The SQL for one pushed filter (Backend::ListHeads states the semantics),
// with its parameters appended to `binds` from ?next on.
std::string FilterSql(const Filter& f, int& next, std::vector<std::function<void(sqlite3_stmt*)>>& binds) {
  std::string path = "$";
  for (const PathSegment& s : f.path.segments()) {
    path += s.is_key() ? ".\"" + s.key() + "\"" : "[" + std::to_string(s.index()) + "]";
  }
  int p = next++;
  binds.push_back([p, path](sqlite3_stmt* st) { BindOne(st, p, path); });
  std::string type = "json_type(v.body, ?" + std::to_string(p) + ")";
  std::string value = "json_extract(v.body, ?" + std::to_string(p) + ")";
  if (f.op == FilterOp::kExists) return type + " IS NOT NULL";
  if (f.op == FilterOp::kNotExists) return type + " IS NULL";
  const nlohmann::json& v = *f.value;
  std::string cond;  // the value at the path has v's type
  std::string x;     // the placeholder of v
  if (v.is_number() || v.is_string()) {
    int xi = next++;
    x = "?" + std::to_string(xi);
    cond = v.is_number() ? type + " IN ('integer', 'real')" : type + " = 'text'";
    if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX)) {
      std::int64_t n = v.is_number_unsigned() ? static_cast<std::int64_t>(v.get<std::uint64_t>()) : v.get<std::int64_t>();
      binds.push_back([xi, n](sqlite3_stmt* st) { sqlite3_bind_int64(st, xi, n); });
    } else if (v.is_number()) {
      double d = v.get<double>();
      binds.push_back([xi, d](sqlite3_stmt* st) { sqlite3_bind_double(st, xi, d); });
    } else {
      std::string t = v.get<std::string>();
      binds.push_back([xi, t](sqlite3_stmt* st) { BindOne(st, xi, t); });
    }
  }
  std::string eq = x.empty() ? type + (v.is_null() ? " = 'null'" : (v.get<bool>() ? " = 'true'" : " = 'false'"))
                             : "(" + cond + " AND " + value + " = " + x + ")";
  switch (f.op) {
    case FilterOp::kEq: return eq;
    case FilterOp::kNe: return "(" + type + " IS NOT NULL AND NOT " + eq + ")";
    default: break;
  }
  if (x.empty()) return "(" + type + " IS NOT NULL AND 0)";  // booleans and null have no order
  const char* op = f.op == FilterOp::kLt ? " < " : f.op == FilterOp::kLe ? " <= " : f.op == FilterOp::kGt ? " > " : " >= ";
  return "(" + cond + " AND " + value + op + x + ")";
}

class SqliteBackend : public Backend {
 public:
  ~SqliteBackend() override = default;  // no thread to stop: leaders are callers

  static Result<std::unique_ptr<Backend>> Open(const SqliteOptions& o) {
    auto b = std::unique_ptr<SqliteBackend>(new SqliteBackend());
    BVER_ASSIGN_OR_RETURN(b->writer_, Conn::Open(o.path, false, o.durability));
    b->options_ = o;
    for (int i = 0; i < std::max(1, o.read_connections); ++i) {
      BVER_ASSIGN_OR_RETURN(std::unique_ptr<Conn> r, Conn::Open(o.path, true, o.durability));
      b->readers_.push_back(std::move(r));
    }
    return std::unique_ptr<Backend>(std::move(b));
  }

  std::string Name() const override { return "sqlite"; }

  // Group commit (group_commit.h): many writers share one fsync per batch.
  Status DoWriteTxn(const std::function<Status(Txn&)>& fn) override { return group_.Submit(fn); }

  Result<std::optional<VersionRow>> GetHead(const std::string& ns, const std::string& repo,
                                            const std::string& id) override {
    Reader r(this);
    return HeadOf(*r, ns, repo, id);
  }

  Result<std::optional<VersionRow>> GetVersion(const std::string& ns, const std::string& repo,
                                               const std::string& id, std::uint64_t version) override {
    Reader r(this);
    return QueryOneVersion(*r,
                           std::string("SELECT ") + kVersionColumns +
                               " FROM versions v WHERE ns = ?1 AND repo = ?2 AND id = ?3 AND version = ?4",
                           [&](sqlite3_stmt* st) { Bind(st, ns, repo, id, version); });
  }

  Result<std::optional<VersionRow>> GetAsOf(const std::string& ns, const std::string& repo,
                                            const std::string& id, std::int64_t at_us) override {
    Reader r(this);
    return QueryOneVersion(*r,
                           std::string("SELECT ") + kVersionColumns +
                               " FROM versions v WHERE ns = ?1 AND repo = ?2 AND id = ?3 AND "
                               "committed_at_us <= ?4 ORDER BY version DESC LIMIT 1",
                           [&](sqlite3_stmt* st) { Bind(st, ns, repo, id, at_us); });
  }

  Result<std::vector<VersionRow>> History(const std::string& ns, const std::string& repo,
                                          const std::string& id) override {
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                          r->Prepare(std::string("SELECT ") + kVersionColumns +
                                     " FROM versions v WHERE ns = ?1 AND repo = ?2 AND id = ?3 ORDER BY version"));
    Bind(st, ns, repo, id);
    return Collect(*r, st);
  }

  Result<std::vector<VersionRow>> ListHeads(const std::string& ns, const std::string& repo,
                                            const std::string& kind, const std::string& after_id,
                                            std::size_t limit, bool include_deleted,
                                            const std::vector<Filter>& filters) override {
    std::string sql = std::string("SELECT ") + kVersionColumns +
                      " FROM heads h JOIN versions v ON v.ns = h.ns AND v.repo = h.repo AND v.id = h.id AND "
                      "v.version = h.version WHERE h.ns = ?1 AND h.repo = ?2 AND h.id > ?3 AND "
                      "(?4 = '' OR h.kind = ?4) AND (?5 OR h.deleted = 0)";
    int next = 7;
    std::vector<std::function<void(sqlite3_stmt*)>> binds;
    for (const Filter& f : filters) sql += " AND " + FilterSql(f, next, binds);
    sql += " ORDER BY h.id LIMIT ?6";
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, r->Prepare(sql));
    Bind(st, ns, repo, after_id, kind, include_deleted, static_cast<std::int64_t>(limit));
    for (const auto& b : binds) b(st);
    return Collect(*r, st);
  }

  Result<std::vector<Event>> ReadEvents(std::uint64_t from, std::size_t limit) override;
  Result<std::uint64_t> LastEventOffset() override {
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, r->Prepare("SELECT coalesce(max(offset), 0) FROM events"));
    int rc = sqlite3_step(st);
    std::uint64_t last = rc == SQLITE_ROW ? static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) return SqliteError(r->db(), "events");
    return last;
  }
  Result<std::vector<LedgerRow>> ReadLedger(std::uint64_t from_seq, std::size_t limit) override;

  Result<std::optional<Lease>> GetLease(const std::string& target) override {
    Reader r(this);
    return LeaseOf(*r, target);
  }

  Result<bool> HasArtifact(const std::string& digest) override {
    Reader r(this);
    return ArtifactKnown(*r, digest);
  }

  Result<std::vector<EdgeRow>> EdgesTo(const std::string& to) override {
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                          r->Prepare("SELECT from_ref, path, to_ref FROM edges WHERE to_ref = ?1 ORDER BY from_ref, path"));
    Bind(st, to);
    std::vector<EdgeRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back({Text(st, 0), Text(st, 1), Text(st, 2)});
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SqliteError(r->db(), "edges");
    return out;
  }

  Result<std::map<std::string, std::uint64_t>> LinkRevs(const std::string& target) override {
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, r->Prepare("SELECT from_repo, rev FROM link_revs WHERE target = ?1"));
    Bind(st, target);
    std::map<std::string, std::uint64_t> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      out[Text(st, 0)] = static_cast<std::uint64_t>(sqlite3_column_int64(st, 1));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SqliteError(r->db(), "link revisions");
    return out;
  }

  Result<std::optional<ApiKeyRow>> GetApiKey(const std::string& id) override {
    Reader r(this);
    return ApiKeyOf(*r, id);
  }

  Result<std::vector<ApiKeyRow>> ListApiKeys() override {
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                          r->Prepare(std::string("SELECT ") + kApiKeyColumns + " FROM api_keys ORDER BY id"));
    std::vector<ApiKeyRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(ReadApiKey(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SqliteError(r->db(), "api keys");
    return out;
  }

  Result<std::optional<RecordRow>> GetRecord(const std::string& kind, const std::string& key) override {
    Reader r(this);
    return RecordOf(*r, kind, key);
  }

  Result<std::vector<RecordRow>> ListRecords(const std::string& kind, const std::string& after_key,
                                             std::size_t limit) override {
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, r->Prepare("SELECT key, value, updated_at_us FROM records WHERE kind = ?1 "
                                                        "AND key > ?2 ORDER BY key LIMIT ?3"));
    Bind(st, kind, after_key, static_cast<std::int64_t>(limit));
    std::vector<RecordRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back({kind, Text(st, 0), Text(st, 1), sqlite3_column_int64(st, 2)});
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SqliteError(r->db(), "records");
    return out;
  }

  Result<std::optional<JobRow>> GetJob(const std::string& id) override {
    Reader r(this);
    return JobOf(*r, id);
  }

  Result<std::vector<JobRow>> ListJobs(const std::string& state, const std::string& after_id,
                                       std::size_t limit) override {
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, r->Prepare(std::string("SELECT ") + kJobColumns +
                                                        " FROM jobs WHERE (?1 = '' OR state = ?1) AND id > ?2 "
                                                        "ORDER BY id LIMIT ?3"));
    Bind(st, state, after_id, static_cast<std::int64_t>(limit));
    return CollectJobs(*r, st);
  }

  // The one writer connection serializes claims: no two get the same job.
  Result<std::optional<JobRow>> ClaimJob(const std::string& worker, const std::string& worker_labels,
                                         std::int64_t now_us, std::int64_t lease_until_us) override {
    std::optional<JobRow> claimed;
    BVER_RETURN_IF_ERROR(WriteTxn([&](Txn&) -> Status {
      claimed.reset();
      Conn& c = *writer_;
      // Candidates: running jobs whose lease expired (their worker died:
      // older work), then queued jobs that are due, oldest first. Two
      // queries, so each walks its own index in order instead of sorting
      // the whole queue.
      BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                            c.Prepare(std::string("SELECT ") + kJobColumns +
                                      " FROM jobs WHERE state = 'running' AND lease_expires_at_us < ?1 "
                                      "ORDER BY lease_expires_at_us LIMIT 16"));
      Bind(st, now_us);
      BVER_ASSIGN_OR_RETURN(std::vector<JobRow> candidates, CollectJobs(c, st));
      BVER_ASSIGN_OR_RETURN(st, c.Prepare(std::string("SELECT ") + kJobColumns +
                                          " FROM jobs WHERE state = 'queued' AND run_after_us <= ?1 "
                                          "ORDER BY run_after_us, id LIMIT 64"));
      Bind(st, now_us);
      BVER_ASSIGN_OR_RETURN(std::vector<JobRow> queued, CollectJobs(c, st));
      candidates.insert(candidates.end(), std::make_move_iterator(queued.begin()),
                        std::make_move_iterator(queued.end()));
      for (JobRow& j : candidates) {
        if (!LabelsMatch(j.labels, worker_labels)) continue;
        j.state = "running";
        j.worker = worker;
        j.attempts += 1;
        j.lease_expires_at_us = lease_until_us;
        j.updated_at_us = now_us;
        BVER_RETURN_IF_ERROR(WriteJob(c, j));
        claimed = std::move(j);
        break;
      }
      return Status::Ok();
    }));
    return claimed;
  }

  Result<bool> RenewJobLease(const std::string& id, const std::string& worker, std::int64_t lease_until_us) override {
    bool held = false;
    BVER_RETURN_IF_ERROR(WriteTxn([&](Txn&) -> Status {
      Conn& c = *writer_;
      BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                            c.Prepare("UPDATE jobs SET lease_expires_at_us = ?3 WHERE id = ?1 AND worker = ?2 AND "
                                      "state = 'running'"));
      Bind(st, id, worker, lease_until_us);
      BVER_RETURN_IF_ERROR(StepDone(c, st, "renew job"));
      held = sqlite3_changes(c.db()) > 0;
      return Status::Ok();
    }));
    return held;
  }

 private:
  static constexpr std::size_t kMaxBatch = 256;
  using Request = GroupCommit::Request;

  // Borrows a read connection for one call.
  class Reader {
   public:
    explicit Reader(SqliteBackend* b) : b_(b) {
      std::unique_lock<std::mutex> l(b_->readers_mu_);
      b_->readers_cv_.wait(l, [&] { return !b_->readers_.empty(); });
      conn_ = std::move(b_->readers_.back());
      b_->readers_.pop_back();
    }
    ~Reader() {
      {
        std::lock_guard<std::mutex> l(b_->readers_mu_);
        b_->readers_.push_back(std::move(conn_));
      }
      b_->readers_cv_.notify_one();
    }
    Conn& operator*() { return *conn_; }
    Conn* operator->() { return conn_.get(); }

   private:
    SqliteBackend* b_;
    std::unique_ptr<Conn> conn_;
  };

  static Result<std::vector<VersionRow>> Collect(Conn& c, sqlite3_stmt* st) {
    std::vector<VersionRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(ReadVersion(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SqliteError(c.db(), "query");
    return out;
  }

  void RunBatch(const std::vector<Request*>& batch) {
    Conn& c = *writer_;
    std::vector<Status> results(batch.size());
    Status begin = c.Exec("BEGIN IMMEDIATE");
    if (!begin.ok()) {
      for (Request* r : batch) r->status = begin;
      return;
    }
    SqliteTxn txn(c);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Status s = c.Exec("SAVEPOINT w");
      if (s.ok()) {
        try {
          s = (*batch[i]->write)(txn);
        } catch (const std::exception& e) {
          s = InternalError(std::string("write transaction threw: ") + e.what());
        }
        if (s.ok()) {
          s = c.Exec("RELEASE w");
        } else {
          Status rb = c.Exec("ROLLBACK TO w");
          Status rel = c.Exec("RELEASE w");
          if (!rb.ok()) s = rb;
          (void)rel;
        }
      }
      results[i] = s;
    }
    Status commit = c.Exec("COMMIT");
    if (!commit.ok()) {
      c.Exec("ROLLBACK").ok();
      for (Request* r : batch) r->status = commit;
      return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->status = results[i];
  }

  SqliteOptions options_;
  std::unique_ptr<Conn> writer_;  // used only by the current leader
  GroupCommit group_{kMaxBatch, [this](const std::vector<Request*>& batch) { RunBatch(batch); }};

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Conn>> readers_;  // GUARDED_BY(readers_mu_)
};

Result<std::vector<Event>> SqliteBackend::ReadEvents(std::uint64_t from, std::size_t limit) {
  Reader r(this);
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                        r->Prepare("SELECT offset, envelope FROM events WHERE offset >= ?1 ORDER BY offset LIMIT ?2"));
  Bind(st, from, static_cast<std::int64_t>(limit));
  std::vector<Event> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    Event e;
    e.offset = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
    nlohmann::json env = nlohmann::json::parse(Text(st, 1), nullptr, false);
    if (env.is_discarded()) {
      sqlite3_reset(st);
      return DataLossError("event " + std::to_string(e.offset) + " is not valid JSON");
    }
    e.envelope = std::make_shared<const nlohmann::json>(std::move(env));
    out.push_back(std::move(e));
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return SqliteError(r->db(), "events");
  return out;
}

Result<std::vector<LedgerRow>> SqliteBackend::ReadLedger(std::uint64_t from_seq, std::size_t limit) {
  Reader r(this);
  BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st,
                        r->Prepare("SELECT seq, entry, hash FROM ledger WHERE seq >= ?1 ORDER BY seq LIMIT ?2"));
  Bind(st, from_seq, static_cast<std::int64_t>(limit));
  std::vector<LedgerRow> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    out.push_back({static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)), Text(st, 1), Text(st, 2)});
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return SqliteError(r->db(), "ledger");
  return out;
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenSqlite(const SqliteOptions& options) {
  return SqliteBackend::Open(options);
}

}  // namespace bver::store::sqlite
