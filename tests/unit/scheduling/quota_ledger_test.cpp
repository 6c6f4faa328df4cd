#include <gtest/gtest.h>

#include "scheduling/quota_ledger.h"

namespace codefleet {
namespace {

TEST(QuotaLedger, FamilyAndRegionalLimits) {
  QuotaLedger l;
  l.set_family_limit("westeurope", "StandardNCadsH100v5Family", 1440);
  l.set_regional_limit("westeurope", 1500);
  for (int i = 0; i < 36; ++i)
    ASSERT_TRUE(l.reserve("westeurope", "standardNCADSH100v5Family", false, 40)) << i;
  auto full = l.reserve("westeurope", "StandardNCadsH100v5Family", false, 40);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(full.error().retryable());
  EXPECT_EQ(l.used_family("WestEurope", "StandardNCadsH100v5Family"), 1440);
  // 60 regional vCPUs are left, but no family without a limit is stopped by it... up to 60.
  EXPECT_TRUE(l.reserve("westeurope", "standardDSv5Family", false, 60));
  EXPECT_FALSE(l.can_reserve("westeurope", "standardDSv5Family", false, 1));
  EXPECT_TRUE(l.within_limits());
}

TEST(QuotaLedger, NeverFitsIsInfeasible) {
  QuotaLedger l;
  l.set_family_limit("eastus", "StandardNCadsH100v5Family", 40);
  auto r = l.reserve("eastus", "StandardNCadsH100v5Family", false, 80);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInfeasible);
}

TEST(QuotaLedger, SpotCountsSeparately) {
  QuotaLedger l;
  l.set_family_limit("eastus", "standardDSv5Family", 8);
  l.set_spot_limit("eastus", 16);
  EXPECT_TRUE(l.reserve("eastus", "standardDSv5Family", true, 16));
  EXPECT_FALSE(l.can_reserve("eastus", "standardDSv5Family", true, 1));
  EXPECT_TRUE(l.reserve("eastus", "standardDSv5Family", false, 8));  // family untouched by spot
  l.release("eastus", "standardDSv5Family", true, 16);
  EXPECT_TRUE(l.can_reserve("eastus", "standardDSv5Family", true, 16));
}

}  // namespace
}  // namespace codefleet
