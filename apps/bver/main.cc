// The bver binary: wiring only.
#include <iostream>

#include "src/cli/cli.h"

int main(int argc, char** argv) { return bver::cli::Run(argc, argv, std::cout, std::cerr); }
