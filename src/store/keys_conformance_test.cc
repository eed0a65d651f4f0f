// Conformance of the API key table (backend.h ApiKeyRow) over every backend,
// in the manner of conformance_test.cc: the same cases run against SQLite
// and a throwaway PostgreSQL cluster, so the backends cannot drift.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "src/store/postgres/postgres_backend.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/store_backends.h"

namespace bver::store {
namespace {

namespace fs = std::filesystem;



using bver::testing::BackendCase;

std::vector<BackendCase> Backends() { return bver::testing::StoreBackends(2); }

ApiKeyRow Row(const std::string& id, const std::string& scopes = "sites.site:read admin") {
  return ApiKeyRow{id, "name of " + id, scopes, "sha256:00ff:" + std::string(64, 'a'), 1'700'000'000'000'000, 0};
}

class KeysConformance : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_keys");
    Reopen();
  }
  void TearDown() override {
    backend_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    backend_.reset();
    Result<std::unique_ptr<Backend>> b = GetParam().open(dir_);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
  }
  Status Put(const ApiKeyRow& row) {
    return backend_->WriteTxn([&](Txn& t) { return t.PutApiKey(row); });
  }
  Result<bool> Revoke(const std::string& id, std::int64_t at) {
    bool found = false;
    Status s = backend_->WriteTxn([&](Txn& t) -> Status {
      BVER_ASSIGN_OR_RETURN(found, t.RevokeApiKey(id, at));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return found;
  }

  fs::path dir_;
  std::unique_ptr<Backend> backend_;
};

TEST_P(KeysConformance, PutGetRoundTripsEveryField) {
  ApiKeyRow row = Row("k1");
  row.name = "ünïcode name with 'quotes'";
  ASSERT_TRUE(Put(row).ok());
  Result<std::optional<ApiKeyRow>> got = backend_->GetApiKey("k1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  const ApiKeyRow& g = **got;
  EXPECT_EQ(g.id, row.id);
  EXPECT_EQ(g.name, row.name);
  EXPECT_EQ(g.scopes, row.scopes);
  EXPECT_EQ(g.secret_hash, row.secret_hash);
  EXPECT_EQ(g.created_at_us, row.created_at_us);
  EXPECT_EQ(g.revoked_at_us, 0);
}

TEST_P(KeysConformance, MissingKeyIsEmptyNotAnError) {
  Result<std::optional<ApiKeyRow>> got = backend_->GetApiKey("nope");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_FALSE(got->has_value());
  Result<std::vector<ApiKeyRow>> all = backend_->ListApiKeys();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_P(KeysConformance, DuplicateIdIsAlreadyExistsAndKeepsTheFirst) {
  ASSERT_TRUE(Put(Row("k1", "a")).ok());
  Status s = Put(Row("k1", "b"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_EQ((*backend_->GetApiKey("k1"))->scopes, "a");
}

TEST_P(KeysConformance, ListIsInIdOrder) {
  for (const char* id : {"b2", "a1", "B0", "c3"}) ASSERT_TRUE(Put(Row(id)).ok());
  Result<std::vector<ApiKeyRow>> all = backend_->ListApiKeys();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> ids;
  for (const ApiKeyRow& r : *all) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"B0", "a1", "b2", "c3"})) << "byte order, as ids are compared";
}

TEST_P(KeysConformance, RevokeKeepsTheFirstTimeAndReportsMissingKeys) {
  ASSERT_TRUE(Put(Row("k1")).ok());
  Result<bool> r = Revoke("k1", 42);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  EXPECT_EQ((*backend_->GetApiKey("k1"))->revoked_at_us, 42);
  r = Revoke("k1", 99);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_EQ((*backend_->GetApiKey("k1"))->revoked_at_us, 42) << "a second revoke changes nothing";
  r = Revoke("missing", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

TEST_P(KeysConformance, FailedTransactionWritesNoKey) {
  Status s = backend_->WriteTxn([&](Txn& t) -> Status {
    BVER_RETURN_IF_ERROR(t.PutApiKey(Row("k1")));
    return AbortedError("changed my mind");
  });
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_FALSE(backend_->GetApiKey("k1")->has_value());
}

TEST_P(KeysConformance, KeysSurviveReopen) {
  ASSERT_TRUE(Put(Row("k1")).ok());
  ASSERT_TRUE(Revoke("k1", 7).ok());
  Reopen();
  Result<std::optional<ApiKeyRow>> got = backend_->GetApiKey("k1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->revoked_at_us, 7);
}

TEST_P(KeysConformance, ConcurrentCreatorsOfOneIdGetOneWinner) {
  constexpr int kThreads = 4;
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = Put(Row("same", "s" + std::to_string(i))); });
  }
  for (std::thread& t : threads) t.join();
  int ok = 0;
  for (const Status& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
    }
  }
  EXPECT_EQ(ok, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, KeysConformance, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace bver::store
