#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/money.h"
#include "core/text.h"
#include "spec/run.h"
#include "spec/spec.h"
#include "workload/task.h"

namespace codefleet {

using nlohmann::json;

namespace {

constexpr int kMaxJsonDepth = 32;

// A value as an error message shows it: scalars as JSON, containers by their type (a
// deeply nested one must not be serialised: that recurses once per level).
std::string shown(const json& v) {
  if (v.is_structured()) return v.is_array() ? "an array" : "an object";
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 64 ? text.substr(0, 61) + "..." : text;
}

// A field name as an error message shows it: at most 64 bytes (an unknown key may be huge).
std::string clipped(const std::string& name) {
  return name.size() > 64 ? name.substr(0, 61) + "..." : name;
}

struct Reader {
  const std::string& source;
  Error error;
  bool failed = false;
  std::string field;  // the first failing field's JSON path

  void fail(const std::string& name, const std::string& msg) {
    if (failed) return;
    failed = true;
    field = name;
    error = Error{ErrorCode::kInvalidInput, fmt::format("field '{}': {}", name, msg), source};
  }

  std::optional<int64_t> integer(const json& o, const char* key, const std::string& field,
                                 int64_t min, int64_t max) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() && !it->is_number_unsigned() && !it->is_number_float()) {
      fail(field, fmt::format("must be a whole number, got {}", shown(*it)));
      return std::nullopt;
    }
    if (it->is_number_float()) {
      // 4.0 is fine; 4.5 is not. Past int64 (1e30) it is out of range, checked before the
      // cast, which would be undefined there.
      double d = it->get<double>();
      if (d != std::floor(d)) {
        fail(field, fmt::format("must be a whole number, got {}", shown(*it)));
        return std::nullopt;
      }
      if (!(d >= -9.0e18 && d <= 9.0e18)) {
        fail(field, fmt::format("{} is out of range ({} to {})", shown(*it), min, max));
        return std::nullopt;
      }
    }
    int64_t v =
        it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      v = INT64_MAX;
    if (v < min || v > max) {
      fail(field, fmt::format("{} is out of range ({} to {})", v, min, max));
      return std::nullopt;
    }
    return v;
  }

  // A whole or decimal number of units, in 1/scale units: memory_gib 1.5 → 1536 MiB,
  // gpus 0.25 → 250 milli-GPUs (a shared GPU). Bounds are in whole units.
  std::optional<int64_t> scaled(const json& o, const char* key, const std::string& field,
                                int64_t scale, int64_t max_units) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) {
      fail(field, fmt::format("must be a number, got {}", shown(*it)));
      return std::nullopt;
    }
    auto v = parse_scaled_decimal(it->dump(), scale);
    if (!v || *v < 0 || *v > max_units * scale) {
      fail(field, fmt::format("{} is out of range (0 to {})", it->dump(), max_units));
      return std::nullopt;
    }
    return *v;
  }

  // A string of at most `max_bytes` (longer is an error that does not repeat it).
  std::optional<std::string> string(const json& o, const char* key, const std::string& field,
                                    size_t max_bytes = kMaxTaskNameBytes) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      fail(field, fmt::format("must be a string, got {}", it->type_name()));
      return std::nullopt;
    }
    if (it->get_ref<const std::string&>().size() > max_bytes) {
      fail(field, fmt::format("is {} bytes long; at most {} are allowed",
                              it->get_ref<const std::string&>().size(), max_bytes));
      return std::nullopt;
    }
    return it->get<std::string>();
  }

  std::optional<bool> boolean(const json& o, const char* key, const std::string& field) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) {
      fail(field, fmt::format("must be true or false, got {}", shown(*it)));
      return std::nullopt;
    }
    return it->get<bool>();
  }
};

const std::vector<std::string> kTaskFields = {
    "id",       "class",      "environment", "tenant", "resources",    "duration_s", "priority",
    "deadline", "deferrable", "preemptible", "tokens", "submitted_at", "run"};
const std::vector<std::string> kResourceFields = {"vcpus", "memory_gib", "gpus", "gpu_memory_gib"};

// " (did you mean 'X'?)" for an unknown top-level key, looking among the `resources`
// fields too (`gpu` → `resources.gpus`); "" when nothing is close.
std::string unknown_field_hint(const std::string& key) {
  std::string near = closest_match(key, kTaskFields);
  if (near.empty()) {
    near = closest_match(key, kResourceFields);
    if (!near.empty()) near = "resources." + near;
  }
  return near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near);
}

// The first top-level key of `doc` that is not a task field, if any.
std::optional<std::string> first_unknown_field(const json& doc) {
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (std::find(kTaskFields.begin(), kTaskFields.end(), it.key()) == kTaskFields.end())
      return it.key();
  }
  return std::nullopt;
}

}  // namespace

Task task_from_class(const WorkloadClass& c) {
  Task t;
  t.class_name = c.name;
  t.priority = c.priority;
  t.deferrable = c.deferrable;
  t.preemptible = c.preemptible;
  t.resources = c.resources;
  t.duration = c.duration;
  t.run = c.run;
  return t;
}

Result<Task> parse_task_json(const std::string& text, const Spec& spec, const std::string& source,
                             std::string* bad_field) {
  if (bad_field) bad_field->clear();
  if (json_nesting_exceeds(text, kMaxJsonDepth)) {
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth), source);
  }
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("not valid JSON at byte {}: {}", e.byte, e.what()), source);
  } catch (const json::out_of_range& e) {  // a number too large for a double (1e400)
    return make_error(ErrorCode::kInvalidInput, fmt::format("not valid JSON: {}", e.what()),
                      source);
  }
  if (!doc.is_object()) {
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("a task must be a JSON object, got {}", doc.type_name()), source);
  }
  if (auto unknown = first_unknown_field(doc)) {
    if (bad_field) *bad_field = clipped(*unknown);
    std::string hint = unknown_field_hint(clipped(*unknown));
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("unknown field '{}'{}", clipped(*unknown), hint), source);
  }
  Reader r{source, {}, false, {}};
  Task t;
  auto cls = r.string(doc, "class", "class");
  if (!cls && !r.failed) r.fail("class", "is required (a workload class of the spec)");
  const WorkloadClass* wc = nullptr;
  if (cls) {
    t.class_name = *cls;
    wc = spec.find_class(*cls);
    if (!wc) {
      std::vector<std::string> names;
      for (const auto& c : spec.classes) names.push_back(c.name);
      std::string near = closest_match(*cls, names);
      r.fail("class", fmt::format("unknown workload class '{}'{}", *cls,
                                  near.empty() ? fmt::format(" (known: {})", fmt::join(names, ", "))
                                               : fmt::format(" (did you mean '{}'?)", near)));
    }
  }
  if (wc) t = task_from_class(*wc);
  if (auto id = r.string(doc, "id", "id")) t.id = *id;
  if (auto env = r.string(doc, "environment", "environment")) {
    t.environment = *env;
    bool known = false;
    for (const auto& e : spec.environments) known = known || e.name == *env;
    if (!known) r.fail("environment", fmt::format("unknown environment '{}'", *env));
  }
  if (auto tenant = r.string(doc, "tenant", "tenant")) {
    if (tenant->empty()) r.fail("tenant", "must not be empty");
    t.tenant = *tenant;
  }
  auto res = doc.find("resources");
  if (res != doc.end() && !res->is_null()) {
    if (!res->is_object()) {
      r.fail("resources", "must be an object {vcpus, memory_gib, gpus, gpu_memory_gib}");
    } else {
      for (auto it = res->begin(); it != res->end(); ++it) {
        if (std::find(kResourceFields.begin(), kResourceFields.end(), it.key()) ==
            kResourceFields.end()) {
          std::string near = closest_match(clipped(it.key()), kResourceFields);
          r.fail("resources." + clipped(it.key()),
                 near.empty() ? "unknown field (expected vcpus, memory_gib, gpus, gpu_memory_gib)"
                              : fmt::format("unknown field (did you mean '{}'?)", near));
        }
      }
      if (auto v = r.integer(*res, "vcpus", "resources.vcpus", 0, 4096)) t.resources.vcpus = *v;
      if (auto v = r.scaled(*res, "memory_gib", "resources.memory_gib", kMibPerGib, 65536))
        t.resources.memory_mib = *v;
      if (auto v = r.scaled(*res, "gpus", "resources.gpus", kMilliPerGpu, 64))
        t.resources.gpu_milli = *v;
      if (auto v =
              r.scaled(*res, "gpu_memory_gib", "resources.gpu_memory_gib", kMibPerGib, 64 * 192)) {
        t.resources.gpu_memory_mib = *v;
      }
    }
  }
  if (auto d = r.integer(doc, "duration_s", "duration_s", 1, 60LL * 86400))
    t.duration = std::chrono::seconds(*d);
  if (auto p = r.integer(doc, "priority", "priority", -1000, 1000)) t.priority = *p;
  if (auto dl = r.string(doc, "deadline", "deadline", kMaxTaskTimeBytes)) {
    auto tp = parse_rfc3339(*dl);
    if (!tp)
      r.fail("deadline", tp.error().message);
    else
      t.deadline = *tp;
  }
  if (auto at = r.string(doc, "submitted_at", "submitted_at", kMaxTaskTimeBytes)) {
    auto tp = parse_rfc3339(*at);
    if (!tp)
      r.fail("submitted_at", tp.error().message);
    else
      t.submitted_at = *tp;
  }
  if (auto b = r.boolean(doc, "deferrable", "deferrable")) t.deferrable = *b;
  if (auto b = r.boolean(doc, "preemptible", "preemptible")) t.preemptible = *b;
  auto tok = doc.find("tokens");
  if (tok != doc.end() && !tok->is_null()) {
    if (!tok->is_object()) {
      r.fail("tokens", "must be an object {prompt, completion}");
    } else {
      TokenCounts tc;
      if (auto v = r.integer(*tok, "prompt", "tokens.prompt", 0, 100'000'000)) tc.prompt = *v;
      if (auto v = r.integer(*tok, "completion", "tokens.completion", 0, 100'000'000))
        tc.completion = *v;
      t.tokens = tc;
    }
  }
  auto run = doc.find("run");
  if (run != doc.end() && !run->is_null() && !r.failed) {
    // The task's own run replaces its class's as a whole.
    auto parsed = parse_run_json(run->dump(-1, ' ', false, json::error_handler_t::replace), "run");
    if (!parsed) {
      r.failed = true;
      r.field = parsed.error().location;
      r.error = Error{ErrorCode::kInvalidInput, parsed.error().message, source};
    } else {
      t.run = std::make_shared<const RunSpec>(std::move(*parsed));
    }
  }
  if (!r.failed && wc && wc->kind == ClassKind::kCompute && t.resources.vcpus == 0) {
    r.fail("resources.vcpus", "a compute task needs at least 1 vCPU");
  }
  if (!r.failed && wc && wc->kind == ClassKind::kLlm && !t.tokens) {
    r.fail("tokens",
           "is required for an LLM class: {\"prompt\": N, \"completion\": N} (estimates are fine)");
  }
  if (!r.failed && t.duration.count() <= 0)
    r.fail("duration_s", "is required (the class sets no duration)");
  if (r.failed) {
    if (bad_field) *bad_field = r.field;
    return tl::unexpected(r.error);
  }
  return t;
}

std::string task_to_json(const Task& t) {
  // Whole units print as integers; a fraction (half a GiB, a quarter GPU) as a decimal.
  auto units = [](int64_t v, int64_t per) {
    return v % per == 0 ? json(v / per) : json(static_cast<double>(v) / static_cast<double>(per));
  };
  json j{{"id", t.id},
         {"class", t.class_name},
         {"tenant", t.tenant},
         {"resources",
          {{"vcpus", t.resources.vcpus},
           {"memory_gib", units(t.resources.memory_mib, kMibPerGib)},
           {"gpus", units(t.resources.gpu_milli, kMilliPerGpu)},
           {"gpu_memory_gib", units(t.resources.gpu_memory_mib, kMibPerGib)}}},
         // Whole seconds, rounded up: a sub-second LLM call is a 1 s task, never 0.
         {"duration_s",
          std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(t.duration).count())},
         {"priority", t.priority},
         {"deferrable", t.deferrable},
         {"preemptible", t.preemptible}};
  if (!t.environment.empty()) j["environment"] = t.environment;  // "" = any environment
  if (t.deadline) j["deadline"] = format_rfc3339(*t.deadline);
  if (t.tokens) j["tokens"] = {{"prompt", t.tokens->prompt}, {"completion", t.tokens->completion}};
  if (t.run) j["run"] = json::parse(run_to_json(*t.run));
  return j.dump();
}

}  // namespace codefleet
