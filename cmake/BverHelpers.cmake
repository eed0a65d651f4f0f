# One helper per target kind, in the manner of Abseil's absl_cc_library:
# every module names its sources and its dependencies explicitly, so a
# wrong-way include fails to link instead of silently working.

set(BVER_WARNINGS -Wall -Wextra -Wpedantic)
if(BVER_WERROR)
  list(APPEND BVER_WARNINGS -Werror)
endif()

# bver_cc_library(NAME core SRCS a.cc b.cc DEPS other PUBLIC_DEPS x)
# Creates target bver_<NAME>, alias bver::<NAME>.
function(bver_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PUBLIC_DEPS" ${ARGN})
  set(target bver_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(bver::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target}
    PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE ${BVER_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
endfunction()

# bver_cc_test(NAME pointer_test SRCS pointer_test.cc DEPS bver::core)
# A GoogleTest binary registered with CTest; tests run from the source root so
# they can reach ../shared/testdata by a stable relative path.
function(bver_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${BVER_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${ARG_NAME} PRIVATE
    BVER_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    BVER_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(ARG_TIMEOUT)
    set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  endif()
  if(ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
