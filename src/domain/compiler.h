// The domain compiler: bver.yaml in, a checked Platform out.
//
// Compile() reads the whole document, collects EVERY problem it finds (each a
// Violation whose path is "file:line:column" and whose message names the
// attribute path in the document and what was expected), and returns either
// the Platform or InvalidArgument with all of them. It has no side effects;
// writing the outputs is WriteCompiled()'s job (manifest.h).
#pragma once

#include <string>

#include "bver/status.h"
#include "src/domain/platform.h"
#include "src/domain/source.h"

namespace bver::domain {

Result<Platform> Compile(const SourceDocument& doc);

// Convenience: LoadYamlFile + Compile.
Result<Platform> CompileFile(const std::string& path);

}  // namespace bver::domain
