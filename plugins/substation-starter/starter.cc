// substation-starter: the "starter substation skeleton" generator.
//
// From the site's voltage_levels_kv and the input bays_per_level it proposes
// a changeset that creates, in assets/asset:
//   - one busbar per voltage level                     <site>-bb-<kv>
//   - bays_per_level breakers per level, each with a terminal on its busbar
//                                                      <site>-cb-<kv>-<n>
//   - a transformer between consecutive levels (highest first), with an hv
//     and an lv terminal on the two busbars           <site>-tx-<hv>-<lv>
// Every asset points at the site. Ids derive from the site id and the
// levels only, so the same site gives the same changeset, and assets that
// already exist (found in the request's `related` references of the site)
// are not created again: a rerun creates nothing new.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "bver/plugin/plugin.hpp"

namespace {

using nlohmann::json;
using bver::plugin::Error;

constexpr const char* kAssetRepo = "assets/asset";
constexpr const char* kAssetPrefix = "bver://assets/asset/";

// "400", "132.5": a voltage as it appears in ids and names.
std::string Kv(double kv) {
  char buf[32];
  if (kv == std::floor(kv) && kv < 1e9) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(kv));
  } else {
    std::snprintf(buf, sizeof buf, "%g", kv);
  }
  return buf;
}

// A number as JSON: whole numbers stay integers (400, not 400.0), as the
// site wrote them.
json Num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 9e15) return static_cast<std::int64_t>(v);
  return v;
}

// The smallest standard interrupting rating (kA) at or above the fault level.
double BreakerRating(const json& site) {
  static const double kRatings[] = {16, 20, 25, 31.5, 40, 50, 63, 80, 100};
  if (!site.contains("fault_level_ka") || !site["fault_level_ka"].is_number()) return 40;
  double fault = site["fault_level_ka"].get<double>();
  for (double r : kRatings) {
    if (r >= fault) return r;
  }
  return std::ceil(fault);
}

// "bver://sites/site/abc~3@name" -> "bver://sites/site/abc".
std::string Unpinned(const std::string& pointer) {
  std::size_t end = pointer.find_first_of("~@", std::string("bver://").size());
  return end == std::string::npos ? pointer : pointer.substr(0, end);
}

std::string IdOf(const std::string& pointer) {
  std::string p = Unpinned(pointer);
  return p.substr(p.rfind('/') + 1);
}

json SiteReference(const json& request, const std::string& site_pointer) {
  const json& resolved = request.value("resolved", json::object());
  if (resolved.is_object()) {
    if (auto it = resolved.find(site_pointer); it != resolved.end()) return *it;
    for (const json& r : resolved) {
      if (r.is_object() && Unpinned(r.value("pointer", "")) == Unpinned(site_pointer)) return r;
    }
  }
  std::string why;
  if (auto r = bver::plugin::Resolve(site_pointer, &why)) return *r;
  throw Error("failed_precondition", "the site " + site_pointer + " was not resolved for this job: " + why);
}

// Ids of assets that already point at the site.
std::set<std::string> ExistingAssets(const json& request) {
  std::set<std::string> ids;
  const json& related = request.value("related", json::object());
  if (!related.is_object()) return ids;
  for (const json& list : related) {
    if (!list.is_array()) continue;
    for (const json& r : list) {
      std::string p = r.is_object() ? r.value("pointer", "") : "";
      if (p.rfind(kAssetPrefix, 0) == 0) ids.insert(IdOf(p));
    }
  }
  return ids;
}

json Skeleton(const json& request) {
  if (request.value("capability", "") != "substation.skeleton") {
    throw Error("not_found", "substation-starter provides only substation.skeleton, not " +
                                 request.value("capability", std::string("(none)")));
  }
  const json& input = request.at("input");
  if (!input.contains("site") || !input["site"].is_string()) {
    throw Error("invalid_argument", "input.site must be a pointer to the site");
  }
  const std::string site_pointer = input["site"].get<std::string>();
  const std::string site_ref = Unpinned(site_pointer);
  const std::string site_id = IdOf(site_pointer);
  if (site_id.empty() || site_id.size() > 100) {
    throw Error("invalid_argument", "the site id must be 1 to 100 characters to derive asset ids from it");
  }
  int bays = input.value("bays_per_level", 2);
  if (bays < 1 || bays > 50) throw Error("invalid_argument", "bays_per_level must be from 1 to 50");

  json site = SiteReference(request, site_pointer);
  std::string kind = site.value("kind", "");
  if (!kind.empty() && kind != "power.substation") {
    throw Error("failed_precondition", "site " + site_ref + " is a " + kind +
                                           ", not a power.substation; it has no busbars to generate");
  }
  const json& body = site.at("body");
  std::vector<double> levels;
  if (body.contains("voltage_levels_kv") && body["voltage_levels_kv"].is_array()) {
    for (const json& v : body["voltage_levels_kv"]) {
      if (v.is_number() && v.get<double>() > 0) levels.push_back(v.get<double>());
    }
  }
  if (levels.empty()) {
    throw Error("failed_precondition",
                "site " + site_ref + " declares no voltage_levels_kv; set them before generating a skeleton");
  }
  std::sort(levels.begin(), levels.end(), std::greater<>());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  const std::string site_name = body.value("name", site_id);
  const double rating = BreakerRating(body);
  const std::set<std::string> existing = ExistingAssets(request);

  json creates = json::array();
  auto add = [&](const std::string& id, const char* asset_kind, json asset) {
    if (existing.count(id) != 0) return;
    creates.push_back({{"repo", kAssetRepo}, {"kind", asset_kind}, {"id", id}, {"body", std::move(asset)}});
  };
  auto busbar_id = [&](double kv) { return site_id + "-bb-" + Kv(kv); };
  for (double kv : levels) {
    add(busbar_id(kv), "busbar",
        {{"name", site_name + " " + Kv(kv) + " kV busbar"},
         {"site", site_ref},
         {"rated_voltage_kv", Num(kv)},
         {"voltage_kv", Num(kv)}});
  }
  for (double kv : levels) {
    for (int n = 1; n <= bays; ++n) {
      add(site_id + "-cb-" + Kv(kv) + "-" + std::to_string(n), "breaker",
          {{"name", site_name + " " + Kv(kv) + " kV bay " + std::to_string(n) + " breaker"},
           {"site", site_ref},
           {"rated_voltage_kv", Num(kv)},
           {"interrupting_rating_ka", Num(rating)},
           {"terminals", json::array({{{"label", "bus"}, {"connects_to", kAssetPrefix + busbar_id(kv)}}})}});
    }
  }
  for (std::size_t i = 0; i + 1 < levels.size(); ++i) {
    double hv = levels[i], lv = levels[i + 1];
    add(site_id + "-tx-" + Kv(hv) + "-" + Kv(lv), "transformer",
        {{"name", site_name + " " + Kv(hv) + "/" + Kv(lv) + " kV transformer"},
         {"site", site_ref},
         {"rated_voltage_kv", Num(hv)},
         {"winding_voltages_kv", json::array({Num(hv), Num(lv)})},
         {"terminals", json::array({{{"label", "hv"}, {"connects_to", kAssetPrefix + busbar_id(hv)}},
                                    {{"label", "lv"}, {"connects_to", kAssetPrefix + busbar_id(lv)}}})}});
  }
  std::string summary = std::to_string(creates.size()) + " asset(s) to create for " + site_ref +
                        " (" + std::to_string(levels.size()) + " voltage level(s), " +
                        std::to_string(bays) + " bay(s) per level)";
  bver::plugin::Log(BVER_LOG_INFO, summary);
  return {{"changeset", {{"creates", creates}, {"patches", json::array()}, {"deletes", json::array()}}},
          {"summary", summary}};
}

}  // namespace

BVER_PLUGIN("substation-starter", "1.0.0", Skeleton)
