#include "llm/openai.h"

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
    if (!j[k].is_number_integer() || j[k].get<int64_t>() < 1) {
      return tl::unexpected(invalid(fmt::format("'{}' must be a positive integer", k), k));
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

std::optional<TokenUsage> usage_of(const json& j) {
  if (!j.is_object() || !j.contains("usage") || !j["usage"].is_object()) return std::nullopt;
  const auto& u = j["usage"];
  TokenUsage t;
  t.prompt = u.value("prompt_tokens", int64_t{0});
  t.completion = u.value("completion_tokens", int64_t{0});
  if (u.contains("prompt_tokens_details") && u["prompt_tokens_details"].is_object()) {
    t.cached = u["prompt_tokens_details"].value("cached_tokens", int64_t{0});
  }
  return t;
}

}  // namespace

std::optional<TokenUsage> usage_of_response(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return usage_of(j);
}

void SseUsage::feed(std::string_view bytes) {
  pending_.append(bytes);
  // Events end with a blank line; lines may end with \n or \r\n.
  for (;;) {
    size_t end = pending_.find("\n\n");
    size_t crlf = pending_.find("\r\n\r\n");
    size_t len = 2;
    if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
      end = crlf;
      len = 4;
    }
    if (end == std::string::npos) break;
    std::string block = pending_.substr(0, end);
    pending_.erase(0, end + len);
    std::string data;
    size_t pos = 0;
    while (pos <= block.size()) {
      size_t nl = block.find('\n', pos);
      std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("data:", 0) == 0) {
        std::string_view v(line);
        v.remove_prefix(5);
        if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        if (!data.empty()) data += '\n';
        data += v;
      }
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    if (!data.empty()) event(data);
  }
  if (pending_.size() > (1u << 20)) pending_.clear();  // a runaway line: stop buffering it
}

void SseUsage::event(std::string_view data) {
  ++events_;
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  auto j = json::parse(data, nullptr, false);
  if (!j.is_object()) return;
  if (auto u = usage_of(j)) reported_ = u;
  if (j.contains("choices") && j["choices"].is_array()) {
    for (const auto& c : j["choices"]) {
      if (!c.is_object() || !c.contains("delta") || !c["delta"].is_object()) continue;
      const auto& d = c["delta"];
      if ((d.contains("content") && d["content"].is_string() &&
           !d["content"].get<std::string>().empty()) ||
          d.contains("tool_calls")) {
        ++content_chunks_;
      }
    }
  }
}

TokenUsage SseUsage::result() const {
  if (reported_) return *reported_;
  TokenUsage t;
  t.completion = content_chunks_;
  t.counted = true;
  return t;
}

Money token_cost(const TokenUsage& u, Money usd_per_1m_input, Money usd_per_1m_output) {
  return usd_per_1m_input.mul_div(u.prompt, 1'000'000) +
         usd_per_1m_output.mul_div(u.completion, 1'000'000);
}

}  // namespace codefleet
