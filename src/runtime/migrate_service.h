// What the migrate.* operations call (migrate_ops.h): the store's domain
// migration (src/migrate/), as the composition root provides it
// (src/server/runtime.cc, from the store to the manifest it was opened with).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

class MigrationService {
 public:
  virtual ~MigrationService() = default;
  // migrate::Plan's answer. `input`: {limit?, change?, offset?}.
  virtual Result<nlohmann::json> Plan(const nlohmann::json& input) = 0;
  // migrate::Apply's answer. `input`: {yes?, backup?, batch?}; `actor` and
  // `correlation_id` are the caller's.
  virtual Result<nlohmann::json> Apply(const nlohmann::json& input, const std::string& actor,
                                       const std::string& correlation_id) = 0;
};

}  // namespace bver::runtime
