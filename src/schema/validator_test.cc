#include "src/schema/validator.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace bver::schema {
namespace {

TEST(ValidatorTest, Placeholder) {
  auto v = Validator::Compile(nlohmann::json::parse(R"({"type": "string"})"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE((*v)->IsValid("x"));
}

}  // namespace
}  // namespace bver::schema
