// Plain-words explanations of a command line that CLI11 refused: the nearest subcommand
// or option for a typo, and the commands a command that needs one offers. CLI11 alone
// says "A subcommand is required" for `codefleet validat` and names no alternative for
// `--ouput`.
//
//   try { app.parse(argc, argv); } catch (const CLI::ParseError& e) {
//     if (auto why = explain_usage_error(app, args)) print(*why);
//   }  // "unknown command 'validat' — did you mean 'validate'?"
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace codefleet::cli {

// Walks `args` (argv without the program name) through `app`'s subcommands and options
// and explains the first word that fits nowhere: an unknown subcommand where one is
// required, or an unknown option, with the closest visible name when one is close enough
// to be a typo (`closest_match`). Also a command that needs a subcommand and got none.
// nullopt when the walk finds nothing to say (CLI11's own message then stands).
std::optional<std::string> explain_usage_error(const CLI::App& app,
                                               const std::vector<std::string>& args);

// True for what the help and the completions show: hidden subcommands and options (an
// empty group, e.g. a deprecated alias) are left out.
bool is_visible(const CLI::App* cmd);
bool is_visible(const CLI::Option* opt);

// "codefleet catalog list": the command's words from the root.
std::string command_path(const CLI::App* cmd);

}  // namespace codefleet::cli
