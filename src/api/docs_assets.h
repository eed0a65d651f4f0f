// The files GET /docs serves besides the documents themselves: Swagger UI
// (swagger-ui-dist from npm, web/package.json, pinned by its lock file),
// embedded in the binary at build time so the page works offline and never
// loads anything from a CDN, plus BVER's own page and start script for it.
#pragma once

#include <string_view>

namespace bver::api {

struct DocsAsset {
  std::string_view name;          // "swagger-ui-bundle.js": served at /docs/<name>
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view bytes;
};

// The asset named `name`, or null.
const DocsAsset* FindDocsAsset(std::string_view name);

// The Swagger UI page of GET /docs: it loads /docs/swagger-ui.css,
// /docs/swagger-ui-bundle.js and /docs/bver-docs.js (which points Swagger UI
// at /v1/openapi.json), and links the no-script reference at /docs/reference.
std::string_view SwaggerUiPage();

// Swagger UI's version (web/package.json), for the page and logs.
std::string_view SwaggerUiVersion();

}  // namespace bver::api
