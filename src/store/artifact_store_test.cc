// Artifacts over every backend: round trips, deduplication, verification on
// read, digests, the shared-folder cases, and memory that does not grow with
// the size of an artifact.
#include "src/store/artifact_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <thread>

#include "src/core/digest.h"
#include "src/domain/compiler.h"
#include "src/store/open.h"
#include "src/store/postgres/postgres_backend.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "src/store/store.h"
#include "tests/support/pg_cluster.h"

namespace bver::store {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- helpers

// An input stream of `size` pseudo-random bytes, generated as it is read: the
// content is never in memory as a whole.
class GeneratedBuf : public std::streambuf {
 public:
  GeneratedBuf(std::uint64_t size, std::uint64_t seed) : left_(size), state_(seed | 1) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (left_ == 0) return traits_type::eof();
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, buf_.size()));
    for (std::size_t i = 0; i < n; ++i) {
      state_ ^= state_ << 13;  // xorshift64
      state_ ^= state_ >> 7;
      state_ ^= state_ << 17;
      buf_[i] = static_cast<char>(state_ >> 56);
    }
    left_ -= n;
    setg(buf_.data(), buf_.data(), buf_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::array<char, 64 * 1024> buf_{};
  std::uint64_t left_;
  std::uint64_t state_;
};

// An output stream that hashes and counts what is written, keeping nothing.
class HashingBuf : public std::streambuf {
 public:
  std::string FinishHex() { return hash_.FinishHex(); }
  std::uint64_t size() const { return size_; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    hash_.Update(std::string_view(s, static_cast<std::size_t>(n)));
    size_ += static_cast<std::uint64_t>(n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) {
      char ch = traits_type::to_char_type(c);
      xsputn(&ch, 1);
    }
    return traits_type::not_eof(c);
  }

 private:
  core::Sha256 hash_;
  std::uint64_t size_ = 0;
};

std::string GeneratedDigest(std::uint64_t size, std::uint64_t seed) {
  GeneratedBuf gen(size, seed);
  std::istream in(&gen);
  HashingBuf hash;
  std::ostream out(&hash);
  out << in.rdbuf();
  return hash.FinishHex();
}

// Peak resident memory since the last ResetPeakRss, in bytes (VmHWM).
std::uint64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}
// Resident memory now (statm's second field, in pages).
std::uint64_t CurrentRss() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}
// Writing 5 to clear_refs resets VmHWM (Linux 4.0+); false when not allowed.
bool ResetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good();
}

void FlipByte(const std::string& path, std::uint64_t at) {
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x20));
}

std::size_t CountFiles(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------- backends

struct BackendCase {
  std::string name;
  std::function<Result<std::unique_ptr<Backend>>(const fs::path& dir, const std::string& db)> open;
};


std::vector<BackendCase> Backends() {
  return {
      {"sqlite",
       [](const fs::path& dir, const std::string& db) {
         return sqlite::OpenSqlite({(dir / (db + ".db")).string(), sqlite::Durability::kFull, 2});
       }},
      {"postgresql",
       [](const fs::path& dir, const std::string& db) -> Result<std::unique_ptr<Backend>> {
         BVER_ASSIGN_OR_RETURN(std::string url,
                               bver::testing::TestDatabaseUrl(dir.filename().string() + "_" + db));
         return postgres::OpenPostgres({url, 2});
       }}};
}

void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

class ArtifactStoreTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("bver_art_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Result<std::unique_ptr<Backend>> b = GetParam().open(dir_, "main");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
    artifacts_ = std::make_unique<ArtifactStore>((dir_ / "artifacts").string(), *backend_);
  }
  void TearDown() override {
    artifacts_.reset();
    backend_.reset();
    fs::remove_all(dir_);
  }

  ArtifactInfo MustPut(const std::string& content) {
    std::istringstream in(content);
    Result<ArtifactInfo> r = artifacts_->Put(in);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ArtifactInfo{};
  }

  Result<std::string> GetString(const std::string& digest) {
    std::ostringstream out;
    Status s = artifacts_->Get(digest, out);
    if (!s.ok()) {
      EXPECT_EQ(out.str(), "") << "nothing is served on error";
      return s;
    }
    return out.str();
  }

  fs::path dir_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ArtifactStore> artifacts_;
};

TEST_P(ArtifactStoreTest, PutThenGetRoundTrips) {
  ArtifactInfo a = MustPut("hello, substation");
  EXPECT_EQ(a.digest, "sha256:" + core::Sha256Hex("hello, substation"));
  EXPECT_EQ(a.size, 17u);
  EXPECT_FALSE(a.existed);
  std::string hex = a.digest.substr(7);
  EXPECT_TRUE(fs::exists(dir_ / "artifacts" / hex.substr(0, 2) / hex.substr(2)));
  EXPECT_EQ(*GetString(a.digest), "hello, substation");
  // Without the prefix, and in upper case.
  EXPECT_EQ(*GetString(hex), "hello, substation");
  std::string upper = hex;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  EXPECT_EQ(*GetString("sha256:" + upper), "hello, substation");

  Result<ArtifactInfo> st = artifacts_->Stat(hex);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->digest, a.digest);
  EXPECT_EQ(st->size, 17u);
  EXPECT_TRUE(*backend_->HasArtifact(hex)) << "recorded in the backend";

  fs::path out = dir_ / "out.bin";
  Result<ArtifactInfo> ex = artifacts_->Export(a.digest, out.string());
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  EXPECT_EQ(ex->size, 17u);
  std::ifstream f(out, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), "hello, substation");
}

TEST_P(ArtifactStoreTest, EmptyContentIsAnArtifact) {
  ArtifactInfo a = MustPut("");
  EXPECT_EQ(a.digest, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(a.size, 0u);
  EXPECT_EQ(*GetString(a.digest), "");
}

TEST_P(ArtifactStoreTest, EqualContentIsStoredOnce) {
  ArtifactInfo first = MustPut("same bytes");
  ArtifactInfo second = MustPut("same bytes");
  EXPECT_FALSE(first.existed);
  EXPECT_TRUE(second.existed);
  EXPECT_EQ(first.digest, second.digest);
  MustPut("other bytes");
  EXPECT_EQ(CountFiles(dir_ / "artifacts"), 2u)
      << "one file per distinct content, no temporaries left";
  EXPECT_TRUE(fs::is_empty(dir_ / "artifacts" / "tmp"));
}

TEST_P(ArtifactStoreTest, ConcurrentPutsOfTheSameContent) {
  std::vector<std::thread> threads;
  std::vector<Result<ArtifactInfo>> results(6, Result<ArtifactInfo>(InternalError("not run")));
  std::string content(300'000, 'x');
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      std::istringstream in(content);
      results[i] = artifacts_->Put(in);
    });
  }
  for (std::thread& t : threads) t.join();
  int fresh = 0;
  for (const Result<ArtifactInfo>& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->digest, "sha256:" + core::Sha256Hex(content));
    fresh += r->existed ? 0 : 1;
  }
  EXPECT_EQ(fresh, 1) << "exactly one put recorded it first";
  EXPECT_EQ(CountFiles(dir_ / "artifacts"), 1u);
  EXPECT_EQ(*GetString(results[0]->digest), content);
}

TEST_P(ArtifactStoreTest, CorruptedContentIsDataLossAndNeverServed) {
  ArtifactInfo a = MustPut(std::string(5000, 'a') + "tail");
  std::string hex = a.digest.substr(7);
  std::string path = artifacts_->PathFor(hex);
  FlipByte(path, 4321);

  Result<std::string> g = GetString(a.digest);
  ASSERT_EQ(g.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(g.status().message(), HasSubstr("corrupted"));
  EXPECT_THAT(g.status().message(), HasSubstr(path));

  // Export never leaves a corrupted (or partial) file, and keeps what was there.
  fs::path out = dir_ / "out.bin";
  Result<ArtifactInfo> ex = artifacts_->Export(a.digest, out.string());
  EXPECT_EQ(ex.status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(out));
  std::ofstream(out) << "previous";
  EXPECT_EQ(artifacts_->Export(a.digest, out.string()).status().code(), StatusCode::kDataLoss);
  std::ifstream f(out);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), "previous");
  EXPECT_EQ(CountFiles(dir_ / "artifacts"), 1u);
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr(".bver-")))
        << "temporary left";
  }

  // Truncation is caught too.
  fs::resize_file(path, 10);
  EXPECT_EQ(GetString(a.digest).status().code(), StatusCode::kDataLoss);

  // Putting the original content again repairs it.
  ArtifactInfo again = MustPut(std::string(5000, 'a') + "tail");
  EXPECT_TRUE(again.existed);
  EXPECT_EQ(*GetString(a.digest), std::string(5000, 'a') + "tail");
}

TEST_P(ArtifactStoreTest, RecordedButMissingFileIsDataLoss) {
  ArtifactInfo a = MustPut("will vanish");
  fs::remove(artifacts_->PathFor(a.digest.substr(7)));
  Result<std::string> g = GetString(a.digest);
  ASSERT_EQ(g.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(g.status().message(), HasSubstr("missing"));
  EXPECT_THAT(g.status().message(), HasSubstr((dir_ / "artifacts").string()))
      << "names the folder to check";
  EXPECT_EQ(artifacts_->Stat(a.digest).status().code(), StatusCode::kDataLoss);
}

TEST_P(ArtifactStoreTest, BadDigestsAreInvalidArgument) {
  for (const std::string& bad :
       {std::string(""), std::string("sha256:"), std::string("sha256:abc"), std::string(64, 'g'),
        std::string(65, 'a'), "md5:" + std::string(64, 'a'), "sha256:" + std::string(63, 'a') + " ",
        "sha256: " + std::string(64, 'a'), "SHA256:" + std::string(64, 'a')}) {
    std::ostringstream out;
    Status s = artifacts_->Get(bad, out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("sha256:<64 hex digits>")) << bad;
    EXPECT_EQ(artifacts_->Stat(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(artifacts_->Export(bad, (dir_ / "x").string()).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

TEST_P(ArtifactStoreTest, UnknownDigestIsNotFound) {
  std::string digest = "sha256:" + core::Sha256Hex("never stored");
  Result<std::string> g = GetString(digest);
  EXPECT_EQ(g.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(g.status().message(), HasSubstr(digest));
  EXPECT_EQ(artifacts_->Stat(digest).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(artifacts_->Export(digest, (dir_ / "x").string()).status().code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

// Two stores sharing one folder (several PostgreSQL databases, or a crash
// between the file and the record): a file alone does not make an artifact
// known, and the next Put adopts it.
TEST_P(ArtifactStoreTest, AFileWithoutARecordIsAdoptedByPut) {
  ArtifactInfo a = MustPut("shared");
  Result<std::unique_ptr<Backend>> other = GetParam().open(dir_, "other");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ArtifactStore second((dir_ / "artifacts").string(), **other);
  std::ostringstream out;
  EXPECT_EQ(second.Get(a.digest, out).code(), StatusCode::kNotFound);
  std::istringstream in("shared");
  Result<ArtifactInfo> put = second.Put(in);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_FALSE(put->existed) << "new to this store";
  ASSERT_TRUE(second.Get(a.digest, out).ok());
  EXPECT_EQ(out.str(), "shared");
  EXPECT_EQ(CountFiles(dir_ / "artifacts"), 1u);
}

// An input that fails after 3 MiB, as a network upload or a disk might.
class FailingBuf : public GeneratedBuf {
 public:
  FailingBuf() : GeneratedBuf(10ull << 20, 7) {}

 protected:
  int_type underflow() override {
    served_ += static_cast<std::uint64_t>(egptr() - eback());
    if (served_ >= (3ull << 20)) throw std::runtime_error("connection reset");
    return GeneratedBuf::underflow();
  }

 private:
  std::uint64_t served_ = 0;
};

TEST_P(ArtifactStoreTest, UnreadableInputStoresNothing) {
  std::ifstream missing((dir_ / "no-such-file").string(), std::ios::binary);
  Result<ArtifactInfo> r = artifacts_->Put(missing);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);

  FailingBuf failing;
  std::istream in(&failing);
  r = artifacts_->Put(in);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("input failed"));
  EXPECT_EQ(CountFiles(dir_ / "artifacts"), 0u) << "temporary removed";
}

// The example: a Document's artifact field must name a stored
// artifact; writing it before the put is a validation error.
TEST_P(ArtifactStoreTest, DocumentReferenceNeedsAStoredArtifact) {
  Result<domain::Platform> p =
      domain::CompileFile(BVER_SOURCE_DIR "/examples/substation/bver.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  Store::Options o;
  o.manifest_fingerprint = "sha256:test";
  Result<std::unique_ptr<Backend>> b = GetParam().open(dir_, "docs");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Result<std::unique_ptr<Store>> s = Store::Open(
      std::make_shared<domain::Platform>(std::move(p).value()), std::move(b).value(), o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ArtifactStore artifacts((dir_ / "artifacts").string(), (*s)->backend());

  const std::string drawing = "%PDF-1.7 single-line diagram";
  const std::string digest = "sha256:" + core::Sha256Hex(drawing);
  WriteContext ctx{"tester", "corr-1", "", std::nullopt, "", "", nullptr};
  json body = {{"title", "SLD North"}, {"artifact", digest}, {"media_type", "application/pdf"}};
  Result<Reference> before = (*s)->Create("document", "one_line", body, ctx, "sld-north");
  ASSERT_EQ(before.status().code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(before.status().violations().size(), 1u);
  EXPECT_EQ(before.status().violations()[0].path, "artifact");
  EXPECT_EQ(before.status().violations()[0].rule, "artifact");

  std::istringstream in(drawing);
  Result<ArtifactInfo> put = artifacts.Put(in);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_EQ(put->digest, digest);
  Result<Reference> after = (*s)->Create("document", "one_line", body, ctx, "sld-north");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  std::ostringstream out;
  ASSERT_TRUE(artifacts.Get((*after->body)["artifact"].get<std::string>(), out).ok());
  EXPECT_EQ(out.str(), drawing);
}

// 50 MiB in and out, while memory stays far below that: both directions
// stream in chunks.
TEST_P(ArtifactStoreTest, LargeArtifactsStreamInBoundedMemory) {
  if (GetParam().name != "sqlite") GTEST_SKIP() << "backend-independent; run once, on SQLite";
  constexpr std::uint64_t kSize = 50ull << 20;
  constexpr std::uint64_t kBound = 16ull << 20;
  const std::string expected = GeneratedDigest(kSize, 42);

  bool peak = ResetPeakRss();
  std::uint64_t before = CurrentRss();
  GeneratedBuf gen(kSize, 42);
  std::istream in(&gen);
  Result<ArtifactInfo> put = artifacts_->Put(in);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->digest, "sha256:" + expected);
  EXPECT_EQ(put->size, kSize);

  HashingBuf sink;
  std::ostream out(&sink);
  ASSERT_TRUE(artifacts_->Get(put->digest, out).ok());
  EXPECT_EQ(sink.FinishHex(), expected);
  EXPECT_EQ(sink.size(), kSize);
  Result<ArtifactInfo> ex = artifacts_->Export(put->digest, (dir_ / "big.bin").string());
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  EXPECT_EQ(fs::file_size(dir_ / "big.bin"), kSize);

  std::uint64_t after = peak ? PeakRss() : CurrentRss();
  std::cout << "resident memory: " << before / 1024 << " KiB before, " << after / 1024 << " KiB "
            << (peak ? "at peak" : "after") << "\n";
  EXPECT_LT(after, before + kBound) << "resident memory grew by " << (after - before) / 1024
                                    << " KiB" << (peak ? " at peak" : "");
}

INSTANTIATE_TEST_SUITE_P(Backends, ArtifactStoreTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<BackendCase>& i) {
                           return i.param.name;
                         });

// ---------------------------------------------------------------- folder choice

class ChooseArtifactDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("BVER_ARTIFACTS_DIR");
    dir_ = fs::temp_directory_path() / ("bver_artdir_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    ::unsetenv("BVER_ARTIFACTS_DIR");
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(ChooseArtifactDirTest, SqliteKeepsThemBesideTheDatabase) {
  EXPECT_EQ(*ChooseArtifactDir("sqlite:.bver/bver.db", "proj"), "proj/.bver/artifacts");
  EXPECT_EQ(*ChooseArtifactDir("sqlite:/var/lib/bver/x.db?durability=fast", "proj"),
            "/var/lib/bver/artifacts");
  EXPECT_EQ(ChooseArtifactDir("sqlite:", "proj").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ChooseArtifactDirTest, PostgresNeedsAConfiguredFolder) {
  Result<std::string> r = ChooseArtifactDir("postgresql://bver@db:5432/bver", dir_.string());
  ASSERT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("artifacts_dir:"));
  EXPECT_THAT(r.status().message(), HasSubstr("BVER_ARTIFACTS_DIR"));

  std::ofstream(dir_ / "bver.config.yaml")
      << "store: postgresql://bver@db/bver\nartifacts_dir: shared/art\n";
  EXPECT_EQ(*ChooseArtifactDir("postgresql://bver@db:5432/bver", dir_.string()),
            (dir_ / "shared/art").string());
  // The environment wins over the file, as for the store URL.
  ::setenv("BVER_ARTIFACTS_DIR", "/mnt/bver-artifacts", 1);
  EXPECT_EQ(*ChooseArtifactDir("postgres://bver@db/bver", dir_.string()), "/mnt/bver-artifacts");
  // A configured folder applies to SQLite too.
  EXPECT_EQ(*ChooseArtifactDir("sqlite:.bver/bver.db", dir_.string()), "/mnt/bver-artifacts");
}

TEST_F(ChooseArtifactDirTest, BadConfigurationIsReported) {
  std::ofstream(dir_ / "bver.config.yaml") << "artifacts_dir: [1, 2]\n";
  Result<std::string> r = ChooseArtifactDir("postgresql://db/bver", dir_.string());
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("artifacts_dir"));
  EXPECT_EQ(ChooseArtifactDir("mysql://x", "proj").status().code(), StatusCode::kInvalidArgument);
}

TEST(ParseArtifactDigest, AcceptsBothFormsAndLowersCase) {
  std::string hex = core::Sha256Hex("x");
  EXPECT_EQ(*ParseArtifactDigest("sha256:" + hex), hex);
  EXPECT_EQ(*ParseArtifactDigest(hex), hex);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(*ParseArtifactDigest(upper), hex);
}

}  // namespace
}  // namespace bver::store
