#include "src/mcp/stdio.h"

#include <string>

namespace bver::mcp {

void ServeStdio(const Server& server, const auth::Principal& who, std::istream& in, std::ostream& out) {
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    for (const std::string& answer : server.Handle(line, who)) {
      out << answer << '\n';
    }
    out.flush();
  }
}

}  // namespace bver::mcp
