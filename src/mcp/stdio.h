// MCP over stdio (basic/transports.mdx §stdio): one JSON-RPC message per
// line on `in`, the answers one per line on `out` (flushed after each), and
// nothing else on `out`: logs go to stderr. Returns at the end of `in` (the
// client closing stdin is how it shuts the server down).
#pragma once

#include <istream>
#include <ostream>

#include "src/auth/principal.h"
#include "src/mcp/server.h"

namespace bver::mcp {

void ServeStdio(const Server& server, const auth::Principal& who, std::istream& in, std::ostream& out);

}  // namespace bver::mcp
