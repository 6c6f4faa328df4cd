#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/csv.h"

namespace codefleet {
namespace {

using Cells = std::vector<std::string>;

struct ParseCase {
  const char* name;
  const char* text;
  Cells header;
  std::vector<Cells> rows;
  std::vector<int> lines;  // 1-based line of each row
};

class CsvParse : public testing::TestWithParam<ParseCase> {};

TEST_P(CsvParse, ParsesCellsAndLines) {
  const ParseCase& c = GetParam();
  auto t = parse_csv(c.text, "t.csv");
  ASSERT_TRUE(t) << t.error().describe();
  EXPECT_EQ(t->file, "t.csv");
  EXPECT_EQ(t->header, c.header);
  ASSERT_EQ(t->rows.size(), c.rows.size());
  for (size_t i = 0; i < c.rows.size(); ++i) {
    EXPECT_EQ(t->rows[i].cells, c.rows[i]) << "row " << i;
    EXPECT_EQ(t->rows[i].line, c.lines[i]) << "row " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CsvParse,
    testing::Values(
        ParseCase{"Plain", "a,b\n1,2\n3,4\n", {"a", "b"}, {{"1", "2"}, {"3", "4"}}, {2, 3}},
        ParseCase{"NoTrailingNewline", "a,b\n1,2", {"a", "b"}, {{"1", "2"}}, {2}},
        ParseCase{"QuotedComma", "sku,note\nA,\"x, y\"\n", {"sku", "note"}, {{"A", "x, y"}}, {2}},
        ParseCase{"DoubledQuotes",
                  "sku,note\nB,\"say \"\"hi\"\"\"\n",
                  {"sku", "note"},
                  {{"B", "say \"hi\""}},
                  {2}},
        ParseCase{"OnlyDoubledQuotes", "a,b\n\"\"\"\"\"\",x\n", {"a", "b"}, {{"\"\"", "x"}}, {2}},
        ParseCase{"EmptyCells",
                  "a,b,c\n,,\n1,,3\n",
                  {"a", "b", "c"},
                  {{"", "", ""}, {"1", "", "3"}},
                  {2, 3}},
        ParseCase{"Crlf", "a,b\r\n1,2\r\n3,4\r\n", {"a", "b"}, {{"1", "2"}, {"3", "4"}}, {2, 3}},
        ParseCase{"CrlfWithQuotedComma", "a,b\r\n\"1,5\",2\r\n", {"a", "b"}, {{"1,5", "2"}}, {2}},
        // A quoted newline stays in the cell, and the next row's line number counts it.
        ParseCase{"QuotedNewline",
                  "a,b\n\"line1\nline2\",x\ny,z\n",
                  {"a", "b"},
                  {{"line1\nline2", "x"}, {"y", "z"}},
                  {2, 4}},
        ParseCase{"BlankLinesSkipped",
                  "a,b\n\n1,2\n\n\n3,4\n",
                  {"a", "b"},
                  {{"1", "2"}, {"3", "4"}},
                  {3, 6}},
        ParseCase{"LinesOfBlanksSkipped", "a,b\n  \n1,2\n\t\r\n", {"a", "b"}, {{"1", "2"}}, {3}},
        // Spreadsheets start UTF-8 CSV with a byte order mark; it is not part of the header.
        ParseCase{"ByteOrderMark", "\xEF\xBB\xBF\"a\",b\n1,2\n", {"a", "b"}, {{"1", "2"}}, {2}}),
    [](const testing::TestParamInfo<ParseCase>& info) { return std::string(info.param.name); });

TEST(Csv, RaggedRowsAreKeptForTheCallerToJudge) {
  auto t = parse_csv("a,b\n1,2\n3\n4,5,6\n", "t.csv", {}, CsvShape::kRagged);
  ASSERT_TRUE(t) << t.error().describe();
  ASSERT_EQ(t->rows.size(), 3u);
  EXPECT_EQ(t->rows[1].cells, Cells{"3"});
  EXPECT_EQ(t->rows[1].line, 3);
  EXPECT_EQ(t->rows[2].cells.size(), 3u);
}

TEST(Csv, GetByColumnName) {
  auto t = parse_csv("sku,region,price\nStandard_D4s_v5,westeurope,0.23\n", "t.csv");
  ASSERT_TRUE(t) << t.error().describe();
  ASSERT_EQ(t->rows.size(), 1u);
  EXPECT_EQ(t->rows[0].get("sku"), "Standard_D4s_v5");
  EXPECT_EQ(t->rows[0].get("price"), "0.23");
  EXPECT_EQ(t->rows[0].get("no_such_column"), "");
  EXPECT_TRUE(t->has_column("region"));
  EXPECT_FALSE(t->has_column("Region"));  // column names are exact
}

struct ErrorCase {
  const char* name;
  const char* text;
  std::vector<std::string> required;
  const char* location;
  const char* message_part;
};

class CsvError : public testing::TestWithParam<ErrorCase> {};

TEST_P(CsvError, NamesFileAndLine) {
  const ErrorCase& c = GetParam();
  auto t = parse_csv(c.text, "dir/t.csv", c.required);
  ASSERT_FALSE(t) << "parsed, expected an error";
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(t.error().location, c.location);
  EXPECT_NE(t.error().message.find(c.message_part), std::string::npos) << t.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CsvError,
    testing::Values(
        ErrorCase{
            "TooFewCells", "a,b\n1,2\n3\n", {}, "dir/t.csv:3", "row has 1 cells, the header has 2"},
        ErrorCase{
            "TooManyCells", "a,b\n1,2,3\n", {}, "dir/t.csv:2", "row has 3 cells, the header has 2"},
        ErrorCase{"WidthMismatchAfterCrlfAndBlank",
                  "a,b\r\n1,2\r\n\r\n1,2,3\r\n",
                  {},
                  "dir/t.csv:4",
                  "row has 3 cells"},
        ErrorCase{"WidthMismatchAfterQuotedNewline",
                  "a,b\n\"x\ny\",1\n2\n",
                  {},
                  "dir/t.csv:4",
                  "row has 1 cells"},
        ErrorCase{
            "QuotedCommaIsNotASeparator", "a,b\n\"1,2\"\n", {}, "dir/t.csv:2", "row has 1 cells"},
        ErrorCase{"MissingColumn",
                  "sku,region\nA,b\n",
                  {"sku", "usd_per_hour"},
                  "dir/t.csv:1",
                  "missing column 'usd_per_hour'"},
        ErrorCase{
            "Unterminated", "a,b\n1,\"open\n", {}, "dir/t.csv:2", "unterminated quoted field"},
        ErrorCase{"Empty", "", {}, "dir/t.csv:1", "empty file"},
        ErrorCase{"OnlyBlankLines", "\n\r\n\n", {}, "dir/t.csv:1", "empty file"}),
    [](const testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

TEST(Csv, EscapeQuotesOnlyWhenNeeded) {
  EXPECT_EQ(csv_escape("plain"), "plain");
  EXPECT_EQ(csv_escape(""), "");
  EXPECT_EQ(csv_escape("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_escape("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_escape("cr\r"), "\"cr\r\"");
  EXPECT_EQ(csv_line({"a", "b,c", ""}), "a,\"b,c\",\n");
}

TEST(Csv, LineRoundTripsThroughParse) {
  Cells header{"sku", "source", "note"};
  Cells row{"Standard_D4s_v5",
            "Azure Retail Prices API meterId x (page0.json), imported 2026-11-27",
            "quote \" and, comma\nand newline"};
  std::string text = csv_line(header) + csv_line(row) + csv_line({"x", "y", "z"});
  auto t = parse_csv(text, "t.csv", {"sku", "source"});
  ASSERT_TRUE(t) << t.error().describe();
  EXPECT_EQ(t->header, header);
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[0].cells, row);
  EXPECT_EQ(t->rows[1].line, 4);  // the quoted newline takes a line
}

}  // namespace
}  // namespace codefleet
