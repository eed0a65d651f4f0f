#include "src/store/sqlite/sqlite_backend.h"

#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/store/group_commit.h"
#include "src/store/sqlite/sqlite_rows.h"

namespace bver::store::sqlite {
namespace {

using namespace internal;  // NOLINT: this backend's own helpers

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

  Status SnapshotTo(const std::string& path) override {
    Reader r(this);
    BVER_ASSIGN_OR_RETURN(sqlite3_stmt * st, r->Prepare("VACUUM INTO ?1"));
    Bind(st, path);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return SqliteError(r->db(), "snapshot into " + path);
    return Status::Ok();
  }

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

Status CheckNotInUse(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::Ok();
  sqlite3* db = nullptr;
  // Without SQLITE_OPEN_CREATE: a file that went away is not recreated.
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc == SQLITE_CANTOPEN) {
    sqlite3_close_v2(db);
    return Status::Ok();
  }
  if (rc != SQLITE_OK) {
    Status s = UnavailableError("cannot open SQLite database " + path + ": " +
                                (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close_v2(db);
    return s;
  }
  // In exclusive locking mode the lock is taken at the first access; no
  // busy timeout, so a lock held elsewhere answers SQLITE_BUSY at once.
  rc = sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;", nullptr, nullptr, nullptr);
  Status s = Status::Ok();
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    s = FailedPreconditionError("the SQLite database " + path +
                                " is open in another process (a `bver up`, `bver worker` or `bver mcp` of this "
                                "store); stop it first");
  } else if (rc != SQLITE_OK && rc != SQLITE_NOTADB && rc != SQLITE_CORRUPT) {
    s = UnavailableError("cannot lock SQLite database " + path + ": " + sqlite3_errmsg(db));
  }
  sqlite3_close_v2(db);
  return s;
}

}  // namespace bver::store::sqlite
