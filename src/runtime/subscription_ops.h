// The rows of the subscription operations (events.consumers.create, list,
// get, delete, fetch, ack, seek; docs/events.md): runtime-only rows, added
// by OperationTable::Build when a SubscriptionService is bound. Internal to
// src/runtime.
#pragma once

#include <vector>

#include "src/runtime/operations.h"

namespace bver::runtime {
class SubscriptionService;
}

namespace bver::runtime::internal {

// The rows, schemas compiled, handlers calling `subscriptions`.
Result<std::vector<OperationRow>> SubscriptionRows(SubscriptionService* subscriptions);

}  // namespace bver::runtime::internal
