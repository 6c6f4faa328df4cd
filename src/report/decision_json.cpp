#include "report/decision_json.h"

#include <nlohmann/json.hpp>

namespace codefleet {

namespace {

using ojson = nlohmann::ordered_json;

ojson money_json(Money m) { return ojson::parse(m.to_string()); }

ojson target_json(const Target& t) {
  ojson j{{"kind", target_kind_name(t.kind)}, {"name", t.name}};
  if (!t.sku.empty()) j["sku"] = t.sku;
  if (!t.pool.empty()) j["pool"] = t.pool;
  if (!t.deployment.empty()) j["deployment"] = t.deployment;
  return j;
}

int64_t seconds_of(Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

}  // namespace

std::string decision_json(const Decision& d, int indent) {
  bool none = d.outcome == Outcome::kInfeasible;
  ojson dec{{"outcome", outcome_name(d.outcome)}};
  dec["target"] = none ? ojson(nullptr) : target_json(d.target);
  dec["cost_usd"] = none ? ojson(nullptr) : money_json(d.cost);
  dec["wait_s"] = none ? ojson(nullptr) : ojson(seconds_of(d.wait));
  dec["estimated"] = d.estimated;
  dec["reason"] = d.reason;
  ojson j;
  j["decision"] = dec;
  j["alternatives"] = ojson::array();
  for (const auto& a : d.alternatives) {
    j["alternatives"].push_back(
        {{"target", target_json(a.target)},
         {"cost_usd", money_json(a.cost)},
         {"wait_s", a.feasible ? ojson(seconds_of(a.wait)) : ojson(nullptr)},
         {"feasible", a.feasible},
         {"rejected_because", a.rejected_because}});
  }
  return j.dump(indent);
}

}  // namespace codefleet
