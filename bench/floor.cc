#include "bench/floor.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <vector>

namespace bver::bench {
namespace {

class SqliteFloor : public Floor {
 public:
  ~SqliteFloor() override {
    for (Conn& c : conns_) {
      sqlite3_finalize(c.insert);
      sqlite3_close_v2(c.db);
    }
  }

  static Result<std::unique_ptr<Floor>> Open(const std::string& path, bool full_sync, int threads) {
    auto f = std::unique_ptr<SqliteFloor>(new SqliteFloor());
    for (int t = 0; t < threads; ++t) {
      Conn c;
      if (sqlite3_open_v2(path.c_str(), &c.db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                          nullptr) != SQLITE_OK) {
        std::string msg = c.db ? sqlite3_errmsg(c.db) : "out of memory";
        sqlite3_close_v2(c.db);
        return UnavailableError("floor: cannot open " + path + ": " + msg);
      }
      f->conns_.push_back(c);
      sqlite3_busy_timeout(c.db, 10000);
      std::string setup =
          std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
          (full_sync ? "FULL" : "NORMAL") +
          "; CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, body TEXT NOT NULL);";
      if (sqlite3_exec(c.db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        return UnavailableError("floor: setup: " + std::string(sqlite3_errmsg(c.db)));
      }
      if (sqlite3_prepare_v2(c.db, "INSERT INTO floor (body) VALUES (?1)", -1,
                             &f->conns_.back().insert, nullptr) != SQLITE_OK) {
        return UnavailableError("floor: prepare: " + std::string(sqlite3_errmsg(c.db)));
      }
    }
    return std::unique_ptr<Floor>(std::move(f));
  }

  Status Insert(int thread, const std::string& text) override {
    Conn& c = conns_[static_cast<std::size_t>(thread)];
    sqlite3_bind_text(c.insert, 1, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    int rc = sqlite3_step(c.insert);
    sqlite3_reset(c.insert);
    if (rc != SQLITE_DONE)
      return UnavailableError("floor: insert: " + std::string(sqlite3_errmsg(c.db)));
    return Status::Ok();
  }

  std::string Describe() override {
    sqlite3* db = conns_.front().db;
    std::string out;
    for (const char* pragma : {"journal_mode", "synchronous"}) {
      sqlite3_stmt* st = nullptr;
      std::string sql = std::string("PRAGMA ") + pragma;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char* v = sqlite3_column_text(st, 0);
        if (!out.empty()) out += ' ';
        out.append(pragma).append("=").append(v ? reinterpret_cast<const char*>(v) : "");
      }
      sqlite3_finalize(st);
    }
    return out + " (synchronous 2 = FULL, 1 = NORMAL)";
  }

 private:
  struct Conn {
    sqlite3* db = nullptr;
    sqlite3_stmt* insert = nullptr;
  };
  SqliteFloor() = default;
  std::vector<Conn> conns_;
};

class PgFloor : public Floor {
 public:
  ~PgFloor() override {
    for (PGconn* c : conns_) PQfinish(c);
  }

  static Result<std::unique_ptr<Floor>> Open(const std::string& url, int threads) {
    auto f = std::unique_ptr<PgFloor>(new PgFloor());
    for (int t = 0; t < threads; ++t) {
      PGconn* c = PQconnectdb(url.c_str());
      f->conns_.push_back(c);
      if (PQstatus(c) != CONNECTION_OK)
        return UnavailableError("floor: cannot connect: " + std::string(PQerrorMessage(c)));
    }
    BVER_RETURN_IF_ERROR(f->Exec(
        0,
        "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, body text NOT NULL)"));
    return std::unique_ptr<Floor>(std::move(f));
  }

  Status Insert(int thread, const std::string& text) override {
    const char* values[1] = {text.c_str()};
    PGresult* r = PQexecParams(conns_[static_cast<std::size_t>(thread)],
                               "INSERT INTO bench_floor (body) VALUES ($1)", 1, nullptr, values,
                               nullptr, nullptr, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string err = ok ? "" : PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) return UnavailableError("floor: insert: " + err);
    return Status::Ok();
  }

  std::string Describe() override {
    std::string out;
    for (const char* setting : {"fsync", "synchronous_commit", "wal_sync_method", "commit_delay"}) {
      PGresult* r = PQexec(conns_.front(), (std::string("SHOW ") + setting).c_str());
      if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        if (!out.empty()) out += ' ';
        out.append(setting).append("=").append(PQgetvalue(r, 0, 0));
      }
      PQclear(r);
    }
    return out;
  }

 private:
  PgFloor() = default;
  Status Exec(int thread, const char* sql) {
    PGresult* r = PQexec(conns_[static_cast<std::size_t>(thread)], sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string err = ok ? "" : PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) return UnavailableError(std::string("floor: ") + sql + ": " + err);
    return Status::Ok();
  }
  std::vector<PGconn*> conns_;
};

}  // namespace

Result<std::unique_ptr<Floor>> OpenSqliteFloor(const std::string& path, bool full_sync,
                                               int threads) {
  return SqliteFloor::Open(path, full_sync, threads);
}

Result<std::unique_ptr<Floor>> OpenPgFloor(const std::string& url, int threads) {
  return PgFloor::Open(url, threads);
}

}  // namespace bver::bench
