// The quota ledger: vCPUs in use per region per VM family, the regional total and
// the regional spot (low-priority) total, counted the way Azure counts them — by the
// cores of every VM that exists (creating, running, stopping, deallocated, hibernated),
// not by what tasks request. Only deleting a VM releases its cores.
//
//   QuotaLedger ledger = QuotaLedger::from_spec(spec);
//   if (ledger.reserve("westeurope", "StandardNCadsH100v5Family", false, 40)) { ...create the VM...
//   } ledger.release("westeurope", "StandardNCadsH100v5Family", false, 40);   // VM deleted
// Invariant: for every limit, used <= limit. `reserve` refuses anything that would break it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "spec/spec.h"

namespace codefleet {

class QuotaLedger {
 public:
  static QuotaLedger from_spec(const Spec& spec);

  void set_family_limit(const std::string& region, const std::string& family, int64_t vcpus);
  void set_regional_limit(const std::string& region, int64_t vcpus);
  void set_spot_limit(const std::string& region, int64_t vcpus);

  // Regular VMs count against their family and the regional total; spot VMs against the
  // regional low-priority total only. A missing limit means none was declared.
  bool can_reserve(const std::string& region, const std::string& family, bool spot,
                   int64_t vcpus) const;
  // Would `vcpus` of regular `family` fit once `freed_vcpus` of regular `freed_family`
  // in the same region were released? Asks without changing anything (a trial release and
  // re-reservation could leave the ledger changed if the second step failed).
  bool can_reserve_after_release(const std::string& region, const std::string& family,
                                 int64_t vcpus, const std::string& freed_family,
                                 int64_t freed_vcpus) const;
  // kInfeasible when `vcpus` alone exceed a limit (it can never fit); kUnavailable when
  // the cores are in use now (retry after a VM is deleted).
  Result<void> reserve(const std::string& region, const std::string& family, bool spot,
                       int64_t vcpus);
  // Gives back what `reserve` took. Releasing more than is in use is a bug upstream: the
  // counters stop at 0 (never negative, so never free room that does not exist), the excess
  // is counted in `over_released_vcpus`, and the answer is kInternal saying which counter.
  Result<void> release(const std::string& region, const std::string& family, bool spot,
                       int64_t vcpus);
  // vCPUs released beyond what was in use, summed over every counter, since construction.
  int64_t over_released_vcpus() const { return over_released_; }

  struct Line {
    std::string kind;  // "family", "regional", "spot"
    std::string region;
    std::string name;  // family name, or "" for totals
    int64_t used = 0;
    std::optional<int64_t> limit;
  };
  std::vector<Line> lines() const;
  int64_t used_family(const std::string& region, const std::string& family) const;
  bool within_limits() const;

 private:
  struct Counter {
    std::string display;
    int64_t used = 0;
    std::optional<int64_t> limit;
  };
  Counter& counter(std::map<std::string, Counter>& m, const std::string& key,
                   const std::string& display);
  std::map<std::string, Counter> family_;    // "region|family" (lower case)
  std::map<std::string, Counter> regional_;  // region
  std::map<std::string, Counter> spot_;      // region
  int64_t over_released_ = 0;
  // Takes `vcpus` off `c`, stopping at 0; the excess, if any.
  int64_t take_off(Counter& c, int64_t vcpus);
};

}  // namespace codefleet
