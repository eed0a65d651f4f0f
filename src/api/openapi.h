// The OpenAPI 3.1.1 document of the REST routes (rest.h), generated from the
// same operation table, so the description and the server cannot disagree.
// jsonSchemaDialect is draft 2020-12; each row's input and output schemas
// sit under components/schemas ("<operation>.input", "<operation>.output")
// with their local $refs rewritten to point there and their top-level $defs
// hoisted into components of their own ("<operation>.output.body.breaker";
// unreferenced ones dropped). Every row is described twice: on its own route
// (operationId "<operation>") and as POST /v1/ops/<operation> (operationId
// "ops.<operation>", the input schema as the body). Responses: the success
// status, "4XX" and "default" problems. Security: an oauth2 scheme (client
// credentials, listing every scope) for JWTs and an HTTP bearer scheme for
// API keys. The document passes swagger-parser and `redocly lint`
// (tests/openapi). Pure function, safe from any thread.
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace bver::runtime {
class OperationTable;
}

namespace bver::api {

nlohmann::json OpenApiDocument(const runtime::OperationTable& table);

}  // namespace bver::api
