// Shell completion scripts generated from the command definitions, so they cannot drift
// from the flags: `codefleet completion bash|zsh` prints one, and the build installs both
// (`cmake --install`: share/bash-completion/completions/codefleet,
// share/zsh/site-functions/_codefleet).
//
//   std::cout << completion_script(app, "bash");
//   // complete -o default -F _codefleet codefleet  (subcommands, options, their choices)
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace codefleet::cli {

// The script for `shell` ("bash" or "zsh"): the visible subcommands at each level, their
// options, the choices of options checked with `CLI::IsMember`, and files for the rest.
// Hidden subcommands and options (deprecated aliases, `completion` itself) are left out.
std::string completion_script(const CLI::App& app, const std::string& shell);

}  // namespace codefleet::cli
