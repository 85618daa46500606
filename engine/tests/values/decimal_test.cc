// Decimal: PostgreSQL numeric semantics, with expected values taken from PostgreSQL 15.
#include "values/decimal.h"

#include <gtest/gtest.h>

namespace pgt::values {
namespace {

Decimal D(std::string_view s) {
  Result<Decimal> r = Decimal::Parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().message();
  return r.ok() ? r.value() : Decimal::NaN();
}

std::string Div(std::string_view a, std::string_view b) {
  Result<Decimal> r = D(a).Div(D(b));
  return r.ok() ? r->ToString() : "ERROR: " + r.status().message();
}
std::string Mod(std::string_view a, std::string_view b) {
  Result<Decimal> r = D(a).Mod(D(b));
  return r.ok() ? r->ToString() : "ERROR: " + r.status().message();
}

TEST(Decimal, ParseAndPrint) {
  EXPECT_EQ(D("-12.50").ToString(), "-12.50");
  EXPECT_EQ(D("1e3").ToString(), "1000");
  EXPECT_EQ(D("1.5e-3").ToString(), "0.0015");
  EXPECT_EQ(D("1.50E1").ToString(), "15.0");
  EXPECT_EQ(D(" 12.5 ").ToString(), "12.5");
  EXPECT_EQ(D(".5").ToString(), "0.5");
  EXPECT_EQ(D("5.").ToString(), "5");
  EXPECT_EQ(D("-0.000").ToString(), "0.000");
  EXPECT_EQ(D("+007").ToString(), "7");
  EXPECT_EQ(D("nan").ToString(), "NaN");
  EXPECT_EQ(D("INFINITY").ToString(), "Infinity");
  EXPECT_EQ(D("-inf").ToString(), "-Infinity");
  EXPECT_EQ(D("+Infinity").ToString(), "Infinity");
  for (const char* bad : {"", ".", "1e", "abc", "1.2.3", "--1", "-NaN", "1 2", "e5"}) {
    Result<Decimal> r = Decimal::Parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().message(), "invalid input syntax for type numeric: \"" + std::string(bad) + "\"");
    }
  }
}

TEST(Decimal, DivisionScaleAsPostgres) {
  EXPECT_EQ(Div("1", "3"), "0.33333333333333333333");
  EXPECT_EQ(Div("10", "4"), "2.5000000000000000");
  EXPECT_EQ(Div("1000000", "7"), "142857.142857142857");
  EXPECT_EQ(Div("2", "3.000"), "0.66666666666666666667");
  EXPECT_EQ(Div("-7", "2"), "-3.5000000000000000");
  EXPECT_EQ(Div("100.00", "3"), "33.3333333333333333");
  EXPECT_EQ(Div("7", "3"), "2.3333333333333333");
  EXPECT_EQ(Div("0", "3"), "0.00000000000000000000");
  EXPECT_EQ(Div("1", "0"), "ERROR: division by zero");
  EXPECT_EQ(Div("0.0", "0.00"), "ERROR: division by zero");
  EXPECT_EQ(Div("2", "-3"), "-0.66666666666666666667");  // half away from zero
  EXPECT_EQ(Div("1", "8"), "0.12500000000000000000");
}

TEST(Decimal, SpecialValues) {
  EXPECT_EQ(D("NaN").Add(D("1")).ToString(), "NaN");
  EXPECT_EQ(D("Infinity").Sub(D("Infinity")).ToString(), "NaN");
  EXPECT_EQ(D("Infinity").Add(D("-Infinity")).ToString(), "NaN");
  EXPECT_EQ(D("Infinity").Add(D("5")).ToString(), "Infinity");
  EXPECT_EQ(D("5").Sub(D("Infinity")).ToString(), "-Infinity");
  EXPECT_EQ(D("Infinity").Mul(D("0")).ToString(), "NaN");
  EXPECT_EQ(D("-Infinity").Mul(D("-2")).ToString(), "Infinity");
  EXPECT_EQ(Div("5", "Infinity"), "0");
  EXPECT_EQ(Div("Infinity", "-2"), "-Infinity");
  EXPECT_EQ(Div("Infinity", "Infinity"), "NaN");
  EXPECT_EQ(Div("Infinity", "0"), "ERROR: division by zero");
  EXPECT_EQ(Div("NaN", "0"), "NaN");
  EXPECT_EQ(Mod("Infinity", "0"), "ERROR: division by zero");
  EXPECT_EQ(Mod("Infinity", "3"), "NaN");
  EXPECT_EQ(Mod("5", "-Infinity"), "5");
  EXPECT_EQ(D("-Infinity").Neg().ToString(), "Infinity");
  EXPECT_EQ(D("0.00").Neg().ToString(), "0.00");
}

TEST(Decimal, AddMulModScales) {
  EXPECT_EQ(D("1.5").Add(D("2.25")).ToString(), "3.75");
  EXPECT_EQ(D("1.50").Sub(D("1.5")).ToString(), "0.00");
  EXPECT_EQ(D("1.5").Mul(D("2.25")).ToString(), "3.375");
  EXPECT_EQ(D("-0.10").Mul(D("0.0")).ToString(), "0.000");
  EXPECT_EQ(Mod("7.5", "2"), "1.5");
  EXPECT_EQ(Mod("-7.5", "2"), "-1.5");
  EXPECT_EQ(Mod("7", "-3"), "1");
  EXPECT_EQ(Mod("1", "0"), "ERROR: division by zero");
}

TEST(Decimal, Compare) {
  EXPECT_EQ(D("1.0").Compare(D("1.00")), 0);
  EXPECT_LT(D("-Infinity").Compare(D("-1e100")), 0);
  EXPECT_LT(D("1e100").Compare(D("Infinity")), 0);
  EXPECT_LT(D("Infinity").Compare(D("NaN")), 0);
  EXPECT_EQ(D("NaN").Compare(D("NaN")), 0);
  EXPECT_GT(D("NaN").Compare(D("-Infinity")), 0);
  EXPECT_LT(D("-2").Compare(D("-1.5")), 0);
  EXPECT_GT(D("10").Compare(D("9.999")), 0);
}

TEST(Decimal, ToInt64) {
  EXPECT_EQ(D("2.5").ToInt64().value(), 3);
  EXPECT_EQ(D("-2.5").ToInt64().value(), -3);
  EXPECT_EQ(D("2.49").ToInt64().value(), 2);
  EXPECT_EQ(D("32767.4").ToInt64(TypeId::kInt2).value(), 32767);
  EXPECT_EQ(D("32767.5").ToInt64(TypeId::kInt2).status().message(), "smallint out of range");
  EXPECT_EQ(D("-2147483648.5").ToInt64(TypeId::kInt4).status().message(), "integer out of range");
  EXPECT_EQ(D("-2147483648.4").ToInt64(TypeId::kInt4).value(), INT32_MIN);
  EXPECT_EQ(D("9223372036854775807").ToInt64().value(), INT64_MAX);
  EXPECT_EQ(D("9223372036854775807.5").ToInt64().status().message(), "bigint out of range");
  EXPECT_EQ(D("NaN").ToInt64(TypeId::kInt4).status().message(), "cannot convert NaN to integer");
  EXPECT_EQ(D("-Infinity").ToInt64().status().message(), "cannot convert infinity to bigint");
  EXPECT_EQ(Decimal::FromInt64(INT64_MIN).ToString(), "-9223372036854775808");
}

TEST(Decimal, FromDoubleAndToDouble) {
  EXPECT_EQ(Decimal::FromDouble(0.1).value().ToString(), "0.1");
  EXPECT_EQ(Decimal::FromDouble(1.0 / 3).value().ToString(), "0.333333333333333");
  EXPECT_EQ(Decimal::FromDouble(1e20).value().ToString(), "100000000000000000000");
  EXPECT_EQ(D("0.1").ToDouble().value(), 0.1);
  EXPECT_FALSE(D("1e400").ToDouble().ok());
}

TEST(Decimal, Normalized) {
  std::string digits;
  int32_t e;
  D("1.50").Normalized(&digits, &e);
  EXPECT_EQ(digits, "15");
  EXPECT_EQ(e, 1);
  D("-0.00120").Normalized(&digits, &e);
  EXPECT_EQ(digits, "12");
  EXPECT_EQ(e, -2);
  D("1000").Normalized(&digits, &e);
  EXPECT_EQ(digits, "1");
  EXPECT_EQ(e, 4);
}

}  // namespace
}  // namespace pgt::values
