#include <gtest/gtest.h>

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
