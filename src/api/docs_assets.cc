#include "src/api/docs_assets.h"

#include <array>
#include <string>

// BVER_SWAGGER_UI_DIR and BVER_SWAGGER_UI_VERSION come from
// src/api/CMakeLists.txt. The files are placed in .rodata by the assembler
// (.incbin): no megabyte-long array for the compiler to parse. The version
// is part of the preprocessed text, so ccache sees a new Swagger UI.
#ifndef BVER_SWAGGER_UI_DIR
#error "BVER_SWAGGER_UI_DIR must name web/node_modules/swagger-ui-dist (src/api/CMakeLists.txt)"
#endif

#define BVER_EMBED(sym, file)                                      \
  __asm__(".section .rodata\n"                                     \
          ".balign 16\n"                                           \
          ".global " #sym "_start\n" #sym "_start:\n"              \
          ".incbin \"" BVER_SWAGGER_UI_DIR "/" file "\"\n"         \
          ".global " #sym "_end\n" #sym "_end:\n"                  \
          ".byte 0\n"                                              \
          ".previous\n");                                          \
  extern "C" const char sym##_start[];                             \
  extern "C" const char sym##_end[];

BVER_EMBED(bver_swagger_ui_bundle_js, "swagger-ui-bundle.js")
BVER_EMBED(bver_swagger_ui_css, "swagger-ui.css")
BVER_EMBED(bver_swagger_ui_license, "LICENSE")
BVER_EMBED(bver_swagger_ui_favicon, "favicon-32x32.png")

namespace bver::api {
namespace {

std::string_view Bytes(const char* start, const char* end) {
  return std::string_view(start, static_cast<std::size_t>(end - start));
}

// Points Swagger UI at this server's OpenAPI document. A file of its own:
// the page's Content-Security-Policy allows no inline script.
constexpr std::string_view kStartScript = R"JS(window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
    filter: true,
    tryItOutEnabled: false
  });
});
)JS";

}  // namespace

std::string_view SwaggerUiVersion() { return BVER_SWAGGER_UI_VERSION; }

const DocsAsset* FindDocsAsset(std::string_view name) {
  static const std::array<DocsAsset, 5> kAssets = {{
      {"swagger-ui-bundle.js", "text/javascript; charset=utf-8",
       Bytes(bver_swagger_ui_bundle_js_start, bver_swagger_ui_bundle_js_end)},
      {"swagger-ui.css", "text/css; charset=utf-8", Bytes(bver_swagger_ui_css_start, bver_swagger_ui_css_end)},
      {"swagger-ui-LICENSE.txt", "text/plain; charset=utf-8",
       Bytes(bver_swagger_ui_license_start, bver_swagger_ui_license_end)},
      {"favicon.png", "image/png", Bytes(bver_swagger_ui_favicon_start, bver_swagger_ui_favicon_end)},
      {"bver-docs.js", "text/javascript; charset=utf-8", kStartScript},
  }};
  for (const DocsAsset& a : kAssets) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string_view SwaggerUiPage() {
  static const std::string page = std::string(R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference</title>
<link rel="icon" type="image/png" href="/docs/favicon.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
<style>.bver-bar{font:14px sans-serif;padding:8px 20px;background:#f4f4f4;border-bottom:1px solid #ddd}</style>
</head>
<body>
<div class="bver-bar">Try any operation below ("Try it out", then "Execute"). Every operation is also
<code>POST /v1/ops/{id}</code>, an MCP tool at <code>/mcp</code> and <code>bver call</code>.
A page without script: <a href="/docs/reference">/docs/reference</a>. OpenAPI 3.1:
<a href="/v1/openapi.json">/v1/openapi.json</a>. Swagger UI )HTML") +
                                 std::string(BVER_SWAGGER_UI_VERSION) + R"HTML( (<a href="/docs/swagger-ui-LICENSE.txt">Apache-2.0</a>).</div>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/bver-docs.js"></script>
</body>
</html>
)HTML";
  return page;
}

}  // namespace bver::api
