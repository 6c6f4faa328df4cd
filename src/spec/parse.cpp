// YAML → Spec. Every node visited records its position; every problem found is
// collected with its path and position, so one run reports all of them.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "spec/run.h"
#include "spec/spec.h"

namespace codefleet {

const char* idle_action_name(IdleAction a) {
  switch (a) {
    case IdleAction::kNone:
      return "none";
    case IdleAction::kHibernate:
      return "hibernate";
    case IdleAction::kDeallocate:
      return "deallocate";
    case IdleAction::kDelete:
      return "delete";
  }
  return "none";
}

std::vector<const Pool*> Spec::all_pools() const {
  std::vector<const Pool*> out;
  for (const auto& e : environments) {
    for (const auto& p : e.pools) out.push_back(&p);
  }
  return out;
}

const Pool* Spec::find_pool(const std::string& name) const {
  for (const Pool* p : all_pools()) {
    if (p->name == name) return p;
  }
  return nullptr;
}

const WorkloadClass* Spec::find_class(const std::string& name) const {
  for (const auto& c : classes) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const QuotaSpec* Spec::find_quota(const std::string& region) const {
  for (const auto& q : quotas) {
    if (iequals(q.region, region)) return &q;
  }
  return nullptr;
}

SourcePos ParsedSpec::position_of(const std::string& path) const {
  std::string p = path;
  while (true) {
    auto it = positions.find(p);
    if (it != positions.end()) return it->second;
    size_t cut = p.find_last_of(".[");
    if (cut == std::string::npos || cut == 0) break;
    p = p.substr(0, cut);
  }
  return {};
}

std::string SpecParseError::describe() const {
  std::string out;
  for (const auto& e : errors) {
    std::string where = file;
    if (e.pos.line > 0) where += fmt::format(":{}:{}", e.pos.line, e.pos.column);
    out += where + ": " + (e.path.empty() ? "" : e.path + ": ") + e.message;
    if (!e.suggestion.empty()) out += " (" + e.suggestion + ")";
    out += "\n";
  }
  return out;
}

namespace {

// A YAML subtree as JSON, for the parts of the spec that share the API's JSON reader (a
// class's `run`). Plain scalars that read as whole numbers or booleans become those; quoted
// ones stay strings.
nlohmann::json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.Scalar()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& item : n) a.push_back(yaml_to_json(item));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string& v = n.Scalar();
      if (n.Tag() == "?") {
        if (v == "true" || v == "false") return v == "true";
        bool digits = !v.empty() && v.size() < 18 &&
                      std::all_of(v.begin() + (v[0] == '-' ? 1 : 0), v.end(), [](char c) {
                        return std::isdigit(static_cast<unsigned char>(c));
                      });
        if (digits && v != "-") return std::stoll(v);
      }
      return v;
    }
    default:
      return nullptr;
  }
}

SourcePos pos_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

std::string join_path(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}
std::string index_path(const std::string& base, size_t i) { return fmt::format("{}[{}]", base, i); }

const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "nothing";
  }
}

class Reader {
 public:
  explicit Reader(ParsedSpec& out) : out_(out) {}

  std::vector<SpecDiagnostic> errors;

  void record(const std::string& path, const YAML::Node& n) { out_.positions[path] = pos_of(n); }

  void error(const std::string& path, const YAML::Node& n, std::string msg, std::string hint = {}) {
    errors.push_back({path, pos_of(n), std::move(msg), std::move(hint)});
  }

  // Records every key's position; a key not in `allowed` is an error naming the closest
  // valid field (a typo must never switch a setting off silently).
  bool check_map(const YAML::Node& n, const std::string& path,
                 const std::vector<std::string>& allowed) {
    if (!n.IsMap()) {
      error(path, n, fmt::format("must be a mapping, got {}", kind_name(n)));
      return false;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = it->first.Scalar();
      std::string p = join_path(path, key);
      out_.positions[p] = pos_of(it->first);
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        unknown_[path].push_back({key, pos_of(it->first)});
        ++unknown_fields;
        std::string near = closest_match(key, allowed);
        error(p, it->first, fmt::format("unknown field '{}'", key),
              near.empty() ? fmt::format("valid fields here: {}", fmt::join(allowed, ", "))
                           : fmt::format("did you mean '{}'?", near));
      }
    }
    return true;
  }

  // "required field 'max_nodes' is missing", and when an unknown sibling key looks like a
  // typo of it, "; 'max_node' at line 12 looks like a typo of it".
  void missing(const std::string& path, const YAML::Node& map, const std::string& key) {
    std::string msg = fmt::format("required field '{}' is missing", key);
    auto it = unknown_.find(path);
    if (it != unknown_.end()) {
      for (const auto& [name, pos] : it->second) {
        if (closest_match(name, {key}).empty()) continue;
        msg += fmt::format("; '{}' at line {} looks like a typo of it", name, pos.line);
        break;
      }
    }
    error(join_path(path, key), map, msg);
  }

  size_t unknown_fields = 0;  // how many of `errors` are unknown fields

  // The child `key` of map `n`, or an undefined node. Records its position.
  YAML::Node child(const YAML::Node& n, const std::string& key, const std::string& path) {
    if (!n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node c = n[key];
    if (c.IsDefined()) record(join_path(path, key), c);
    return c;
  }

  static bool absent(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

  std::optional<std::string> str(const YAML::Node& m, const std::string& key,
                                 const std::string& path, bool required = false) {
    YAML::Node n = child(m, key, path);
    std::string p = join_path(path, key);
    if (absent(n)) {
      if (required) missing(path, m, key);
      return std::nullopt;
    }
    if (!n.IsScalar()) {
      error(p, n, fmt::format("must be a string, got {}", kind_name(n)));
      return std::nullopt;
    }
    if (required && trim(n.Scalar()).empty()) {
      error(p, n, "must not be empty");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<int64_t> integer(const YAML::Node& m, const std::string& key,
                                 const std::string& path, int64_t min, int64_t max,
                                 bool required = false) {
    YAML::Node n = child(m, key, path);
    std::string p = join_path(path, key);
    if (absent(n)) {
      if (required) missing(path, m, key);
      return std::nullopt;
    }
    return to_int(n, p, min, max);
  }

  std::optional<int64_t> to_int(const YAML::Node& n, const std::string& p, int64_t min,
                                int64_t max) {
    if (!n.IsScalar()) {
      error(p, n, fmt::format("must be a whole number, got {}", kind_name(n)));
      return std::nullopt;
    }
    std::string s = n.Scalar();
    std::string digits;
    for (char c : s) {
      if (c != '_') digits += c;
    }
    bool ok = !digits.empty();
    size_t start = (digits[0] == '-' || digits[0] == '+') ? 1 : 0;
    if (start == digits.size()) ok = false;
    for (size_t i = start; ok && i < digits.size(); ++i)
      ok = std::isdigit(static_cast<unsigned char>(digits[i]));
    if (!ok || digits.size() > 18) {
      error(p, n, fmt::format("'{}' is not a whole number", s));
      return std::nullopt;
    }
    int64_t v = std::stoll(digits);
    if (v < min || v > max) {
      error(p, n, fmt::format("{} is out of range ({} to {})", v, min, max));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(const YAML::Node& m, const std::string& key,
                              const std::string& path) {
    YAML::Node n = child(m, key, path);
    std::string p = join_path(path, key);
    if (absent(n)) return std::nullopt;
    if (n.IsScalar()) {
      std::string l = to_lower(n.Scalar());
      if (l == "true" || l == "yes" || l == "on") return true;
      if (l == "false" || l == "no" || l == "off") return false;
    }
    error(p, n,
          fmt::format("must be true or false, got '{}'", n.IsScalar() ? n.Scalar() : kind_name(n)));
    return std::nullopt;
  }

  std::optional<Money> money(const YAML::Node& n, const std::string& p, bool allow_zero = true) {
    if (!n.IsScalar()) {
      error(p, n, fmt::format("must be an amount of USD, got {}", kind_name(n)));
      return std::nullopt;
    }
    auto m = Money::parse(n.Scalar());
    if (!m) {
      error(p, n, m.error().message);
      return std::nullopt;
    }
    if (m->micros() < 0 || (!allow_zero && m->micros() == 0)) {
      error(p, n,
            fmt::format("must be {} (got {})", allow_zero ? "zero or more" : "more than zero",
                        n.Scalar()));
      return std::nullopt;
    }
    if (m->micros() > Money::from_usd(1'000'000'000'000).micros()) {
      error(p, n, fmt::format("{} USD is not a plausible amount", n.Scalar()));
      return std::nullopt;
    }
    return *m;
  }

  std::optional<Duration> duration(const YAML::Node& m, const std::string& key,
                                   const std::string& path) {
    YAML::Node n = child(m, key, path);
    std::string p = join_path(path, key);
    if (absent(n)) return std::nullopt;
    if (!n.IsScalar()) {
      error(p, n, fmt::format("must be a duration such as 30m, got {}", kind_name(n)));
      return std::nullopt;
    }
    auto d = parse_duration(n.Scalar());
    if (!d) {
      error(p, n, d.error().message);
      return std::nullopt;
    }
    return *d;
  }

  std::vector<std::string> str_list(const YAML::Node& m, const std::string& key,
                                    const std::string& path) {
    YAML::Node n = child(m, key, path);
    std::string p = join_path(path, key);
    std::vector<std::string> out;
    if (absent(n)) return out;
    if (!n.IsSequence()) {
      error(p, n, fmt::format("must be a list, got {}", kind_name(n)));
      return out;
    }
    for (size_t i = 0; i < n.size(); ++i) {
      record(index_path(p, i), n[i]);
      if (!n[i].IsScalar()) {
        error(index_path(p, i), n[i], fmt::format("must be a string, got {}", kind_name(n[i])));
        continue;
      }
      out.push_back(n[i].Scalar());
    }
    return out;
  }

  std::map<std::string, std::string> str_map(const YAML::Node& m, const std::string& key,
                                             const std::string& path) {
    YAML::Node n = child(m, key, path);
    std::string p = join_path(path, key);
    std::map<std::string, std::string> out;
    if (absent(n)) return out;
    if (!n.IsMap()) {
      error(p, n, fmt::format("must be a mapping of names to strings, got {}", kind_name(n)));
      return out;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.Scalar();
      record(join_path(p, k), it->first);
      if (!it->second.IsScalar()) {
        error(join_path(p, k), it->second, "must be a string");
        continue;
      }
      out[k] = it->second.Scalar();
    }
    return out;
  }

  // A list of mappings: calls `each(node, path)` for every item.
  template <typename F>
  void list(const YAML::Node& m, const std::string& key, const std::string& path, F each) {
    YAML::Node n = child(m, key, path);
    std::string p = join_path(path, key);
    if (absent(n)) return;
    if (!n.IsSequence()) {
      error(p, n, fmt::format("must be a list, got {}", kind_name(n)));
      return;
    }
    for (size_t i = 0; i < n.size(); ++i) {
      record(index_path(p, i), n[i]);
      each(n[i], index_path(p, i));
    }
  }

  template <typename E>
  std::optional<E> choice(const YAML::Node& m, const std::string& key, const std::string& path,
                          const std::vector<std::pair<std::string, E>>& options) {
    auto s = str(m, key, path);
    if (!s) return std::nullopt;
    std::vector<std::string> names;
    for (const auto& [name, value] : options) {
      if (iequals(name, *s)) return value;
      names.push_back(name);
    }
    std::string near = closest_match(*s, names);
    error(join_path(path, key), child(m, key, path),
          fmt::format("'{}' is not one of {}", *s, fmt::join(names, ", ")),
          near.empty() ? "" : fmt::format("did you mean '{}'?", near));
    return std::nullopt;
  }

 private:
  ParsedSpec& out_;
  // Unknown keys by the path of their mapping, for the hint on a missing required field.
  std::map<std::string, std::vector<std::pair<std::string, SourcePos>>> unknown_;
};

template <typename T>
void set_if(std::optional<T> v, T& target) {
  if (v) target = *v;
}

// "07:30" → 450
std::optional<int> parse_hhmm(const std::string& s) {
  int h = 0, m = 0;
  if (s.size() != 5 || s[2] != ':' || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])) ||
      !std::isdigit(static_cast<unsigned char>(s[3])) ||
      !std::isdigit(static_cast<unsigned char>(s[4]))) {
    return std::nullopt;
  }
  h = (s[0] - '0') * 10 + (s[1] - '0');
  m = (s[3] - '0') * 10 + (s[4] - '0');
  if (s == "24:00") return 24 * 60;
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

const std::vector<std::string> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

// "mon", "mon-fri", "weekdays", "weekends", "daily" → day numbers.
std::optional<std::vector<int>> parse_days(const std::string& s) {
  std::string l = to_lower(s);
  auto day = [](const std::string& d) -> int {
    for (size_t i = 0; i < kDays.size(); ++i) {
      if (kDays[i] == d) return static_cast<int>(i);
    }
    return -1;
  };
  if (l == "daily") return std::vector<int>{0, 1, 2, 3, 4, 5, 6};
  if (l == "weekdays") return std::vector<int>{0, 1, 2, 3, 4};
  if (l == "weekends") return std::vector<int>{5, 6};
  size_t dash = l.find('-');
  if (dash == std::string::npos) {
    int d = day(l);
    if (d < 0) return std::nullopt;
    return std::vector<int>{d};
  }
  int a = day(l.substr(0, dash)), b = day(l.substr(dash + 1));
  if (a < 0 || b < 0) return std::nullopt;
  std::vector<int> out;
  for (int d = a;; d = (d + 1) % 7) {
    out.push_back(d);
    if (d == b) break;
  }
  return out;
}

bool plausible_time_zone(const std::string& tz) {
  if (tz == "UTC" || tz == "GMT") return true;
  if (tz.find('/') == std::string::npos || tz.front() == '/' || tz.back() == '/') return false;
  return std::all_of(tz.begin(), tz.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
           c == '+';
  });
}

std::optional<Schedule> parse_schedule(Reader& r, const YAML::Node& n, const std::string& path) {
  if (!r.check_map(n, path, {"time_zone", "windows"})) return std::nullopt;
  Schedule s;
  if (auto tz = r.str(n, "time_zone", path)) {
    if (!plausible_time_zone(*tz)) {
      r.error(join_path(path, "time_zone"), n["time_zone"],
              fmt::format("'{}' is not an IANA time zone name", *tz),
              "e.g. Europe/Amsterdam or UTC");
    } else {
      s.time_zone = *tz;
    }
  }
  r.list(n, "windows", path, [&](const YAML::Node& w, const std::string& wp) {
    if (!r.check_map(w, wp, {"days", "start", "end"})) return;
    TimeWindow tw;
    for (const auto& d : r.str_list(w, "days", wp)) {
      auto days = parse_days(d);
      if (!days) {
        r.error(
            join_path(wp, "days"), w["days"],
            fmt::format(
                "'{}' is not a day (mon..sun, a range such as mon-fri, weekdays, weekends, daily)",
                d));
        continue;
      }
      tw.days.insert(tw.days.end(), days->begin(), days->end());
    }
    for (const char* key : {"start", "end"}) {
      auto t = r.str(w, key, wp, true);
      if (!t) continue;
      auto minutes = parse_hhmm(*t);
      if (!minutes) {
        r.error(join_path(wp, key), w[key], fmt::format("'{}' is not a time of day (HH:MM)", *t));
        continue;
      }
      (std::string(key) == "start" ? tw.start_minute : tw.end_minute) = *minutes;
    }
    s.windows.push_back(tw);
  });
  if (s.windows.empty())
    r.error(join_path(path, "windows"), n, "a schedule needs at least one window");
  return s;
}

// An amount of USD, or a range {min, max}.
std::optional<std::pair<Money, Money>> money_range(Reader& r, const YAML::Node& v,
                                                   const std::string& path) {
  if (!v.IsMap()) {
    auto one = r.money(v, path, false);
    if (!one) return std::nullopt;
    return std::make_pair(*one, *one);
  }
  r.check_map(v, path, {"min", "max"});
  YAML::Node lo = r.child(v, "min", path), hi = r.child(v, "max", path);
  if (!lo.IsDefined() || !hi.IsDefined()) {
    r.error(path, v, "a range needs both 'min' and 'max'");
    return std::nullopt;
  }
  auto a_min = r.money(lo, join_path(path, "min"), false);
  auto a_max = r.money(hi, join_path(path, "max"), false);
  if (!a_min || !a_max) return std::nullopt;
  if (*a_max < *a_min) {
    r.error(path, v, "'min' is above 'max'");
    return std::nullopt;
  }
  return std::make_pair(*a_min, *a_max);
}

std::optional<PriceAssumption> parse_assumption(Reader& r, const YAML::Node& n,
                                                const std::string& path, bool needs_target) {
  if (!r.check_map(
          n, path,
          {"series", "sku", "usd_per_vcpu_hour", "usd_per_hour", "stated_monthly_usd", "note"})) {
    return std::nullopt;
  }
  PriceAssumption a;
  a.path = path;
  set_if(r.str(n, "series", path), a.series);
  set_if(r.str(n, "sku", path), a.sku);
  set_if(r.str(n, "note", path), a.note);
  if (needs_target && a.series.empty() && a.sku.empty()) {
    r.error(path, n, "a price assumption needs 'series' or 'sku'");
  }
  YAML::Node per_vcpu = r.child(n, "usd_per_vcpu_hour", path);
  YAML::Node per_vm = r.child(n, "usd_per_hour", path);
  YAML::Node v = per_vcpu.IsDefined() ? per_vcpu : per_vm;
  a.basis = per_vcpu.IsDefined() ? "vcpu_hour" : "hour";
  std::string vp = join_path(path, per_vcpu.IsDefined() ? "usd_per_vcpu_hour" : "usd_per_hour");
  if (!v.IsDefined()) {
    r.error(path, n, "a price assumption needs 'usd_per_vcpu_hour' or 'usd_per_hour'");
    return std::nullopt;
  }
  auto range = money_range(r, v, vp);
  if (!range) return std::nullopt;
  a.min_usd = range->first;
  a.max_usd = range->second;
  YAML::Node monthly = r.child(n, "stated_monthly_usd", path);
  if (monthly.IsDefined()) {
    auto m = money_range(r, monthly, join_path(path, "stated_monthly_usd"));
    if (!m) return std::nullopt;
    a.stated_monthly = m;
  }
  return a;
}

constexpr int64_t kMaxNodes = 10'000;
constexpr int64_t kMaxVcpus = 10'000'000;

void parse_pool(Reader& r, const YAML::Node& n, const std::string& path, Environment& env) {
  if (!r.check_map(
          n, path,
          {"name", "sku", "min_nodes", "max_nodes", "spot", "os_disk", "availability_set", "zones",
           "backup", "capacity_reservation", "scale_down_mode", "idle", "schedule", "classes",
           "storage", "tags", "price_assumption", "scaler", "gpu_sharing"})) {
    return;
  }
  Pool p;
  p.path = path;
  p.environment = env.name;
  p.region = env.region;
  set_if(r.str(n, "name", path, true), p.name);
  set_if(r.str(n, "sku", path, true), p.sku);
  set_if(r.integer(n, "min_nodes", path, 0, kMaxNodes), p.min_nodes);
  set_if(r.integer(n, "max_nodes", path, 0, kMaxNodes, true), p.max_nodes);
  if (p.min_nodes > p.max_nodes) {
    r.error(join_path(path, "min_nodes"), n["min_nodes"],
            fmt::format("min_nodes ({}) is above max_nodes ({})", p.min_nodes, p.max_nodes));
  }
  set_if(r.boolean(n, "spot", path), p.spot);
  set_if(r.boolean(n, "availability_set", path), p.availability_set);
  set_if(r.boolean(n, "backup", path), p.backup);
  set_if(r.boolean(n, "capacity_reservation", path), p.capacity_reservation);
  p.zones = r.str_list(n, "zones", path);
  for (size_t i = 0; i < p.zones.size(); ++i) {
    if (p.zones[i] != "1" && p.zones[i] != "2" && p.zones[i] != "3") {
      r.error(index_path(join_path(path, "zones"), i), n["zones"][i],
              fmt::format("zone '{}' is not 1, 2 or 3", p.zones[i]));
    }
  }
  if (p.availability_set && !p.zones.empty()) {
    r.error(join_path(path, "availability_set"), n["availability_set"],
            "a pool cannot use both availability zones and an availability set");
  }
  set_if(r.choice<std::string>(n, "scale_down_mode", path,
                               {{"Delete", "Delete"}, {"Deallocate", "Deallocate"}}),
         p.scale_down_mode);
  set_if(r.choice<std::string>(
             n, "scaler", path,
             {{"codefleet", "codefleet"}, {"cluster-autoscaler", "cluster-autoscaler"}}),
         p.scaler);
  set_if(r.choice<std::string>(n, "gpu_sharing", path,
                               {{"time-slicing", "time-slicing"}, {"mps", "mps"}, {"mig", "mig"}}),
         p.gpu_sharing);
  YAML::Node disk = r.child(n, "os_disk", path);
  if (disk.IsDefined()) {
    std::string dp = join_path(path, "os_disk");
    if (r.check_map(disk, dp, {"type", "tier", "size_gib"})) {
      set_if(r.choice<OsDiskType>(
                 disk, "type", dp,
                 {{"managed", OsDiskType::kManaged}, {"ephemeral", OsDiskType::kEphemeral}}),
             p.os_disk.type);
      set_if(r.choice<std::string>(disk, "tier", dp,
                                   {{"premium_ssd", "premium_ssd"},
                                    {"premium_ssd_v2", "premium_ssd_v2"},
                                    {"standard_ssd", "standard_ssd"},
                                    {"standard_hdd", "standard_hdd"}}),
             p.os_disk.tier);
      set_if(r.integer(disk, "size_gib", dp, 30, 4095), p.os_disk.size_gib);
    }
  }
  YAML::Node idle = r.child(n, "idle", path);
  if (idle.IsDefined()) {
    std::string ip = join_path(path, "idle");
    if (r.check_map(idle, ip, {"action", "after"})) {
      set_if(r.choice<IdleAction>(idle, "action", ip,
                                  {{"none", IdleAction::kNone},
                                   {"hibernate", IdleAction::kHibernate},
                                   {"deallocate", IdleAction::kDeallocate},
                                   {"delete", IdleAction::kDelete}}),
             p.idle_action);
      if (auto after = r.duration(idle, "after", ip)) {
        if (*after < std::chrono::minutes(1) || *after > std::chrono::hours(24 * 30)) {
          r.error(join_path(ip, "after"), idle["after"], "must be between 1m and 30d");
        } else {
          p.idle_after = *after;
        }
      }
    }
  }
  YAML::Node sched = r.child(n, "schedule", path);
  if (sched.IsDefined()) p.schedule = parse_schedule(r, sched, join_path(path, "schedule"));
  p.classes = r.str_list(n, "classes", path);
  set_if(r.str(n, "storage", path), p.storage);
  p.tags = r.str_map(n, "tags", path);
  YAML::Node pa = r.child(n, "price_assumption", path);
  if (pa.IsDefined())
    p.price_assumption = parse_assumption(r, pa, join_path(path, "price_assumption"), false);
  env.pools.push_back(p);
}

void parse_root(Reader& r, const YAML::Node& root, Spec& s) {
  if (!r.check_map(root, "",
                   {"version", "name", "subscription_id", "regions", "pricing", "quotas",
                    "policies", "tags", "network", "access", "storage", "backup", "off_peak",
                    "environments", "workload_classes", "foundry", "inference", "budgets"})) {
    return;
  }
  set_if(r.integer(root, "version", "", 1, 1, true), s.version);
  set_if(r.str(root, "name", "", true), s.name);
  set_if(r.str(root, "subscription_id", ""), s.subscription_id);
  s.regions = r.str_list(root, "regions", "");
  for (auto& reg : s.regions) reg = to_lower(reg);
  if (s.regions.empty())
    r.error("regions", root, "at least one region is required", "e.g. regions: [westeurope]");

  YAML::Node pricing = r.child(root, "pricing", "");
  if (pricing.IsDefined() && r.check_map(pricing, "pricing", {"fallback_region", "assumptions"})) {
    if (auto fb = r.str(pricing, "fallback_region", "pricing"))
      s.price_fallback_region = to_lower(*fb);
    r.list(pricing, "assumptions", "pricing", [&](const YAML::Node& n, const std::string& p) {
      if (auto a = parse_assumption(r, n, p, true)) s.price_assumptions.push_back(*a);
    });
  }

  r.list(root, "quotas", "", [&](const YAML::Node& n, const std::string& p) {
    if (!r.check_map(n, p, {"region", "total_vcpus", "spot_vcpus", "families"})) return;
    QuotaSpec q;
    q.path = p;
    if (auto reg = r.str(n, "region", p, true)) q.region = to_lower(*reg);
    if (auto t = r.integer(n, "total_vcpus", p, 0, kMaxVcpus)) q.total_vcpus = t;
    if (auto t = r.integer(n, "spot_vcpus", p, 0, kMaxVcpus)) q.spot_vcpus = t;
    YAML::Node fam = r.child(n, "families", p);
    if (fam.IsDefined()) {
      std::string fp = join_path(p, "families");
      if (!fam.IsMap()) {
        r.error(fp, fam,
                "must map quota family names to vCPUs, e.g. StandardNCadsH100v5Family: 1440");
      } else {
        for (auto it = fam.begin(); it != fam.end(); ++it) {
          std::string k = it->first.Scalar();
          r.record(join_path(fp, k), it->first);
          if (auto v = r.to_int(it->second, join_path(fp, k), 0, kMaxVcpus)) q.families[k] = *v;
        }
      }
    }
    s.quotas.push_back(q);
  });

  YAML::Node pol = r.child(root, "policies", "");
  if (pol.IsDefined() &&
      r.check_map(pol, "policies", {"require_hibernation", "hours_per_month", "wait_slo_p95"})) {
    set_if(r.boolean(pol, "require_hibernation", "policies"), s.policies.require_hibernation);
    set_if(r.integer(pol, "hours_per_month", "policies", 672, 744), s.policies.hours_per_month);
    if (auto slo = r.duration(pol, "wait_slo_p95", "policies")) {
      if (slo->count() <= 0 || *slo > std::chrono::hours(24 * 7)) {
        r.error("policies.wait_slo_p95", pol["wait_slo_p95"], "must be between 1s and 7d");
      } else {
        s.policies.wait_slo_p95 = *slo;
      }
    }
  }

  YAML::Node tags = r.child(root, "tags", "");
  if (tags.IsDefined() && r.check_map(tags, "tags", {"required", "defaults"})) {
    s.required_tags = r.str_list(tags, "required", "tags");
    s.default_tags = r.str_map(tags, "defaults", "tags");
  }

  YAML::Node net = r.child(root, "network", "");
  if (net.IsDefined() && r.check_map(net, "network", {"vnet_cidr", "subnets"})) {
    s.network.path = "network";
    set_if(r.str(net, "vnet_cidr", "network", true), s.network.vnet_cidr);
    r.list(net, "subnets", "network", [&](const YAML::Node& n, const std::string& p) {
      if (!r.check_map(n, p, {"name", "cidr"})) return;
      Subnet sn;
      sn.path = p;
      set_if(r.str(n, "name", p, true), sn.name);
      set_if(r.str(n, "cidr", p, true), sn.cidr);
      s.network.subnets.push_back(sn);
    });
  }

  r.list(root, "access", "", [&](const YAML::Node& n, const std::string& p) {
    if (!r.check_map(n, p, {"group", "role"})) return;
    AccessRule a;
    a.path = p;
    set_if(r.str(n, "group", p, true), a.group);
    set_if(r.choice<std::string>(n, "role", p,
                                 {{"viewer", "viewer"},
                                  {"submitter", "submitter"},
                                  {"operator", "operator"},
                                  {"admin", "admin"}}),
           a.role);
    if (a.role.empty() && !n["role"].IsDefined()) r.missing(p, n, "role");
    s.access.push_back(a);
  });

  r.list(root, "storage", "", [&](const YAML::Node& n, const std::string& p) {
    if (!r.check_map(n, p, {"name", "kind", "size_gib"})) return;
    StorageTier t;
    t.path = p;
    set_if(r.str(n, "name", p, true), t.name);
    set_if(r.choice<std::string>(n, "kind", p,
                                 {{"premium_ssd", "premium_ssd"},
                                  {"premium_ssd_v2", "premium_ssd_v2"},
                                  {"ultra_disk", "ultra_disk"},
                                  {"standard_ssd", "standard_ssd"},
                                  {"standard_hdd", "standard_hdd"},
                                  {"local_nvme", "local_nvme"}}),
           t.kind);
    set_if(r.integer(n, "size_gib", p, 1, 65536), t.size_gib);
    s.storage.push_back(t);
  });

  YAML::Node backup = r.child(root, "backup", "");
  if (backup.IsDefined() &&
      r.check_map(backup, "backup", {"enabled", "retention_days", "rpo", "rto"})) {
    set_if(r.boolean(backup, "enabled", "backup"), s.backup.enabled);
    set_if(r.integer(backup, "retention_days", "backup", 1, 3650), s.backup.retention_days);
    set_if(r.duration(backup, "rpo", "backup"), s.backup.rpo);
    set_if(r.duration(backup, "rto", "backup"), s.backup.rto);
  }

  YAML::Node off = r.child(root, "off_peak", "");
  if (off.IsDefined()) s.off_peak = parse_schedule(r, off, "off_peak");

  r.list(root, "environments", "", [&](const YAML::Node& n, const std::string& p) {
    if (!r.check_map(n, p, {"name", "region", "subnet", "tags", "pools"})) return;
    Environment e;
    e.path = p;
    set_if(r.str(n, "name", p, true), e.name);
    if (auto reg = r.str(n, "region", p))
      e.region = to_lower(*reg);
    else if (!s.regions.empty())
      e.region = s.regions.front();
    set_if(r.str(n, "subnet", p), e.subnet);
    e.tags = r.str_map(n, "tags", p);
    r.list(n, "pools", p,
           [&](const YAML::Node& pn, const std::string& pp) { parse_pool(r, pn, pp, e); });
    s.environments.push_back(e);
  });

  r.list(root, "workload_classes", "", [&](const YAML::Node& n, const std::string& p) {
    if (!r.check_map(n, p,
                     {"name", "kind", "resources", "duration", "priority", "deferrable",
                      "preemptible", "prefer", "policy", "run"})) {
      return;
    }
    WorkloadClass c;
    c.path = p;
    set_if(r.str(n, "name", p, true), c.name);
    set_if(r.choice<ClassKind>(n, "kind", p,
                               {{"compute", ClassKind::kCompute}, {"llm", ClassKind::kLlm}}),
           c.kind);
    YAML::Node res = r.child(n, "resources", p);
    if (res.IsDefined()) {
      std::string rp = join_path(p, "resources");
      if (r.check_map(res, rp, {"vcpus", "memory_gib", "gpus", "gpu_memory_gib"})) {
        set_if(r.integer(res, "vcpus", rp, 0, 1024), c.resources.vcpus);
        if (auto m = r.integer(res, "memory_gib", rp, 0, 16384))
          c.resources.memory_mib = *m * kMibPerGib;
        if (auto g = r.integer(res, "gpus", rp, 0, 16)) c.resources.gpu_milli = *g * kMilliPerGpu;
        if (auto g = r.integer(res, "gpu_memory_gib", rp, 0, 16 * 192))
          c.resources.gpu_memory_mib = *g * kMibPerGib;
      }
    } else if (c.kind == ClassKind::kCompute) {
      r.error(join_path(p, "resources"), n,
              "a compute class needs 'resources' (vcpus, memory_gib, ...)");
    }
    if (auto d = r.duration(n, "duration", p)) {
      if (d->count() <= 0 || *d > std::chrono::hours(24 * 60)) {
        r.error(join_path(p, "duration"), n["duration"], "must be between 1s and 60d");
      } else {
        c.duration = *d;
      }
    }
    set_if(r.integer(n, "priority", p, -1000, 1000), c.priority);
    set_if(r.boolean(n, "deferrable", p), c.deferrable);
    set_if(r.boolean(n, "preemptible", p), c.preemptible);
    c.prefer = r.str_list(n, "prefer", p);
    set_if(
        r.choice<std::string>(n, "policy", p, {{"cheapest", "cheapest"}, {"fastest", "fastest"}}),
        c.policy);
    if (YAML::Node run = r.child(n, "run", p); run.IsDefined()) {
      std::string rp = join_path(p, "run");
      // Bytes that are not UTF-8 become U+FFFD (and then fail the field's own check).
      auto parsed = parse_run_json(
          yaml_to_json(run).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), rp);
      if (parsed) {
        c.run = std::make_shared<const RunSpec>(std::move(*parsed));
      } else {
        r.error(parsed.error().location, run, parsed.error().message);
      }
    }
    s.classes.push_back(c);
  });

  YAML::Node foundry = r.child(root, "foundry", "");
  if (foundry.IsDefined() && r.check_map(foundry, "foundry", {"deployments"})) {
    r.list(foundry, "deployments", "foundry", [&](const YAML::Node& n, const std::string& p) {
      if (!r.check_map(
              n, p,
              {"name", "endpoint", "deployment", "model", "region", "usd_per_1m_input_tokens",
               "usd_per_1m_output_tokens", "tpm", "rpm", "classes", "auth", "api"})) {
        return;
      }
      FoundryDeployment d;
      d.path = p;
      set_if(r.str(n, "name", p, true), d.name);
      set_if(r.str(n, "endpoint", p, true), d.endpoint);
      if (!d.endpoint.empty() && d.endpoint.rfind("https://", 0) != 0 &&
          d.endpoint.rfind("http://", 0) != 0) {
        r.error(join_path(p, "endpoint"), n["endpoint"],
                fmt::format("'{}' is not an http(s) URL", d.endpoint));
      }
      set_if(r.str(n, "deployment", p, true), d.deployment);
      set_if(r.str(n, "model", p), d.model);
      if (auto reg = r.str(n, "region", p)) d.region = to_lower(*reg);
      for (auto [key, target] :
           {std::pair{"usd_per_1m_input_tokens", &d.usd_per_1m_input_tokens},
            std::pair{"usd_per_1m_output_tokens", &d.usd_per_1m_output_tokens}}) {
        YAML::Node v = r.child(n, key, p);
        if (!v.IsDefined()) {
          r.missing(p, n, key);
          continue;
        }
        set_if(r.money(v, join_path(p, key)), *target);
      }
      set_if(r.integer(n, "tpm", p, 0, 1'000'000'000), d.tpm);
      set_if(r.integer(n, "rpm", p, 0, 100'000'000), d.rpm);
      d.classes = r.str_list(n, "classes", p);
      set_if(r.choice<std::string>(n, "auth", p,
                                   {{"managed-identity", "managed-identity"},
                                    {"api-key", "api-key"},
                                    {"entra", "entra"}}),
             d.auth);
      set_if(r.choice<std::string>(n, "api", p, {{"deployments", "deployments"}, {"v1", "v1"}}),
             d.api);
      s.foundry.push_back(d);
    });
  }

  r.list(root, "inference", "", [&](const YAML::Node& n, const std::string& p) {
    if (!r.check_map(n, p, {"name", "pool", "endpoint", "model", "tokens_per_second", "classes"}))
      return;
    SelfHostedEndpoint e;
    e.path = p;
    set_if(r.str(n, "name", p, true), e.name);
    set_if(r.str(n, "pool", p, true), e.pool);
    set_if(r.str(n, "endpoint", p, true), e.endpoint);
    set_if(r.str(n, "model", p), e.model);
    set_if(r.integer(n, "tokens_per_second", p, 1, 10'000'000), e.tokens_per_second);
    e.classes = r.str_list(n, "classes", p);
    s.inference.push_back(e);
  });

  r.list(root, "budgets", "", [&](const YAML::Node& n, const std::string& p) {
    if (!r.check_map(n, p, {"name", "scope", "amount_usd", "thresholds_pct", "contact_emails"}))
      return;
    Budget b;
    b.path = p;
    set_if(r.str(n, "name", p, true), b.name);
    set_if(r.str(n, "scope", p), b.scope);
    YAML::Node amount = r.child(n, "amount_usd", p);
    if (!amount.IsDefined()) {
      r.missing(p, n, "amount_usd");
    } else {
      set_if(r.money(amount, join_path(p, "amount_usd"), false), b.amount_usd);
    }
    YAML::Node th = r.child(n, "thresholds_pct", p);
    if (th.IsDefined()) {
      b.thresholds_pct.clear();
      std::string tp = join_path(p, "thresholds_pct");
      if (!th.IsSequence()) {
        r.error(tp, th, "must be a list of percentages, e.g. [50, 80, 100]");
      } else {
        for (size_t i = 0; i < th.size(); ++i) {
          if (auto v = r.to_int(th[i], index_path(tp, i), 1, 1000)) b.thresholds_pct.push_back(*v);
        }
      }
    }
    b.contact_emails = r.str_list(n, "contact_emails", p);
    s.budgets.push_back(b);
  });
}

// Names must be unique within their kind; references must resolve.
void check_references(Reader& r, const Spec& s, ParsedSpec& out) {
  auto at = [&](const std::string& path) {
    SpecDiagnostic d;
    d.path = path;
    d.pos = out.position_of(path);
    return d;
  };
  auto fail = [&](const std::string& path, std::string msg, std::string hint = {}) {
    SpecDiagnostic d = at(path);
    d.message = std::move(msg);
    d.suggestion = std::move(hint);
    r.errors.push_back(d);
  };
  std::set<std::string> pools, classes, envs, deployments, subnets, tiers;
  for (const auto& e : s.environments) {
    if (!e.name.empty() && !envs.insert(e.name).second) {
      fail(e.path + ".name", fmt::format("environment '{}' is defined twice", e.name));
    }
    for (const auto& p : e.pools) {
      if (!p.name.empty() && !pools.insert(p.name).second) {
        fail(p.path + ".name",
             fmt::format("pool '{}' is defined twice (pool names are unique across environments)",
                         p.name));
      }
    }
  }
  for (const auto& c : s.classes) {
    if (!c.name.empty() && !classes.insert(c.name).second)
      fail(c.path + ".name", fmt::format("class '{}' is defined twice", c.name));
  }
  for (const auto& d : s.foundry) {
    if (!d.name.empty() && !deployments.insert(d.name).second)
      fail(d.path + ".name", fmt::format("deployment '{}' is defined twice", d.name));
  }
  for (const auto& sn : s.network.subnets) subnets.insert(sn.name);
  for (const auto& t : s.storage) tiers.insert(t.name);
  std::vector<std::string> class_names(classes.begin(), classes.end());
  std::vector<std::string> pool_names(pools.begin(), pools.end());
  auto check_class_refs = [&](const std::vector<std::string>& refs, const std::string& path) {
    for (size_t i = 0; i < refs.size(); ++i) {
      if (!classes.count(refs[i])) {
        std::string near = closest_match(refs[i], class_names);
        fail(fmt::format("{}.classes[{}]", path, i),
             fmt::format("unknown workload class '{}'", refs[i]),
             near.empty() ? "define it under workload_classes"
                          : fmt::format("did you mean '{}'?", near));
      }
    }
  };
  for (const auto& e : s.environments) {
    if (!e.subnet.empty() && !subnets.count(e.subnet)) {
      fail(e.path + ".subnet", fmt::format("unknown subnet '{}'", e.subnet),
           "define it under network.subnets");
    }
    for (const auto& p : e.pools) {
      check_class_refs(p.classes, p.path);
      if (!p.storage.empty() && !tiers.count(p.storage)) {
        fail(p.path + ".storage", fmt::format("unknown storage tier '{}'", p.storage),
             "define it under storage");
      }
    }
  }
  for (const auto& d : s.foundry) check_class_refs(d.classes, d.path);
  for (const auto& i : s.inference) {
    check_class_refs(i.classes, i.path);
    if (!i.pool.empty() && !pools.count(i.pool)) {
      std::string near = closest_match(i.pool, pool_names);
      fail(i.path + ".pool", fmt::format("unknown pool '{}'", i.pool),
           near.empty() ? "" : fmt::format("did you mean '{}'?", near));
    }
  }
  std::set<std::string> endpoints;
  for (const auto& i : s.inference) endpoints.insert(i.name);
  for (const auto& c : s.classes) {
    for (size_t i = 0; i < c.prefer.size(); ++i) {
      if (!pools.count(c.prefer[i]) && !deployments.count(c.prefer[i]) &&
          !endpoints.count(c.prefer[i])) {
        fail(fmt::format("{}.prefer[{}]", c.path, i),
             fmt::format("'{}' is neither a pool, a Foundry deployment nor an inference endpoint",
                         c.prefer[i]));
      }
    }
  }
  for (const auto& b : s.budgets) {
    if (b.scope != "subscription" && !envs.count(b.scope)) {
      fail(b.path + ".scope",
           fmt::format("scope '{}' is neither 'subscription' nor an environment", b.scope));
    }
  }
}

}  // namespace

tl::expected<ParsedSpec, SpecParseError> parse_spec(const std::string& text,
                                                    const std::string& file) {
  ParsedSpec out;
  out.file = file;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SpecParseError err{file, {}};
    err.errors.push_back(
        {"", {e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg, ""});
    return tl::unexpected(err);
  }
  if (!root.IsDefined() || root.IsNull()) {
    return tl::unexpected(SpecParseError{
        file, {{"", {1, 1}, "the file is empty", "start from examples/recommended.yaml"}}});
  }
  Reader r(out);
  try {
    parse_root(r, root, out.spec);
    // Unknown fields leave what was read intact: names and references are still checked.
    if (r.errors.size() == r.unknown_fields) check_references(r, out.spec, out);
  } catch (const YAML::Exception& e) {
    r.errors.push_back({"",
                        {e.mark.line + 1, e.mark.column + 1},
                        std::string("cannot read spec: ") + e.what(),
                        ""});
  }
  if (!r.errors.empty()) return tl::unexpected(SpecParseError{file, r.errors});
  return out;
}

tl::expected<ParsedSpec, SpecParseError> parse_spec_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return tl::unexpected(
        SpecParseError{file, {{"", {}, "cannot open the spec file (does it exist?)", ""}}});
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_spec(ss.str(), file);
}

}  // namespace codefleet
