#include "routing/fleet_model.h"

#include <algorithm>

#include <fmt/format.h>

namespace codefleet {

using namespace std::chrono;

bool PoolModel::serves(const std::string& class_name) const {
  return classes.empty() || std::find(classes.begin(), classes.end(), class_name) != classes.end();
}

bool OffPeak::contains(TimePoint t) const {
  LocalTime lt = zone.local(t);
  for (const auto& w : schedule.windows) {
    auto on_day = [&](int d) {
      return w.days.empty() || std::find(w.days.begin(), w.days.end(), d) != w.days.end();
    };
    bool crosses = w.end_minute <= w.start_minute;
    if (!crosses) {
      if (on_day(lt.weekday) && lt.minute_of_day >= w.start_minute &&
          lt.minute_of_day < w.end_minute)
        return true;
    } else {
      if (on_day(lt.weekday) && lt.minute_of_day >= w.start_minute) return true;
      int yesterday = (lt.weekday + 6) % 7;
      if (on_day(yesterday) && lt.minute_of_day < w.end_minute) return true;
    }
  }
  return false;
}

TimePoint OffPeak::next_start(TimePoint t) const {
  if (memo_ && t >= memo_->first && t < memo_->second) return memo_->second;
  if (contains(t)) return t;
  // Step to the next whole minute, then minute by minute (at most a week plus a DST hour).
  TimePoint m = ceil<minutes>(t);
  for (int i = 0; i < 7 * 24 * 60 + 120; ++i, m += minutes(1)) {
    if (contains(m)) {
      memo_ = std::make_pair(t, m);
      return m;
    }
  }
  return t;  // an empty schedule: never off-peak; callers treat that as "run now"
}

namespace {

// A schedule with its time zone resolved: built in, else through the options' resolver.
Result<OffPeak> resolve_schedule(const Schedule& schedule, const std::string& path,
                                 const FleetModelOptions& options) {
  OffPeak op;
  op.schedule = schedule;
  auto tz = TimeZone::named(schedule.time_zone);
  if (!tz && options.resolve_time_zone) tz = options.resolve_time_zone(schedule.time_zone);
  if (!tz) {
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format("{}: unknown time zone '{}': {}", path, schedule.time_zone, tz.error().message),
        path);
  }
  op.zone = *tz;
  return op;
}

}  // namespace

Result<FleetModel> build_fleet_model(const Spec& spec, const Catalog& catalog,
                                     const FleetModelOptions& options) {
  FleetModel m;
  m.spec = &spec;
  std::optional<std::string> fallback = options.price_fallback_region;
  if (!fallback && !spec.price_fallback_region.empty()) fallback = spec.price_fallback_region;
  for (const Pool* p : spec.all_pools()) {
    const VmSize* size = catalog.find_size(p->sku);
    if (!size) {
      return make_error(
          ErrorCode::kNotFound,
          fmt::format("pool '{}': VM size '{}' is not in the catalog", p->name, p->sku),
          p->path + ".sku");
    }
    PoolModel pm;
    pm.index = static_cast<int>(m.pools.size());
    pm.name = p->name;
    pm.environment = p->environment;
    pm.region = p->region;
    pm.sku = size->sku;
    pm.series = size->series;
    pm.quota_family = size->quota_family;
    pm.node = size->resources();
    pm.min_nodes = p->min_nodes;
    pm.max_nodes = p->max_nodes;
    pm.spot = p->spot;
    pm.autoscaled = p->scaler == "cluster-autoscaler";
    pm.gpu_sharing = p->gpu_sharing;
    pm.idle_action = p->idle_action;
    pm.classes = p->classes;
    pm.can_hibernate = size->hibernation_supported;
    Result<Price> price = make_error(ErrorCode::kNotFound, "");
    if (p->spot) price = catalog.price(size->sku, p->region, PriceType::kSpot, fallback);
    if (!price) price = catalog.price(size->sku, p->region, PriceType::kPayg, fallback);
    if (!price) {
      return make_error(ErrorCode::kNotFound,
                        fmt::format("pool '{}': {}", p->name, price.error().message),
                        p->path + ".sku");
    }
    pm.price = *price;
    bool gpu = size->gpu_milli > 0;
    pm.create_latency = gpu ? options.latencies.create_gpu : options.latencies.create_cpu;
    pm.start_latency = p->idle_action == IdleAction::kHibernate && size->hibernation_supported
                           ? options.latencies.resume_hibernated
                           : (gpu ? options.latencies.start_deallocated_gpu
                                  : options.latencies.start_deallocated_cpu);
    if (p->schedule) {
      auto sched = resolve_schedule(*p->schedule, p->path + ".schedule.time_zone", options);
      if (!sched) return tl::unexpected(sched.error());
      pm.schedule = *sched;
    }
    m.pools.push_back(pm);
  }
  for (const auto& d : spec.foundry) {
    DeploymentModel dm;
    dm.index = static_cast<int>(m.deployments.size());
    dm.name = d.name;
    dm.deployment = d.deployment;
    dm.model = d.model;
    dm.endpoint = d.endpoint;
    dm.usd_per_1m_input = d.usd_per_1m_input_tokens;
    dm.usd_per_1m_output = d.usd_per_1m_output_tokens;
    dm.tpm = d.tpm;
    dm.rpm = d.rpm;
    dm.classes = d.classes;
    m.deployments.push_back(dm);
  }
  for (const auto& e : spec.inference) {
    SelfHostedModel sm;
    sm.index = static_cast<int>(m.self_hosted.size());
    sm.name = e.name;
    sm.endpoint = e.endpoint;
    sm.model = e.model;
    sm.tokens_per_second = e.tokens_per_second;
    sm.classes = e.classes;
    for (const auto& p : m.pools) {
      if (p.name == e.pool) sm.pool = p.index;
    }
    m.self_hosted.push_back(sm);
  }
  if (spec.off_peak) {
    auto op = resolve_schedule(*spec.off_peak, "off_peak.time_zone", options);
    if (!op) return tl::unexpected(op.error());
    m.off_peak = *op;
  }
  return m;
}

}  // namespace codefleet
