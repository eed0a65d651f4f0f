// The one text form of a list filter, shared by the CLI (--where), REST
// (?where=) and MCP:
//
//   PATH=V  PATH!=V  PATH<V  PATH<=V  PATH>V  PATH>=V  PATH (exists)  !PATH (absent)
//
// V is JSON when it parses as JSON, else the literal string.
#pragma once

#include <string>

#include "bver/status.h"
#include "src/store/types.h"

namespace bver::store {

// InvalidArgument naming the text when the path does not parse.
Result<Filter> ParseFilter(const std::string& text);

}  // namespace bver::store
