#include "src/store/backend.h"

#include <algorithm>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

namespace bver::store {

Status Backend::WriteTxn(const std::function<Status(Txn&)>& fn) {
  Status st = DoWriteTxn(fn);
  if (st.ok()) NoteCommit();
  return st;
}

void EventLog::NoteCommit() {
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    ++commit_seq_;
  }
  commit_cv_.notify_all();
}

std::uint64_t EventLog::commit_seq() const {
  std::lock_guard<std::mutex> lock(commit_mu_);
  return commit_seq_;
}

std::uint64_t EventLog::WaitForCommit(std::uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(commit_mu_);
  std::uint64_t gen = wake_gen_;
  commit_cv_.wait_for(lock, timeout, [&] { return commit_seq_ > seen || wake_gen_ != gen; });
  return commit_seq_;
}

void EventLog::WakeWaiters() const {
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    ++wake_gen_;
  }
  commit_cv_.notify_all();
}

Status Backend::AddApiKey(const ApiKeyRow& row) {
  return WriteTxn([&](Txn& t) { return t.PutApiKey(row); });
}

Result<bool> Backend::RevokeApiKey(const std::string& id, std::int64_t at_us) {
  bool found = false;
  BVER_RETURN_IF_ERROR(WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(found, t.RevokeApiKey(id, at_us));
    return Status::Ok();
  }));
  return found;
}

Result<bool> Backend::CompareAndSetRecord(const RecordRow& row, const std::optional<std::string>& expected) {
  bool won = false;
  BVER_RETURN_IF_ERROR(WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(std::optional<RecordRow> now, t.GetRecord(row.kind, row.key));
    const bool same = now ? (expected && now->value == *expected) : !expected;
    if (!same) return Status::Ok();
    won = true;
    return t.PutRecord(row);
  }));
  return won;
}

Status Backend::PutRecord(const RecordRow& row) {
  return WriteTxn([&](Txn& t) { return t.PutRecord(row); });
}

Result<bool> Backend::DeleteRecord(const std::string& kind, const std::string& key) {
  bool existed = false;
  BVER_RETURN_IF_ERROR(WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(existed, t.DeleteRecord(kind, key));
    return Status::Ok();
  }));
  return existed;
}

Result<std::optional<std::string>> RecordTable::UpdateRecord(const std::string& kind, const std::string& key,
                                                             std::int64_t now_us, const Change& change) {
  // A lost race backs off for a random while, growing with each loss, so
  // writers contending for one record take turns instead of colliding again.
  constexpr int kAttempts = 100;
  thread_local std::minstd_rand jitter(static_cast<unsigned>(
      std::chrono::steady_clock::now().time_since_epoch().count() ^ std::hash<std::thread::id>()(std::this_thread::get_id())));
  for (int i = 0; i < kAttempts; ++i) {
    if (i > 0) {
      const int cap_us = std::min(5000, 50 << std::min(i, 7));
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, cap_us)(jitter)));
    }
    BVER_ASSIGN_OR_RETURN(std::optional<RecordRow> row, GetRecord(kind, key));
    std::optional<std::string> current;
    if (row) current = std::move(row->value);
    BVER_ASSIGN_OR_RETURN(std::optional<std::string> next, change(current));
    if (!next) return current;
    BVER_ASSIGN_OR_RETURN(bool won, CompareAndSetRecord({kind, key, *next, now_us}, current));
    if (won) return next;
  }
  return AbortedError("record " + kind + "/" + key + " is being changed by many writers at once; try again");
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

Status Backend::SnapshotTo(const std::string& path) {
  return UnimplementedError(Name() + " stores cannot write a snapshot to " + path +
                            " yet; back the database up with its own tools first");
}

}  // namespace bver::store
