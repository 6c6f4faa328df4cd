// The HTTP front's request path: Boost.Beast's request parser with the server's default
// header and body limits, fed in pieces as a socket would cut them (the first byte sets
// their size), pipelined requests one after another; then what the front checks itself
// (Transfer-Encoding, Host) and the target split into path and query, as `dispatch` does.
// Only the parser's headers are included: the rest of Beast and Asio compile slowly.
#include <algorithm>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/http_server.h"

namespace {

namespace bhttp = boost::beast::http;
using Parser = bhttp::request_parser<bhttp::string_body>;

// What the front makes of a parsed request (see Session::on_header and dispatch).
void handle(Parser& parser) {
  using namespace codefleet::http;
  const auto& h = parser.get();
  if (h.count(bhttp::field::transfer_encoding) > 0 && !parser.chunked()) return;  // 501
  if (h.version() == 11 && h.count(bhttp::field::host) != 1) return;              // 400
  auto msg = parser.release();
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.version = msg.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
  for (const auto& f : msg)
    req.headers.emplace(std::string(f.name_string()), std::string(f.value()));
  split_target(req.target, req);
  req.body = std::move(msg.body());
  (void)req.get_header_value("Authorization");
  (void)req.get_param_value("state");
  (void)msg.keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const codefleet::http::Options defaults;
  size_t piece = data[0] == 0 ? size : data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string pending;  // received, not yet consumed by the parser
  size_t fed = 0;
  for (int requests = 0; requests < 16; ++requests) {
    Parser parser;
    parser.header_limit(static_cast<uint32_t>(defaults.max_header_bytes));
    parser.body_limit(defaults.max_body_bytes);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      if (!pending.empty()) {
        size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
        pending.erase(0, used);
        if (ec == bhttp::error::need_more) {
          ec = {};
        } else if (ec) {
          return 0;  // answered 4xx and closed
        } else if (used > 0) {
          continue;
        }
      }
      if (fed == input.size()) {
        parser.put_eof(ec);
        if (ec || !parser.is_done()) return 0;
        break;
      }
      size_t n = std::min(piece, input.size() - fed);
      pending.append(input.substr(fed, n));
      fed += n;
    }
    handle(parser);
    if (pending.empty() && fed == input.size()) return 0;
  }
  return 0;
}
