// `run` objects: parsing and validation (see run.h).
#include <algorithm>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "spec/run.h"

namespace codefleet {

namespace {

using json = nlohmann::json;

Error bad(const std::string& field, std::string message) {
  return Error{ErrorCode::kInvalidInput, std::move(message), field};
}

// Unknown keys are errors naming the closest valid one.
Result<void> known_keys(const json& obj, const std::vector<std::string>& keys,
                        const std::string& path) {
  for (const auto& [k, _] : obj.items()) {
    if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
    std::string near = closest_match(k, keys);
    return tl::unexpected(
        bad(path + "." + k, fmt::format("unknown field '{}'{}", k,
                                        near.empty() ? "" : " (did you mean '" + near + "'?)")));
  }
  return {};
}

Result<std::string> string_at(const json& obj, const std::string& key, const std::string& path,
                              size_t max_bytes) {
  const json& v = obj[key];
  if (!v.is_string()) return tl::unexpected(bad(path, path + " must be a string"));
  std::string s = v.get<std::string>();
  if (s.size() > max_bytes) {
    return tl::unexpected(bad(path, fmt::format("{} is longer than {} bytes", path, max_bytes)));
  }
  return s;
}

Result<std::vector<std::string>> strings_at(const json& v, const std::string& path) {
  if (!v.is_array()) return tl::unexpected(bad(path, path + " must be an array of strings"));
  if (v.size() > kMaxRunListItems) {
    return tl::unexpected(
        bad(path, fmt::format("{} has more than {} items", path, kMaxRunListItems)));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string at = fmt::format("{}[{}]", path, i);
    if (!v[i].is_string()) return tl::unexpected(bad(at, at + " must be a string"));
    if (v[i].get_ref<const std::string&>().size() > kMaxRunStringBytes) {
      return tl::unexpected(
          bad(at, fmt::format("{} is longer than {} bytes", at, kMaxRunStringBytes)));
    }
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

Result<EnvVar> env_var(const json& e, const std::string& at) {
  if (!e.is_object())
    return tl::unexpected(bad(at, at + " must be an object: {\"name\", \"value\"} or {\"name\", "
                                       "\"secret\": {\"name\", \"key\"}}"));
  if (auto k = known_keys(e, {"name", "value", "secret"}, at); !k) return tl::unexpected(k.error());
  EnvVar v;
  if (!e.contains("name")) return tl::unexpected(bad(at + ".name", at + ".name is required"));
  auto name = string_at(e, "name", at + ".name", 256);
  if (!name) return tl::unexpected(name.error());
  if (!is_c_identifier(*name)) {
    return tl::unexpected(
        bad(at + ".name", fmt::format("{}.name '{}' is not a C identifier (letters, digits and "
                                      "'_', not starting with a digit)",
                                      at, *name)));
  }
  v.name = *name;
  if (e.contains("value") == e.contains("secret")) {
    return tl::unexpected(bad(at, at + " needs exactly one of value and secret"));
  }
  if (e.contains("value")) {
    auto value = string_at(e, "value", at + ".value", kMaxEnvValueBytes);
    if (!value) return tl::unexpected(value.error());
    v.value = *value;
    return v;
  }
  const json& s = e["secret"];
  std::string sp = at + ".secret";
  if (!s.is_object())
    return tl::unexpected(bad(sp, sp + " must be an object: {\"name\": SECRET, \"key\": KEY}"));
  if (auto k = known_keys(s, {"name", "key"}, sp); !k) return tl::unexpected(k.error());
  for (const char* f : {"name", "key"}) {
    if (!s.contains(f))
      return tl::unexpected(
          bad(sp + "." + f, fmt::format("{}.{} is required: the Secret and the key in it", sp, f)));
  }
  auto sname = string_at(s, "name", sp + ".name", 253);
  if (!sname) return tl::unexpected(sname.error());
  auto skey = string_at(s, "key", sp + ".key", 253);
  if (!skey) return tl::unexpected(skey.error());
  if (!is_dns_subdomain(*sname)) {
    return tl::unexpected(
        bad(sp + ".name",
            fmt::format(
                "{}.name '{}' is not a valid Secret name (lower-case letters, digits, '-' and '.')",
                sp, *sname)));
  }
  static const std::regex kKey(R"([-._a-zA-Z0-9]+)");
  if (skey->empty() || !std::regex_match(*skey, kKey)) {
    return tl::unexpected(
        bad(sp + ".key",
            fmt::format("{}.key '{}' is not a valid Secret key (letters, digits, '-', '_', '.')",
                        sp, *skey)));
  }
  v.secret_name = *sname;
  v.secret_key = *skey;
  return v;
}

Result<Duration> duration_at(const json& v, const std::string& at) {
  if (!v.is_string())
    return tl::unexpected(bad(at, at + " must be a duration such as \"30m\" or \"2h\""));
  auto d = parse_duration(v.get<std::string>());
  if (!d || *d <= Duration{0} || *d > std::chrono::hours(24 * 30)) {
    return tl::unexpected(bad(at, at + " must be a duration from 1s to 30 days, such as \"30m\""));
  }
  return *d;
}

Result<RetryPolicy> retries_at(const json& r, const std::string& at) {
  if (!r.is_object())
    return tl::unexpected(
        bad(at, at + " must be an object: {\"limit\", \"backoff\", \"on_exit_codes\"}"));
  if (auto k = known_keys(r, {"limit", "backoff", "on_exit_codes"}, at); !k)
    return tl::unexpected(k.error());
  RetryPolicy p;
  if (r.contains("limit")) {
    const json& l = r["limit"];
    if (!l.is_number_integer() || l.get<int64_t>() < 0 || l.get<int64_t>() > kMaxRetries) {
      return tl::unexpected(bad(
          at + ".limit", fmt::format("{}.limit must be an integer from 0 to {}", at, kMaxRetries)));
    }
    p.limit = static_cast<int>(l.get<int64_t>());
  }
  if (r.contains("backoff")) {
    auto d = duration_at(r["backoff"], at + ".backoff");
    if (!d) return tl::unexpected(d.error());
    p.backoff = *d;
  }
  if (r.contains("on_exit_codes")) {
    const json& c = r["on_exit_codes"];
    std::string cp = at + ".on_exit_codes";
    if (!c.is_array() || c.size() > 255)
      return tl::unexpected(bad(cp, cp + " must be an array of exit codes (1-255)"));
    for (const auto& x : c) {
      if (!x.is_number_integer() || x.get<int64_t>() < 1 || x.get<int64_t>() > 255) {
        return tl::unexpected(bad(cp, cp + " must hold exit codes from 1 to 255"));
      }
      p.on_exit_codes.push_back(static_cast<int>(x.get<int64_t>()));
    }
  }
  return p;
}

// Each field of a `run` object into `out`.
Result<void> run_fields(const json& j, const std::string& path, RunSpec& out) {
  if (!j.contains("image"))
    return tl::unexpected(bad(path + ".image", path + ".image is required"));
  auto image = string_at(j, "image", path + ".image", 1024);
  if (!image) return tl::unexpected(image.error());
  if (auto ok = validate_image_reference(*image, path + ".image"); !ok)
    return tl::unexpected(ok.error());
  out.image = *image;
  for (auto [key, slot] : {std::pair{"command", &out.command}, std::pair{"args", &out.args}}) {
    if (!j.contains(key)) continue;
    auto list = strings_at(j[key], path + "." + key);
    if (!list) return tl::unexpected(list.error());
    *slot = *list;
  }
  if (j.contains("env")) {
    const json& env = j["env"];
    if (!env.is_array() || env.size() > kMaxRunListItems) {
      return tl::unexpected(bad(
          path + ".env",
          fmt::format("{}.env must be an array of at most {} variables", path, kMaxRunListItems)));
    }
    for (size_t i = 0; i < env.size(); ++i) {
      auto v = env_var(env[i], fmt::format("{}.env[{}]", path, i));
      if (!v) return tl::unexpected(v.error());
      out.env.push_back(*v);
    }
  }
  if (j.contains("working_dir")) {
    auto wd = string_at(j, "working_dir", path + ".working_dir", kMaxRunStringBytes);
    if (!wd) return tl::unexpected(wd.error());
    if (wd->empty() || (*wd)[0] != '/')
      return tl::unexpected(
          bad(path + ".working_dir", path + ".working_dir must be an absolute path"));
    out.working_dir = *wd;
  }
  if (j.contains("service_account")) {
    auto sa = string_at(j, "service_account", path + ".service_account", 253);
    if (!sa) return tl::unexpected(sa.error());
    if (!is_dns_subdomain(*sa))
      return tl::unexpected(bad(
          path + ".service_account",
          fmt::format("{}.service_account '{}' is not a valid ServiceAccount name", path, *sa)));
    out.service_account = *sa;
  }
  if (j.contains("timeout")) {
    auto d = duration_at(j["timeout"], path + ".timeout");
    if (!d) return tl::unexpected(d.error());
    out.timeout = *d;
  }
  if (j.contains("retries")) {
    auto r = retries_at(j["retries"], path + ".retries");
    if (!r) return tl::unexpected(r.error());
    out.retries = *r;
  }
  return {};
}

}  // namespace

bool is_c_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool is_dns_subdomain(std::string_view s) {
  static const std::regex kSubdomain(
      R"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)");
  return !s.empty() && s.size() <= 253 && std::regex_match(s.begin(), s.end(), kSubdomain);
}

bool is_dns_label(std::string_view s) {
  static const std::regex kLabel(R"([a-z0-9]([-a-z0-9]*[a-z0-9])?)");
  return !s.empty() && s.size() <= 63 && std::regex_match(s.begin(), s.end(), kLabel);
}

// The distribution reference grammar: [registry[:port]/]path[:tag][@algorithm:hex].
Result<void> validate_image_reference(const std::string& image, const std::string& path) {
  static const std::string kLabel = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
  static const std::string kRegistry = "(?:" + kLabel + "(?:\\." + kLabel + ")*(?::[0-9]+)?/)?";
  static const std::string kComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
  static const std::string kTag = "(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?";
  static const std::string kDigest =
      "(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?";
  static const std::regex kReference(kRegistry + kComponent + "(?:/" + kComponent + ")*" + kTag +
                                     kDigest);
  if (image.empty() || image.size() > 1024 || !std::regex_match(image, kReference)) {
    return tl::unexpected(bad(path, fmt::format("{} '{}' is not an image reference such as "
                                                "\"registry.example.com/team/agent:1.4\" or "
                                                "\"…@sha256:<64 hex>\" (lower-case repository)",
                                                path, image.substr(0, 128))));
  }
  return {};
}

Result<RunSpec> parse_run_json(std::string_view json_text, const std::string& path) {
  auto j = json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return tl::unexpected(bad(path, path + " must be an object with at least an image"));
  }
  if (auto k = known_keys(j,
                          {"image", "command", "args", "env", "working_dir", "service_account",
                           "timeout", "retries"},
                          path);
      !k) {
    return tl::unexpected(k.error());
  }
  RunSpec out;
  if (auto ok = run_fields(j, path, out); !ok) return tl::unexpected(ok.error());
  return out;
}

std::string run_to_json(const RunSpec& r) {
  json j{{"image", r.image}};
  if (!r.command.empty()) j["command"] = r.command;
  if (!r.args.empty()) j["args"] = r.args;
  if (!r.env.empty()) {
    j["env"] = json::array();
    for (const auto& e : r.env) {
      j["env"].push_back(
          e.from_secret()
              ? json{{"name", e.name}, {"secret", {{"name", e.secret_name}, {"key", e.secret_key}}}}
              : json{{"name", e.name}, {"value", e.value}});
    }
  }
  if (!r.working_dir.empty()) j["working_dir"] = r.working_dir;
  if (!r.service_account.empty()) j["service_account"] = r.service_account;
  if (r.timeout) j["timeout"] = format_duration(*r.timeout);
  json retries{{"limit", r.retries.limit}, {"backoff", format_duration(r.retries.backoff)}};
  if (!r.retries.on_exit_codes.empty()) retries["on_exit_codes"] = r.retries.on_exit_codes;
  j["retries"] = retries;
  return j.dump();
}

}  // namespace codefleet
