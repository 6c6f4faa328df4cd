#include "scheduling/quota_ledger.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/text.h"

namespace codefleet {

namespace {
std::string fkey(const std::string& region, const std::string& family) {
  return to_lower(region) + "|" + to_lower(family);
}
}  // namespace

QuotaLedger QuotaLedger::from_spec(const Spec& spec) {
  QuotaLedger l;
  for (const auto& q : spec.quotas) {
    for (const auto& [family, vcpus] : q.families) l.set_family_limit(q.region, family, vcpus);
    if (q.total_vcpus) l.set_regional_limit(q.region, *q.total_vcpus);
    if (q.spot_vcpus) l.set_spot_limit(q.region, *q.spot_vcpus);
  }
  return l;
}

QuotaLedger::Counter& QuotaLedger::counter(std::map<std::string, Counter>& m,
                                           const std::string& key, const std::string& display) {
  auto it = m.find(key);
  if (it == m.end()) it = m.emplace(key, Counter{display, 0, std::nullopt}).first;
  return it->second;
}

void QuotaLedger::set_family_limit(const std::string& region, const std::string& family,
                                   int64_t vcpus) {
  counter(family_, fkey(region, family), family).limit = vcpus;
}
void QuotaLedger::set_regional_limit(const std::string& region, int64_t vcpus) {
  counter(regional_, to_lower(region), "").limit = vcpus;
}
void QuotaLedger::set_spot_limit(const std::string& region, int64_t vcpus) {
  counter(spot_, to_lower(region), "").limit = vcpus;
}

bool QuotaLedger::can_reserve(const std::string& region, const std::string& family, bool spot,
                              int64_t vcpus) const {
  auto fits = [&](const std::map<std::string, Counter>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() || !it->second.limit || it->second.used + vcpus <= *it->second.limit;
  };
  if (spot) return fits(spot_, to_lower(region));
  return fits(family_, fkey(region, family)) && fits(regional_, to_lower(region));
}

bool QuotaLedger::can_reserve_after_release(const std::string& region, const std::string& family,
                                            int64_t vcpus, const std::string& freed_family,
                                            int64_t freed_vcpus) const {
  auto fits = [&](const std::map<std::string, Counter>& m, const std::string& key, int64_t freed) {
    auto it = m.find(key);
    if (it == m.end() || !it->second.limit) return true;
    int64_t used = std::max<int64_t>(0, it->second.used - freed);
    return used + vcpus <= *it->second.limit;
  };
  int64_t same_family = fkey(region, family) == fkey(region, freed_family) ? freed_vcpus : 0;
  return fits(family_, fkey(region, family), same_family) &&
         fits(regional_, to_lower(region), freed_vcpus);
}

Result<void> QuotaLedger::reserve(const std::string& region, const std::string& family, bool spot,
                                  int64_t vcpus) {
  auto check = [&](const std::map<std::string, Counter>& m, const std::string& key,
                   const std::string& what) -> Result<void> {
    auto it = m.find(key);
    if (it == m.end() || !it->second.limit) return {};
    const Counter& c = it->second;
    if (vcpus > *c.limit) {
      return make_error(
          ErrorCode::kInfeasible,
          fmt::format("{} vCPUs exceed the {} quota of {} in {}", vcpus, what, *c.limit, region));
    }
    if (c.used + vcpus > *c.limit) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("{} quota in {} is full: {} of {} vCPUs in use, {} more needed",
                                    what, region, c.used, *c.limit, vcpus));
    }
    return {};
  };
  if (spot) {
    auto ok = check(spot_, to_lower(region), "low-priority (spot)");
    if (!ok) return ok;
    counter(spot_, to_lower(region), "").used += vcpus;
    return {};
  }
  auto ok = check(family_, fkey(region, family), family);
  if (!ok) return ok;
  ok = check(regional_, to_lower(region), "regional vCPU");
  if (!ok) return ok;
  counter(family_, fkey(region, family), family).used += vcpus;
  counter(regional_, to_lower(region), "").used += vcpus;
  return {};
}

int64_t QuotaLedger::take_off(Counter& c, int64_t vcpus) {
  int64_t excess = std::max<int64_t>(0, vcpus - c.used);
  c.used -= vcpus - excess;
  over_released_ += excess;
  return excess;
}

Result<void> QuotaLedger::release(const std::string& region, const std::string& family, bool spot,
                                  int64_t vcpus) {
  if (vcpus < 0) {
    return make_error(
        ErrorCode::kInternal,
        fmt::format("cannot release {} vCPUs in {}: a negative count", vcpus, region));
  }
  std::string over;
  if (spot) {
    if (int64_t e = take_off(counter(spot_, to_lower(region), ""), vcpus); e > 0) {
      over = fmt::format("low-priority (spot) by {}", e);
    }
  } else {
    int64_t ef = take_off(counter(family_, fkey(region, family), family), vcpus);
    int64_t er = take_off(counter(regional_, to_lower(region), ""), vcpus);
    if (ef > 0) over = fmt::format("{} by {}", family, ef);
    if (er > 0) over += fmt::format("{}regional vCPU by {}", over.empty() ? "" : ", ", er);
  }
  if (over.empty()) return {};
  return make_error(
      ErrorCode::kInternal,
      fmt::format("released more vCPUs than reserved in {} ({}); counted as 0", region, over));
}

int64_t QuotaLedger::used_family(const std::string& region, const std::string& family) const {
  auto it = family_.find(fkey(region, family));
  return it == family_.end() ? 0 : it->second.used;
}

std::vector<QuotaLedger::Line> QuotaLedger::lines() const {
  std::vector<Line> out;
  for (const auto& [key, c] : family_)
    out.push_back({"family", key.substr(0, key.find('|')), c.display, c.used, c.limit});
  for (const auto& [key, c] : regional_) out.push_back({"regional", key, "", c.used, c.limit});
  for (const auto& [key, c] : spot_) out.push_back({"spot", key, "", c.used, c.limit});
  return out;
}

bool QuotaLedger::within_limits() const {
  for (const auto* m : {&family_, &regional_, &spot_}) {
    for (const auto& [key, c] : *m) {
      if (c.used < 0 || (c.limit && c.used > *c.limit)) return false;
    }
  }
  return true;
}

}  // namespace codefleet
