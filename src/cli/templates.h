// The project templates of `bver init`, embedded in the binary at build
// time (src/cli/CMakeLists.txt, cmake/EmbedTemplates.cmake): `substation`
// and `grid` are the files of examples/ as they are in the source tree,
// `minimal` is src/cli/templates/minimal/. Constant data; any thread.
#pragma once

#include <cstddef>

namespace bver::cli {

struct EmbeddedTemplateFile {
  const char* template_name;
  const char* path;  // inside the new project, '/'-separated
  const char* content;
};

// Every file of every template, in the order src/cli/CMakeLists.txt names
// them (a template's bver.yaml first).
extern const EmbeddedTemplateFile kEmbeddedTemplateFiles[];
extern const std::size_t kEmbeddedTemplateFileCount;

}  // namespace bver::cli
