#include "src/core/uuid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace bver::core {
namespace {

std::uint64_t HexField(const std::string& s, std::size_t pos, std::size_t len) {
  return std::stoull(s.substr(pos, len), nullptr, 16);
}

std::uint64_t NowMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

TEST(UuidTest, FormatVersionAndVariant) {
  for (int i = 0; i < 1000; ++i) {
    const std::string u = NewUuidV7();
    ASSERT_EQ(u.size(), 36u);
    for (std::size_t j = 0; j < u.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        ASSERT_EQ(u[j], '-') << u;
      } else {
        ASSERT_TRUE((u[j] >= '0' && u[j] <= '9') || (u[j] >= 'a' && u[j] <= 'f')) << u;
      }
    }
    EXPECT_EQ(u[14], '7') << u;                      // version 7
    EXPECT_EQ(HexField(u, 19, 1) >> 2, 0b10u) << u;  // variant 10
    EXPECT_TRUE(IsUuidV7(u)) << u;
  }
}

TEST(UuidTest, TimestampIsUnixMillis) {
  const std::uint64_t before = NowMillis();
  const std::string u = NewUuidV7();
  const std::uint64_t after = NowMillis();
  const std::uint64_t ms = (HexField(u, 0, 8) << 16) | HexField(u, 9, 4);
  EXPECT_GE(ms, before);
  EXPECT_LE(ms, after + 1);  // at most one borrowed millisecond
}

TEST(UuidTest, IsUuidV7RejectsOtherForms) {
  EXPECT_TRUE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a8057"));
  EXPECT_TRUE(IsUuidV7("01890a5d-ac96-7000-8000-000000000000"));
  EXPECT_TRUE(IsUuidV7("01890a5d-ac96-7fff-bfff-ffffffffffff"));
  EXPECT_FALSE(IsUuidV7(""));
  EXPECT_FALSE(IsUuidV7("01890A5D-AC96-774B-BCCE-B302099A8057"));   // upper case
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-474b-bcce-b302099a8057"));   // version 4
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-ccce-b302099a8057"));   // variant 110
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-7cce-b302099a8057"));   // variant 0
  EXPECT_FALSE(IsUuidV7("01890a5dac96774bbcceb302099a8057"));       // no dashes
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a805"));    // short
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a80577"));  // long
  EXPECT_FALSE(IsUuidV7("01890a5d_ac96-774b-bcce-b302099a8057"));   // bad separator
  EXPECT_FALSE(IsUuidV7("01890a5d-ac96-774b-bcce-b302099a805g"));   // not hex
  EXPECT_FALSE(IsUuidV7("{1890a5d-ac96-774b-bcce-b302099a8057"));
}

TEST(UuidTest, StrictlyIncreasingAndUniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25000;  // 100k in all
  std::vector<std::vector<std::string>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&out = per_thread[t]] {
      out.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) out.push_back(NewUuidV7());
    });
  }
  for (std::thread& t : threads) t.join();

  std::vector<std::string> all;
  for (const auto& ids : per_thread) {
    // Fixed-width lower-case hex: string order is numeric order.
    for (std::size_t i = 1; i < ids.size(); ++i) {
      ASSERT_LT(ids[i - 1], ids[i]) << "at " << i;
    }
    all.insert(all.end(), ids.begin(), ids.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate id";
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(UuidTest, ManyInOneMillisecondStayOrdered) {
  std::vector<std::string> ids;
  ids.reserve(100000);
  for (int i = 0; i < 100000; ++i) ids.push_back(NewUuidV7());
  for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]);
  // Many share a millisecond, so the counter did the ordering.
  std::size_t same_ms = 0;
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i].compare(0, 13, ids[i - 1], 0, 13) == 0) ++same_ms;
  }
  EXPECT_GT(same_ms, 1000u);
}

}  // namespace
}  // namespace bver::core
