#include "src/api/http_message.h"

#include <strings.h>

#include <nlohmann/json.hpp>

namespace bver::api {

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  }
  return {};
}

HttpResponse TransportProblem(int status, std::string_view code, std::string_view title, std::string_view detail) {
  nlohmann::json j = {{"type", "urn:bver:problem:" + std::string(code)},
                      {"title", std::string(title)},
                      {"status", status},
                      {"detail", std::string(detail)},
                      {"code", std::string(code)}};
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/problem+json");
  r.body = j.dump();
  return r;
}

}  // namespace bver::api
