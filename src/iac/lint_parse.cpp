#include "iac/lint_parse.h"

#include <cctype>

namespace codefleet::iac::lint {

const Node* Node::child(const std::string& k) const {
  for (const auto& c : children) {
    if (c.key == k) return &c;
  }
  return nullptr;
}

std::vector<const Node*> Node::all(const std::string& k) const {
  std::vector<const Node*> out;
  for (const auto& c : children) {
    if (c.key == k) out.push_back(&c);
  }
  return out;
}

const Node* Node::at(const std::string& path) const {
  const Node* n = this;
  size_t start = 0;
  while (n && start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string::npos) dot = path.size();
    n = n->child(path.substr(start, dot - start));
    start = dot + 1;
  }
  return n;
}

namespace {

enum class Tok { kIdent, kString, kPunct, kNewline, kEnd };

struct Token {
  Tok kind;
  std::string text;  // identifier/expression text, string contents, punctuation
  int line;
};

// Splits text into tokens. `quote` is '"' (HCL) or '\'' (Bicep). Strings keep their
// interpolations (${...}, which may hold quotes of their own) in `text`.
bool tokenize(const std::string& s, char quote, std::vector<Token>& out, std::string& error) {
  int line = 1;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\n') {
      out.push_back({Tok::kNewline, "\n", line++});
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (c == '#' || (c == '/' && i + 1 < s.size() && s[i + 1] == '/')) {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      size_t end = s.find("*/", i + 2);
      if (end == std::string::npos) end = s.size();
      for (size_t k = i; k < end; ++k) line += s[k] == '\n';
      i = end + 2;
    } else if (c == quote) {
      int start_line = line;
      std::string text;
      ++i;
      int interp = 0;
      while (i < s.size() && (interp > 0 || s[i] != quote)) {
        if (s[i] == '\\' && interp == 0 && i + 1 < s.size()) {
          text += s[i + 1] == 'n' ? '\n' : s[i + 1];
          i += 2;
          continue;
        }
        if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
          ++interp;
          text += "${";
          i += 2;
          continue;
        }
        if (interp > 0 && s[i] == '}') --interp;
        if (s[i] == '\n') {
          error = "line " + std::to_string(start_line) + ": unterminated string";
          return false;
        }
        text += s[i++];
      }
      if (i >= s.size()) {
        error = "line " + std::to_string(start_line) + ": unterminated string";
        return false;
      }
      ++i;
      out.push_back({Tok::kString, text, start_line});
    } else if (c == '<' && i + 1 < s.size() && s[i + 1] == '<' && quote == '"') {
      // Heredoc: <<EOT or <<-EOT up to the marker line; its text is the value.
      size_t eol = s.find('\n', i);
      std::string marker = s.substr(i + 2, eol - i - 2);
      if (!marker.empty() && marker[0] == '-') marker = marker.substr(1);
      int start_line = line;
      size_t pos = eol + 1;
      std::string text;
      while (pos < s.size()) {
        size_t e = s.find('\n', pos);
        if (e == std::string::npos) e = s.size();
        std::string l = s.substr(pos, e - pos);
        ++line;
        pos = e + 1;
        size_t first = l.find_first_not_of(" \t");
        if (first != std::string::npos && l.substr(first) == marker) break;
        text += l + "\n";
      }
      out.push_back({Tok::kString, text, start_line});
      i = pos - 1;
      out.push_back({Tok::kNewline, "\n", line - 1});
      ++i;
    } else if (std::string("{}[]()=:,?!<>+*/%&|").find(c) != std::string::npos) {
      out.push_back({Tok::kPunct, std::string(1, c), line});
      ++i;
    } else {
      size_t start = i;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) ||
                              std::string("_.-@$").find(s[i]) != std::string::npos)) {
        ++i;
      }
      if (i == start) {
        error =
            "line " + std::to_string(line) + ": unexpected character '" + std::string(1, c) + "'";
        return false;
      }
      out.push_back({Tok::kIdent, s.substr(start, i - start), line});
    }
  }
  out.push_back({Tok::kEnd, "", line});
  return true;
}

class Parser {
 public:
  Parser(std::vector<Token> toks, bool bicep) : t_(std::move(toks)), bicep_(bicep) {}

  bool hcl_body(std::vector<Node>& out, bool nested) {
    while (true) {
      skip_newlines();
      const Token& k = peek();
      if (k.kind == Tok::kEnd) return !nested || fail("missing '}'");
      if (k.kind == Tok::kPunct && k.text == "}") return nested || fail("unexpected '}'");
      if (k.kind != Tok::kIdent) return fail("expected an attribute or a block");
      Node n;
      n.key = k.text;
      n.line = k.line;
      ++p_;
      if (is("=")) {
        ++p_;
        if (!expr(n)) return false;
      } else {
        while (peek().kind == Tok::kString || peek().kind == Tok::kIdent)
          n.labels.push_back(t_[p_++].text);
        if (!is("{")) return fail("expected '=' or '{' after " + n.key);
        ++p_;
        n.container = true;
        if (!hcl_body(n.children, true)) return false;
        ++p_;  // '}'
      }
      out.push_back(std::move(n));
    }
  }

  bool bicep_file(std::vector<Node>& out) {
    while (true) {
      skip_newlines();
      const Token& k = peek();
      if (k.kind == Tok::kEnd) return true;
      if (k.kind == Tok::kIdent && k.text == "resource") {
        Node n;
        n.key = "resource";
        n.line = k.line;
        ++p_;
        if (peek().kind != Tok::kIdent) return fail("expected a resource symbol");
        std::string symbol = t_[p_++].text;
        if (peek().kind != Tok::kString) return fail("expected 'Type@version'");
        std::string type = t_[p_++].text;
        n.labels = {type.substr(0, type.find('@')), symbol};
        if (!is("=")) return fail("expected '='");
        ++p_;
        if (peek().kind == Tok::kIdent && peek().text == "if") {
          ++p_;
          if (!skip_group()) return false;
        }
        if (!is("{")) return fail("expected '{'");
        if (!expr(n)) return false;
        out.push_back(std::move(n));
      } else {
        skip_statement();
      }
    }
  }

  std::string error() const { return error_; }

 private:
  const Token& peek() const { return t_[p_]; }
  bool is(const std::string& punct) const {
    return peek().kind == Tok::kPunct && peek().text == punct;
  }
  bool fail(const std::string& msg) {
    if (error_.empty()) error_ = "line " + std::to_string(peek().line) + ": " + msg;
    return false;
  }
  void skip_newlines() {
    while (peek().kind == Tok::kNewline) ++p_;
  }
  // Skips a balanced ( ... ) group.
  bool skip_group() {
    int depth = 0;
    do {
      if (peek().kind == Tok::kEnd) return fail("unbalanced brackets");
      if (is("(") || is("[") || is("{")) ++depth;
      if (is(")") || is("]") || is("}")) --depth;
      ++p_;
    } while (depth > 0);
    return true;
  }
  void skip_statement() {
    int depth = 0;
    while (peek().kind != Tok::kEnd) {
      if (depth == 0 && peek().kind == Tok::kNewline) return;
      if (is("(") || is("[") || is("{")) ++depth;
      if (is(")") || is("]") || is("}")) --depth;
      ++p_;
    }
  }

  // A value: object, list, or a scalar expression up to the end of the line (or a ',' or
  // closing bracket at depth 0).
  bool expr(Node& n) {
    if (is("{")) {
      ++p_;
      n.container = true;
      while (true) {
        while (peek().kind == Tok::kNewline || is(",")) ++p_;
        if (is("}")) {
          ++p_;
          return true;
        }
        if (peek().kind != Tok::kIdent && peek().kind != Tok::kString)
          return fail("expected a key");
        Node c;
        c.key = t_[p_].text;
        c.line = t_[p_].line;
        ++p_;
        if (!is("=") && !is(":")) return fail("expected '" + std::string(bicep_ ? ":" : "=") + "'");
        ++p_;
        if (!expr(c)) return false;
        n.children.push_back(std::move(c));
      }
    }
    if (is("[")) {
      ++p_;
      n.container = true;
      while (true) {
        while (peek().kind == Tok::kNewline || is(",")) ++p_;
        if (is("]")) {
          ++p_;
          return true;
        }
        if (peek().kind == Tok::kEnd) return fail("missing ']'");
        Node c;
        c.line = peek().line;
        if (!expr(c)) return false;
        n.value += (n.value.empty() ? "" : ",") + c.value;
        n.children.push_back(std::move(c));
      }
    }
    // Scalar.
    int depth = 0;
    size_t start = p_;
    std::string text;
    while (peek().kind != Tok::kEnd) {
      if (depth == 0 && (peek().kind == Tok::kNewline || is(",") || is("]") || is("}"))) break;
      if (is("(") || is("[") || is("{")) ++depth;
      if (is(")") || is("]") || is("}")) --depth;
      if (peek().kind != Tok::kNewline) text += (text.empty() ? "" : " ") + peek().text;
      ++p_;
    }
    if (p_ == start) return fail("expected a value");
    n.value = (p_ == start + 1 && t_[start].kind == Tok::kString) ? t_[start].text : text;
    return true;
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  bool bicep_;
  std::string error_;
};

}  // namespace

bool parse_hcl(const std::string& text, std::vector<Node>& out, std::string& error) {
  std::vector<Token> toks;
  if (!tokenize(text, '"', toks, error)) return false;
  Parser p(std::move(toks), false);
  if (!p.hcl_body(out, false)) {
    error = p.error();
    return false;
  }
  return true;
}

bool parse_bicep(const std::string& text, std::vector<Node>& out, std::string& error) {
  std::vector<Token> toks;
  if (!tokenize(text, '\'', toks, error)) return false;
  Parser p(std::move(toks), true);
  if (!p.bicep_file(out)) {
    error = p.error();
    return false;
  }
  return true;
}

}  // namespace codefleet::iac::lint
