// The OpenAI chat-completions protocol as the gateway needs it: reading a request (model,
// stream, max_tokens), OpenAI-style error bodies, token usage from a response or counted
// from a server-sent-event stream as it passes through, and what the tokens cost.
//
//   auto req = parse_chat_request(body);          // kInvalidInput: an OpenAI error for 400
//   SseUsage usage;  usage.feed(chunk) … usage.result()   // {prompt, completion, cached}
//   Money cost = token_cost(usage, usd_per_1m_in, usd_per_1m_out);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/money.h"
#include "core/result.h"

namespace codefleet {

struct ChatRequest {
  std::string model;
  bool stream = false;
  std::optional<int64_t> max_tokens;  // max_tokens or max_completion_tokens
  int64_t prompt_chars = 0;           // characters of message content (a size estimate)
  int64_t image_parts = 0;            // content parts of type image_url (tokens not in bytes)
};

// kInvalidInput with `location` = the offending parameter ("model", "messages[2].role", …).
Result<ChatRequest> parse_chat_request(const std::string& body);

// {"error": {"message", "type", "param", "code"}} as OpenAI sends it.
std::string openai_error(const std::string& type, const std::string& message,
                         const std::string& param = "", const std::string& code = "");

// The largest max_tokens / max_completion_tokens a request may ask for.
constexpr int64_t kMaxCompletionTokens = int64_t{1} << 24;

struct TokenUsage {
  int64_t prompt = 0, completion = 0, cached = 0;
  bool counted = false;  // true when counted from stream chunks (no `usage` was sent)
};

// `usage` of a non-streaming response; nullopt when it has none or is not JSON.
std::optional<TokenUsage> usage_of_response(const std::string& body);

// Usage from an SSE stream, fed in whatever pieces the upstream sends: a final `usage`
// object (stream_options.include_usage) wins; otherwise completion tokens are counted as
// content-bearing chunks (one token each, as OpenAI-compatible servers emit them) and the
// prompt is left unknown.
class SseUsage {
 public:
  void feed(std::string_view bytes);
  TokenUsage result() const;
  bool done() const { return done_; }  // saw `data: [DONE]`
  int64_t events() const { return events_; }

 private:
  void event(std::string_view data);
  std::string pending_;
  size_t scanned_ = 0;  // pending_ before this holds no event end
  std::optional<TokenUsage> reported_;
  int64_t content_chunks_ = 0;
  int64_t events_ = 0;
  bool done_ = false;
};

// The most tokens one image part may count for: gpt-4o-mini counts a high-detail image as
// up to 2,833 + 8 × 5,667 = 48,169 tokens, the most of any model the gateway serves.
constexpr int64_t kMaxTokensPerImage = 50'000;

// The most tokens a call could have used, to check what its upstream reports against.
// Prompt: a token is at least one byte of the text it stands for, so the bytes of the
// request body sent bound it (the messages, tools and every other input are in it), plus
// kMaxTokensPerImage per image part (an image by URL is a few bytes). Completion: the
// request's max_tokens / max_completion_tokens when it set one (reasoning tokens, which are
// billed but never sent, are within it), else the bytes the upstream sent back.
struct UsageBound {
  int64_t prompt = 0, completion = 0;
};
UsageBound usage_bound(const ChatRequest& r, int64_t request_bytes, int64_t answer_bytes);

// What an upstream reported and what is kept of it: each count at most its bound, cached
// tokens at most the prompt's.
struct ClampedUsage {
  TokenUsage kept, reported;
  bool prompt = false, completion = false, cached = false;  // which counts were cut
  bool any() const { return prompt || completion || cached; }
};
ClampedUsage clamp_usage(const TokenUsage& reported, const UsageBound& bound);

// Price × tokens, each side rounded once (half away from zero), cached prompt tokens at
// the input price (Azure bills cached input at a discount only for some models).
Money token_cost(const TokenUsage& u, Money usd_per_1m_input, Money usd_per_1m_output);

}  // namespace codefleet
