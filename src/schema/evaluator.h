// Evaluates an instance against a CompiledSchema. Each call keeps its state
// on the stack (plus small vectors), so any number of evaluations may run
// over the same CompiledSchema at once.
#pragma once

#include <vector>

#include "bver/status.h"
#include "src/schema/compiled.h"

namespace bver::schema::internal {

// How many schema applications may nest (through subschemas and $ref)
// before evaluation gives up; ends $ref cycles that never consume input.
inline constexpr int kMaxEvaluationDepth = 400;

// True when `instance` is valid. With `errors`, every failure is appended;
// without, evaluation stops at the first one.
bool Evaluate(const CompiledSchema& schema, const Json& instance, std::vector<Violation>* errors);

}  // namespace bver::schema::internal
