// Children a test started in the background (`bver up`, `bver worker`):
// registered when started, forgotten when the test stops them. Whatever is
// still registered when the test program exits -- an ASSERT returned early,
// or a test forgot -- is killed with SIGKILL and reaped, so no process
// outlives `make test`.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <mutex>
#include <set>

namespace bver::testing {

class ChildRegistry {
 public:
  static ChildRegistry& Get() {
    static ChildRegistry registry;  // destroyed at exit, after main returns
    return registry;
  }
  void Track(pid_t pid) {
    if (pid <= 0) return;
    std::lock_guard<std::mutex> l(mu_);
    live_.insert(pid);
  }
  void Forget(pid_t pid) {
    std::lock_guard<std::mutex> l(mu_);
    live_.erase(pid);
  }
  ~ChildRegistry() {
    for (pid_t pid : live_) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }

 private:
  ChildRegistry() = default;
  std::mutex mu_;
  std::set<pid_t> live_;
};

}  // namespace bver::testing
