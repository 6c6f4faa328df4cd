#include "llm/openai.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.h"

namespace codefleet {

namespace {

using json = nlohmann::json;

Error invalid(const std::string& message, const std::string& param) {
  return Error{ErrorCode::kInvalidInput, message, param};
}

}  // namespace

Result<ChatRequest> parse_chat_request(const std::string& body) {
  if (json_nesting_exceeds(body, 64)) return tl::unexpected(invalid("the body nests too deep", ""));
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return tl::unexpected(invalid("We could not parse the JSON body of your request.", ""));
  }
  ChatRequest r;
  if (!j.contains("model") || !j["model"].is_string() || j["model"].get<std::string>().empty()) {
    return tl::unexpected(invalid("you must provide a model parameter", "model"));
  }
  r.model = j["model"].get<std::string>();
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty()) {
    return tl::unexpected(invalid("'messages' must be a non-empty array", "messages"));
  }
  for (size_t i = 0; i < j["messages"].size(); ++i) {
    const auto& m = j["messages"][i];
    std::string at = fmt::format("messages[{}]", i);
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return tl::unexpected(invalid("each message needs a string 'role'", at + ".role"));
    }
    if (m.contains("content")) {
      const auto& c = m["content"];
      if (c.is_string()) {
        r.prompt_chars += static_cast<int64_t>(c.get<std::string>().size());
      } else if (c.is_array()) {
        for (const auto& part : c) {
          if (part.is_object() && part.contains("text") && part["text"].is_string()) {
            r.prompt_chars += static_cast<int64_t>(part["text"].get<std::string>().size());
          }
          if (part.is_object() && part.value("type", json()) == "image_url") ++r.image_parts;
        }
      } else if (!c.is_null()) {
        return tl::unexpected(invalid("'content' must be a string or an array", at + ".content"));
      }
    }
  }
  if (j.contains("stream")) {
    if (!j["stream"].is_boolean())
      return tl::unexpected(invalid("'stream' must be a boolean", "stream"));
    r.stream = j["stream"].get<bool>();
  }
  for (const char* k : {"max_completion_tokens", "max_tokens"}) {
    if (!j.contains(k) || j[k].is_null()) continue;
    // No model has a context near 2^24 tokens; larger would only overflow the accounting.
    if (!j[k].is_number_integer() || j[k].get<int64_t>() < 1 ||
        j[k].get<int64_t>() > kMaxCompletionTokens) {
      return tl::unexpected(invalid(
          fmt::format("'{}' must be a positive integer, at most {}", k, kMaxCompletionTokens), k));
    }
    if (!r.max_tokens) r.max_tokens = j[k].get<int64_t>();
  }
  return r;
}

std::string openai_error(const std::string& type, const std::string& message,
                         const std::string& param, const std::string& code) {
  json e{{"message", message}, {"type", type}};
  e["param"] = param.empty() ? json(nullptr) : json(param);
  e["code"] = code.empty() ? json(nullptr) : json(code);
  return json{{"error", e}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

// A token count as the upstream reported it, read defensively: not a whole number → 0,
// clamped to [0, 2^40] (no call is near it; an absurd count must not overflow the sums).
int64_t count_at(const json& o, const char* key) {
  if (!o.contains(key)) return 0;
  const auto& v = o[key];
  if (v.is_number_unsigned())
    return static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), 1ULL << 40));
  if (v.is_number_integer()) return std::clamp<int64_t>(v.get<int64_t>(), 0, int64_t{1} << 40);
  return 0;
}

std::optional<TokenUsage> usage_of(const json& j) {
  if (!j.is_object() || !j.contains("usage") || !j["usage"].is_object()) return std::nullopt;
  const auto& u = j["usage"];
  TokenUsage t;
  t.prompt = count_at(u, "prompt_tokens");
  t.completion = count_at(u, "completion_tokens");
  if (u.contains("prompt_tokens_details") && u["prompt_tokens_details"].is_object()) {
    t.cached = count_at(u["prompt_tokens_details"], "cached_tokens");
  }
  return t;
}

}  // namespace

std::optional<TokenUsage> usage_of_response(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return usage_of(j);
}

namespace {

// What a streamed chunk holds, read without building it: the choices' deltas with content
// (or tool calls), and whether it has a `usage` object.
struct ChunkScan final : nlohmann::json_sax<json> {
  // The key each open object or array sits under ("" for the top and for array items).
  std::vector<std::string> path;
  std::string key_;
  bool object = false, usage = false;
  int64_t contents = 0;

  bool in_delta() const { return !path.empty() && path.back() == "delta"; }
  std::string take_key() {
    std::string k;
    k.swap(key_);
    return k;
  }
  bool value() {
    key_.clear();
    return true;
  }
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool string(string_t& v) override {
    if (in_delta() && key_ == "content" && !v.empty()) ++contents;
    return value();
  }
  bool start_object(std::size_t) override {
    if (path.empty()) object = true;
    std::string k = take_key();
    if (k == "usage" && path.size() == 1) usage = true;
    path.push_back(std::move(k));
    return true;
  }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool end_object() override {
    path.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    std::string k = take_key();
    if (k == "tool_calls" && in_delta()) ++contents;
    path.push_back(std::move(k));
    return true;
  }
  bool end_array() override {
    path.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
};

}  // namespace

void SseUsage::feed(std::string_view bytes) {
  pending_.append(bytes);
  // Events end with a blank line; lines may end with \n or \r\n. One pass over the bytes:
  // the scan resumes where the last piece left it.
  size_t consumed = 0;
  size_t i = scanned_;
  std::string joined;
  const size_t n = pending_.size();
  for (;;) {
    // The next line end followed by an empty line.
    size_t end = std::string::npos, after = 0;
    while (i < n) {
      if (pending_[i] != '\n') {
        ++i;
        continue;
      }
      if (i + 1 < n && pending_[i + 1] == '\n') {
        end = i, after = i + 2;
      } else if (i + 2 < n && pending_[i + 1] == '\r' && pending_[i + 2] == '\n') {
        end = i, after = i + 3;
      } else if (i + 1 >= n || (i + 2 >= n && pending_[i + 1] == '\r')) {
        break;  // cannot tell yet: the next piece says
      } else {
        ++i;
        continue;
      }
      break;
    }
    if (end == std::string::npos) break;
    std::string_view block(pending_.data() + consumed, end - consumed);
    if (!block.empty() && block.back() == '\r') block.remove_suffix(1);
    consumed = after;
    i = after;
    // Its `data:` lines, joined by newlines (one line, the usual case, is used in place).
    std::string_view data;
    int lines = 0;
    joined.clear();
    size_t pos = 0;
    while (pos <= block.size()) {
      size_t nl = block.find('\n', pos);
      std::string_view line =
          block.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.substr(0, 5) == "data:") {
        line.remove_prefix(5);
        if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (lines++ == 0) {
          data = line;
        } else {
          if (lines == 2) joined.assign(data);
          joined += '\n';
          joined += line;
          data = joined;
        }
      }
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    if (lines > 0 && !data.empty()) event(data);
  }
  pending_.erase(0, consumed);
  scanned_ = i - consumed;
  if (pending_.size() > (1u << 20)) {  // a runaway event: stop buffering it
    pending_.clear();
    scanned_ = 0;
  }
}

void SseUsage::event(std::string_view data) {
  ++events_;
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  // Every chunk of every stream passes here: a SAX scan, no document built, except for the
  // one chunk that carries a `usage` object.
  ChunkScan scan;
  if (!json::sax_parse(data, &scan, json::input_format_t::json, false) || !scan.object) return;
  content_chunks_ += scan.contents;
  if (scan.usage) {
    auto j = json::parse(data, nullptr, false);
    if (auto u = usage_of(j)) reported_ = u;
  }
}

TokenUsage SseUsage::result() const {
  if (reported_) return *reported_;
  TokenUsage t;
  t.completion = content_chunks_;
  t.counted = true;
  return t;
}

UsageBound usage_bound(const ChatRequest& r, int64_t request_bytes, int64_t answer_bytes) {
  UsageBound b;
  b.prompt = std::max<int64_t>(0, request_bytes) + r.image_parts * kMaxTokensPerImage;
  b.completion = r.max_tokens ? *r.max_tokens : std::max<int64_t>(0, answer_bytes);
  return b;
}

ClampedUsage clamp_usage(const TokenUsage& reported, const UsageBound& bound) {
  ClampedUsage c{reported, reported};
  c.prompt = reported.prompt > bound.prompt;
  c.completion = reported.completion > bound.completion;
  c.kept.prompt = std::min(reported.prompt, bound.prompt);
  c.kept.completion = std::min(reported.completion, bound.completion);
  c.cached = reported.cached > c.kept.prompt;
  c.kept.cached = std::min(reported.cached, c.kept.prompt);
  return c;
}

Money token_cost(const TokenUsage& u, Money usd_per_1m_input, Money usd_per_1m_output) {
  return usd_per_1m_input.mul_div(u.prompt, 1'000'000) +
         usd_per_1m_output.mul_div(u.completion, 1'000'000);
}

}  // namespace codefleet
