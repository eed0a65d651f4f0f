#include "src/store/backend.h"

#include <nlohmann/json.hpp>

namespace bver::store {

Status Backend::WriteTxn(const std::function<Status(Txn&)>& fn) {
  Status st = DoWriteTxn(fn);
  if (st.ok()) {
    {
      std::lock_guard<std::mutex> lock(commit_mu_);
      ++commit_seq_;
    }
    commit_cv_.notify_all();
  }
  return st;
}

std::uint64_t Backend::commit_seq() const {
  std::lock_guard<std::mutex> lock(commit_mu_);
  return commit_seq_;
}

std::uint64_t Backend::WaitForCommit(std::uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(commit_mu_);
  std::uint64_t gen = wake_gen_;
  commit_cv_.wait_for(lock, timeout, [&] { return commit_seq_ > seen || wake_gen_ != gen; });
  return commit_seq_;
}

void Backend::WakeWaiters() const {
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    ++wake_gen_;
  }
  commit_cv_.notify_all();
}

bool IsPushableFilter(const Filter& f) {
  if (f.path.empty()) return false;
  for (const PathSegment& s : f.path.segments()) {
    if (s.is_key() && s.key().find_first_of("\"\\") != std::string::npos) return false;
  }
  if (f.op == FilterOp::kExists || f.op == FilterOp::kNotExists) return true;
  if (!f.value) return false;
  const nlohmann::json& v = *f.value;
  return v.is_number() || v.is_string() || v.is_boolean() || v.is_null();
}

}  // namespace bver::store

namespace bver::store {

bool LabelsMatch(const std::string& required, const std::string& offered) {
  if (required.empty() || required == "{}") return true;
  nlohmann::json need = nlohmann::json::parse(required, nullptr, false);
  if (!need.is_object()) return false;
  nlohmann::json have = offered.empty() ? nlohmann::json::object() : nlohmann::json::parse(offered, nullptr, false);
  if (!have.is_object()) return false;
  for (const auto& [k, v] : need.items()) {
    auto it = have.find(k);
    if (it == have.end() || *it != v) return false;
  }
  return true;
}

}  // namespace bver::store
