// sqlite::CheckNotInUse, which `bver reset` asks before it deletes a store:
// busy while a backend has the file open, free once it is closed, and free
// for a missing file or one that is not a database.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/store/open.h"
#include "src/store/sqlite/sqlite_backend.h"

namespace bver::store::sqlite {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SqliteInUse : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_sqlite_in_use_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SqliteInUse, BusyWhileABackendHasItOpenFreeAfter) {
  const std::string path = (dir_ / "bver.db").string();
  {
    Result<std::unique_ptr<Backend>> backend = OpenSqlite({path});
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    Status busy = CheckNotInUse(path);
    EXPECT_EQ(busy.code(), StatusCode::kFailedPrecondition) << busy.ToString();
    EXPECT_THAT(busy.message(), HasSubstr("open in another process"));
  }
  EXPECT_TRUE(CheckNotInUse(path).ok()) << CheckNotInUse(path).ToString();
  // The probe leaves the database usable.
  Result<std::unique_ptr<Backend>> again = OpenSqlite({path});
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST_F(SqliteInUse, AMissingFileOrNotADatabaseIsFree) {
  EXPECT_TRUE(CheckNotInUse((dir_ / "none.db").string()).ok());
  EXPECT_FALSE(fs::exists(dir_ / "none.db")) << "the probe must not create the file";
  std::ofstream(dir_ / "junk.db") << std::string(8192, 'x');
  EXPECT_TRUE(CheckNotInUse((dir_ / "junk.db").string()).ok());
}

TEST(SqliteFile, ResolvesAgainstTheProjectAndRefusesPostgres) {
  EXPECT_EQ(*SqliteFile("sqlite:.bver/bver.db?durability=fast", "/p"), "/p/.bver/bver.db");
  EXPECT_EQ(*SqliteFile("sqlite:/abs/x.db", "/p"), "/abs/x.db");
  EXPECT_EQ(SqliteFile("postgresql://u@h:5432/db", "/p").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(SqliteFile("mysql://x", "/p").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bver::store::sqlite
