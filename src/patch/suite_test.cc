// Runs the json-patch-tests conformance suite (github.com/json-patch/json-patch-tests,
// a read-only copy in ../shared/testdata/json-patch-tests) against
// ApplyJsonPatch: every entry except those marked "disabled" is its own test
// case. Entries with "expected" must apply and give that value; entries with
// "error" must fail and leave the document unchanged; other entries must
// apply. Every entry that is not an error case also checks that Diff(doc,
// result) turns doc into the result.
//
// The suite disables four entries itself: two need an operation with two "op"
// members (duplicate keys, which nlohmann::json cannot represent: its parser
// keeps the last), two cover a scalar document and a "test" of the whole
// document. docs/patch.md says how BVER behaves on each.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "src/patch/patch.h"

namespace bver::patch {
namespace {

using Json = nlohmann::json;

constexpr char kSuiteDir[] = BVER_SOURCE_DIR "/../shared/testdata/json-patch-tests";

struct SuiteCase {
  std::string name;  // file stem, index and comment: a valid gtest name
  std::string file;
  std::size_t index = 0;
  Json entry;
};

struct Suite {
  std::vector<SuiteCase> cases;
  std::size_t disabled = 0;
  std::size_t comment_only = 0;
  std::string load_error;
};

std::string Sanitize(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
    if (out.size() >= 60) break;
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

const Suite& LoadSuite() {
  static const Suite* const kSuite = [] {
    auto* suite = new Suite();
    for (const char* file : {"tests", "spec_tests"}) {
      const std::string path = std::string(kSuiteDir) + "/" + file + ".json";
      std::ifstream in(path);
      if (!in) {
        suite->load_error += "cannot open " + path + "\n";
        continue;
      }
      Json entries = Json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!entries.is_array()) {
        suite->load_error += path + " is not a JSON array\n";
        continue;
      }
      for (std::size_t i = 0; i < entries.size(); ++i) {
        const Json& entry = entries[i];
        if (entry.value("disabled", false)) {
          ++suite->disabled;
          continue;
        }
        if (!entry.contains("doc") || !entry.contains("patch")) {
          // README: "Test records consisting only of a comment are also OK."
          ++suite->comment_only;
          continue;
        }
        std::string name = std::string(file) + "_" + std::to_string(i);
        if (entry.contains("comment") && entry["comment"].is_string()) {
          std::string comment = Sanitize(entry["comment"].get<std::string>());
          if (!comment.empty()) name += "_" + comment;
        }
        suite->cases.push_back(SuiteCase{name, file, i, entry});
      }
    }
    return suite;
  }();
  return *kSuite;
}

std::vector<SuiteCase> AllCases() { return LoadSuite().cases; }

std::vector<SuiteCase> NonErrorCases() {
  std::vector<SuiteCase> out;
  for (const SuiteCase& c : LoadSuite().cases) {
    if (!c.entry.contains("error")) out.push_back(c);
  }
  return out;
}

// Tallies for the summary line.
struct Tally {
  std::size_t run = 0;
  std::size_t passed = 0;
};
Tally& ApplyTally() {
  static Tally* const kTally = new Tally();
  return *kTally;
}
Tally& DiffTally() {
  static Tally* const kTally = new Tally();
  return *kTally;
}

class JsonPatchSuiteTest : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(JsonPatchSuiteTest, Apply) {
  const SuiteCase& c = GetParam();
  const Json& entry = c.entry;
  SCOPED_TRACE(c.file + ".json entry " + std::to_string(c.index) + ": " + entry.dump());
  ++ApplyTally().run;

  Json doc = entry["doc"];
  Status status = ApplyJsonPatch(doc, entry["patch"]);
  if (entry.contains("error")) {
    EXPECT_FALSE(status.ok()) << "expected error: " << entry["error"];
    EXPECT_EQ(doc, entry["doc"]) << "a failed patch changed the document";
    if (!status.ok()) {
      std::cout << "  " << c.name << ": " << status.ToString() << "\n";
    }
  } else {
    ASSERT_TRUE(status.ok()) << status.ToString();
    if (entry.contains("expected")) {
      EXPECT_EQ(doc, entry["expected"]);
    }
  }
  if (!HasFailure()) ++ApplyTally().passed;
}

class JsonPatchSuiteDiffTest : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(JsonPatchSuiteDiffTest, DiffRoundTrip) {
  const SuiteCase& c = GetParam();
  const Json& entry = c.entry;
  SCOPED_TRACE(c.file + ".json entry " + std::to_string(c.index) + ": " + entry.dump());
  ++DiffTally().run;

  Json to = entry.contains("expected") ? entry["expected"] : entry["doc"];
  if (!entry.contains("expected")) {
    ASSERT_TRUE(ApplyJsonPatch(to, entry["patch"]).ok());
  }
  const Json& from = entry["doc"];
  Json diff = Diff(from, to);
  EXPECT_EQ(diff, Diff(from, to)) << "Diff is not deterministic";
  Json doc = from;
  Status status = ApplyJsonPatch(doc, diff);
  ASSERT_TRUE(status.ok()) << status.ToString() << "\ndiff: " << diff.dump();
  EXPECT_EQ(doc, to) << "diff: " << diff.dump();
  if (!HasFailure()) ++DiffTally().passed;
}

std::string CaseName(const ::testing::TestParamInfo<SuiteCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(JsonPatchTests, JsonPatchSuiteTest, ::testing::ValuesIn(AllCases()),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(JsonPatchTests, JsonPatchSuiteDiffTest,
                         ::testing::ValuesIn(NonErrorCases()), CaseName);

// The suite files load and hold what we expect to run.
TEST(JsonPatchSuiteFiles, Load) {
  const Suite& suite = LoadSuite();
  EXPECT_EQ(suite.load_error, "");
  EXPECT_GT(suite.cases.size(), 100u);
}

// The disabled entries are not part of the score; this prints what BVER does
// with each (docs/patch.md records it) and checks only that nothing breaks.
TEST(JsonPatchSuiteFiles, DisabledEntriesForInformation) {
  for (const char* file : {"tests", "spec_tests"}) {
    std::ifstream in(std::string(kSuiteDir) + "/" + file + ".json");
    Json entries = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!entries.is_array()) continue;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const Json& entry = entries[i];
      if (!entry.value("disabled", false)) continue;
      Json doc = entry["doc"];
      Status status = ApplyJsonPatch(doc, entry["patch"]);
      std::cout << "  disabled " << file << "_" << i << " (" << entry.value("comment", "")
                << "): " << (status.ok() ? "applied, result " + doc.dump() : status.ToString())
                << "\n";
      if (!status.ok()) {
        EXPECT_EQ(doc, entry["doc"]);
      }
    }
  }
}

// Prints the summary after every case has run.
class SummaryEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    const Suite& suite = LoadSuite();
    std::cout << "json-patch-tests: " << ApplyTally().passed << "/" << ApplyTally().run
              << " passed (skipped " << suite.disabled << " disabled";
    if (suite.comment_only > 0) std::cout << ", " << suite.comment_only << " comment-only";
    std::cout << ")\n";
    std::cout << "json-patch-tests Diff round trip: " << DiffTally().passed << "/"
              << DiffTally().run << " passed\n";
  }
};

// gtest_main owns main(), so the environment registers itself; this is a
// test binary, where the static-initializer rule for plugins does not apply.
[[maybe_unused]] ::testing::Environment* const kSummary =
    ::testing::AddGlobalTestEnvironment(new SummaryEnvironment());

}  // namespace
}  // namespace bver::patch
