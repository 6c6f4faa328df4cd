#include "spec/cidr.h"

#include <cctype>

namespace codefleet {

std::optional<Cidr> parse_cidr(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  uint32_t addr = 0;
  int octets = 0;
  size_t i = 0;
  while (i < slash) {
    int v = 0, digits = 0;
    while (i < slash && std::isdigit(static_cast<unsigned char>(text[i]))) {
      v = v * 10 + (text[i] - '0');
      ++i;
      if (++digits > 3) return std::nullopt;
    }
    if (digits == 0 || v > 255) return std::nullopt;
    addr = (addr << 8) | static_cast<uint32_t>(v);
    ++octets;
    if (i < slash) {
      if (text[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (octets != 4 || text[slash - 1] == '.') return std::nullopt;
  std::string p = text.substr(slash + 1);
  if (p.empty() || p.size() > 2) return std::nullopt;
  for (char c : p) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int prefix = std::stoi(p);
  if (prefix > 32) return std::nullopt;
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  if ((addr & ~mask) != 0) return std::nullopt;
  return Cidr{addr, prefix};
}

}  // namespace codefleet
