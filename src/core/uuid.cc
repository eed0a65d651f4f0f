#include "src/core/uuid.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace bver::core {
namespace {

constexpr int kCounterBits = 42;
constexpr std::uint64_t kCounterLimit = std::uint64_t{1} << kCounterBits;
// A fresh counter starts below half its range (RFC 9562 §6.2: leave room
// to count up within the millisecond).
constexpr std::uint64_t kSeedMask = (kCounterLimit >> 1) - 1;

// Fills `buf` from the kernel CSPRNG; falls back to OpenSSL's CSPRNG where
// getrandom is unavailable.
void RandomBytes(unsigned char* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  if (got == n) return;
  if (RAND_bytes(buf, static_cast<int>(n)) == 1) return;
  // Without a CSPRNG the ids could collide across processes; no id is
  // better than a guessable one.
  std::fprintf(stderr, "bver: fatal: no cryptographic random source for UUIDv7\n");
  std::abort();
}

std::uint64_t Load64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

std::uint64_t NowMillis() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

struct Generator {
  std::mutex mu;
  std::uint64_t last_ms = 0;  // GUARDED_BY(mu)
  std::uint64_t counter = 0;  // GUARDED_BY(mu)
};

Generator& TheGenerator() {
  static Generator* const kGenerator = [] {
    auto* g = new Generator();
    // Keep the lock usable in a child forked while another thread held it,
    // and give the child its own counter so it does not replay the parent's.
    pthread_atfork([] { TheGenerator().mu.lock(); }, [] { TheGenerator().mu.unlock(); },
                   [] {
                     Generator& child = TheGenerator();
                     child.last_ms = 0;
                     child.mu.unlock();
                   });
    return g;
  }();
  return *kGenerator;
}

}  // namespace

std::string NewUuidV7() {
  // Random bits are drawn outside the lock: 8 bytes for a counter seed and
  // 4 for the tail of rand_b.
  unsigned char random[12];
  RandomBytes(random, sizeof random);
  const std::uint64_t seed = Load64(random) & kSeedMask;
  const std::uint32_t tail = (std::uint32_t{random[8]} << 24) | (std::uint32_t{random[9]} << 16) |
                             (std::uint32_t{random[10]} << 8) | random[11];

  std::uint64_t ms;
  std::uint64_t counter;
  {
    Generator& g = TheGenerator();
    std::lock_guard<std::mutex> lock(g.mu);
    const std::uint64_t now = NowMillis();
    if (now > g.last_ms) {
      g.last_ms = now;
      g.counter = seed;
    } else if (++g.counter == kCounterLimit) {
      // The counter is spent for this millisecond: borrow the next one.
      ++g.last_ms;
      g.counter = seed;
    }
    ms = g.last_ms;
    counter = g.counter;
  }

  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  const std::uint64_t rand_a = counter >> 30;            // 12 bits
  const std::uint64_t rand_b_hi = counter & 0x3FFFFFFF;  // 30 bits
  b[6] = static_cast<unsigned char>(0x70 | (rand_a >> 8));
  b[7] = static_cast<unsigned char>(rand_a);
  b[8] = static_cast<unsigned char>(0x80 | (rand_b_hi >> 24));
  b[9] = static_cast<unsigned char>(rand_b_hi >> 16);
  b[10] = static_cast<unsigned char>(rand_b_hi >> 8);
  b[11] = static_cast<unsigned char>(rand_b_hi);
  b[12] = static_cast<unsigned char>(tail >> 24);
  b[13] = static_cast<unsigned char>(tail >> 16);
  b[14] = static_cast<unsigned char>(tail >> 8);
  b[15] = static_cast<unsigned char>(tail);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0F];
  }
  return out;
}

bool IsUuidV7(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return text[14] == '7' &&
         (text[19] == '8' || text[19] == '9' || text[19] == 'a' || text[19] == 'b');
}

}  // namespace bver::core
