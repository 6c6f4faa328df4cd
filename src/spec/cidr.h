// IPv4 CIDR blocks for network checks: parse "10.40.0.0/16", test containment/overlap.
//
//   auto a = parse_cidr("10.40.0.0/16"); auto b = parse_cidr("10.40.1.0/24");
//   a->contains(*b) == true
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace codefleet {

struct Cidr {
  uint32_t network = 0;
  int prefix = 0;
  uint64_t first() const { return network; }
  uint64_t last() const {
    return static_cast<uint64_t>(network) + (uint64_t{1} << (32 - prefix)) - 1;
  }
  bool overlaps(const Cidr& o) const { return first() <= o.last() && o.first() <= last(); }
  bool contains(const Cidr& o) const { return first() <= o.first() && o.last() <= last(); }
};

// nullopt for malformed text or host bits set ("10.0.0.1/16").
std::optional<Cidr> parse_cidr(const std::string& text);

}  // namespace codefleet
