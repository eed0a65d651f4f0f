// Capabilities that run in the test's own process: a function per
// capability id stands in for its plugin, so suites of the job engine,
// orchestrators and triggers can make a capability succeed, fail, sleep or
// write exactly what a case needs. Header-only test support.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "src/jobs/engine.h"
#include "src/plugin/runner.h"

namespace bver::testing {

using FakePlugin = std::function<Result<nlohmann::json>(const plugin::Invocation&)>;

class FakeRunner final : public plugin::Runner {
 public:
  explicit FakeRunner(FakePlugin fn) : fn_(std::move(fn)) {}
  Result<nlohmann::json> Invoke(const plugin::Invocation& inv) override { return fn_(inv); }

 private:
  FakePlugin fn_;
};

// Capabilities added with Add run their function (plugin id "fake"); any
// other goes to `fallback` (an installed-plugin host), or, without one, is
// answered as a capability whose plugin is not installed. Add everything
// before the engine starts.
class FakeHost final : public jobs::CapabilityHost {
 public:
  explicit FakeHost(std::unique_ptr<jobs::CapabilityHost> fallback = nullptr) : fallback_(std::move(fallback)) {}

  void Add(const std::string& capability, FakePlugin fn, int trust_runs = 1, int trust_agree = 1) {
    jobs::BoundCapability b;
    b.runner = std::make_shared<FakeRunner>(std::move(fn));
    b.plugin_id = "fake";
    b.trust_runs = trust_runs;
    b.trust_agree = trust_agree;
    fakes_[capability] = b;
  }

  Result<jobs::BoundCapability> Bind(const domain::Capability& cap) override {
    if (auto it = fakes_.find(cap.id); it != fakes_.end()) return it->second;
    if (fallback_) return fallback_->Bind(cap);
    return FailedPreconditionError("plugin \"" + cap.plugin + "\" of capability " + cap.id +
                                   " is not installed (bver plugin install)");
  }

 private:
  std::map<std::string, jobs::BoundCapability> fakes_;
  std::unique_ptr<jobs::CapabilityHost> fallback_;
};

}  // namespace bver::testing
