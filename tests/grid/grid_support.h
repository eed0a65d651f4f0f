// What the grid end-to-end tests share: a project folder with the grid
// example and the electrical pack installed, the CLI run in it, a server
// stopped however a test ends, and the check that a report renders.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace grid_e2e {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kShared = std::string(BVER_SOURCE_DIR) + "/../shared/testdata";
const std::string kPack = std::string(BVER_BINARY_DIR) + "/packs/electrical";

// A project folder under the temporary directory, removed when the last
// copy of its Project goes, whether the test passed or failed (set
// BVER_KEEP_TEST_DIRS=1 to keep it for a post-mortem).
struct Project {
  fs::path dir;
  std::shared_ptr<void> removal;

  bver::testing::CommandResult Bver(std::vector<std::string> args) const {
    std::vector<std::string> all = {"-C", dir.string()};
    all.insert(all.end(), args.begin(), args.end());
    return bver::testing::RunCommand(BVER_EXE, all, dir / "scratch");
  }
  json BverJson(std::vector<std::string> args, int expect_code = 0) const {
    args.push_back("--json");
    bver::testing::CommandResult r = Bver(args);
    EXPECT_EQ(r.code, expect_code) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j.is_discarded() ? json::object() : j;
  }
  // How many references of a grid repo are stored (`ref list --json`
  // prints one reference per line).
  int Count(const std::string& repo) const {
    bver::testing::CommandResult r = Bver({"ref", "list", "grid/" + repo, "--all", "--limit", "1000", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    nlohmann::json page = nlohmann::json::parse(r.out, nullptr, false);
    return page.is_object() ? static_cast<int>(page["items"].size()) : -1;
  }
};

inline Project NewProject(const std::string& name) {
  Project p;
  p.dir = fs::temp_directory_path() / ("bver_grid_e2e_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p.dir);
  fs::create_directories(p.dir / "scratch");
  p.removal = std::shared_ptr<void>(nullptr, [dir = p.dir](void*) {
    if (std::getenv("BVER_KEEP_TEST_DIRS") != nullptr) return;
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  fs::copy_file(BVER_SOURCE_DIR "/examples/grid/bver.yaml", p.dir / "bver.yaml");
  bver::testing::CommandResult r = p.Bver({"plugins", "install", kPack});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  return p;
}

// Stops the server however the test ends (tests/support/child_registry.h
// also kills it at exit).
struct ServerGuard {
  bver::testing::ServerProcess s;
  ~ServerGuard() {
    if (s.pid > 0) bver::testing::StopServer(s);
  }
};

inline json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// Renders the page in headless Chromium and checks the screenshot is a
// picture, not a blank page: its grey levels must vary and it must not be
// (almost) all white.
inline void ExpectRendersNotBlank(const std::string& html, const fs::path& dir) {
  fs::path page = dir / "report.html";
  fs::path shot = dir / "report.png";
  std::ofstream(page) << html;
  bver::testing::CommandResult c = bver::testing::RunCommand(
      "/usr/bin/chromium",
      {"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1400",
       "--screenshot=" + shot.string(), "file://" + page.string()},
      dir / "scratch");
  ASSERT_TRUE(fs::exists(shot)) << "chromium made no screenshot (scripts/deps.sh installs it): " << c.out << c.err;
  bver::testing::CommandResult stats = bver::testing::RunCommand(
      "/usr/bin/convert", {shot.string(), "-colorspace", "Gray", "-format", "%[fx:standard_deviation] %[fx:mean]", "info:"},
      dir / "scratch");
  ASSERT_EQ(stats.code, 0) << stats.err;
  std::istringstream in(stats.out);
  double deviation = 0, mean = 1;
  in >> deviation >> mean;
  EXPECT_GT(deviation, 0.05) << stats.out;
  EXPECT_LT(mean, 0.985) << stats.out;
}

inline std::string StudyId(const std::string& pointer) { return pointer.substr(pointer.rfind('/') + 1); }

}  // namespace grid_e2e
