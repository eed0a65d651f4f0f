#include "src/core/digest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace bver::core {
namespace {

// FIPS 180-2 / NIST CSRC example vectors for SHA-256.
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* k448Bits = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr const char* k448BitsDigest =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr const char* kMillionA =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST(DigestTest, FipsVectors) {
  EXPECT_EQ(Sha256Hex(""), kEmpty);
  EXPECT_EQ(Sha256Hex("abc"), kAbc);
  EXPECT_EQ(Sha256Hex(k448Bits), k448BitsDigest);
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')), kMillionA);
}

TEST(DigestTest, BinaryData) {
  const std::string zeros(3, '\0');
  EXPECT_EQ(Sha256Hex(zeros).size(), 64u);
  EXPECT_NE(Sha256Hex(zeros), Sha256Hex(""));
}

TEST(DigestTest, StreamingMatchesOneShot) {
  Sha256 h;
  EXPECT_EQ(h.FinishHex(), kEmpty);
  h.Update("a");
  h.Update("");
  h.Update("bc");
  EXPECT_EQ(h.FinishHex(), kAbc);
  // FinishHex starts a new message.
  const std::string msg = k448Bits;
  for (std::size_t i = 0; i < msg.size(); i += 7) h.Update(std::string_view(msg).substr(i, 7));
  EXPECT_EQ(h.FinishHex(), k448BitsDigest);
  for (int i = 0; i < 1000; ++i) h.Update(std::string(1000, 'a'));
  EXPECT_EQ(h.FinishHex(), kMillionA);
}

TEST(DigestTest, MovedStreamKeepsItsState) {
  Sha256 a;
  a.Update("ab");
  Sha256 b = std::move(a);
  b.Update("c");
  EXPECT_EQ(b.FinishHex(), kAbc);
}

TEST(DigestTest, JsonDigestIsOverCanonicalJson) {
  nlohmann::json v = nlohmann::json::parse(R"({"b": [1, 2.0], "a": "x"})");
  Result<std::string> d = JsonDigest(v);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "sha256:" + Sha256Hex(R"({"a":"x","b":[1,2]})"));
  // Key order and formatting do not change the digest.
  EXPECT_EQ(*JsonDigest(nlohmann::json::parse("{\"a\" : \"x\",\n \"b\":[1.0,2]}")), *d);
  EXPECT_NE(*JsonDigest(nlohmann::json::parse(R"({"a":"x","b":[2,1]})")), *d);
  EXPECT_EQ(*JsonDigest(nlohmann::json::object()), "sha256:" + Sha256Hex("{}"));
}

TEST(DigestTest, JsonDigestPassesOnCanonicalJsonErrors) {
  Result<std::string> d = JsonDigest(nlohmann::json{{"n", 9007199254740993ULL}});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bver::core
