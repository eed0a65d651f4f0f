// The API reference for people (GET /docs): one self-contained HTML page
// (inline CSS, no script, no external resource: it must work offline)
// generated from the OpenAPI document (openapi.h), so the page, the document
// and the routes cannot disagree. It shows the title and version, how to
// authenticate, and every operation grouped by tag (one per repo): method,
// path, summary, description, scopes, parameters, request and response
// schemas (pretty JSON) and a curl example. Every text taken from the
// document is HTML-escaped. Pure function, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace bver::api {

std::string DocsPage(const nlohmann::json& openapi);

// `text` with & < > " ' replaced by character references.
std::string HtmlEscape(std::string_view text);

}  // namespace bver::api
