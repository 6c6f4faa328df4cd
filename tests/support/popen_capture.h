// A shell command's standard output and exit code, for the tests that run the CLI.
//
//   auto r = testing::popen_capture("codefleet validate x.yaml 2>&1");
//   // r.exit_code == 1, r.out holds what it printed
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace codefleet::testing {

struct Captured {
  int exit_code = -1;  // -1: it could not start, or it did not exit by itself
  std::string out;
};

inline Captured popen_capture(const std::string& command) {
  Captured r;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace codefleet::testing
