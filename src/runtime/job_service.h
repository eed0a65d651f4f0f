// What the operation table needs from a job engine (BVER.md §5): start a
// job, read its status, cancel it. The engine (src/jobs/engine.h)
// implements this interface, so src/runtime never depends on src/jobs.
//
// Thread safety: implementations are called from any number of threads.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

struct JobStartRequest {
  std::string job;  // a job name of bver.yaml, or a capability id
  std::shared_ptr<const nlohmann::json> input;  // the capability's input (null: {})
  bool no_cache = false;                        // run even when the action cache has the result
  double wait_seconds = 0;                      // > 0: answer once ended or after this long
  // Non-empty: a start with a key already used answers that job (nothing
  // queued twice); with another job or input it is refused (Aborted). The
  // key -> job record is written in the transaction that queues the job.
  std::string idempotency_key;
  std::string actor;
  std::string correlation_id;
  std::string causation_id;
};

class JobService {
 public:
  virtual ~JobService() = default;
  // Queues the job (or completes it at once from the action cache) and
  // answers its status object (see docs/jobs.md). NotFound: no such job or
  // capability; InvalidArgument: input against the capability's schema;
  // NotFound naming the input field: a pointer to no reference;
  // FailedPrecondition: the capability's plugin is not installed;
  // Aborted: the idempotency key was used for another request.
  virtual Result<nlohmann::json> StartJob(const JobStartRequest& request) = 0;
  // The status object of a job; with wait_seconds > 0, once it has ended
  // or that long has passed. NotFound: no such job.
  virtual Result<nlohmann::json> JobStatus(const std::string& job_id, double wait_seconds) = 0;
  // Cancels a queued job at once, asks the worker of a running one to stop;
  // an ended job is answered as it is. NotFound: no such job.
  virtual Result<nlohmann::json> CancelJob(const std::string& job_id, const std::string& actor,
                                           const std::string& correlation_id) = 0;
  // {"jobs": [status objects in submission order], "next_cursor": job id or
  // null}: jobs in `state` ("" any) submitted after job `after` ("" from the
  // first), at most `limit`.
  virtual Result<nlohmann::json> ListJobs(const std::string& state, const std::string& after, std::size_t limit) = 0;
};

}  // namespace bver::runtime
