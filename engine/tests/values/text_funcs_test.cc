// Text functions against results printed by PostgreSQL 15 (UTF8 database, collation C).
#include <gtest/gtest.h>

#include "values/text_funcs.h"

namespace pgt::values {
namespace {

Value T(const std::string& s) { return Value::Str(TypeId::kText, s); }
Value I(int64_t i) { return Value::Int(TypeId::kInt4, i); }

std::string Str(TextFn f, std::vector<Value> a) {
  auto r = EvalTextFn(f, a, TypeId::kText);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r->s : "<error>";
}
bool Like(const std::string& s, const std::string& p) {
  auto r = EvalTextFn(TextFn::kLike, {T(s), T(p)}, TypeId::kBool);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() && r->i != 0;
}

TEST(TextFuncsTest, SubstrCountsCharactersLikePostgres) {
  EXPECT_EQ(Str(TextFn::kSubstr, {T("hello"), I(2), I(3)}), "ell");
  EXPECT_EQ(Str(TextFn::kSubstr, {T("hello"), I(0), I(3)}), "he");      // start 0: one char fewer
  EXPECT_EQ(Str(TextFn::kSubstr, {T("hello"), I(-1)}), "hello");
  EXPECT_EQ(Str(TextFn::kSubstr, {T("héllo"), I(2), I(2)}), "él");
  EXPECT_EQ(Str(TextFn::kSubstr, {T("abc"), I(5)}), "");
  EXPECT_EQ(Str(TextFn::kSubstr, {T("abc"), I(-5), I(3)}), "");
  EXPECT_FALSE(EvalTextFn(TextFn::kSubstr, {T("abc"), I(2), I(-1)}, TypeId::kText).ok());   // negative length
}

TEST(TextFuncsTest, LengthTrimCaseConcat) {
  EXPECT_EQ(EvalTextFn(TextFn::kLength, {T("héllo")}, TypeId::kInt4)->i, 5);
  EXPECT_EQ(EvalTextFn(TextFn::kLength, {T("")}, TypeId::kInt4)->i, 0);
  EXPECT_EQ(Str(TextFn::kBtrim, {T("  a b  ")}), "a b");
  EXPECT_EQ(Str(TextFn::kLtrim, {T("  a ")}), "a ");
  EXPECT_EQ(Str(TextFn::kRtrim, {T("\ta ")}), "\ta");
  EXPECT_EQ(Str(TextFn::kLower, {T("ÄBc-Z")}), "Äbc-z");   // ctype C: ASCII letters only
  EXPECT_EQ(Str(TextFn::kUpper, {T("äbC")}), "äBC");
  EXPECT_EQ(Str(TextFn::kConcat, {T("a"), T("ü")}), "aü");
}

TEST(TextFuncsTest, LikeMatchesCharactersWithEscapes) {
  EXPECT_TRUE(Like("abc", "a%"));
  EXPECT_TRUE(Like("abc", "%c"));
  EXPECT_TRUE(Like("", "%"));
  EXPECT_FALSE(Like("", "_"));
  EXPECT_TRUE(Like("héllo", "h_llo"));
  EXPECT_TRUE(Like("a_b", "a\\_b"));
  EXPECT_FALSE(Like("axb", "a\\_b"));
  EXPECT_TRUE(Like("50%", "50\\%"));
  EXPECT_TRUE(Like("abcabc", "%b%c"));
  EXPECT_FALSE(Like("abcab", "%b%c"));
  // PostgreSQL reports the dangling escape only when text remains to match it against.
  EXPECT_FALSE(Like("ab", "ab\\"));
  EXPECT_FALSE(EvalTextFn(TextFn::kLike, {T("abc"), T("ab\\")}, TypeId::kBool).ok());
}

}  // namespace
}  // namespace pgt::values
