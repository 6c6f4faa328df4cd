#include "cli/usage.h"

#include <fmt/format.h>

#include "core/text.h"

namespace codefleet::cli {
namespace {

bool takes_value(const CLI::Option* opt) { return opt->get_items_expected_max() != 0; }

// The option `word` ("--output", "--output=json", "-o") names in `cmd`, or nullptr.
const CLI::Option* find_option(const CLI::App* cmd, const std::string& word) {
  bool is_long = word.rfind("--", 0) == 0;
  std::string name = word.substr(is_long ? 2 : 1);
  if (is_long) name = name.substr(0, name.find('='));
  for (const CLI::Option* opt : cmd->get_options()) {
    const auto& names = is_long ? opt->get_lnames() : opt->get_snames();
    for (const auto& n : names) {
      if (n == (is_long ? name : name.substr(0, 1))) return opt;
    }
  }
  return nullptr;
}

const CLI::App* find_subcommand(const CLI::App* cmd, const std::string& word) {
  for (const CLI::App* sub : cmd->get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(word)) return sub;
  }
  return nullptr;
}

std::vector<std::string> visible_subcommand_names(const CLI::App* cmd) {
  std::vector<std::string> names;
  for (const CLI::App* sub : cmd->get_subcommands([](const CLI::App*) { return true; })) {
    if (is_visible(sub)) names.push_back(sub->get_name());
  }
  return names;
}

std::vector<std::string> visible_option_names(const CLI::App* cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : cmd->get_options()) {
    if (!is_visible(opt) || opt->get_positional()) continue;
    for (const auto& n : opt->get_lnames()) names.push_back("--" + n);
    for (const auto& n : opt->get_snames()) names.push_back("-" + n);
  }
  return names;
}

// "-5", "-0.5": a negative number, not an option.
bool is_number(const std::string& word) {
  return word.size() > 1 && word[0] == '-' &&
         (std::isdigit(static_cast<unsigned char>(word[1])) || word[1] == '.');
}

std::string unknown_command(const CLI::App* cmd, const std::string& word) {
  // "catalog " for `codefleet catalog lst`: the words between the root and the typo.
  std::string parent = command_path(cmd).substr(std::string("codefleet").size());
  if (!parent.empty()) parent = parent.substr(1) + " ";
  auto names = visible_subcommand_names(cmd);
  std::string near = closest_match(word, names);
  if (!near.empty()) {
    return fmt::format("unknown command '{}{}' — did you mean '{}{}'?", parent, word, parent, near);
  }
  return fmt::format("unknown command '{}{}'; '{}' has: {}", parent, word, command_path(cmd),
                     fmt::join(names, ", "));
}

std::string unknown_option(const CLI::App* cmd, const std::string& word) {
  std::string name = word.substr(0, word.find('='));
  std::string near = closest_match(name, visible_option_names(cmd));
  if (!near.empty()) {
    return fmt::format("unknown option '{}' for '{}' — did you mean '{}'?", name, command_path(cmd),
                       near);
  }
  return fmt::format("unknown option '{}' for '{}' (see '{} --help')", name, command_path(cmd),
                     command_path(cmd));
}

}  // namespace

bool is_visible(const CLI::App* cmd) { return !cmd->get_group().empty(); }
bool is_visible(const CLI::Option* opt) { return !opt->get_group().empty(); }

std::string command_path(const CLI::App* cmd) {
  // The root's name is whatever argv[0] was ("build/src/cli/codefleet"): not shown.
  std::string path = "codefleet";
  std::vector<std::string> words;
  for (const CLI::App* c = cmd; c->get_parent(); c = c->get_parent())
    words.push_back(c->get_name());
  for (auto w = words.rbegin(); w != words.rend(); ++w) path += " " + *w;
  return path;
}

std::optional<std::string> explain_usage_error(const CLI::App& app,
                                               const std::vector<std::string>& args) {
  const CLI::App* cmd = &app;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") break;  // positionals only from here
    if (word.size() > 1 && word[0] == '-' && !is_number(word)) {
      const CLI::Option* opt = find_option(cmd, word);
      if (!opt) return unknown_option(cmd, word);
      // `--opt value` and `-o value` take the next word; `--opt=value` and `-ovalue` not.
      bool attached =
          word.find('=') != std::string::npos || (word.rfind("--", 0) != 0 && word.size() > 2);
      if (takes_value(opt) && !attached) ++i;
      continue;
    }
    if (const CLI::App* sub = find_subcommand(cmd, word)) {
      cmd = sub;
      continue;
    }
    if (cmd->get_require_subcommand_min() > 0) return unknown_command(cmd, word);
  }
  if (cmd->get_require_subcommand_min() > 0) {
    return fmt::format("'{}' needs a command: {}", command_path(cmd),
                       fmt::join(visible_subcommand_names(cmd), ", "));
  }
  return std::nullopt;
}

}  // namespace codefleet::cli
