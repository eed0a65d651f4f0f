// What the SQLite backend's transaction and backend classes share: the
// connection with its cache of prepared statements, parameter binding,
// and the readers and writers of each table's rows. Internal to
// src/store/sqlite.
#pragma once

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "bver/status.h"
#include "src/store/backend.h"
#include "src/store/sqlite/sqlite_backend.h"

namespace bver::store::sqlite::internal {

inline constexpr const char* kSchema = R"sql(
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
inline constexpr const char* kVersionColumns =
    "v.ns, v.repo, v.id, v.version, v.kind, v.change, v.deleted, v.created_at_us, "
    "v.committed_at_us, v.body, '' AS diff, v.provenance, v.actor, v.correlation_id, v.event_offset";
Status SqliteError(sqlite3* db, const std::string& what);

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
inline void BindOne(sqlite3_stmt* st, int i, const std::string& v) {
  sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
inline void BindOne(sqlite3_stmt* st, int i, const char* v) { sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT); }
inline void BindOne(sqlite3_stmt* st, int i, std::int64_t v) { sqlite3_bind_int64(st, i, v); }
inline void BindOne(sqlite3_stmt* st, int i, std::uint64_t v) { sqlite3_bind_int64(st, i, static_cast<std::int64_t>(v)); }
inline void BindOne(sqlite3_stmt* st, int i, bool v) { sqlite3_bind_int(st, i, v ? 1 : 0); }

template <typename... Args>
void Bind(sqlite3_stmt* st, const Args&... args) {
  int i = 1;
  (BindOne(st, i++, args), ...);
}
std::string Text(sqlite3_stmt* st, int col);

ChangeType ParseChange(const std::string& s);

VersionRow ReadVersion(sqlite3_stmt* st);

Result<std::optional<VersionRow>> QueryOneVersion(Conn& c, const std::string& sql,
                                                  const std::function<void(sqlite3_stmt*)>& bind);

Status StepDone(Conn& c, sqlite3_stmt* st, const char* what);

// The head is the highest version: one backwards seek on the versions
// primary key, no join (the heads table serves listing and the writer).
inline const std::string kHeadSql = std::string("SELECT ") + kVersionColumns +
                             " FROM versions v WHERE v.ns = ?1 AND v.repo = ?2 AND v.id = ?3 "
                             "ORDER BY v.version DESC LIMIT 1";
Result<std::optional<VersionRow>> HeadOf(Conn& c, const std::string& ns, const std::string& repo,
                                         const std::string& id);

Result<std::optional<Lease>> LeaseOf(Conn& c, const std::string& target);

Result<bool> ArtifactKnown(Conn& c, const std::string& digest);

inline constexpr const char* kApiKeyColumns = "id, name, scopes, secret_hash, created_at_us, revoked_at_us";
ApiKeyRow ReadApiKey(sqlite3_stmt* st);

Result<std::optional<ApiKeyRow>> ApiKeyOf(Conn& c, const std::string& id);

Result<std::optional<RecordRow>> RecordOf(Conn& c, const std::string& kind, const std::string& key);

inline constexpr const char* kJobColumns =
    "id, job, capability, state, input, labels, result, worker, correlation_id, actor, extra, attempts, "
    "max_attempts, created_at_us, updated_at_us, run_after_us, lease_expires_at_us, cancel_requested";
JobRow ReadJob(sqlite3_stmt* st);

Result<std::vector<JobRow>> CollectJobs(Conn& c, sqlite3_stmt* st);

Result<std::optional<JobRow>> JobOf(Conn& c, const std::string& id);

Status WriteJob(Conn& c, const JobRow& j);

}  // namespace bver::store::sqlite::internal
