// The gateway's reading of upstream bytes: the SSE usage counter fed in pieces (the first
// byte sets their size, as a socket would cut them), the usage of a whole response, the
// chat request, and the clamp of what the upstream reports to what the call could use.
#include <algorithm>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "llm/openai.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace codefleet;
  if (size == 0) return 0;
  size_t piece = data[0] == 0 ? size : data[0];
  std::string body = fuzz::text(data + 1, size - 1);

  SseUsage stream;
  for (size_t at = 0; at < body.size(); at += piece) {
    stream.feed(std::string_view(body).substr(at, piece));
  }
  TokenUsage streamed = stream.result();
  (void)stream.done();
  (void)stream.events();

  auto whole = usage_of_response(body);
  auto request = parse_chat_request(body);
  ChatRequest r = request ? *request : ChatRequest{};
  UsageBound bound = usage_bound(r, static_cast<int64_t>(body.size()), static_cast<int64_t>(size));
  for (const TokenUsage& u : {streamed, whole.value_or(TokenUsage{})}) {
    ClampedUsage c = clamp_usage(u, bound);
    (void)token_cost(c.kept, Money::from_usd(15), Money::from_usd(60));
  }
  return 0;
}
