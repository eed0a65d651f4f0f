// grid.resolve: equipment named as engineers say it -- "bus 4", "line 4-7
// circuit 1", "gen 30", "T1 132/33 kV", a name or a tag -- to pointers.
// An index is built once from a network's related references ({pointer,
// kind, body}), then queried many times.
//
// Scores: 1 for an exact name, number or id match, 0.9 for a tag, 0.8 when
// a query leaves a choice open (no circuit among parallel lines), 0.5 for a
// name that only contains the words. A query resolves to one pointer when
// exactly one candidate has the top score and that score is at least 0.8;
// otherwise the candidates are listed for a person (or an agent) to choose,
// with confidence = top score / number of candidates sharing it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace grid {

struct ResolveCandidate {
  std::string pointer;  // unpinned
  std::string pinned;   // the version seen
  std::string label;    // "line 4-7 (1), 138 kV"
  double score = 0;
};

struct ResolveMatch {
  std::string query;
  std::string pointer;  // empty when nothing matched or the match is ambiguous
  double confidence = 0;
  std::vector<ResolveCandidate> candidates;  // best first
  std::string message;  // why there is no pointer
};

class EquipmentIndex {
 public:
  // False + *error when `related` is not a list of references.
  bool Build(const nlohmann::json& related, std::string* error);
  ResolveMatch Resolve(const std::string& query, int max_candidates = 5) const;
  std::size_t size() const { return items_.size(); }

 private:
  struct Item {
    std::string repo, kind, pointer, pinned, label, name, id;  // name and id lower-case
    std::vector<std::string> tags;                             // lower-case
    int from = 0, to = 0;  // bus numbers (a bus: its number twice; a one-bus element: its bus twice)
    double from_kv = 0, to_kv = 0;
    int ordinal = 0;       // the trailing -k of the id (parallel elements)
  };
  void Candidates(const std::string& q, std::vector<ResolveCandidate>* out) const;
  std::vector<Item> items_;
  std::multimap<std::string, std::size_t> by_name_;  // lower-case name or tag -> item
  std::multimap<int, std::size_t> by_bus_;           // bus number -> items at / from / to it
};

}  // namespace grid
