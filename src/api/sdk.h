// Client SDKs generated from the operation rows (`bver sdk typescript|python
// -o DIR`): one function per operation, calling POST /v1/ops/{id} (every
// row's generic route), with the caller's types, problems as a typed error,
// pointers as a type, and retries on 503 that reuse one Idempotency-Key.
//
// TypeScript: the types come from the platform's OpenAPI document through
// openapi-typescript (the generated package's `npm run build` runs it, then
// tsc --strict); this file writes the client around them. Python: one
// module that needs only the standard library, with a TypedDict per
// operation's input and output (top-level fields typed from their JSON
// Schemas; nested values as plain dicts and lists).
//
// Pure functions of the table: the same platform gives the same files.
#pragma once

#include <string>
#include <vector>

namespace bver::runtime {
class OperationTable;
}

namespace bver::api {

struct SdkFile {
  std::string path;  // relative to the output folder
  std::string content;
};

std::vector<SdkFile> TypeScriptSdk(const runtime::OperationTable& table);
std::vector<SdkFile> PythonSdk(const runtime::OperationTable& table);

}  // namespace bver::api
