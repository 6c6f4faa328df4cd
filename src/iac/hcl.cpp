#include "iac/hcl.h"

#include <algorithm>

namespace codefleet::iac {

namespace {

std::string pad(int indent) { return std::string(static_cast<size_t>(indent) * 2, ' '); }

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string key_text(const std::string& k) { return is_identifier(k) ? k : hcl_quote(k); }

bool multiline(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kList:
    case Value::Kind::kObject:
      if (!v.inline_ && (!v.items.empty() || !v.entries.empty())) return true;
      for (const auto& i : v.items) {
        if (multiline(i)) return true;
      }
      for (const auto& [k, e] : v.entries) {
        if (multiline(e)) return true;
      }
      return false;
    case Value::Kind::kCall:
      return std::any_of(v.items.begin(), v.items.end(), multiline);
    default:
      return false;
  }
}

void comment_lines(std::string& out, const std::string& comment, int indent) {
  if (comment.empty()) return;
  size_t start = 0;
  while (start <= comment.size()) {
    size_t end = comment.find('\n', start);
    if (end == std::string::npos) end = comment.size();
    std::string line = comment.substr(start, end - start);
    out += pad(indent) + (line.empty() ? "#" : "# " + line) + "\n";
    start = end + 1;
  }
}

// Key-value lines (attributes, object entries): runs of one-line entries are aligned.
struct Line {
  std::string key;
  const Value* value;
  std::string comment;
};

void write_assignments(std::string& out, const std::vector<Line>& lines, int indent) {
  size_t i = 0;
  while (i < lines.size()) {
    // A run: one-line values, no comment except on the first line.
    size_t j = i;
    size_t width = 0;
    comment_lines(out, lines[i].comment, indent);
    while (j < lines.size() && (j == i || lines[j].comment.empty()) &&
           !multiline(*lines[j].value)) {
      width = std::max(width, lines[j].key.size());
      ++j;
    }
    if (j == i) {  // a multi-line value stands alone
      out += pad(indent) + lines[i].key + " = " + hcl_value(*lines[i].value, indent) + "\n";
      ++i;
      continue;
    }
    for (size_t k = i; k < j; ++k) {
      out += pad(indent) + lines[k].key + std::string(width - lines[k].key.size(), ' ') + " = " +
             hcl_value(*lines[k].value, indent) + "\n";
    }
    i = j;
  }
}

void write_block(std::string& out, const HclBlock& b, int indent);

void write_body(std::string& out, const std::vector<HclEntry>& body, int indent) {
  std::vector<Line> run;
  bool after_block = false;
  bool first = true;
  for (const auto& e : body) {
    if (e.block) {
      write_assignments(out, run, indent);
      run.clear();
      if (!first) out += "\n";
      write_block(out, *e.block, indent);
      after_block = true;
    } else {
      if (after_block) out += "\n";
      after_block = false;
      run.push_back({e.name, &e.value, e.comment});
    }
    first = false;
  }
  write_assignments(out, run, indent);
}

void write_block(std::string& out, const HclBlock& b, int indent) {
  comment_lines(out, b.comment, indent);
  out += pad(indent) + b.type;
  for (const auto& l : b.labels) out += " " + hcl_quote(l);
  if (b.body.empty()) {
    out += " {}\n";
    return;
  }
  out += " {\n";
  write_body(out, b.body, indent + 1);
  out += pad(indent) + "}\n";
}

}  // namespace

HclBlock::HclBlock(std::string t, std::vector<std::string> l, std::string c)
    : type(std::move(t)), labels(std::move(l)), comment(std::move(c)) {}

HclBlock& HclBlock::attr(std::string name, Value value, std::string c) {
  body.push_back({std::move(name), std::move(value), std::move(c), nullptr});
  return *this;
}

HclBlock& HclBlock::block(std::string t, std::vector<std::string> l, std::string c) {
  auto child = std::make_shared<HclBlock>(std::move(t), std::move(l), std::move(c));
  body.push_back({"", Value{}, "", child});
  return *child;
}

std::string hcl_quote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if ((c == '$' || c == '%') && i + 1 < s.size() && s[i + 1] == '{') {
      out += c;
      out += c;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string hcl_value(const Value& v, int indent) {
  switch (v.kind) {
    case Value::Kind::kString:
      return hcl_quote(v.text);
    case Value::Kind::kNumber:
    case Value::Kind::kBool:
    case Value::Kind::kRef:
      return v.text;
    case Value::Kind::kCall: {
      std::string out = v.text + "(";
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ", ";
        out += hcl_value(v.items[i], indent);
      }
      return out + ")";
    }
    case Value::Kind::kList: {
      if (v.items.empty()) return "[]";
      if (!multiline(v)) {
        std::string out = "[";
        for (size_t i = 0; i < v.items.size(); ++i) out += (i ? ", " : "") + hcl_value(v.items[i]);
        return out + "]";
      }
      std::string out = "[\n";
      for (const auto& i : v.items) out += pad(indent + 1) + hcl_value(i, indent + 1) + ",\n";
      return out + pad(indent) + "]";
    }
    case Value::Kind::kObject: {
      if (v.entries.empty()) return "{}";
      if (!multiline(v)) {
        std::string out = "{ ";
        for (size_t i = 0; i < v.entries.size(); ++i) {
          out += (i ? ", " : "") + key_text(v.entries[i].first) + " = " +
                 hcl_value(v.entries[i].second);
        }
        return out + " }";
      }
      std::vector<Line> lines;
      for (const auto& [k, e] : v.entries) lines.push_back({key_text(k), &e, ""});
      std::string out = "{\n";
      write_assignments(out, lines, indent + 1);
      return out + pad(indent) + "}";
    }
  }
  return "";
}

std::string write_hcl(const std::vector<HclBlock>& blocks, const std::string& header) {
  std::string out;
  comment_lines(out, header, 0);
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i || !header.empty()) out += "\n";
    write_block(out, blocks[i], 0);
  }
  return out;
}

}  // namespace codefleet::iac
