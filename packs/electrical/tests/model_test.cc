// The Case <-> references bridge: an import's creates, read back as the
// related references a job hands the plugin, give the same Case, so an
// export writes the same numbers (every case of ../shared/testdata/matpower
// and the PSS/E conversions).
#include "packs/electrical/src/model.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "packs/electrical/src/matpower.h"
#include "packs/electrical/tests/case_compare.h"
#include "packs/electrical/tests/case_json.h"

namespace grid {
namespace {

using nlohmann::json;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What the job engine hands a plugin: the network resolved, the references
// pointing at it as {pointer (pinned), kind, body}, in no particular order.
struct AsStored {
  json network;
  json related = json::array();
};

AsStored Store(const json& creates) {
  AsStored s;
  for (const json& c : creates) {
    std::string ptr = "bver://" + c["repo"].get<std::string>() + "/" + c["id"].get<std::string>() + "~1";
    json ref = {{"pointer", ptr}, {"body", c["body"]}};
    if (c.contains("kind")) ref["kind"] = c["kind"];
    if (c["repo"] == "grid/network") {
      s.network = ref;
    } else {
      s.related.push_back(ref);
    }
  }
  // Reverse, so the reader must sort by seq rather than rely on the order.
  std::reverse(s.related.begin(), s.related.end());
  return s;
}

Case RoundTrip(const Case& c, ElementPointers* p = nullptr) {
  json creates = ImportCreates(c, "net", NetworkBody(c, "test", json{{"format", "matpower"}}), nullptr);
  AsStored s = Store(creates);
  Case back;
  std::string error;
  EXPECT_TRUE(CaseFromReferences(s.network, s.related, &back, p, &error)) << error;
  return back;
}

class EveryMatpowerCase : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryMatpowerCase, ReferencesGiveTheSameCaseAndExport) {
  const std::string path = testing::TestdataDir() + "/matpower/m/" + GetParam() + ".m";
  Case c;
  ParseError err;
  ASSERT_TRUE(ReadMatpower(ReadText(path), &c, &err)) << err.line << ":" << err.column << " " << err.message;
  ElementPointers p;
  Case back = RoundTrip(c, &p);
  ASSERT_EQ(back.bus.size(), c.bus.size());
  ASSERT_EQ(back.branch.size(), c.branch.size());
  ASSERT_EQ(back.gen.size(), c.gen.size());
  EXPECT_EQ(p.bus.size(), c.bus.size());
  EXPECT_EQ(p.bus[0], "bver://grid/bus/net-bus-" + std::to_string(c.bus[0].number) + "~1");
  for (std::size_t i = 0; i < c.bus.size(); ++i) {
    EXPECT_EQ(back.bus[i].pd, c.bus[i].pd) << "bus " << c.bus[i].number;
    EXPECT_EQ(back.bus[i].qd, c.bus[i].qd) << "bus " << c.bus[i].number;
    EXPECT_EQ(back.bus[i].gs, c.bus[i].gs) << "bus " << c.bus[i].number;
    EXPECT_EQ(back.bus[i].bs, c.bus[i].bs) << "bus " << c.bus[i].number;
  }
  // The export of the stored network is the export of the file, number for
  // number (names aside: the case name comes from the network's name).
  // An export of the stored network reads back to the same numbers as the
  // file (MATPOWER reads "-0" as 0, and so does the comparison).
  Case exported;
  ASSERT_TRUE(ReadMatpower(WriteMatpower(back), &exported, &err)) << err.message;
  EXPECT_EQ(testing::FirstDifference(exported, c), "");
}

INSTANTIATE_TEST_SUITE_P(Cases, EveryMatpowerCase,
                         ::testing::Values("case14", "case30", "case57", "case89pegase", "case118", "case300",
                                           "case1354pegase", "case2383wp", "case_ACTIVSg2000", "case9241pegase",
                                           "case_ACTIVSg10k"));

TEST(Model, ImportIdsAndPointersReadLikeTheEquipment) {
  Case c = testing::ReadCaseJson(testing::TestdataDir() + "/matpower/case14.json");
  ElementPointers p;
  json creates = ImportCreates(c, "ieee14", NetworkBody(c, "IEEE 14", json{{"format", "matpower"}}), &p);
  EXPECT_EQ(creates[0]["repo"], "grid/network");
  EXPECT_EQ(creates[0]["id"], "ieee14");
  EXPECT_EQ(p.bus[3], "bver://grid/bus/ieee14-bus-4");
  EXPECT_EQ(p.branch[0], "bver://grid/branch/ieee14-br-1-2-1");
  EXPECT_EQ(p.gen[0], "bver://grid/generator/ieee14-gen-1-1");
  // case14: 11 buses with load, one with a shunt (bus 9, BS 19).
  EXPECT_EQ(p.load.size(), 11u);
  ASSERT_EQ(p.shunt.size(), 1u);
  EXPECT_EQ(p.shunt[0], "bver://grid/shunt/ieee14-sh-9-1");
  const json* branch = nullptr;
  for (const json& cr : creates) {
    if (cr["id"] == "ieee14-br-4-7-1") branch = &cr;
  }
  ASSERT_NE(branch, nullptr);
  EXPECT_EQ((*branch)["kind"], "transformer");  // TAP 0.978
  EXPECT_EQ((*branch)["body"]["from_bus"], "bver://grid/bus/ieee14-bus-4");
  EXPECT_DOUBLE_EQ((*branch)["body"]["tap_ratio"].get<double>(), 0.978);
}

TEST(Model, InconsistentReferencesAreNamed) {
  Case c = testing::ReadCaseJson(testing::TestdataDir() + "/matpower/case14.json");
  json creates = ImportCreates(c, "n", NetworkBody(c, "n", json::object()), nullptr);
  AsStored s = Store(creates);
  // A branch pointing at a bus of another network.
  for (json& r : s.related) {
    if (r["pointer"] == "bver://grid/branch/n-br-1-2-1~1") r["body"]["to_bus"] = "bver://grid/bus/other-bus-2";
  }
  Case back;
  std::string error;
  EXPECT_FALSE(CaseFromReferences(s.network, s.related, &back, nullptr, &error));
  EXPECT_NE(error.find("bver://grid/branch/n-br-1-2-1~1"), std::string::npos) << error;
  EXPECT_NE(error.find("to_bus"), std::string::npos) << error;
  // Two buses with one number.
  s = Store(creates);
  for (json& r : s.related) {
    if (r["pointer"] == "bver://grid/bus/n-bus-3~1") r["body"]["number"] = 2;
  }
  EXPECT_FALSE(CaseFromReferences(s.network, s.related, &back, nullptr, &error));
  EXPECT_NE(error.find("bus number 2"), std::string::npos) << error;
}

TEST(Model, OutOfServiceLoadsAndShuntsDoNotCount) {
  Case c = testing::ReadCaseJson(testing::TestdataDir() + "/matpower/case14.json");
  json creates = ImportCreates(c, "n", NetworkBody(c, "n", json::object()), nullptr);
  AsStored s = Store(creates);
  for (json& r : s.related) {
    if (r["pointer"] == "bver://grid/load/n-load-2-1~1") r["body"]["in_service"] = false;
  }
  Case back;
  std::string error;
  ASSERT_TRUE(CaseFromReferences(s.network, s.related, &back, nullptr, &error)) << error;
  EXPECT_EQ(back.bus[1].pd, 0.0);
  EXPECT_EQ(back.bus[2].pd, c.bus[2].pd);
}

}  // namespace
}  // namespace grid
