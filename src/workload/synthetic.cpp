// The synthetic workload generator and `reshape` (repeat a trace, scale its rate): the
// parts of `workload/traces.h` that read no file.
#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "core/text.h"
#include "routing/fleet_model.h"
#include "spec/spec.h"
#include "workload/traces.h"

namespace codefleet {

using namespace std::chrono;

Result<SyntheticOptions> parse_synthetic_options(const std::string& text) {
  SyntheticOptions o;
  for (const auto& part : split(text, ',')) {
    if (trim(part).empty()) continue;
    size_t eq = part.find('=');
    std::string key(trim(part.substr(0, eq)));
    Result<int64_t> v = make_error(ErrorCode::kInvalidInput, "no '='");
    if (eq != std::string::npos) v = parse_whole_number(part.substr(eq + 1), 0, INT64_MAX);
    if (!v)
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("--synthetic: '{}' is not key=number", part));
    if (key == "tasks" && *v >= 1 && *v <= 100'000'000)
      o.tasks = *v;
    else if (key == "days" && *v >= 1 && *v <= 3650)
      o.days = *v;
    else if (key == "seed")
      o.seed = static_cast<uint64_t>(*v);
    else
      return make_error(
          ErrorCode::kInvalidInput,
          fmt::format(
              "--synthetic: '{}' is unknown or out of range (tasks=1..1e8, days=1..3650, seed=N)",
              part));
  }
  return o;
}

Workload synthetic_workload(const FleetModel& model, const SyntheticOptions& o) {
  std::mt19937_64 rng(o.seed);
  const Spec& spec = *model.spec;
  TimeZone zone = model.off_peak ? model.off_peak->zone : TimeZone::utc();
  // Hourly weights over the horizon (local time): office hours busy, nights and weekends quiet,
  // bursts.
  int64_t hours_total = o.days * 24;
  std::vector<double> weight(hours_total);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  TimePoint epoch{};
  for (int64_t h = 0; h < hours_total; ++h) {
    LocalTime lt = zone.local(epoch + hours(h));
    int hour = lt.minute_of_day / 60;
    bool weekend = lt.weekday >= 5;
    double wgt =
        weekend ? 0.15
                : (hour >= 8 && hour < 18 ? 1.0
                                          : (hour == 7 || (hour >= 18 && hour < 21) ? 0.4 : 0.08));
    weight[h] = wgt;
  }
  for (int64_t d = 0; d < o.days; ++d) {
    if (u(rng) < 0.3) weight[d * 24 + static_cast<int64_t>(u(rng) * 24)] *= 3.0;  // a burst
  }
  double total_w = 0, peak_w = 0;
  for (double x : weight) {
    total_w += x;
    peak_w = std::max(peak_w, x);
  }
  // Classes: compute classes some pool serves. Each pool's capacity is split among its classes.
  struct Cls {
    const WorkloadClass* c;
    double capacity = 0;  // vCPUs (CPU classes) or milli-GPUs (GPU classes)
    double weight = 0;
    Duration duration{0};
  };
  std::vector<Cls> classes;
  for (const auto& c : spec.classes) {
    if (c.kind != ClassKind::kCompute) continue;
    Cls k{&c};
    for (const auto& p : model.pools) {
      if (!p.serves(c.name) || !c.resources.fits_in(p.node)) continue;
      int64_t sharing = 0;
      for (const auto& other : spec.classes)
        sharing += other.kind == ClassKind::kCompute && p.serves(other.name) ? 1 : 0;
      double cap =
          static_cast<double>(c.resources.gpu_milli > 0 ? p.node.gpu_milli : p.node.vcpus) *
          p.max_nodes;
      k.capacity += cap / std::max<int64_t>(1, sharing);
    }
    if (k.capacity <= 0) continue;
    double need =
        static_cast<double>(c.resources.gpu_milli > 0 ? c.resources.gpu_milli
                                                      : std::max<int64_t>(1, c.resources.vcpus));
    k.weight = k.capacity / need;
    classes.push_back(k);
  }
  Workload w;
  if (classes.empty()) return w;
  double sum_cw = 0;
  for (const auto& k : classes) sum_cw += k.weight;
  for (auto& k : classes) {
    double n_c = static_cast<double>(o.tasks) * k.weight / sum_cw;
    double peak_rate_per_h = n_c * peak_w / total_w;
    double need = static_cast<double>(k.c->resources.gpu_milli > 0
                                          ? k.c->resources.gpu_milli
                                          : std::max<int64_t>(1, k.c->resources.vcpus));
    double fit_h = peak_rate_per_h > 0 ? 0.7 * k.capacity / (peak_rate_per_h * need) : 1e9;
    double dur_h = std::min(fit_h, duration_cast<milliseconds>(k.c->duration).count() / 3.6e6);
    k.duration = milliseconds(std::max<int64_t>(30'000, static_cast<int64_t>(dur_h * 3.6e6)));
  }
  std::vector<double> cls_w;
  for (const auto& k : classes) cls_w.push_back(k.weight);
  std::discrete_distribution<size_t> cls_dist(cls_w.begin(), cls_w.end());
  std::lognormal_distribution<double> jitter(-0.125, 0.5);  // mean 1.0
  // Tasks per hour: the expected share, remainders to the largest fractions (deterministic).
  std::vector<int64_t> per_hour(hours_total);
  std::vector<std::pair<double, int64_t>> frac;
  int64_t assigned = 0;
  for (int64_t h = 0; h < hours_total; ++h) {
    double exact = static_cast<double>(o.tasks) * weight[h] / total_w;
    per_hour[h] = static_cast<int64_t>(exact);
    assigned += per_hour[h];
    frac.push_back({exact - static_cast<double>(per_hour[h]), h});
  }
  std::sort(frac.begin(), frac.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (int64_t i = 0; assigned < o.tasks; ++i, ++assigned)
    per_hour[frac[static_cast<size_t>(i) % frac.size()].second]++;
  w.arrivals.reserve(static_cast<size_t>(o.tasks));
  static const char* kTenants[] = {"team-a", "team-b", "team-c", "team-d"};
  for (int64_t h = 0; h < hours_total; ++h) {
    for (int64_t i = 0; i < per_hour[h]; ++i) {
      const Cls& k = classes[cls_dist(rng)];
      Task t = task_from_class(*k.c);
      t.tenant = kTenants[rng() % 4];
      t.duration = milliseconds(std::max<int64_t>(
          1000,
          static_cast<int64_t>(
              static_cast<double>(duration_cast<milliseconds>(k.duration).count()) * jitter(rng))));
      Duration at = hours(h) + milliseconds(static_cast<int64_t>(u(rng) * 3.6e6));
      w.arrivals.push_back({at, std::move(t)});
    }
  }
  std::stable_sort(w.arrivals.begin(), w.arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.at < b.at; });
  w.span = hours(hours_total);
  w.description = fmt::format("synthetic: tasks={}, days={}, seed={}", o.tasks, o.days, o.seed);
  return w;
}

namespace {

// How many arrivals `reshape` would make, without making them.
double reshaped_count(const Workload& w, std::optional<int64_t> days, double load_scale) {
  double n = static_cast<double>(w.arrivals.size());
  if (days && w.span.count() > 0) {
    Duration period = w.span + seconds(1);
    Duration horizon = hours(24 * *days);
    double repeats =
        std::ceil(static_cast<double>(horizon.count()) / static_cast<double>(period.count()));
    n *= repeats;
  }
  return load_scale > 0 ? n * load_scale : n;
}

}  // namespace

Result<Workload> reshape(Workload w, std::optional<int64_t> days, double load_scale) {
  double count = reshaped_count(w, days, load_scale);
  if (count > static_cast<double>(std::max<size_t>(kMaxReshapedArrivals, w.arrivals.size()))) {
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format("--days/--load-scale would make {:.0f} arrivals of this workload's {}; at "
                    "most {} fit in a run (fewer days, a smaller scale)",
                    count, w.arrivals.size(), kMaxReshapedArrivals));
  }
  if (days && w.span.count() > 0) {
    Duration horizon = hours(24 * *days);
    Duration period = w.span + seconds(1);
    size_t n = w.arrivals.size();
    std::vector<Arrival> out;
    for (int64_t rep = 0; milliseconds(rep * duration_cast<milliseconds>(period).count()) < horizon;
         ++rep) {
      for (size_t i = 0; i < n; ++i) {
        Duration at = w.arrivals[i].at + rep * period;
        if (at >= horizon) break;
        out.push_back({at, w.arrivals[i].task, w.arrivals[i].deadline_after_arrival});
      }
    }
    w.arrivals = std::move(out);
    w.span = horizon;
  }
  if (load_scale != 1.0 && load_scale > 0) {
    std::vector<Arrival> out;
    double acc = 0;
    for (auto& a : w.arrivals) {
      acc += load_scale;
      while (acc >= 1.0) {
        out.push_back(a);
        acc -= 1.0;
      }
    }
    w.arrivals = std::move(out);
  }
  return w;
}

}  // namespace codefleet
