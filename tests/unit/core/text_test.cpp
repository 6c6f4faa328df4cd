#include <gtest/gtest.h>

#include <optional>

#include "core/resources.h"
#include "core/text.h"

namespace codefleet {
namespace {

TEST(Text, ClosestMatchFindsTypos) {
  std::vector<std::string> fields{"min_nodes", "max_nodes", "sku", "idle"};
  EXPECT_EQ(closest_match("min_node", fields), "min_nodes");
  EXPECT_EQ(closest_match("MAX_NODES", fields), "max_nodes");
  EXPECT_EQ(closest_match("completely_different", fields), "");
}

TEST(Text, CaseInsensitiveCompare) {
  EXPECT_TRUE(iequals("standardNCadsH100v5Family", "StandardNCADSH100v5Family"));
  EXPECT_TRUE(icontains("D4s v5 Spot", "spot"));
}

struct WholeCase {
  const char* text;
  int64_t min, max;
  std::optional<int64_t> want;
  const char* error;  // a part of the message when `want` is empty
};

TEST(Text, ParseWholeNumberChecksFormAndRange) {
  for (const auto& c : std::vector<WholeCase>{
           {"42", 0, 100, 42, ""},
           {" 7\t", 0, 100, 7, ""},
           {"-3", -5, 5, -3, ""},
           {"9223372036854775807", 0, INT64_MAX, INT64_MAX, ""},
           {"999999999999999999", 0, 100'000'000, std::nullopt,
            "999999999999999999 is out of range (0 to 100000000)"},
           {"9223372036854775808", 0, INT64_MAX, std::nullopt, "is out of range"},
           {"99999999999999999999999", 0, INT64_MAX, std::nullopt, "is out of range"},
           {"1,000", 0, 10'000, std::nullopt, "'1,000' is not a whole number"},
           {"1e3", 0, 10'000, std::nullopt, "is not a whole number"},
           {"+1", 0, 10, std::nullopt, "is not a whole number"},
           {"4.0", 0, 10, std::nullopt, "is not a whole number"},
           {"", 0, 10, std::nullopt, "is empty"},
       }) {
    SCOPED_TRACE(c.text);
    auto v = parse_whole_number(c.text, c.min, c.max);
    if (c.want) {
      ASSERT_TRUE(v) << v.error().message;
      EXPECT_EQ(*v, *c.want);
    } else {
      ASSERT_FALSE(v);
      EXPECT_NE(v.error().message.find(c.error), std::string::npos) << v.error().message;
    }
  }
}

TEST(Text, WithoutUtf8Bom) {
  EXPECT_EQ(without_utf8_bom("\xEF\xBB\xBF"
                             "a,b"),
            "a,b");
  EXPECT_EQ(without_utf8_bom("a,b"), "a,b");
  EXPECT_EQ(without_utf8_bom("\xEF\xBB"), "\xEF\xBB");
}

TEST(Resources, FitsAndFormats) {
  Resources node{40, 320 * kMibPerGib, 1000, 94 * kMibPerGib};
  Resources need{16, 128 * kMibPerGib, 1000, 40 * kMibPerGib};
  EXPECT_TRUE(need.fits_in(node));
  Resources two_gpus = need;
  two_gpus.gpu_milli = 2000;
  EXPECT_FALSE(two_gpus.fits_in(node));
  EXPECT_EQ(node.to_string(), "40 vCPU, 320 GiB, 1 GPU (94 GiB)");
  EXPECT_EQ((Resources{1, 512, 0, 0}).to_string(), "1 vCPU, 0.50 GiB");
}

}  // namespace
}  // namespace codefleet
