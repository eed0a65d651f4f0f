// Profiles: the built-ins, declared profiles over them, their revisions,
// refusals (unknown keys, passwords in wiring, cycles) with the place named,
// durability applied to store URLs, and the rate limiter's buckets.
#include "src/server/profile.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/server/rate_limit.h"
#include "tests/support/store_backends.h"

namespace bver::server {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_profile");
    ::unsetenv("BVER_PROFILE");
  }
  void TearDown() override {
    ::unsetenv("BVER_PROFILE");
    fs::remove_all(dir_);
  }
  void Config(const std::string& yaml) { std::ofstream(dir_ / "bver.config.yaml") << yaml; }
  Result<Profile> Load(const std::string& name) { return LoadProfile(dir_.string(), name); }

  fs::path dir_;
};

TEST_F(ProfileTest, BuiltinsSeparatePolicyAndHaveStableRevisions) {
  Result<Profile> local = Load("");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(local->name, "local");
  EXPECT_FALSE(local->policy.auth_required);
  EXPECT_EQ(local->policy.durability, "full");
  Result<Profile> dev = Load("dev");
  EXPECT_EQ(dev->policy.durability, "fast");
  Result<Profile> prod = Load("prod");
  EXPECT_TRUE(prod->policy.auth_required);
  EXPECT_EQ(prod->source, "built-in");
  EXPECT_THAT(prod->revision, ::testing::MatchesRegex("prod#[0-9a-f]{12}"));
  EXPECT_EQ(Load("prod")->revision, prod->revision);  // deterministic
  EXPECT_NE(local->revision.substr(local->revision.find('#')), prod->revision.substr(prod->revision.find('#')));
  ::setenv("BVER_PROFILE", "dev", 1);
  EXPECT_EQ(Load("")->name, "dev");
}

TEST_F(ProfileTest, DeclaredProfilesRefineWhatTheyExtend) {
  Config(R"(
profiles:
  prod:
    policy:
      rate_limit: { requests_per_second: 50, burst: 100 }
      triggers: { max_chain_firings: 4 }
    wiring:
      store: postgresql://bver@db.internal:5432/bver
      store_passfile: secrets/pgpass
      listen: 0.0.0.0:8443
      nats_url: nats://127.0.0.1:4222
      jwt: { hs256_secret_env: SOME_VAR }
  staging:
    extends: prod
    description: the last stop before prod
    policy: { durability: fast }
)");
  Result<Profile> prod = Load("prod");
  ASSERT_TRUE(prod.ok()) << prod.status().ToString();
  EXPECT_TRUE(prod->policy.auth_required);  // from the built-in it refines
  EXPECT_EQ(prod->policy.rate_limit_rps, 50);
  EXPECT_EQ(prod->policy.rate_limit_burst, 100);
  EXPECT_EQ(prod->policy.max_chain_firings, 4);
  EXPECT_EQ(prod->policy.max_per_trigger, 3);
  EXPECT_EQ(prod->wiring.store, "postgresql://bver@db.internal:5432/bver");
  EXPECT_EQ(prod->wiring.store_passfile, (dir_ / "secrets/pgpass").string());
  EXPECT_TRUE(prod->wiring.has_jwt);
  EXPECT_THAT(prod->source, HasSubstr("bver.config.yaml:"));
  // A changed policy is a new revision; the built-in prod's is another.
  EXPECT_NE(prod->revision, Result<Profile>(LoadProfile((dir_ / "nowhere").string(), "prod"))->revision);

  Result<Profile> staging = Load("staging");
  ASSERT_TRUE(staging.ok()) << staging.status().ToString();
  EXPECT_TRUE(staging->policy.auth_required);
  EXPECT_EQ(staging->policy.durability, "fast");
  EXPECT_EQ(staging->policy.rate_limit_rps, 50);
  EXPECT_EQ(staging->wiring.listen, "0.0.0.0:8443");
  EXPECT_EQ(staging->description, "the last stop before prod");
  EXPECT_NE(staging->revision.substr(staging->revision.find('#')), prod->revision.substr(prod->revision.find('#')));

  Result<std::vector<Profile>> all = ListProfiles(dir_.string());
  ASSERT_TRUE(all.ok());
  std::vector<std::string> names;
  for (const Profile& p : *all) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dev", "local", "prod", "staging"}));
  // What is printed and stored names secrets, never holds them.
  EXPECT_EQ(prod->ToJson()["wiring"]["jwt"], "profiles.<name>.wiring.jwt");
}

TEST_F(ProfileTest, BadDeclarationsAreRefusedWithTheirPlace) {
  Config("profiles:\n  prod:\n    policy:\n      auth: maybe\n");
  Result<Profile> p = Load("prod");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("bver.config.yaml:4:"));
  EXPECT_THAT(p.status().message(), HasSubstr("auth is required or optional"));

  Config("profiles:\n  prod:\n    wiring:\n      store: postgresql://bver:hunter2@db/bver\n");
  p = Load("prod");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("holds a password"));
  EXPECT_THAT(p.status().message(), ::testing::Not(HasSubstr("hunter2")));

  Config("profiles:\n  prod:\n    polcy: {}\n");
  EXPECT_THAT(Load("prod").status().message(), HasSubstr("unknown key \"polcy\""));

  Config("profiles:\n  a: { extends: b }\n  b: { extends: a }\n");
  EXPECT_THAT(Load("a").status().message(), HasSubstr("extends itself"));

  Config("profiles:\n  qa: {}\n");
  Result<Profile> missing = Load("staging");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("known: local, dev, prod, qa"));
  EXPECT_EQ(Load("qa")->policy.auth_required, false);  // a custom profile extends local
}

TEST_F(ProfileTest, DurabilityIsAppliedToSqliteUrls) {
  Profile local = *Load("local");
  Profile dev = *Load("dev");
  EXPECT_EQ(*ApplyDurability("sqlite:.bver/bver.db", local), "sqlite:.bver/bver.db");
  EXPECT_EQ(*ApplyDurability("sqlite:.bver/bver.db", dev), "sqlite:.bver/bver.db?durability=fast");
  EXPECT_EQ(*ApplyDurability("sqlite:x.db?durability=fast", dev), "sqlite:x.db?durability=fast");
  Result<std::string> clash = ApplyDurability("sqlite:x.db?durability=fast", local);
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(clash.status().message(), HasSubstr("profile local sets durability full"));
  EXPECT_EQ(*ApplyDurability("postgresql://bver@h/db", dev), "postgresql://bver@h/db");
}

TEST(RateLimiterTest, BurstThenRefillPerCaller) {
  RateLimiter limiter(2.0, 3.0);
  auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Take(1, t0), 0) << i;
  EXPECT_EQ(limiter.Take(1, t0), 1);  // empty: retry after a second
  EXPECT_EQ(limiter.Take(2, t0), 0);  // another caller has its own bucket
  EXPECT_EQ(limiter.Take(1, t0 + std::chrono::milliseconds(600)), 0);  // 1.2 tokens back
  EXPECT_EQ(limiter.Take(1, t0 + std::chrono::milliseconds(600)), 1);
  // Bounded memory: more callers than it keeps still get answers.
  RateLimiter small(1.0, 1.0, 4);
  for (std::uint64_t c = 0; c < 100; ++c) EXPECT_EQ(small.Take(c, t0), 0) << c;
}

}  // namespace
}  // namespace bver::server
