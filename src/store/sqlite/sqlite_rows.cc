#include "src/store/sqlite/sqlite_rows.h"

#include <nlohmann/json.hpp>

namespace bver::store::sqlite::internal {

Status SqliteError(sqlite3* db, const std::string& what) {
  int rc = sqlite3_extended_errcode(db);
  std::string msg = "sqlite: " + what + ": " + sqlite3_errmsg(db);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return UnavailableError(msg);
  if (rc == SQLITE_FULL || rc == SQLITE_IOERR || (rc & 0xff) == SQLITE_IOERR) return UnavailableError(msg);
  if ((rc & 0xff) == SQLITE_CORRUPT) return DataLossError(msg);
  return InternalError(msg);
}

std::string Text(sqlite3_stmt* st, int col) {
  const unsigned char* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st, col)) : std::string();
}

ChangeType ParseChange(const std::string& s) {
  if (s == "patched") return ChangeType::kPatched;
  if (s == "replaced") return ChangeType::kReplaced;
  if (s == "deleted") return ChangeType::kDeleted;
  if (s == "migrated") return ChangeType::kMigrated;
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

}  // namespace bver::store::sqlite::internal
