// Runs the official JSON-Schema-Test-Suite (draft 2020-12, required tests
// only) against the validator. Fails when a case fails that is not listed in
// testdata/known_failures.txt, when a listed case passes (the list is
// stale), or when fewer than 95% of the cases pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "src/schema/validator.h"

namespace bver::schema {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using CaseKey = std::tuple<std::string, std::string, std::string>;  // file, group, test

const fs::path kSuiteDir =
    fs::path(BVER_SOURCE_DIR) / ".." / "shared" / "testdata" / "json-schema-test-suite";
const fs::path kKnownFailures =
    fs::path(BVER_SOURCE_DIR) / "src" / "schema" / "testdata" / "known_failures.txt";

std::string Trim(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

Json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return Json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
}

// file | group | test | reason
std::map<CaseKey, std::string> ReadKnownFailures() {
  std::map<CaseKey, std::string> out;
  std::ifstream in(kKnownFailures);
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (int i = 0; i < 3; ++i) {
      std::size_t bar = line.find(" | ", start);
      if (bar == std::string::npos) break;
      parts.push_back(Trim(line.substr(start, bar - start)));
      start = bar + 3;
    }
    parts.push_back(Trim(line.substr(start)));
    if (parts.size() != 4) {
      ADD_FAILURE() << "malformed line in " << kKnownFailures << ": " << line;
      continue;
    }
    out[{parts[0], parts[1], parts[2]}] = parts[3];
  }
  return out;
}

// Every file under remotes/, as http://localhost:1234/<relative path>.
SchemaRegistry LoadRemotes() {
  SchemaRegistry registry;
  const fs::path remotes = kSuiteDir / "remotes";
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(remotes)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json")
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    std::string uri = "http://localhost:1234/" + fs::relative(file, remotes).generic_string();
    Json doc = ReadJson(file);
    Status status = registry.Add(uri, doc);
    EXPECT_TRUE(status.ok()) << uri << ": " << status.ToString();
  }
  return registry;
}

TEST(JsonSchemaTestSuite, Draft202012) {
  ASSERT_TRUE(fs::is_directory(kSuiteDir / "tests" / "draft2020-12")) << kSuiteDir;
  const SchemaRegistry registry = LoadRemotes();
  const std::map<CaseKey, std::string> known = ReadKnownFailures();

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kSuiteDir / "tests" / "draft2020-12")) {
    if (entry.is_regular_file() && entry.path().extension() == ".json")
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  int total = 0;
  int passed = 0;
  std::vector<std::string> unexpected;
  std::vector<std::string> stale;
  std::set<CaseKey> seen;
  for (const fs::path& file : files) {
    const std::string name = file.filename().string();
    const Json groups = ReadJson(file);
    ASSERT_TRUE(groups.is_array()) << file;
    for (const Json& group : groups) {
      const std::string group_name = group.value("description", "");
      Result<std::unique_ptr<Validator>> validator = Validator::Compile(group["schema"], &registry);
      for (const Json& test : group["tests"]) {
        const std::string test_name = test.value("description", "");
        const bool expected = test.value("valid", false);
        ++total;
        CaseKey key{name, group_name, test_name};
        seen.insert(key);
        std::string why;
        if (!validator.ok()) {
          why = "schema did not compile: " + validator.status().ToString();
        } else {
          const bool fast = (*validator)->IsValid(test["data"]);
          const Status full = (*validator)->Validate(test["data"]);
          if (fast != expected) {
            why = std::string("IsValid says ") + (fast ? "valid" : "invalid");
          } else if (full.ok() != expected) {
            why = "Validate says " + (full.ok() ? std::string("valid") : full.ToString());
          } else if (!full.ok() && full.violations().empty()) {
            why = "Validate reports no violation";
          }
        }
        const bool ok = why.empty();
        if (ok) ++passed;
        const bool listed = known.count(key) != 0;
        const std::string label = name + " | " + group_name + " | " + test_name;
        if (!ok && !listed) unexpected.push_back(label + "\n      " + why);
        if (ok && listed) stale.push_back(label);
      }
    }
  }
  for (const auto& [key, reason] : known) {
    if (seen.count(key) == 0) {
      stale.push_back(std::get<0>(key) + " | " + std::get<1>(key) + " | " + std::get<2>(key) +
                      " (no such case)");
    }
  }

  const double rate = total == 0 ? 0.0 : 100.0 * passed / total;
  std::printf("JSON-Schema-Test-Suite draft2020-12: %d/%d passed (%.1f%%)\n", passed, total, rate);
  for (const std::string& u : unexpected) std::printf("  UNEXPECTED FAILURE: %s\n", u.c_str());
  for (const std::string& s : stale)
    std::printf("  STALE KNOWN FAILURE (now passes): %s\n", s.c_str());
  std::fflush(stdout);

  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " case(s) fail that are not listed in "
                                  << kKnownFailures;
  EXPECT_TRUE(stale.empty()) << stale.size() << " listed known failure(s) are stale";
  EXPECT_GE(rate, 95.0);
}

}  // namespace
}  // namespace bver::schema
