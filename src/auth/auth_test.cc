// Tests of the auth module: principals and scopes, base64url, JWT vectors
// (HS256, RS256, expiry, algorithm confusion, tampering, alg none), API key
// hashing and revocation, the Authenticator and the configuration loader.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/auth/api_keys.h"
#include "src/auth/authenticator.h"
#include "src/auth/config.h"
#include "src/auth/crypto.h"
#include "src/auth/jwt.h"
#include "src/store/sqlite/sqlite_backend.h"

namespace bver::auth {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'800'000'000;  // seconds
const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";

std::string B64(const std::string& s) { return internal::Base64UrlEncode(s); }

std::string Hs256(const json& header, const json& claims, const std::string& secret = kSecret) {
  std::string input = B64(header.dump()) + "." + B64(claims.dump());
  return input + "." + B64(internal::HmacSha256(secret, input));
}

// An RSA key pair made for the test binary.
struct RsaKey {
  EVP_PKEY* key = nullptr;
  std::string public_pem;
  RsaKey() {
    key = EVP_RSA_gen(2048);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    public_pem.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
  }
  ~RsaKey() { EVP_PKEY_free(key); }
  std::string Sign(const std::string& input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    std::size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return sig;
  }
};

const RsaKey& Rsa() {
  static RsaKey* k = new RsaKey();
  return *k;
}

std::string Rs256(const json& header, const json& claims) {
  std::string input = B64(header.dump()) + "." + B64(claims.dump());
  return input + "." + B64(Rsa().Sign(input));
}

json Claims(std::int64_t exp = kNow + 600) {
  return {{"sub", "alice"}, {"exp", exp}, {"scope", "sites.site:read sites.site:write"}};
}

std::unique_ptr<JwtVerifier> Verifier(JwtConfig c) {
  Result<std::unique_ptr<JwtVerifier>> v = JwtVerifier::Create(c);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::move(v).value() : nullptr;
}

std::unique_ptr<JwtVerifier> HsVerifier() { return Verifier(JwtConfig{kSecret, "", "", "", 30}); }
std::unique_ptr<JwtVerifier> RsVerifier() { return Verifier(JwtConfig{"", Rsa().public_pem, "", "", 30}); }

void ExpectRejected(const Result<Principal>& r, const std::string& why) {
  ASSERT_FALSE(r.ok()) << "accepted a token that should fail: " << why;
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr(why));
}

// --- principal -------------------------------------------------------------

TEST(Principal, AdminImpliesEveryScopeAnonymousHasNone) {
  Principal admin{"key:1", {"admin"}, PrincipalKind::kApiKey};
  EXPECT_TRUE(admin.HasScope("sites.site:write"));
  Principal reader{"key:2", {"sites.site:read"}, PrincipalKind::kApiKey};
  EXPECT_TRUE(reader.HasScope("sites.site:read"));
  EXPECT_FALSE(reader.HasScope("sites.site:write"));
  EXPECT_FALSE(reader.HasScope("sites.site"));
  Principal anon = Principal::Anonymous();
  EXPECT_FALSE(anon.authenticated());
  Principal fake_admin{"", {"admin"}, PrincipalKind::kAnonymous};
  EXPECT_FALSE(fake_admin.HasScope("x")) << "an anonymous principal holds nothing";
  EXPECT_TRUE(Principal::Local("cli").IsAdmin());
}

TEST(Principal, ScopesSplitSortAndValidate) {
  EXPECT_EQ(SplitScopes(" b a,c  a "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(JoinScopes({"a", "b"}), "a b");
  EXPECT_TRUE(IsValidScope("sites.site:read"));
  EXPECT_FALSE(IsValidScope(""));
  EXPECT_FALSE(IsValidScope("a b"));
  EXPECT_FALSE(IsValidScope(std::string(129, 'a')));
}

// --- base64url ---------------------------------------------------------------

TEST(Base64Url, RoundTripsAndIsStrict) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    std::optional<std::string> back = internal::Base64UrlDecode(internal::Base64UrlEncode(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(internal::Base64UrlEncode("foobar"), "Zm9vYmFy");  // RFC 4648 §10
  EXPECT_EQ(internal::Base64UrlEncode("fo"), "Zm8");
  EXPECT_FALSE(internal::Base64UrlDecode("Zm8=").has_value()) << "padding";
  EXPECT_FALSE(internal::Base64UrlDecode("Zm+v").has_value()) << "'+' is not base64url";
  EXPECT_FALSE(internal::Base64UrlDecode("Zm9").has_value()) << "non-zero trailing bits";
  EXPECT_FALSE(internal::Base64UrlDecode("Z").has_value());
}

// --- JWT -------------------------------------------------------------------

TEST(Jwt, Rfc7515AppendixA1SignatureVerifies) {
  // RFC 7515 A.1: an HS256 JWS with a 64-byte key. It has no `sub`, so a
  // BVER principal cannot be made from it; the point is that the signature
  // check passes and the claims are read (the failure is about `sub`).
  std::optional<std::string> key = internal::Base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(key.has_value());
  auto v = Verifier(JwtConfig{*key, "", "", "", 0});
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  ExpectRejected(v->Verify(token, 1300819380 - 10), "sub must be");
  ExpectRejected(v->Verify(token, 1300819380 + 10), "expired");
  std::string tampered = token;
  tampered.back() = tampered.back() == 'k' ? 'A' : 'k';
  ExpectRejected(v->Verify(tampered, 1300819380 - 10), "");
}

TEST(Jwt, ValidHs256GivesThePrincipal) {
  auto v = HsVerifier();
  Result<Principal> p = v->Verify(Hs256({{"alg", "HS256"}, {"typ", "JWT"}}, Claims()), kNow);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->subject, "jwt:alice");
  EXPECT_EQ(p->kind, PrincipalKind::kJwt);
  EXPECT_EQ(p->scopes, (std::vector<std::string>{"sites.site:read", "sites.site:write"}));
}

TEST(Jwt, ValidRs256GivesThePrincipal) {
  auto v = RsVerifier();
  Result<Principal> p = v->Verify(Rs256({{"alg", "RS256"}}, Claims()), kNow);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->subject, "jwt:alice");
}

TEST(Jwt, BothKeysEachBoundToItsAlgorithm) {
  auto v = Verifier(JwtConfig{kSecret, Rsa().public_pem, "", "", 30});
  EXPECT_TRUE(v->Verify(Hs256({{"alg", "HS256"}}, Claims()), kNow).ok());
  EXPECT_TRUE(v->Verify(Rs256({{"alg", "RS256"}}, Claims()), kNow).ok());
  EXPECT_EQ(v->AcceptedAlgorithms(), "HS256 RS256");
}

TEST(Jwt, ExpiryAndNotBeforeWithLeeway) {
  auto v = HsVerifier();  // leeway 30 s
  EXPECT_TRUE(v->Verify(Hs256({{"alg", "HS256"}}, Claims(kNow - 20)), kNow).ok()) << "within leeway";
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, Claims(kNow - 31)), kNow), "expired");
  json no_exp = Claims();
  no_exp.erase("exp");
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, no_exp), kNow), "exp");
  json bad_exp = Claims();
  bad_exp["exp"] = "tomorrow";
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, bad_exp), kNow), "exp");
  json nbf = Claims();
  nbf["nbf"] = kNow + 20;
  EXPECT_TRUE(v->Verify(Hs256({{"alg", "HS256"}}, nbf), kNow).ok()) << "within leeway";
  nbf["nbf"] = kNow + 31;
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, nbf), kNow), "not valid yet");
}

TEST(Jwt, AlgNoneIsRefusedInAnySpelling) {
  auto v = HsVerifier();
  for (const char* alg : {"none", "None", "NONE"}) {
    std::string token = B64(json{{"alg", alg}}.dump()) + "." + B64(Claims().dump()) + ".";
    ExpectRejected(v->Verify(token, kNow), "alg none");
  }
}

TEST(Jwt, WrongAlgorithmIsRefused) {
  auto hs = HsVerifier();
  ExpectRejected(hs->Verify(Rs256({{"alg", "RS256"}}, Claims()), kNow), "not accepted");
  auto rs = RsVerifier();
  ExpectRejected(rs->Verify(Hs256({{"alg", "HS256"}}, Claims()), kNow), "not accepted");
  ExpectRejected(hs->Verify(Hs256({{"alg", "HS512"}}, Claims()), kNow), "not accepted");
  ExpectRejected(hs->Verify(Hs256({{"typ", "JWT"}}, Claims()), kNow), "no alg");
}

TEST(Jwt, AlgorithmConfusionWithThePublicKeyAsHmacSecretFails) {
  // The classic attack: sign HS256 with the server's RSA public key (which
  // is public) as the HMAC secret.
  auto rs = RsVerifier();
  std::string forged = Hs256({{"alg", "HS256"}}, Claims(), Rsa().public_pem);
  ExpectRejected(rs->Verify(forged, kNow), "not accepted");
  // Even with an HS256 secret configured too, the forged token fails: the
  // HMAC key is the secret, never the PEM.
  auto both = Verifier(JwtConfig{kSecret, Rsa().public_pem, "", "", 30});
  ExpectRejected(both->Verify(forged, kNow), "bad signature");
}

TEST(Jwt, TamperedTokensFail) {
  auto v = HsVerifier();
  std::string good = Hs256({{"alg", "HS256"}}, Claims());
  ASSERT_TRUE(v->Verify(good, kNow).ok());
  // Claims swapped for more scopes, signature kept.
  json more = Claims();
  more["scope"] = "admin";
  std::size_t d1 = good.find('.');
  std::size_t d2 = good.find('.', d1 + 1);
  std::string swapped = good.substr(0, d1 + 1) + B64(more.dump()) + good.substr(d2);
  ExpectRejected(v->Verify(swapped, kNow), "bad signature");
  // One signature byte flipped.
  std::string sig = *internal::Base64UrlDecode(good.substr(d2 + 1));
  sig[0] = static_cast<char>(sig[0] ^ 1);
  ExpectRejected(v->Verify(good.substr(0, d2 + 1) + B64(sig), kNow), "bad signature");
  // Signed with another secret.
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, Claims(), kSecret + "x"), kNow), "bad signature");
  // RS256 with a flipped byte.
  auto rs = RsVerifier();
  std::string r = Rs256({{"alg", "RS256"}}, Claims());
  std::size_t r2 = r.rfind('.');
  std::string rsig = *internal::Base64UrlDecode(r.substr(r2 + 1));
  rsig[10] = static_cast<char>(rsig[10] ^ 0x40);
  ExpectRejected(rs->Verify(r.substr(0, r2 + 1) + B64(rsig), kNow), "bad signature");
}

TEST(Jwt, MalformedTokensFail) {
  auto v = HsVerifier();
  ExpectRejected(v->Verify("", kNow), "three");
  ExpectRejected(v->Verify("a.b", kNow), "three");
  ExpectRejected(v->Verify("a.b.c.d", kNow), "three");
  ExpectRejected(v->Verify("!!.b.c", kNow), "base64url");
  ExpectRejected(v->Verify(B64("[1]") + "." + B64("{}") + ".", kNow), "header");
  ExpectRejected(v->Verify(std::string(kMaxTokenBytes + 1, 'a'), kNow), "longer");
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}, {"crit", {"exp"}}}, Claims()), kNow), "critical");
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}, {"typ", "JOSE+JSON"}}, Claims()), kNow), "typ");
  json bad_scope = Claims();
  bad_scope["scope"] = json::array({"a"});
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, bad_scope), kNow), "scope");
  json no_sub = Claims();
  no_sub.erase("sub");
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, no_sub), kNow), "sub");
  no_sub["client_id"] = "svc";
  Result<Principal> p = v->Verify(Hs256({{"alg", "HS256"}}, no_sub), kNow);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->subject, "jwt:svc");
}

TEST(Jwt, IssuerAndAudience) {
  auto v = Verifier(JwtConfig{kSecret, "", "https://issuer.test", "bver", 30});
  json c = Claims();
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, c), kNow), "issuer");
  c["iss"] = "https://issuer.test";
  ExpectRejected(v->Verify(Hs256({{"alg", "HS256"}}, c), kNow), "audience");
  c["aud"] = json::array({"other", "bver"});
  EXPECT_TRUE(v->Verify(Hs256({{"alg", "HS256"}}, c), kNow).ok());
  c["aud"] = "bver";
  EXPECT_TRUE(v->Verify(Hs256({{"alg", "HS256"}}, c), kNow).ok());
}

TEST(Jwt, ConfigurationIsChecked) {
  EXPECT_EQ(JwtVerifier::Create(JwtConfig{}).status().code(), StatusCode::kInvalidArgument);
  Status short_secret = JwtVerifier::Create(JwtConfig{"short-secret", "", "", "", 30}).status();
  EXPECT_EQ(short_secret.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(short_secret.message(), Not(HasSubstr("short-secret"))) << "never print the secret";
  EXPECT_EQ(JwtVerifier::Create(JwtConfig{"", "not a pem", "", "", 30}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(JwtVerifier::Create(JwtConfig{kSecret, "", "", "", 301}).status().code(), StatusCode::kInvalidArgument);
}

// --- API keys --------------------------------------------------------------

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_auth_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Reopen();
  }
  void Reopen() {
    Result<std::unique_ptr<store::Backend>> b =
        store::sqlite::OpenSqlite({(dir_ / "bver.db").string(), store::sqlite::Durability::kFast, 2});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
  }
  void TearDown() override {
    backend_.reset();
    fs::remove_all(dir_);
  }
  fs::path dir_;
  std::unique_ptr<store::Backend> backend_;
};

TEST_F(ApiKeysTest, CreateVerifyAndTheStoredFormHoldsNoSecret) {
  ApiKeys keys(*backend_);
  Result<CreatedApiKey> k = keys.Create("ci", {"sites.site:read", "events:read", "sites.site:read"});
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_THAT(k->key, ::testing::MatchesRegex("bver_[0-9a-f]{16}_[0-9a-f]{64}"));
  EXPECT_EQ(k->info.scopes, (std::vector<std::string>{"events:read", "sites.site:read"}));
  std::string secret = k->key.substr(22);
  Result<std::optional<store::ApiKeyRow>> row = backend_->GetApiKey(k->info.id);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_THAT((*row)->secret_hash, Not(HasSubstr(secret)));
  EXPECT_THAT((*row)->secret_hash, ::testing::MatchesRegex("sha256:[0-9a-f]{32}:[0-9a-f]{64}"));
  // The database file never holds the secret either.
  backend_.reset();
  for (const auto& e : fs::directory_iterator(dir_)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(secret), std::string::npos) << e.path();
  }
  Reopen();
  ApiKeys again(*backend_);
  Result<Principal> p = again.Verify(k->key);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->subject, "key:" + k->info.id);
  EXPECT_EQ(p->kind, PrincipalKind::kApiKey);
  EXPECT_EQ(p->scopes, k->info.scopes);
}

TEST_F(ApiKeysTest, HashIsSaltedPerKey) {
  EXPECT_NE(ApiKeys::HashSecretForTest("salt-a", "s"), ApiKeys::HashSecretForTest("salt-b", "s"));
  ApiKeys keys(*backend_);
  Result<CreatedApiKey> a = keys.Create("", {"x"});
  Result<CreatedApiKey> b = keys.Create("", {"x"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->key, b->key);
  EXPECT_NE((*backend_->GetApiKey(a->info.id))->secret_hash.substr(0, 40),
            (*backend_->GetApiKey(b->info.id))->secret_hash.substr(0, 40));
}

TEST_F(ApiKeysTest, WrongUnknownAndMalformedKeysFailAlike) {
  ApiKeys keys(*backend_);
  Result<CreatedApiKey> k = keys.Create("", {"x"});
  ASSERT_TRUE(k.ok());
  std::string wrong = k->key;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  std::string unknown = "bver_0000000000000000_" + k->key.substr(22);
  for (const std::string& bad : {wrong, unknown, std::string("bver_x"), k->key + "0", std::string("nope")}) {
    Result<Principal> p = keys.Verify(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(p.status().message(), "invalid or revoked API key");
  }
}

TEST_F(ApiKeysTest, RevokedKeysFailAtOnceHereAndAfterTheCacheTtlElsewhere) {
  std::int64_t now = 1'000'000'000'000'000;
  ApiKeys::Options o;
  o.cache_ttl_ms = 1000;
  o.clock = [&] { return now; };
  ApiKeys here(*backend_, o);
  ApiKeys other(*backend_, o);  // another process sharing the store
  Result<CreatedApiKey> k = here.Create("", {"x"});
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(here.Verify(k->key).ok());
  ASSERT_TRUE(other.Verify(k->key).ok());  // now cached there
  ASSERT_TRUE(here.Revoke(k->info.id).ok());
  EXPECT_EQ(here.Verify(k->key).status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(other.Verify(k->key).ok()) << "within the cache TTL";
  now += 1'000'001;
  EXPECT_EQ(other.Verify(k->key).status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(here.Revoke(k->key).ok()) << "revoking twice (by the full key) is fine";
  EXPECT_EQ(here.Revoke("0000000000000000").code(), StatusCode::kNotFound);
  EXPECT_EQ(here.Revoke("junk").code(), StatusCode::kInvalidArgument);
  Result<std::vector<ApiKeyInfo>> all = here.List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_FALSE((*all)[0].active());
}

TEST_F(ApiKeysTest, ConcurrentVerificationAndRevocation) {
  ApiKeys keys(*backend_);
  std::vector<CreatedApiKey> created;
  for (int i = 0; i < 4; ++i) created.push_back(*keys.Create("", {"x"}));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const CreatedApiKey& k = created[static_cast<std::size_t>((t + i) % 3)];  // never the revoked one
        if (!keys.Verify(k.key).ok()) ++wrong;
        (void)keys.Verify(created[3].key);  // races with its revocation: either answer is fine
      }
    });
  }
  ASSERT_TRUE(keys.Revoke(created[3].info.id).ok());
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(keys.Verify(created[3].key).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(ApiKeysTest, CreateChecksScopesAndName) {
  ApiKeys keys(*backend_);
  EXPECT_EQ(keys.Create("", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(keys.Create("", {"bad scope!"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(keys.Create("a\nb", {"x"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(keys.Create(std::string(201, 'n'), {"x"}).status().code(), StatusCode::kInvalidArgument);
}

// --- Authenticator -----------------------------------------------------------

TEST_F(ApiKeysTest, AuthenticatorTellsKeysFromJwtsAndRefusesBadHeaders) {
  ApiKeys keys(*backend_);
  Result<CreatedApiKey> k = keys.Create("", {"sites.site:read"});
  ASSERT_TRUE(k.ok());
  Authenticator auth(&keys, HsVerifier(), [] { return kNow * 1000000; });
  Result<Principal> anon = auth.Authenticate({});
  ASSERT_TRUE(anon.ok());
  EXPECT_FALSE(anon->authenticated());
  Result<Principal> by_key = auth.Authenticate({"Bearer " + k->key, ""});
  ASSERT_TRUE(by_key.ok()) << by_key.status().ToString();
  EXPECT_EQ(by_key->kind, PrincipalKind::kApiKey);
  Result<Principal> by_header = auth.Authenticate({"", k->key});
  ASSERT_TRUE(by_header.ok());
  Result<Principal> by_jwt = auth.Authenticate({"bearer " + Hs256({{"alg", "HS256"}}, Claims()), ""});
  ASSERT_TRUE(by_jwt.ok()) << by_jwt.status().ToString();
  EXPECT_EQ(by_jwt->kind, PrincipalKind::kJwt);
  for (const Credentials& bad : std::vector<Credentials>{{"Basic dXNlcjpwYXNz", ""},
                                                         {"Bearer", ""},
                                                         {"Bearer ", ""},
                                                         {"Bearer x.y.z", ""},
                                                         {"Bearer " + k->key, "bver_other"},
                                                         {"", "not-a-key"}}) {
    Result<Principal> p = auth.Authenticate(bad);
    ASSERT_FALSE(p.ok()) << bad.authorization << " / " << bad.api_key;
    EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
    EXPECT_THAT(p.status().message(), Not(HasSubstr(k->key.substr(22))));
  }
  Authenticator keys_only(&keys, nullptr);
  EXPECT_THAT(keys_only.Authenticate({"Bearer a.b.c", ""}).status().message(), HasSubstr("no JWT key"));
}

// --- configuration -----------------------------------------------------------

class AuthConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_authcfg_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* v : {"BVER_JWT_HS256_SECRET", "BVER_JWT_HS256_SECRET_FILE", "BVER_JWT_RS256_PUBLIC_KEY_FILE",
                          "BVER_JWT_ISSUER", "BVER_JWT_AUDIENCE", "BVER_JWT_LEEWAY_SECONDS", "BVER_TEST_SECRET"}) {
      ::unsetenv(v);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  fs::path dir_;
};

TEST_F(AuthConfigTest, NothingConfiguredMeansNoJwt) {
  Result<AuthConfig> c = LoadAuthConfig(dir_.string());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->jwt.has_value());
}

TEST_F(AuthConfigTest, FileNamesWhereSecretsAreAndRefusesInlineSecrets) {
  Write("secret.txt", kSecret + "\n");
  Write("pub.pem", Rsa().public_pem);
  Write("bver.config.yaml",
        "auth:\n  jwt:\n    hs256_secret_file: secret.txt\n    rs256_public_key_file: pub.pem\n"
        "    issuer: https://issuer.test\n    leeway_seconds: 5\n");
  Result<AuthConfig> c = LoadAuthConfig(dir_.string());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->jwt.has_value());
  EXPECT_EQ(c->jwt->hs256_secret, kSecret);
  EXPECT_EQ(c->jwt->rs256_public_key_pem, Rsa().public_pem);
  EXPECT_EQ(c->jwt->issuer, "https://issuer.test");
  EXPECT_EQ(c->jwt->leeway_seconds, 5);

  Write("bver.config.yaml", "auth:\n  jwt:\n    hs256_secret: " + kSecret + "\n");
  Result<AuthConfig> inline_secret = LoadAuthConfig(dir_.string());
  ASSERT_FALSE(inline_secret.ok());
  EXPECT_THAT(inline_secret.status().message(), HasSubstr("bver.config.yaml:3:"));
  EXPECT_THAT(inline_secret.status().message(), Not(HasSubstr(kSecret)));

  Write("bver.config.yaml", "auth:\n  jwt:\n    hs256_secret_env: BVER_TEST_SECRET\n");
  EXPECT_THAT(LoadAuthConfig(dir_.string()).status().message(), HasSubstr("BVER_TEST_SECRET is not set"));
  ::setenv("BVER_TEST_SECRET", kSecret.c_str(), 1);
  Result<AuthConfig> from_env = LoadAuthConfig(dir_.string());
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->jwt->hs256_secret, kSecret);

  Write("bver.config.yaml", "auth:\n  jwt:\n    hs256_secret_env: BVER_TEST_SECRET\n    algo: HS256\n");
  EXPECT_THAT(LoadAuthConfig(dir_.string()).status().message(), HasSubstr("unknown key \"algo\""));
}

TEST_F(AuthConfigTest, EnvironmentWinsAndBadKeysFailAtLoad) {
  ::setenv("BVER_JWT_HS256_SECRET", "too-short", 1);
  Result<AuthConfig> c = LoadAuthConfig(dir_.string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), Not(HasSubstr("too-short")));
  ::setenv("BVER_JWT_HS256_SECRET", kSecret.c_str(), 1);
  ::setenv("BVER_JWT_LEEWAY_SECONDS", "9", 1);
  c = LoadAuthConfig(dir_.string());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->jwt->leeway_seconds, 9);
  ::setenv("BVER_JWT_LEEWAY_SECONDS", "nine", 1);
  EXPECT_FALSE(LoadAuthConfig(dir_.string()).ok());
  ::unsetenv("BVER_JWT_HS256_SECRET");
  ::unsetenv("BVER_JWT_LEEWAY_SECONDS");
}

}  // namespace
}  // namespace bver::auth
