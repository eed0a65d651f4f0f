// The resolver and the substation generator on the JSON a plugin receives:
// case14 / case118 imported (model.h) and turned into related references.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "packs/electrical/src/model.h"
#include "packs/electrical/src/powerflow.h"
#include "packs/electrical/src/resolve.h"
#include "packs/electrical/src/substation.h"
#include "packs/electrical/tests/case_json.h"

namespace grid {
namespace {

using nlohmann::json;

struct Network {
  json body;
  json related = json::array();
};

// An imported case as a plugin sees it: the network body, and its elements
// as {pointer (pinned ~1), kind, body}.
Network Imported(const std::string& name, const std::string& id) {
  Case c = grid::testing::ReadCaseJson(grid::testing::TestdataDir() + "/matpower/" + name + ".json");
  Network n;
  json creates = ImportCreates(c, id, NetworkBody(c, id, json::object()), nullptr);
  for (const json& cr : creates) {
    const std::string repo = cr["repo"].get<std::string>().substr(5);  // "grid/bus" -> "bus"
    if (repo == "network") {
      n.body = cr["body"];
      continue;
    }
    n.related.push_back({{"pointer", "bver://grid/" + repo + "/" + cr["id"].get<std::string>() + "~1"},
                         {"kind", cr.contains("kind") ? cr["kind"] : json()},  // null, as the runtime sends
                         {"body", cr["body"]}});
  }
  return n;
}

void Tag(Network& n, const std::string& pointer, const json& fields) {
  for (json& r : n.related) {
    if (r["pointer"].get<std::string>().rfind(pointer + "~", 0) == 0) r["body"].update(fields);
  }
}

TEST(ResolveTest, TheWaysEngineersNameEquipment) {
  Network n = Imported("case118", "n");
  Tag(n, "bver://grid/bus/n-bus-69", {{"name", "Riverside 138"}, {"tags", {"slack-area"}}});
  Tag(n, "bver://grid/branch/n-br-8-5-1", {{"name", "T1"}});
  EquipmentIndex index;
  std::string error;
  ASSERT_TRUE(index.Build(n.related, &error)) << error;
  struct Row {
    const char* query;
    const char* pointer;
  };
  for (const Row& row : std::vector<Row>{
           {"bus 4", "bver://grid/bus/n-bus-4"},
           {"4", "bver://grid/bus/n-bus-4"},
           {"  BUS   4 ", "bver://grid/bus/n-bus-4"},
           {"Riverside 138", "bver://grid/bus/n-bus-69"},
           {"slack-area", "bver://grid/bus/n-bus-69"},
           {"line 4-5", "bver://grid/branch/n-br-4-5-1"},
           {"branch 5 to 4", "bver://grid/branch/n-br-4-5-1"},
           {"4\xE2\x80\x93" "5", "bver://grid/branch/n-br-4-5-1"},  // en dash
           {"line 42-49 circuit 2", "bver://grid/branch/n-br-42-49-2"},
           {"T1", "bver://grid/branch/n-br-8-5-1"},
           {"transformer 8-5", "bver://grid/branch/n-br-8-5-1"},
           {"gen 10", "bver://grid/generator/n-gen-10-1"},
           {"generator at bus 10", "bver://grid/generator/n-gen-10-1"},
           {"load 2", "bver://grid/load/n-load-2-1"},
       }) {
    ResolveMatch m = index.Resolve(row.query);
    EXPECT_EQ(m.pointer, row.pointer) << row.query << ": " << m.message;
    EXPECT_GT(m.confidence, 0.79) << row.query;
  }
}

TEST(ResolveTest, AmbiguousUnknownAndGarbage) {
  Network n = Imported("case118", "n");
  Tag(n, "bver://grid/bus/n-bus-69", {{"name", "Riverside 138"}});
  EquipmentIndex index;
  std::string error;
  ASSERT_TRUE(index.Build(n.related, &error)) << error;
  // Part of a name: a candidate to confirm, not an answer.
  ResolveMatch part = index.Resolve("riverside");
  EXPECT_EQ(part.pointer, "");
  ASSERT_EQ(part.candidates.size(), 1u);
  EXPECT_EQ(part.candidates[0].pointer, "bver://grid/bus/n-bus-69");
  EXPECT_DOUBLE_EQ(part.confidence, 0.5);
  // Two parallel circuits 42-49: both candidates, no pointer.
  ResolveMatch par = index.Resolve("line 42-49");
  EXPECT_EQ(par.pointer, "");
  ASSERT_EQ(par.candidates.size(), 2u);
  EXPECT_DOUBLE_EQ(par.confidence, 0.5);
  EXPECT_NE(par.message.find("2 elements"), std::string::npos);
  EXPECT_EQ(par.candidates[0].pinned.substr(par.candidates[0].pinned.size() - 2), "~1");
  // "T 345/138 kV": the transformers between those levels.
  ResolveMatch ratio = index.Resolve("345/138 kV");
  EXPECT_GT(ratio.candidates.size(), 1u);
  for (const ResolveCandidate& c : ratio.candidates) EXPECT_NE(c.pointer.find("/branch/"), std::string::npos);
  for (const char* q : {"", "bus 99999", "nothing like this", "\xff\xfe", "line 1-2-3"}) {
    ResolveMatch m = index.Resolve(q);
    EXPECT_EQ(m.pointer, "") << q;
    EXPECT_FALSE(m.message.empty()) << q;
  }
  ResolveMatch big = index.Resolve(std::string(10000, 'x'));
  EXPECT_EQ(big.pointer, "");
  EXPECT_FALSE(index.Build(json::object(), &error));
}

json Sub() {
  return {{"network", "bver://grid/network/n"},
          {"substation", "north"},
          {"voltage_levels_kv", {132, 33}},
          {"transformers", {{{"name", "T1"}, {"hv_kv", 132}, {"lv_kv", 33}, {"rated_mva", 60}, {"z_percent", 12.5},
                             {"x_r", 30}}}},
          {"lines", {{{"name", "L1"}, {"from_kv", 132}, {"to_bus", "bver://grid/bus/n-bus-4"}, {"length_km", 25},
                      {"r_ohm_per_km", 0.12}, {"x_ohm_per_km", 0.4}, {"c_nf_per_km", 9.5}, {"rating_mva", 120}}}},
          {"loads", {{{"name", "LD1"}, {"level_kv", 33}, {"p_mw", 30}, {"q_mvar", 10}}}}};
}

TEST(SubstationTest, NameplatesBecomePerUnitElements) {
  Network n = Imported("case14", "n");
  for (json& r : n.related) {
    if (r["pointer"].get<std::string>().find("/bus/") != std::string::npos) r["body"]["base_kv"] = 132;
  }
  json creates, summary;
  std::string error;
  ASSERT_TRUE(SubstationCreates(Sub(), n.body, "n", n.related, &creates, &summary, &error)) << error;
  ASSERT_EQ(creates.size(), 5u) << creates.dump(1);  // two buses, T1, L1, LD1
  std::map<std::string, json> by_id;
  for (const json& c : creates) by_id[c["id"]] = c;
  // Buses numbered after case14's 14.
  EXPECT_EQ(by_id["n-north-132kv"]["body"]["number"], 15);
  EXPECT_EQ(by_id["n-north-33kv"]["body"]["number"], 16);
  // T1: z = 0.125 * 100/60 = 0.208333 p.u.; r = z/sqrt(1+900) = 0.0069385,
  // x = 30 r = 0.208218.
  const json& t1 = by_id["n-north-T1"]["body"];
  EXPECT_EQ(by_id["n-north-T1"]["kind"], "transformer");
  EXPECT_NEAR(t1["r_pu"].get<double>(), 0.125 * 100 / 60 / std::sqrt(901.0), 1e-12);
  EXPECT_NEAR(t1["x_pu"].get<double>(), 0.208218, 1e-6);
  EXPECT_EQ(t1["from_bus"], "bver://grid/bus/n-north-132kv");
  // L1: Z_base = 132²/100 = 174.24 Ω; r = 0.12*25/174.24 = 0.017218,
  // x = 0.4*25/174.24 = 0.057392, b = 2π·50·9.5e-9·25·174.24 = 0.013000.
  const json& l1 = by_id["n-north-L1"]["body"];
  EXPECT_NEAR(l1["r_pu"].get<double>(), 0.017218, 1e-6);
  EXPECT_NEAR(l1["x_pu"].get<double>(), 0.057392, 1e-6);
  EXPECT_NEAR(l1["b_pu"].get<double>(), 2 * 3.14159265358979 * 50 * 9.5e-9 * 25 * 174.24, 1e-9);

  // Connected into case14, the whole solves; the 33 kV bus carrying 30 MW
  // through a 60 MVA, 12.5 % transformer sags by a few per cent.
  json related = n.related;
  for (const json& c : creates) {
    related.push_back({{"pointer", "bver://" + c["repo"].get<std::string>() + "/" + c["id"].get<std::string>() + "~1"},
                       {"kind", c.value("kind", "")},
                       {"body", c["body"]}});
  }
  Case c;
  ElementPointers p;
  ASSERT_TRUE(CaseFromReferences({{"pointer", "bver://grid/network/n~1"}, {"body", n.body}}, related, &c, &p, &error))
      << error;
  PowerFlowResult r;
  ASSERT_TRUE(SolvePowerFlow(c, PowerFlowOptions(), &r, &error)) << error;
  ASSERT_TRUE(r.converged) << r.message;
  const double v33 = r.vm[15], v132 = r.vm[14];
  EXPECT_LT(v33, v132);
  EXPECT_GT(v132 - v33, 0.02);
  EXPECT_LT(v132 - v33, 0.15);

  // A rerun with those elements stored creates nothing.
  json again, summary2;
  ASSERT_TRUE(SubstationCreates(Sub(), n.body, "n", related, &again, &summary2, &error)) << error;
  EXPECT_EQ(again.size(), 0u) << again.dump(1);
  EXPECT_EQ(summary2["already_there"], 5);
}

TEST(SubstationTest, BadNameplatesNameTheField) {
  Network n = Imported("case14", "n");
  struct Row {
    const char* path;
    json value;
    const char* says;
  };
  for (const Row& row : std::vector<Row>{
           {"/transformers/0/rated_mva", 0, "input.transformers[0].rated_mva must be > 0"},
           {"/transformers/0/x_r", -3, "input.transformers[0].x_r must be > 0"},
           {"/transformers/0/lv_kv", 11, "input.transformers[0].lv_kv is 11 kV, not a voltage level"},
           {"/lines/0/length_km", 0, "input.lines[0].length_km must be > 0"},
           {"/lines/0/to_bus", "bver://grid/bus/other-bus-1", "is not a bus of"},
           {"/lines/0/name", "T1", "is used twice"},
           {"/voltage_levels_kv/1", 132, "listed twice"},
           {"/loads/0/p_mw", "lots", "must be a number"},
       }) {
    json input = Sub();
    input[json::json_pointer(row.path)] = row.value;
    json creates, summary;
    std::string error;
    EXPECT_FALSE(SubstationCreates(input, n.body, "n", n.related, &creates, &summary, &error)) << row.path;
    EXPECT_NE(error.find(row.says), std::string::npos) << row.path << ": " << error;
  }
}

}  // namespace
}  // namespace grid
