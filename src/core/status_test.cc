#include "bver/status.h"

#include <gtest/gtest.h>

#include "src/core/status_map.h"

namespace bver {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_TRUE(s.violations().empty());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeMessageAndViolations) {
  Status s = InvalidArgumentError("body is invalid", {{"meta.owner", "type", "expected a string"}});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeName(s.code()), "invalid_argument");
  ASSERT_EQ(s.violations().size(), 1u);
  EXPECT_EQ(s.violations()[0].path, "meta.owner");
  EXPECT_EQ(s.ToString(), "invalid_argument: body is invalid\n  meta.owner: expected a string [type]");
}

TEST(StatusTest, OkCodeWithMessageIsStillOk) {
  Status s(StatusCode::kOk, "ignored");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s, Status::Ok());
}

TEST(StatusTest, WithPrefix) {
  EXPECT_EQ(NotFoundError("x").WithPrefix("loading y").message(), "loading y: x");
  EXPECT_TRUE(Status().WithPrefix("p").ok());
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  BVER_ASSIGN_OR_RETURN(int h, Half(x));
  BVER_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  BVER_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(ResultTest, PropagatesValuesAndErrors) {
  EXPECT_EQ(Quarter(8).value(), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

TEST(StatusMapTest, OneMappingForEveryTransport) {
  EXPECT_EQ(core::HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(core::HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(core::HttpStatusFor(StatusCode::kAborted), 409);
  EXPECT_EQ(core::HttpStatusFor(StatusCode::kFailedPrecondition), 412);
  EXPECT_EQ(core::HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(core::ExitCodeFor(StatusCode::kOk), 0);
  EXPECT_EQ(core::ExitCodeFor(StatusCode::kNotFound), 1);
  EXPECT_EQ(core::ExitCodeFor(StatusCode::kInternal), 3);
}

}  // namespace
}  // namespace bver
