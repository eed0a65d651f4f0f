// `bver artifact` end to end: the real binary, run as a user or a script
// would, over the embedded SQLite store and over PostgreSQL with a shared
// artifact folder.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/support/run_command.h"
#include <optional>
#include <random>
#include <sstream>

#include "src/core/digest.h"
#include "tests/support/pg_cluster.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

using RunResult = bver::testing::CommandResult;

std::string Slurp(const fs::path& p) { return bver::testing::ReadFileForTest(p); }

std::string Sha256OfFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  bver::core::Sha256 h;
  std::string buf(1 << 20, '\0');
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    h.Update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
  }
  return h.FinishHex();
}

void WriteRandomFile(const fs::path& p, std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::ofstream out(p, std::ios::binary);
  std::string chunk(1 << 20, '\0');
  for (std::size_t done = 0; done < size; done += chunk.size()) {
    for (std::size_t i = 0; i < chunk.size(); i += 8) {
      std::uint64_t v = rng();
      std::memcpy(&chunk[i], &v, 8);
    }
    out.write(chunk.data(), static_cast<std::streamsize>(std::min(chunk.size(), size - done)));
  }
}

std::size_t CountFiles(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

class ArtifactCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The child inherits the environment: no store or folder from the caller's.
    ::unsetenv("BVER_STORE");
    ::unsetenv("BVER_ARTIFACTS_DIR");
    dir_ = fs::temp_directory_path() /
           ("bver_artifact_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "proj");
    fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir_ / "proj" / "bver.yaml");
    proj_ = (dir_ / "proj").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs bver with `args`; `env` entries are set (or, when empty, unset) in
  // the child; `stdin_file` feeds standard input.
  RunResult Run(std::vector<std::string> args, const std::map<std::string, std::string>& env = {},
                const std::string& stdin_file = "") {
    return bver::testing::RunCommand(BVER_EXE, args, dir_, {env, stdin_file});
  }

  // bver -C proj artifact ARGS...
  RunResult Art(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), {"-C", proj_, "artifact"});
    return Run(std::move(args), env);
  }

  fs::path dir_;
  std::string proj_;
};

TEST_F(ArtifactCliTest, HelpListsTheSubcommands) {
  RunResult r = Run({"--help"});
  EXPECT_THAT(r.out, HasSubstr("artifact"));
  RunResult a = Run({"artifact", "--help"});
  ASSERT_EQ(a.code, 0);
  for (const char* sub : {"put", "get", "stat"}) EXPECT_THAT(a.out, HasSubstr(sub));
  for (const char* sub : {"put", "get", "stat"}) {
    RunResult h = Run({"artifact", sub, "--help"});
    EXPECT_EQ(h.code, 0) << sub;
    EXPECT_THAT(h.out, HasSubstr("--json")) << sub;
    EXPECT_THAT(h.out, HasSubstr("--store")) << sub;
  }
}

// 50 MiB through the real binary: the digest is the file's SHA-256, the bytes
// come back unchanged, and the process never holds the file in memory.
TEST_F(ArtifactCliTest, PutAndGetALargeFile) {
  constexpr std::size_t kSize = 50u << 20;
  fs::path blob = dir_ / "blob.bin";
  WriteRandomFile(blob, kSize, 1);
  const std::string digest = "sha256:" + Sha256OfFile(blob);

  RunResult put = Art({"put", blob.string()});
  ASSERT_EQ(put.code, 0) << put.err;
  EXPECT_EQ(put.out, digest + "\n") << "prints only the digest, for scripts";
  EXPECT_LT(put.max_rss_kib, 40 * 1024) << "put streams the file";
  EXPECT_EQ(CountFiles(dir_ / "proj" / ".bver" / "artifacts"), 1u) << "kept beside .bver/bver.db";

  RunResult get = Art({"get", digest});
  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out.size(), kSize);
  EXPECT_EQ(bver::core::Sha256Hex(get.out), digest.substr(7)) << "the same bytes on stdout";
  EXPECT_LT(get.max_rss_kib, 40 * 1024) << "get streams the file";
  // A child's peak memory counts what it inherited from this process before
  // exec: give the 50 MiB back before the next run.
  std::string().swap(get.out);

  fs::path copy = dir_ / "copy.bin";
  RunResult to_file = Art({"get", digest, "-o", copy.string(), "--json"});
  ASSERT_EQ(to_file.code, 0) << to_file.err << to_file.out;
  json j = json::parse(to_file.out);
  EXPECT_EQ(j["digest"], digest);
  EXPECT_EQ(j["size"], kSize);
  EXPECT_EQ(j["path"], copy.string());
  EXPECT_EQ(Sha256OfFile(copy), digest.substr(7));
  EXPECT_LT(to_file.max_rss_kib, 40 * 1024);

  RunResult st = Art({"stat", digest.substr(7), "--json"});
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_EQ(json::parse(st.out), json({{"digest", digest}, {"size", kSize}}));
}

TEST_F(ArtifactCliTest, SecondPutIsDeduplicated) {
  fs::path f = dir_ / "f.txt";
  std::ofstream(f) << "one-line diagram";
  RunResult a = Art({"put", f.string(), "--json"});
  ASSERT_EQ(a.code, 0) << a.err;
  json first = json::parse(a.out);
  EXPECT_EQ(first["digest"], "sha256:" + bver::core::Sha256Hex("one-line diagram"));
  EXPECT_EQ(first["size"], 16);
  EXPECT_EQ(first["existed"], false);
  RunResult b = Art({"put", f.string(), "--json"});
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(json::parse(b.out)["existed"], true);
  // Standard input, same content: same artifact.
  RunResult c = Run({"-C", proj_, "artifact", "put", "-", "--json"}, {}, f.string());
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(json::parse(c.out)["digest"], first["digest"]);
  EXPECT_EQ(json::parse(c.out)["existed"], true);
  EXPECT_EQ(CountFiles(dir_ / "proj" / ".bver" / "artifacts"), 1u);
}

TEST_F(ArtifactCliTest, CorruptedContentIsNeverServed) {
  fs::path f = dir_ / "f.bin";
  WriteRandomFile(f, 3u << 20, 2);
  RunResult put = Art({"put", f.string()});
  ASSERT_EQ(put.code, 0) << put.err;
  std::string hex = put.out.substr(7, 64);
  fs::path stored = dir_ / "proj" / ".bver" / "artifacts" / hex.substr(0, 2) / hex.substr(2);
  ASSERT_TRUE(fs::exists(stored));
  fs::permissions(stored, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream s(stored, std::ios::in | std::ios::out | std::ios::binary);
    s.seekp(2'000'000);
    s.put('\x5a');
  }

  RunResult get = Art({"get", hex});
  EXPECT_EQ(get.code, 3) << "data loss is an environment failure";
  EXPECT_EQ(get.out, "") << "not one byte served";
  EXPECT_THAT(get.err, HasSubstr("corrupted"));

  fs::path out = dir_ / "out.bin";
  RunResult to_file = Art({"get", hex, "-o", out.string()});
  EXPECT_EQ(to_file.code, 3);
  EXPECT_FALSE(fs::exists(out)) << "no output file";
  std::ofstream(out) << "keep me";
  RunResult json_err = Art({"get", hex, "-o", out.string(), "--json"});
  EXPECT_EQ(json_err.code, 3);
  EXPECT_EQ(json::parse(json_err.out)["error"]["code"], "data_loss");
  EXPECT_EQ(Slurp(out), "keep me") << "an existing output file is left as it was";
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr(".bver-")))
        << "temporary left";
  }

  // Putting the original again repairs the stored copy.
  ASSERT_EQ(Art({"put", f.string()}).code, 0);
  RunResult again = Art({"get", hex, "-o", out.string()});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(Sha256OfFile(out), hex);
}

TEST_F(ArtifactCliTest, BadInputExitCodes) {
  RunResult bad = Art({"get", "sha256:xyz", "--json", "-o", (dir_ / "o").string()});
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(json::parse(bad.out)["error"]["code"], "invalid_argument");
  EXPECT_THAT(json::parse(bad.out)["error"]["message"].get<std::string>(),
              HasSubstr("sha256:<64 hex digits>"));

  RunResult unknown = Art({"get", std::string(64, 'a')});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no stored artifact sha256:" + std::string(64, 'a')));
  EXPECT_EQ(Art({"stat", std::string(64, 'a')}).code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "o"));

  RunResult missing = Art({"put", (dir_ / "no-such-file").string()});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("No such file"));
  EXPECT_EQ(Art({"put", dir_.string()}).code, 1) << "a folder";

  EXPECT_EQ(Art({"put"}).code, 2);
  EXPECT_EQ(Art({"get"}).code, 2);
  EXPECT_EQ(Art({}).code, 2);
  RunResult json_stdout = Art({"get", std::string(64, 'a'), "--json"});
  EXPECT_EQ(json_stdout.code, 2) << "--json needs -o: stdout cannot carry both";
  EXPECT_THAT(json_stdout.err, HasSubstr("--output"));
  EXPECT_EQ(Art({"get", std::string(64, 'a'), "--json", "-o", "-"}).code, 1);
}

// The example's Document holds an artifact digest: refused before the put,
// accepted after.
TEST_F(ArtifactCliTest, DocumentReferenceNeedsThePut) {
  fs::path drawing = dir_ / "sld.pdf";
  std::ofstream(drawing) << "%PDF-1.7 single-line diagram of North";
  std::string digest = "sha256:" + Sha256OfFile(drawing);
  std::string data = json({{"title", "SLD North"}, {"artifact", digest}}).dump();

  RunResult before = Run({"-C", proj_, "ref", "create", "document", "--kind", "one_line", "--id",
                          "sld", "--data", data, "--json"});
  EXPECT_EQ(before.code, 1);
  json err = json::parse(before.out)["error"];
  EXPECT_EQ(err["code"], "invalid_argument");
  EXPECT_EQ(err["violations"][0]["path"], "artifact");

  ASSERT_EQ(Art({"put", drawing.string()}).code, 0);
  RunResult after = Run({"-C", proj_, "ref", "create", "document", "--kind", "one_line", "--id",
                         "sld", "--data", data, "--json"});
  ASSERT_EQ(after.code, 0) << after.err << after.out;
  EXPECT_EQ(json::parse(after.out)["body"]["artifact"], digest);
}

TEST_F(ArtifactCliTest, ConfiguredFolderForSqlite) {
  std::ofstream(dir_ / "proj" / "bver.config.yaml") << "artifacts_dir: ../blobs\n";
  fs::path f = dir_ / "f.txt";
  std::ofstream(f) << "x";
  ASSERT_EQ(Art({"put", f.string()}).code, 0);
  EXPECT_EQ(CountFiles(dir_ / "blobs"), 1u);
  fs::path env_dir = dir_ / "from-env";
  ASSERT_EQ(Art({"put", f.string()}, {{"BVER_ARTIFACTS_DIR", env_dir.string()}}).code, 0);
  EXPECT_EQ(CountFiles(env_dir), 1u) << "the environment wins over bver.config.yaml";
}

TEST_F(ArtifactCliTest, PostgresqlNeedsASharedFolder) {
  fs::path f = dir_ / "f.txt";
  std::ofstream(f) << "x";
  // Checked before connecting: no server is needed to get this answer.
  RunResult r = Art({"put", f.string(), "--store", "postgresql://bver@127.0.0.1:1/bver"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("artifacts_dir:"));
  EXPECT_THAT(r.err, HasSubstr("BVER_ARTIFACTS_DIR"));
}

// Two project folders (two machines, say) on one PostgreSQL database and one
// shared artifact folder: what one puts, the other gets.
TEST_F(ArtifactCliTest, PostgresqlWithASharedFolder) {
  auto cluster = bver::testing::PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto url = (*cluster)->NewDatabase("artifact_cli");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  fs::path shared = dir_ / "shared-artifacts";
  fs::create_directories(dir_ / "proj2");
  fs::copy_file(dir_ / "proj" / "bver.yaml", dir_ / "proj2" / "bver.yaml");
  std::ofstream(dir_ / "proj2" / "bver.config.yaml")
      << "store: " << *url << "\nartifacts_dir: " << shared.string() << "\n";
  std::map<std::string, std::string> env = {{"BVER_STORE", *url},
                                            {"BVER_ARTIFACTS_DIR", shared.string()}};

  fs::path f = dir_ / "f.bin";
  WriteRandomFile(f, 2u << 20, 3);
  RunResult put = Art({"put", f.string(), "--json"}, env);
  ASSERT_EQ(put.code, 0) << put.err << put.out;
  std::string digest = json::parse(put.out)["digest"];
  EXPECT_EQ(CountFiles(shared), 1u);

  RunResult get = Run(
      {"-C", (dir_ / "proj2").string(), "artifact", "get", digest, "-o", (dir_ / "o").string()});
  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(Sha256OfFile(dir_ / "o"), digest.substr(7));
  RunResult doc = Run({"-C", (dir_ / "proj2").string(), "ref", "create", "document", "--data",
                       json({{"title", "t"}, {"artifact", digest}}).dump()});
  EXPECT_EQ(doc.code, 0) << doc.err;
}

}  // namespace
