// MCP (protocol revision 2025-11-25) as a transport-free JSON-RPC handler:
// one message in, the messages to send back out. The stdio loop (stdio.h)
// and a Streamable HTTP endpoint wrap it. Everything it offers is derived
// from the broker's operation rows (docs/mcp.md):
//
//   initialize, ping, notifications/*      the lifecycle
//   tools/list, tools/call                 one tool per operation row
//   resources/list                         references, as bver:// pointers
//   resources/templates/list               pointers with and without @path
//   resources/read                         any pointer, through `resolve`
//
// Every operation runs through runtime::Broker::Invoke with the principal
// the transport authenticated, so scopes and validation are the broker's.
//
// Thread safety: Handle may be called from any number of threads (the
// handler keeps no per-session state; the broker is thread-safe).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/auth/principal.h"
#include "src/runtime/broker.h"

namespace bver::mcp {

inline constexpr std::string_view kLatestProtocolVersion = "2025-11-25";
// Versions whose `initialize` we echo (newest first).
const std::vector<std::string>& SupportedProtocolVersions();

// JSON-RPC and MCP error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kResourceNotFound = -32002;

class Server {
 public:
  struct Options {
    std::string server_name = "bver";
    std::string server_version = "0.1.0";
    std::string transport = "mcp";  // recorded in the broker's CallRecord
    std::size_t page_size = 50;     // tools, resources and templates per page
  };

  explicit Server(std::shared_ptr<const runtime::Broker> broker);
  Server(std::shared_ptr<const runtime::Broker> broker, Options options);

  // One JSON-RPC message as text (a stdio line, an HTTP body). Answers the
  // messages to send back, each one line of JSON without a newline: none
  // for a notification or a response, one for a request or a malformed
  // message (-32700 for bad JSON, -32600 for a batch or a non-request).
  std::vector<std::string> Handle(std::string_view text, const auth::Principal& who) const;

  // The same for an already parsed message; null when nothing is answered.
  nlohmann::json HandleMessage(const nlohmann::json& message, const auth::Principal& who) const;

 private:
  struct Answer;
  Answer Dispatch(const std::string& method, const nlohmann::json& params, const auth::Principal& who) const;
  Answer Initialize(const nlohmann::json& params) const;
  Answer ListTools(const nlohmann::json& params) const;
  Answer CallTool(const nlohmann::json& params, const auth::Principal& who) const;
  Answer ListResources(const nlohmann::json& params, const auth::Principal& who) const;
  Answer ListTemplates(const nlohmann::json& params) const;
  Answer ReadResource(const nlohmann::json& params, const auth::Principal& who) const;
  // Rows offered as tools: every row.
  std::vector<const runtime::OperationRow*> ToolRows() const;

  std::shared_ptr<const runtime::Broker> broker_;
  Options options_;
};

}  // namespace bver::mcp
