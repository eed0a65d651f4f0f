#include "packs/electrical/src/resolve.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <regex>
#include <set>
#include <unordered_map>

namespace grid {
namespace {

using nlohmann::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Lower case, dashes unified, " to " as "-", spaces collapsed and trimmed.
std::string Normalize(const std::string& raw) {
  std::string s;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    // U+2013 / U+2014 (en and em dash) in UTF-8: E2 80 93 / E2 80 94.
    if (static_cast<unsigned char>(raw[i]) == 0xE2 && i + 2 < raw.size() &&
        static_cast<unsigned char>(raw[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(raw[i + 2]) == 0x93 || static_cast<unsigned char>(raw[i + 2]) == 0x94)) {
      s += '-';
      i += 2;
      continue;
    }
    s += static_cast<char>(std::tolower(static_cast<unsigned char>(raw[i])));
  }
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  std::size_t at;
  while ((at = out.find(" to ")) != std::string::npos) out.replace(at, 4, "-");
  return out;
}

std::string Unpinned(const std::string& p) {
  std::size_t at = p.find_first_of("~@");
  return at == std::string::npos ? p : p.substr(0, at);
}

std::string Str(const json& b, const char* k) {
  auto it = b.find(k);
  return it != b.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Kv(double kv) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g kV", kv);
  return buf;
}

bool Near(double a, double b) { return a > 0 && b > 0 && std::abs(a - b) <= 0.01 * std::max(a, b); }

}  // namespace

bool EquipmentIndex::Build(const json& related, std::string* error) {
  items_.clear();
  by_name_.clear();
  by_bus_.clear();
  if (!related.is_array()) {
    *error = "the network's elements are not a list";
    return false;
  }
  // Bus pointer -> number and base kV first: branches name their buses.
  std::unordered_map<std::string, std::pair<int, double>> buses;
  for (const json& r : related) {
    if (!r.is_object() || !r.contains("body") || !r["body"].is_object()) continue;
    const std::string p = Unpinned(r.value("pointer", ""));
    if (p.rfind("bver://grid/bus/", 0) == 0) {
      const json& b = r["body"];
      buses[p] = {b.value("number", 0), b.value("base_kv", 0.0)};
    }
  }
  for (const json& r : related) {
    if (!r.is_object() || !r.contains("body") || !r["body"].is_object()) continue;
    const json& b = r["body"];
    Item it;
    it.pinned = r.value("pointer", "");
    it.pointer = Unpinned(it.pinned);
    const std::string rest = it.pointer.rfind("bver://grid/", 0) == 0 ? it.pointer.substr(12) : "";
    it.repo = rest.substr(0, rest.find('/'));
    it.kind = r.contains("kind") && r["kind"].is_string() ? r["kind"].get<std::string>() : std::string();
    it.name = Lower(Str(b, "name"));
    if (auto t = b.find("tags"); t != b.end() && t->is_array()) {
      for (const json& tag : *t) {
        if (tag.is_string()) it.tags.push_back(Lower(tag.get<std::string>()));
      }
    }
    std::size_t dash = it.pointer.rfind('-');
    if (dash != std::string::npos) it.ordinal = std::atoi(it.pointer.c_str() + dash + 1);
    auto bus = [&](const char* field, int* number, double* kv) {
      auto f = buses.find(Unpinned(Str(b, field)));
      if (f == buses.end()) return;
      *number = f->second.first;
      *kv = f->second.second;
    };
    if (it.repo == "bus") {
      it.from = it.to = b.value("number", 0);
      it.from_kv = it.to_kv = b.value("base_kv", 0.0);
      it.label = "bus " + std::to_string(it.from) + (it.name.empty() ? "" : " (" + Str(b, "name") + ")");
    } else if (it.repo == "branch" || it.repo == "dcline") {
      bus("from_bus", &it.from, &it.from_kv);
      bus("to_bus", &it.to, &it.to_kv);
      it.id = Lower(Str(b, "circuit"));
      const std::string what = it.repo == "dcline" ? "DC line" : it.kind.empty() ? "branch" : it.kind;
      it.label = what + " " + std::to_string(it.from) + "-" + std::to_string(it.to) + " (" +
                 (it.id.empty() ? std::to_string(it.ordinal) : Str(b, "circuit")) + "), " + Kv(it.from_kv) +
                 (Near(it.from_kv, it.to_kv) ? "" : "/" + Kv(it.to_kv));
    } else if (it.repo == "generator" || it.repo == "load" || it.repo == "shunt") {
      bus("bus", &it.from, &it.from_kv);
      it.to = it.from;
      it.to_kv = it.from_kv;
      it.id = Lower(Str(b, it.repo == "generator" ? "machine_id" : it.repo == "load" ? "load_id" : "shunt_id"));
      it.label = it.repo + " at bus " + std::to_string(it.from) + " (" + (it.id.empty() ? std::to_string(it.ordinal) : it.id) + ")";
    } else {
      continue;
    }
    if (!it.name.empty()) it.label += " \"" + Str(b, "name") + "\"";
    const std::size_t k = items_.size();
    if (!it.name.empty()) by_name_.emplace(it.name, k);
    for (const std::string& tag : it.tags) by_name_.emplace("#" + tag, k);
    by_bus_.emplace(it.from, k);
    if (it.to != it.from) by_bus_.emplace(it.to, k);
    items_.push_back(std::move(it));
  }
  return true;
}

void EquipmentIndex::Candidates(const std::string& q, std::vector<ResolveCandidate>* out) const {
  auto add = [&](std::size_t k, double score) {
    const Item& it = items_[k];
    for (ResolveCandidate& c : *out) {
      if (c.pointer == it.pointer) {
        c.score = std::max(c.score, score);
        return;
      }
    }
    out->push_back({it.pointer, it.pinned, it.label, score});
  };
  // Names and tags, exactly.
  for (auto [a, b] = by_name_.equal_range(q); a != b; ++a) add(a->second, 1.0);
  for (auto [a, b] = by_name_.equal_range("#" + q); a != b; ++a) add(a->second, 0.9);

  static const std::regex kBus(R"(^(?:bus|node|busbar)?\s*#?\s*(\d+)$)");
  static const std::regex kBranch(
      R"(^(line|branch|cable|transformer|trafo|xfmr|tx|dc line|dcline)?\s*(\d+)\s*-\s*(\d+)(?:\s*(?:circuit|ckt|cct|#|id|no\.?)?\s*([a-z0-9]+))?$)");
  static const std::regex kUnit(
      R"(^(gen|generator|unit|machine|load|shunt)\s*(?:at\s*)?(?:bus\s*)?(\d+)(?:\s*(?:id|#|no\.?)?\s*([a-z0-9]+))?$)");
  static const std::regex kRatio(R"(^(.*?)\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*kv$)");
  std::smatch m;
  if (std::regex_match(q, m, kBus)) {
    const int n = std::atoi(m[1].str().c_str());
    for (auto [a, b] = by_bus_.equal_range(n); a != b; ++a) {
      if (items_[a->second].repo == "bus") add(a->second, 1.0);
    }
  } else if (std::regex_match(q, m, kBranch)) {
    const std::string word = m[1].str();
    const int f = std::atoi(m[2].str().c_str()), t = std::atoi(m[3].str().c_str());
    const std::string circuit = m[4].str();
    const bool want_line = word == "line" || word == "cable";
    const bool want_tx = word == "transformer" || word == "trafo" || word == "xfmr" || word == "tx";
    const bool want_dc = word == "dc line" || word == "dcline";
    for (auto [a, b] = by_bus_.equal_range(f); a != b; ++a) {
      const Item& it = items_[a->second];
      if (it.repo != (want_dc ? "dcline" : "branch")) continue;
      if (!((it.from == f && it.to == t) || (it.from == t && it.to == f))) continue;
      // A kind named in the query that the element does not have still
      // counts, a little less: "line 8-5" for a transformer 8-5 is a slip.
      double score = (want_line && it.kind != "line") || (want_tx && it.kind != "transformer") ? 0.85 : 1.0;
      if (!circuit.empty()) {
        if (it.id == circuit || std::to_string(it.ordinal) == circuit) add(a->second, score);
      } else {
        add(a->second, score);
      }
    }
  } else if (std::regex_match(q, m, kUnit)) {
    std::string repo = m[1].str();
    if (repo == "gen" || repo == "unit" || repo == "machine") repo = "generator";
    const int bus = std::atoi(m[2].str().c_str());
    const std::string id = m[3].str();
    for (auto [a, b] = by_bus_.equal_range(bus); a != b; ++a) {
      const Item& it = items_[a->second];
      if (it.repo != repo) continue;
      if (id.empty() || it.id == id || std::to_string(it.ordinal) == id) add(a->second, 1.0);
    }
  } else if (std::regex_match(q, m, kRatio)) {
    // "T1 132/33 kV": the transformer named T1 (between those levels), or
    // the transformers between buses of those voltages.
    const std::string name = m[1].str();
    const double hv = std::atof(m[2].str().c_str()), lv = std::atof(m[3].str().c_str());
    for (std::size_t k = 0; k < items_.size(); ++k) {
      const Item& it = items_[k];
      if (it.repo != "branch") continue;
      const bool levels = (Near(it.from_kv, hv) && Near(it.to_kv, lv)) || (Near(it.from_kv, lv) && Near(it.to_kv, hv));
      const bool named = !name.empty() && (it.name == name || std::count(it.tags.begin(), it.tags.end(), name) > 0);
      if (named && levels) add(k, 1.0);
      else if (named) add(k, 0.8);
      else if (levels && name.empty()) add(k, it.kind == "transformer" ? 0.8 : 0.6);
    }
  }
  if (!out->empty() || q.size() < 3) return;
  // Last: a name that contains every word of the query.
  std::vector<std::string> words;
  for (std::size_t a = 0; a < q.size();) {
    std::size_t b = q.find(' ', a);
    if (b == std::string::npos) b = q.size();
    words.push_back(q.substr(a, b - a));
    a = b + 1;
  }
  for (std::size_t k = 0; k < items_.size() && out->size() < 200; ++k) {
    const Item& it = items_[k];
    if (it.name.empty()) continue;
    bool all = true;
    for (const std::string& w : words) all = all && it.name.find(w) != std::string::npos;
    if (all) add(k, 0.5);
  }
}

ResolveMatch EquipmentIndex::Resolve(const std::string& raw, int max_candidates) const {
  ResolveMatch r;
  r.query = raw;
  const std::string q = Normalize(raw.size() > 200 ? raw.substr(0, 200) : raw);
  if (q.empty()) {
    r.message = "an empty query names nothing";
    return r;
  }
  Candidates(q, &r.candidates);
  std::stable_sort(r.candidates.begin(), r.candidates.end(),
                   [](const ResolveCandidate& a, const ResolveCandidate& b) { return a.score > b.score; });
  if (r.candidates.empty()) {
    r.message = "nothing in the network is called \"" + raw +
                "\"; try a bus number (\"bus 4\"), a branch (\"line 4-7 circuit 1\"), \"gen 30\", a name or a tag";
    return r;
  }
  const double top = r.candidates.front().score;
  int sharing = 0;
  for (const ResolveCandidate& c : r.candidates) sharing += c.score == top;
  r.confidence = top / sharing;
  if (sharing == 1 && top >= 0.8) {
    r.pointer = r.candidates.front().pointer;
  } else {
    r.message = std::to_string(sharing) + " elements match \"" + raw + "\" equally" +
                (sharing == 1 ? " but loosely" : "") + "; choose one of the candidates";
  }
  if (max_candidates > 0 && r.candidates.size() > static_cast<std::size_t>(max_candidates)) {
    r.candidates.resize(static_cast<std::size_t>(max_candidates));
  }
  return r;
}

}  // namespace grid
