// Group commit, leader/follower (as LevelDB's writers queue): a caller that
// finds no batch running becomes the leader and commits everything queued so
// far, its own write included, on its own thread; callers arriving meanwhile
// queue up and are committed by the next leader. A lone writer pays no
// thread hand-off, and concurrent writers share one transaction (one fsync,
// one lock) per batch. Both backends' WriteTxn are built on it; how a batch
// is committed (savepoints, locks) is the backend's `commit` function.
//
// Thread safety: Submit may be called from any number of threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "bver/status.h"

namespace bver::store {

class Txn;

class GroupCommit {
 public:
  using Write = std::function<Status(Txn&)>;
  struct Request {
    const Write* write;
    Status status;  // set by `commit`: the write's own outcome
  };
  // Commits the batch in one transaction and sets every request's status.
  using Commit = std::function<void(const std::vector<Request*>& batch)>;

  GroupCommit(std::size_t max_batch, Commit commit) : max_batch_(max_batch), commit_(std::move(commit)) {}

  // Runs `write` in some batch; its status once that batch has committed.
  Status Submit(const Write& write) {
    Pending p{Request{&write, Status()}, false};
    std::unique_lock<std::mutex> l(mu_);
    queue_.push_back(&p);
    while (!p.done) {
      if (leader_active_) {
        cv_.wait(l);
        continue;
      }
      leader_active_ = true;
      std::vector<Pending*> taken;
      std::vector<Request*> batch;
      while (!queue_.empty() && batch.size() < max_batch_) {
        taken.push_back(queue_.front());
        batch.push_back(&queue_.front()->request);
        queue_.pop_front();
      }
      l.unlock();
      commit_(batch);
      l.lock();
      for (Pending* t : taken) t->done = true;
      leader_active_ = false;
      cv_.notify_all();
    }
    return p.request.status;
  }

 private:
  struct Pending {
    Request request;
    bool done;  // GUARDED_BY(mu_)
  };
  const std::size_t max_batch_;
  const Commit commit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;  // GUARDED_BY(mu_)
  bool leader_active_ = false;  // GUARDED_BY(mu_)
};

}  // namespace bver::store
