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

TEST(QuotaLedger, TheRegionalTotalBindsReserveAcrossFamilies) {
  // Two families with room of their own (100 each), a regional total of 120: the total is
  // the limit that binds.
  QuotaLedger l;
  l.set_family_limit("westeurope", "standardDSv5Family", 100);
  l.set_family_limit("westeurope", "standardESv5Family", 100);
  l.set_regional_limit("westeurope", 120);
  ASSERT_TRUE(l.reserve("westeurope", "standardDSv5Family", false, 80));
  auto over = l.reserve("westeurope", "standardESv5Family", false, 48);
  ASSERT_FALSE(over) << "48 more would make 128 of a regional 120";
  EXPECT_EQ(over.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(over.error().message.find("regional"), std::string::npos) << over.error().message;
  EXPECT_EQ(l.used_family("westeurope", "standardESv5Family"), 0);  // nothing half-taken
  EXPECT_TRUE(l.reserve("westeurope", "standardESv5Family", false, 40));
  EXPECT_TRUE(l.within_limits());
  // A family without a limit of its own is held by the total alone.
  auto untracked = l.reserve("westeurope", "standardFSv2Family", false, 1);
  ASSERT_FALSE(untracked);
  EXPECT_EQ(untracked.error().code, ErrorCode::kUnavailable);
  // More than the whole total can never fit.
  QuotaLedger small;
  small.set_regional_limit("eastus", 32);
  auto never = small.reserve("eastus", "standardDSv5Family", false, 48);
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().code, ErrorCode::kInfeasible);
  // Spot VMs do not count against the regional total.
  small.set_spot_limit("eastus", 64);
  EXPECT_TRUE(small.reserve("eastus", "standardDSv5Family", true, 48));
  EXPECT_TRUE(small.reserve("eastus", "standardDSv5Family", false, 32));
}

TEST(QuotaLedger, ReleasingMoreThanReservedStopsAtZeroAndSaysSo) {
  QuotaLedger l;
  l.set_family_limit("eastus", "standardDSv5Family", 64);
  l.set_regional_limit("eastus", 64);
  l.set_spot_limit("eastus", 16);
  ASSERT_TRUE(l.reserve("eastus", "standardDSv5Family", false, 8));
  auto over = l.release("eastus", "standardDSv5Family", false, 24);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kInternal);
  EXPECT_NE(over.error().message.find("standardDSv5Family by 16"), std::string::npos)
      << over.error().message;
  EXPECT_NE(over.error().message.find("regional vCPU by 16"), std::string::npos)
      << over.error().message;
  // Never negative: the next reservation sees exactly the limit, not 16 phantom vCPUs.
  EXPECT_EQ(l.used_family("eastus", "standardDSv5Family"), 0);
  EXPECT_TRUE(l.within_limits());
  EXPECT_EQ(l.over_released_vcpus(), 32);  // 16 on the family, 16 on the total
  EXPECT_FALSE(l.can_reserve("eastus", "standardDSv5Family", false, 65));
  EXPECT_TRUE(l.reserve("eastus", "standardDSv5Family", false, 64));
  // Spot, and a release of what is in use, which is fine.
  auto spot = l.release("eastus", "standardDSv5Family", true, 4);
  ASSERT_FALSE(spot);
  EXPECT_NE(spot.error().message.find("spot"), std::string::npos) << spot.error().message;
  EXPECT_EQ(l.over_released_vcpus(), 36);
  EXPECT_TRUE(l.release("eastus", "standardDSv5Family", false, 64));
  EXPECT_FALSE(l.release("eastus", "standardDSv5Family", false, -1));
  EXPECT_EQ(l.over_released_vcpus(), 36);
  EXPECT_TRUE(l.within_limits());
}

TEST(QuotaLedger, CanReserveAfterReleaseAsksWithoutChangingAnything) {
  QuotaLedger l;
  l.set_family_limit("westeurope", "standardNCadsH100v5Family", 80);
  l.set_regional_limit("westeurope", 100);
  ASSERT_TRUE(l.reserve("westeurope", "standardNCadsH100v5Family", false, 80));
  ASSERT_TRUE(l.reserve("westeurope", "standardDSv5Family", false, 16));
  // The family is full; freeing one 40-vCPU node of it would make room for another.
  EXPECT_FALSE(l.can_reserve("westeurope", "standardNCadsH100v5Family", false, 40));
  EXPECT_TRUE(l.can_reserve_after_release("westeurope", "standardNCadsH100v5Family", 40,
                                          "standardNCadsH100v5Family", 40));
  // Freeing another family's node helps only the regional total, not this family.
  EXPECT_FALSE(l.can_reserve_after_release("westeurope", "standardNCadsH100v5Family", 40,
                                           "standardDSv5Family", 16));
  // And the regional total: 96 in use, 4 left, 16 freed make 20.
  EXPECT_FALSE(l.can_reserve_after_release("westeurope", "standardESv5Family", 24,
                                           "standardDSv5Family", 16));
  EXPECT_TRUE(l.can_reserve_after_release("westeurope", "standardESv5Family", 20,
                                          "standardDSv5Family", 16));
  EXPECT_EQ(l.used_family("westeurope", "standardNCadsH100v5Family"), 80);
  EXPECT_EQ(l.used_family("westeurope", "standardDSv5Family"), 16);
}

}  // namespace
}  // namespace codefleet
