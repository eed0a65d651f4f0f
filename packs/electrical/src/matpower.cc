#include "packs/electrical/src/matpower.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "packs/electrical/src/text.h"

namespace grid {
namespace {

using text::AsInt;
using text::Quote;

// ---------------------------------------------------------------------------
// Column layouts. The names are MATPOWER's idx_* constants (for messages);
// the headers are the column comment lines savecase writes.

constexpr const char* kBusNames[] = {"BUS_I", "BUS_TYPE", "PD",  "QD", "GS",
                                     "BS",    "BUS_AREA", "VM",  "VA", "BASE_KV",
                                     "ZONE",  "VMAX",     "VMIN"};
constexpr const char* kGenNames[] = {
    "GEN_BUS",    "PG",     "QG",       "QMAX",    "QMIN",    "VG",     "MBASE",
    "GEN_STATUS", "PMAX",   "PMIN",     "PC1",     "PC2",     "QC1MIN", "QC1MAX",
    "QC2MIN",     "QC2MAX", "RAMP_AGC", "RAMP_10", "RAMP_30", "RAMP_Q", "APF"};
constexpr const char* kBranchNames[] = {"F_BUS",     "T_BUS",  "BR_R",   "BR_X", "BR_B",
                                        "RATE_A",    "RATE_B", "RATE_C", "TAP",  "SHIFT",
                                        "BR_STATUS", "ANGMIN", "ANGMAX"};
constexpr const char* kDcLineNames[] = {"F_BUS", "T_BUS", "BR_STATUS", "PF",    "PT",   "QF",
                                        "QT",    "VF",    "VT",        "PMIN",  "PMAX", "QMINF",
                                        "QMAXF", "QMINT", "QMAXT",     "LOSS0", "LOSS1"};

constexpr const char* kBusHeader[] = {"bus_i", "type", "Pd",     "Qd",   "Gs",   "Bs",  "area",
                                      "Vm",    "Va",   "baseKV", "zone", "Vmax", "Vmin"};
constexpr const char* kGenHeader[] = {
    "bus",    "Pg",     "Qg",       "Qmax",    "Qmin",    "Vg",     "mBase",
    "status", "Pmax",   "Pmin",     "Pc1",     "Pc2",     "Qc1min", "Qc1max",
    "Qc2min", "Qc2max", "ramp_agc", "ramp_10", "ramp_30", "ramp_q", "apf"};
constexpr const char* kBranchHeader[] = {"fbus",   "tbus",   "r",     "x",     "b",
                                         "rateA",  "rateB",  "rateC", "ratio", "angle",
                                         "status", "angmin", "angmax"};
constexpr const char* kDcLineHeader[] = {"fbus",  "tbus",  "status", "Pf",    "Pt",   "Qf",
                                         "Qt",    "Vf",    "Vt",     "Pmin",  "Pmax", "QminF",
                                         "QmaxF", "QminT", "QmaxT",  "loss0", "loss1"};

// What the reader takes from a matrix: at least `min_columns`, and the first
// `keep` (= the named ones); columns past those are the results MATPOWER
// appends to a solved case, which a case does not need.
struct MatrixSpec {
  std::string_view field;
  int min_columns;
  int keep;
  const char* const* names;
};

constexpr MatrixSpec kBusSpec{"bus", 13, 13, kBusNames};
constexpr MatrixSpec kGenSpec{"gen", 10, 21, kGenNames};
constexpr MatrixSpec kBranchSpec{"branch", 11, 13, kBranchNames};
constexpr MatrixSpec kDcLineSpec{"dcline", 17, 17, kDcLineNames};

// A numeric matrix as read: the kept columns, row-major, and where each row
// starts in the text (for messages about a row found wrong later).
struct Matrix {
  bool present = false;
  std::size_t at = 0;  // offset of its [
  int columns = 0;     // columns in the text
  int stride = 0;      // columns stored = min(columns, spec.keep)
  std::vector<double> values;
  std::vector<std::size_t> row_at;

  std::size_t rows() const { return row_at.size(); }
  double Get(std::size_t row, int col) const {
    return values[row * static_cast<std::size_t>(stride) + static_cast<std::size_t>(col)];
  }
};

// ---------------------------------------------------------------------------
// Characters and tokens.

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsLetter(c) || IsDigit(c) || c == '_'; }

// Ends a matrix element. '\0' stands for the end of the text (the reader
// refuses text holding a real NUL byte as binary).
bool EndsToken(char c) {
  return IsBlank(c) || c == ',' || c == ';' || c == '\n' || c == ']' || c == '}' || c == '%' ||
         c == '\0';
}

// A number as MATLAB writes one: decimal, exponent, Inf, NaN, a leading
// sign. from_chars takes all but the '+'.
bool ParseNumber(std::string_view token, double* value) {
  const char* begin = token.data();
  const char* end = begin + token.size();
  if (begin != end && *begin == '+') ++begin;
  if (begin == end || *begin == '+') return false;
  auto [ptr, ec] = std::from_chars(begin, end, *value);
  if (ptr != end) return false;
  if (ec == std::errc::result_out_of_range) {
    // MATLAB reads 1e999 as Inf and 1e-999 as 0, as strtod does.
    *value = std::strtod(std::string(begin, end).c_str(), nullptr);
    return true;
  }
  return ec == std::errc();
}

std::string ColumnName(const MatrixSpec& spec, int col) {
  std::string s = "column " + std::to_string(col + 1);
  if (col < spec.keep) s += std::string(" (") + spec.names[col] + ")";
  return s;
}

// "mpc.bus row 4 column 3 (PD)".
std::string Cell(const MatrixSpec& spec, std::size_t row, int col) {
  return "mpc." + std::string(spec.field) + " row " + std::to_string(row + 1) + " " +
         ColumnName(spec, col);
}

// ---------------------------------------------------------------------------
// The parser: one pass over the text, positions kept as byte offsets and
// turned into line and column only for the one error reported.

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  bool Parse(Case* out);
  ParseError Error() const;

 private:
  enum class Field { kVersion, kBaseMva, kBus, kGen, kBranch, kDcLine, kBusName, kOther };

  char Peek(std::size_t ahead = 0) const {
    std::size_t i = pos_ + ahead;
    return i < text_.size() ? text_[i] : '\0';
  }
  bool Fail(std::size_t at, std::string message) {
    fail_at_ = at;
    fail_message_ = std::move(message);
    return false;
  }
  std::string LineColumn(std::size_t at) const;

  // Lexing.
  void SkipBlanks() {
    while (IsBlank(Peek())) ++pos_;
  }
  void SkipToEndOfLine();
  void SkipSpaceAndComments();
  bool AtContinuation() const { return Peek() == '.' && Peek(1) == '.' && Peek(2) == '.'; }
  void SkipContinuation();
  std::string_view Identifier();
  std::size_t TokenEnd(std::size_t at) const;
  std::string_view TokenAt(std::size_t at) const { return text_.substr(at, TokenEnd(at) - at); }
  std::size_t NthToken(std::size_t row_at, int n) const;
  bool LooksLikeAssignment(std::size_t at) const;
  bool QuoteStartsString(std::size_t at) const;
  bool ReadString(std::string* value);

  // Statements.
  bool CheckText();
  bool ParseFunctionLine();
  bool ParseStatement();
  bool ParseField(std::size_t start);
  bool EndOfStatement(std::string_view what);
  bool ParseVersion();
  bool ParseBaseMva();
  bool ParseMatrix(const MatrixSpec& spec, Matrix* m);
  bool ParseNumberCell(const MatrixSpec& spec, Matrix* m, int col);
  bool EndRow(const MatrixSpec& spec, Matrix* m, int col);
  bool ParseNames();
  bool SkipValue(std::string_view path);
  bool Unterminated(std::string_view field, std::size_t open, std::size_t at);

  // Building the Case.
  bool Build(Case* out);
  bool CheckPresent();
  bool IntCell(const MatrixSpec& spec, const Matrix& m, std::size_t row, int col, int* out);
  bool NumberCell(const MatrixSpec& spec, const Matrix& m, std::size_t row, int col, double* out);
  bool BusRef(const MatrixSpec& spec, const Matrix& m, std::size_t row, int col, int* out);
  bool BuildBuses(Case* c);
  bool BuildGens(Case* c);
  bool BuildBranches(Case* c);
  bool BuildDcLines(Case* c);
  bool BuildNames(Case* c);
  void NoteWarnings(Case* c) const;

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t fail_at_ = 0;
  std::string fail_message_;

  std::string name_;  // the function's name
  std::string_view out_var_ = "mpc";
  bool stop_ = false;  // reached a subfunction: no more case data
  int statements_ = 0;

  bool version_seen_ = false;
  bool base_seen_ = false;
  double base_mva_ = 0;
  Matrix bus_, gen_, branch_, dcline_;
  bool names_seen_ = false;
  std::size_t names_at_ = 0;
  std::vector<std::string> names_;
  std::vector<std::string> skipped_;              // fields read past, for the warnings
  std::vector<std::string> reassigned_;           // fields assigned twice
  std::unordered_map<int, std::size_t> bus_row_;  // bus number -> mpc.bus row
};

ParseError Parser::Error() const {
  ParseError e;
  std::size_t at = fail_at_ < text_.size() ? fail_at_ : text_.size();
  e.line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < at; ++i) {
    if (text_[i] == '\n') {
      ++e.line;
      line_start = i + 1;
    }
  }
  e.column = static_cast<int>(at - line_start) + 1;
  e.message = fail_message_;
  return e;
}

std::string Parser::LineColumn(std::size_t at) const {
  Parser p(text_);
  p.fail_at_ = at;
  ParseError e = p.Error();
  return "line " + std::to_string(e.line) + " column " + std::to_string(e.column);
}

void Parser::SkipToEndOfLine() {
  while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
}

// The line holding `at`, without its leading and trailing blanks; *next is
// the start of the following line.
std::string_view TrimmedLine(std::string_view text, std::size_t at, std::size_t* next) {
  std::size_t newline = at == 0 ? std::string_view::npos : text.rfind('\n', at - 1);
  std::size_t begin = newline == std::string_view::npos ? 0 : newline + 1;
  std::size_t end = text.find('\n', at);
  if (end == std::string_view::npos) end = text.size();
  *next = end < text.size() ? end + 1 : end;
  while (begin < end && IsBlank(text[begin])) ++begin;
  while (end > begin && IsBlank(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

// Between statements: blanks, newlines, empty statements, % comments and
// %{ ... %} block comments (each brace alone on its line, nesting).
void Parser::SkipSpaceAndComments() {
  for (;;) {
    char c = Peek();
    if (IsBlank(c) || c == '\n' || c == ';' || c == ',') {
      ++pos_;
    } else if (c == '%') {
      std::size_t next = 0;
      if (TrimmedLine(text_, pos_, &next) != "%{") {
        SkipToEndOfLine();
        continue;
      }
      for (int depth = 1; depth > 0 && next < text_.size();) {
        std::string_view line = TrimmedLine(text_, next, &next);
        if (line == "%{") ++depth;
        if (line == "%}") --depth;
      }
      pos_ = next;
    } else {
      return;
    }
  }
}

// "..." continues a line: the rest of it is a comment, the break no break.
void Parser::SkipContinuation() {
  SkipToEndOfLine();
  if (Peek() == '\n') ++pos_;
}

std::string_view Parser::Identifier() {
  std::size_t start = pos_;
  if (!IsLetter(Peek())) return {};
  while (IsIdentChar(Peek())) ++pos_;
  return text_.substr(start, pos_ - start);
}

std::size_t Parser::TokenEnd(std::size_t at) const {
  while (at < text_.size() && !EndsToken(text_[at])) ++at;
  return at;
}

// The offset of the n-th (0-based) element of the row starting at row_at;
// used only to point an error at a value found wrong after parsing.
std::size_t Parser::NthToken(std::size_t row_at, int n) const {
  std::size_t at = row_at;
  for (int i = 0; i < n; ++i) {
    at = TokenEnd(at);
    for (;;) {
      char c = at < text_.size() ? text_[at] : '\0';
      if (IsBlank(c) || c == ',') {
        ++at;
      } else if (c == '.' && text_.substr(at, 3) == "...") {
        while (at < text_.size() && text_[at] != '\n') ++at;
        if (at < text_.size()) ++at;
      } else {
        break;
      }
    }
  }
  return at;
}

// Whether `at` starts `name = ` or `name.field = ` (not `==`): a statement,
// seen where a matrix element was expected, means the matrix lacks its ']'.
bool Parser::LooksLikeAssignment(std::size_t at) const {
  Parser p(text_);
  p.pos_ = at;
  if (p.Identifier().empty()) return false;
  while (p.Peek() == '.' && IsLetter(p.Peek(1))) {
    ++p.pos_;
    p.Identifier();
  }
  p.SkipBlanks();
  return p.Peek() == '=' && p.Peek(1) != '=';
}

// MATLAB's rule: a quote right after a value is the transpose operator.
bool Parser::QuoteStartsString(std::size_t at) const {
  if (at == 0) return true;
  char prev = text_[at - 1];
  return !(IsIdentChar(prev) || prev == ')' || prev == ']' || prev == '}' || prev == '.' ||
           prev == '\'');
}

// A '...' or "..." string at pos_; a doubled quote stands for one.
bool Parser::ReadString(std::string* value) {
  std::size_t open = pos_;
  char quote = text_[pos_++];
  value->clear();
  for (;;) {
    char c = Peek();
    if (c == '\n' || c == '\0') {
      return Fail(open,
                  "unterminated string: no closing " + std::string(1, quote) + " on its line");
    }
    ++pos_;
    if (c == quote) {
      if (Peek() != quote) return true;
      ++pos_;
    }
    value->push_back(c);
  }
}

// Text that cannot be a case file is refused before parsing, with the
// reason rather than a confusing complaint about its first token.
bool Parser::CheckText() {
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte order mark
  for (std::size_t i = pos_; i < text_.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text_[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02X", c);
      return Fail(i, std::string("binary data (byte ") + buf +
                         "): expected a MATPOWER case file, which is text");
    }
  }
  SkipSpaceAndComments();
  if (pos_ >= text_.size()) {
    return Fail(pos_, text_.empty() ? "empty text: expected a MATPOWER case file"
                                    : "no case data, only comments: expected a MATPOWER "
                                      "case file (function mpc = name ... mpc.bus = [...])");
  }
  return true;
}

// function mpc = case14   (or [mpc] = ..., with or without "()").
bool Parser::ParseFunctionLine() {
  pos_ += 8;  // "function"
  SkipBlanks();
  std::size_t outputs_at = pos_;
  std::vector<std::string_view> outputs;
  if (Peek() == '[') {
    ++pos_;
    for (;;) {
      SkipBlanks();
      if (Peek() == ',') ++pos_;
      SkipBlanks();
      if (Peek() == ']') break;
      std::string_view out = Identifier();
      if (out.empty()) return Fail(pos_, "expected an output name in the function line");
      outputs.push_back(out);
    }
    ++pos_;
  } else {
    std::string_view out = Identifier();
    if (!out.empty()) outputs.push_back(out);
  }
  SkipBlanks();
  if (outputs.empty() || Peek() != '=') {
    return Fail(pos_, "expected 'function mpc = name', got " + Quote(TokenAt(pos_)));
  }
  if (outputs.size() > 1 || outputs[0] == "baseMVA") {
    return Fail(outputs_at,
                "a MATPOWER version 1 case (the function returns [baseMVA, bus, gen, ...]): "
                "only format version 2 (mpc.version = '2') is supported; convert it with "
                "MATPOWER's savecase");
  }
  out_var_ = outputs[0];
  ++pos_;
  SkipBlanks();
  std::string_view name = Identifier();
  if (name.empty()) return Fail(pos_, "expected the function name after 'function mpc ='");
  name_ = std::string(name);
  SkipBlanks();
  if (Peek() == '(') {
    while (Peek() != ')' && Peek() != '\n' && Peek() != '\0') ++pos_;
    if (Peek() == ')') ++pos_;
  }
  return EndOfStatement("the function line");
}

bool Parser::EndOfStatement(std::string_view what) {
  SkipBlanks();
  char c = Peek();
  if (c == ';' || c == ',' || c == '\n' || c == '%' || c == '\0') return true;
  return Fail(pos_, "expected ';' or the end of the line after " + std::string(what) + ", got " +
                        Quote(TokenAt(pos_)));
}

bool Parser::ParseStatement() {
  std::size_t start = pos_;
  std::string_view word = Identifier();
  if (word.empty()) {
    return Fail(start,
                "expected a statement such as mpc.bus = [ ... ], got " + Quote(TokenAt(start)));
  }
  if (word == "function") {
    stop_ = true;  // a subfunction; the case's data all come before it
    return true;
  }
  if (word == "end" || word == "endfunction" || word == "return") {
    return EndOfStatement("'" + std::string(word) + "'");
  }
  ++statements_;
  if (word == out_var_) return ParseField(start);
  static constexpr std::string_view kVersion1[] = {"baseMVA", "bus",   "gen",
                                                   "branch",  "areas", "gencost"};
  for (std::string_view v1 : kVersion1) {
    if (word == v1 && LooksLikeAssignment(start)) {
      return Fail(start, "a MATPOWER version 1 case (a bare '" + std::string(word) +
                             "' variable): only format version 2 (mpc.version = '2') is "
                             "supported; convert it with MATPOWER's savecase");
    }
  }
  return Fail(start, "unsupported statement starting " + Quote(TokenAt(start)) +
                         ": a case file is read as data, only '" + std::string(out_var_) +
                         ".<field> = <value>' assignments are understood");
}

// mpc.<field> = <value>: the fields of the network are parsed, any other
// is read past.
bool Parser::ParseField(std::size_t start) {
  if (Peek() != '.' || !IsLetter(Peek(1))) {
    return Fail(pos_, "expected '" + std::string(out_var_) + ".<field> = ...', got " +
                          Quote(text_.substr(start, TokenEnd(pos_) - start)));
  }
  ++pos_;
  std::size_t path_at = pos_;
  Identifier();
  while (Peek() == '.' && IsLetter(Peek(1))) {
    ++pos_;
    Identifier();
  }
  std::string_view path = text_.substr(path_at, pos_ - path_at);
  Field field = Field::kOther;
  if (path == "version") field = Field::kVersion;
  if (path == "baseMVA") field = Field::kBaseMva;
  if (path == "bus") field = Field::kBus;
  if (path == "gen") field = Field::kGen;
  if (path == "branch") field = Field::kBranch;
  if (path == "dcline") field = Field::kDcLine;
  if (path == "bus_name") field = Field::kBusName;

  SkipBlanks();
  bool assignment = Peek() == '=' && Peek(1) != '=';
  if (field == Field::kOther) {
    if (std::find(skipped_.begin(), skipped_.end(), path) == skipped_.end()) {
      skipped_.emplace_back(path);
    }
    return SkipValue(path);
  }
  std::string what = "mpc." + std::string(path);
  if (!assignment) {
    return Fail(pos_, "expected '=' after " + what +
                          " (a case file is read as data, not run), got " + Quote(TokenAt(pos_)));
  }
  ++pos_;
  SkipBlanks();
  bool ok = false;
  bool again = false;
  switch (field) {
    case Field::kVersion:
      again = version_seen_;
      ok = ParseVersion();
      break;
    case Field::kBaseMva:
      again = base_seen_;
      ok = ParseBaseMva();
      break;
    case Field::kBus:
      again = bus_.present;
      ok = ParseMatrix(kBusSpec, &bus_);
      break;
    case Field::kGen:
      again = gen_.present;
      ok = ParseMatrix(kGenSpec, &gen_);
      break;
    case Field::kBranch:
      again = branch_.present;
      ok = ParseMatrix(kBranchSpec, &branch_);
      break;
    case Field::kDcLine:
      again = dcline_.present;
      ok = ParseMatrix(kDcLineSpec, &dcline_);
      break;
    case Field::kBusName:
      again = names_seen_;
      names_at_ = start;
      ok = ParseNames();
      break;
    case Field::kOther:
      break;
  }
  if (!ok) return false;
  if (again) reassigned_.push_back(what);
  return EndOfStatement(what);
}

// '2' (or "2", or 2). Version 1 has another layout, refused by name.
bool Parser::ParseVersion() {
  std::size_t at = pos_;
  std::string value;
  if (Peek() == '\'' || Peek() == '"') {
    if (!ReadString(&value)) return false;
  } else {
    value = std::string(TokenAt(at));
    pos_ = TokenEnd(at);
  }
  if (value == "2") {
    version_seen_ = true;
    return true;
  }
  if (value == "1") {
    return Fail(at,
                "MATPOWER case format version 1 is not supported: only version 2 "
                "(mpc.version = '2'); convert it with MATPOWER's savecase");
  }
  return Fail(at, "expected MATPOWER case format version '2', got " + Quote(value));
}

bool Parser::ParseBaseMva() {
  std::size_t at = pos_;
  std::size_t end = TokenEnd(at);
  double v = 0;
  if (!ParseNumber(text_.substr(at, end - at), &v)) {
    return Fail(at, "expected a number for mpc.baseMVA, got " + Quote(TokenAt(at)));
  }
  if (!(v > 0) || std::isinf(v)) {
    return Fail(at, "expected a positive mpc.baseMVA (MVA), got " + Quote(TokenAt(at)));
  }
  base_mva_ = v;
  base_seen_ = true;
  pos_ = end;
  return true;
}

// Where a ']' (or '}') never came: at the statement that follows, if the
// text goes on with one, else at the end of the text.
bool Parser::Unterminated(std::string_view field, std::size_t open, std::size_t at) {
  char close = text_[open] == '[' ? ']' : text_[open] == '{' ? '}' : ')';
  std::string where = "the '" + std::string(1, text_[open]) + "' at " + LineColumn(open);
  if (at >= text_.size()) {
    return Fail(at, "unterminated mpc." + std::string(field) + ": " + where + " has no '" +
                        std::string(1, close) + "'");
  }
  return Fail(at, "unterminated mpc." + std::string(field) + ": expected '" +
                      std::string(1, close) + "' (for " + where + ") before " + Quote(TokenAt(at)));
}

// [ rows of numbers ]: rows end with ';' or a line break, elements are
// separated by blanks or commas, '%' starts a comment, '...' continues a
// row on the next line; empty rows are nothing, as in MATLAB.
bool Parser::ParseMatrix(const MatrixSpec& spec, Matrix* m) {
  if (Peek() != '[') {
    return Fail(pos_, "expected '[' to start the mpc." + std::string(spec.field) + " matrix, got " +
                          Quote(TokenAt(pos_)));
  }
  *m = Matrix();
  m->present = true;
  m->at = pos_;
  std::size_t open = pos_++;
  int col = 0;  // elements so far in the current row
  for (;;) {
    switch (Peek()) {
      case ' ':
      case '\t':
      case '\r':
      case '\v':
      case '\f':
      case ',':
        ++pos_;
        continue;
      case '\n':
      case ';':
        if (col > 0 && !EndRow(spec, m, col)) return false;
        col = 0;
        ++pos_;
        continue;
      case '%':
        SkipToEndOfLine();
        continue;
      case ']':
        if (col > 0 && !EndRow(spec, m, col)) return false;
        ++pos_;
        return true;
      case '\0':
        return Unterminated(spec.field, open, text_.size());
      case '.':
        if (AtContinuation()) {
          SkipContinuation();
          continue;
        }
        break;
      default:
        break;
    }
    if (!ParseNumberCell(spec, m, col)) return false;
    ++col;
  }
}

bool Parser::ParseNumberCell(const MatrixSpec& spec, Matrix* m, int col) {
  std::size_t at = pos_;
  std::size_t end = TokenEnd(at);
  std::string_view token = text_.substr(at, end - at);
  std::size_t row = m->rows() - (col > 0 ? 1 : 0);
  double v = 0;
  if (!ParseNumber(token, &v)) {
    if (LooksLikeAssignment(at)) return Unterminated(spec.field, m->at, at);
    if (token.empty()) token = text_.substr(at, 1);  // a stray '[', '}', ...
    return Fail(at, "expected a number in " + Cell(spec, row, col) + ", got " + Quote(token));
  }
  if (col == 0) m->row_at.push_back(at);
  if (m->columns > 0 && col >= m->columns) {
    // Count the whole row to say how long it is.
    int count = col;
    Parser p(text_);
    p.pos_ = at;
    while (p.Peek() != ';' && p.Peek() != '\n' && p.Peek() != ']' && p.Peek() != '%' &&
           p.Peek() != '\0') {
      if (IsBlank(p.Peek()) || p.Peek() == ',') {
        ++p.pos_;
      } else if (p.AtContinuation()) {
        p.SkipContinuation();
      } else {
        p.pos_ = std::max(p.TokenEnd(p.pos_), p.pos_ + 1);
        ++count;
      }
    }
    return Fail(at, "expected " + std::to_string(m->columns) + " columns in mpc." +
                        std::string(spec.field) + " row " + std::to_string(row + 1) +
                        " (as in the rows above), got " + std::to_string(count));
  }
  // Row 1 is stored whole until its width is known; later rows only the
  // kept columns.
  if (m->columns == 0 || col < m->stride) m->values.push_back(v);
  pos_ = end;
  return true;
}

// The row of `col` elements ends at pos_.
bool Parser::EndRow(const MatrixSpec& spec, Matrix* m, int col) {
  if (m->columns > 0 && col >= m->columns) return true;  // the common case
  std::string head =
      " columns in mpc." + std::string(spec.field) + " row " + std::to_string(m->rows());
  if (m->columns > 0) {
    return Fail(pos_, "expected " + std::to_string(m->columns) + head +
                          " (as in the rows above), got " + std::to_string(col));
  }
  if (col < spec.min_columns) {
    return Fail(pos_, "expected at least " + std::to_string(spec.min_columns) + head + ", got " +
                          std::to_string(col));
  }
  m->columns = col;
  m->stride = std::min(col, spec.keep);
  m->values.resize(static_cast<std::size_t>(m->stride));
  return true;
}

// { 'name'; ... }: the names in order (one per bus).
bool Parser::ParseNames() {
  if (Peek() != '{') {
    return Fail(pos_,
                "expected '{' to start the mpc.bus_name cell array, got " + Quote(TokenAt(pos_)));
  }
  names_seen_ = true;
  names_.clear();
  std::size_t open = pos_++;
  std::string value;
  for (;;) {
    char c = Peek();
    if (IsBlank(c) || c == ',' || c == ';' || c == '\n') {
      ++pos_;
    } else if (c == '%') {
      SkipToEndOfLine();
    } else if (c == '}') {
      ++pos_;
      return true;
    } else if (c == '\0') {
      return Unterminated("bus_name", open, text_.size());
    } else if (AtContinuation()) {
      SkipContinuation();
    } else if (c == '\'' || c == '"') {
      if (!ReadString(&value)) return false;
      names_.push_back(value);
    } else if (LooksLikeAssignment(pos_)) {
      return Unterminated("bus_name", open, pos_);
    } else {
      return Fail(pos_, "expected a quoted name in mpc.bus_name entry " +
                            std::to_string(names_.size() + 1) + ", got " + Quote(TokenAt(pos_)));
    }
  }
}

// Reads past the value of a field the reader does not use (gencost,
// gentype, areas, ...): brackets balanced, strings and comments honoured.
bool Parser::SkipValue(std::string_view path) {
  int depth = 0;
  std::size_t outer = 0;
  std::string ignored;
  for (;;) {
    char c = Peek();
    switch (c) {
      case '\0':
        if (depth > 0) return Unterminated(path, outer, text_.size());
        return true;
      case '\n':
        if (depth == 0) return true;
        ++pos_;
        {
          // A statement at the start of a line inside brackets: the value
          // lacks its closing bracket.
          Parser p(text_);
          p.pos_ = pos_;
          p.SkipBlanks();
          if (IsLetter(p.Peek()) && LooksLikeAssignment(p.pos_)) {
            return Unterminated(path, outer, p.pos_);
          }
        }
        break;
      case ';':
      case ',':
        if (depth == 0) return true;
        ++pos_;
        break;
      case '%':
        SkipToEndOfLine();
        break;
      case '[':
      case '{':
      case '(':
        if (depth++ == 0) outer = pos_;
        ++pos_;
        break;
      case ']':
      case '}':
      case ')':
        if (depth == 0) {
          return Fail(pos_, "unbalanced '" + std::string(1, c) + "' in mpc." + std::string(path));
        }
        --depth;
        ++pos_;
        break;
      case '\'':
      case '"':
        if (c == '"' || QuoteStartsString(pos_)) {
          if (!ReadString(&ignored)) return false;
        } else {
          ++pos_;
        }
        break;
      case '.':
        if (AtContinuation()) {
          SkipContinuation();
        } else {
          ++pos_;
        }
        break;
      default:
        ++pos_;
    }
  }
}

bool Parser::Parse(Case* out) {
  if (!CheckText()) return false;
  if (text_.substr(pos_, 8) == "function" && !IsIdentChar(Peek(8))) {
    if (!ParseFunctionLine()) return false;
  }
  for (;;) {
    SkipSpaceAndComments();
    if (stop_ || pos_ >= text_.size()) break;
    if (!ParseStatement()) return false;
  }
  return Build(out);
}

// ---------------------------------------------------------------------------
// From matrices to the Case, checking what MATPOWER itself relies on.

bool Parser::CheckPresent() {
  std::size_t end = text_.size();
  if (statements_ == 0) {
    return Fail(end,
                "no case data: expected mpc.version, mpc.baseMVA, mpc.bus, mpc.gen and "
                "mpc.branch");
  }
  if (!version_seen_) {
    return Fail(end,
                "missing mpc.version: MATPOWER takes a case without it for format "
                "version 1; expected mpc.version = '2'");
  }
  if (!base_seen_) return Fail(end, "missing mpc.baseMVA");
  if (!bus_.present) return Fail(end, "missing mpc.bus");
  if (!gen_.present) return Fail(end, "missing mpc.gen");
  if (!branch_.present) return Fail(end, "missing mpc.branch");
  if (bus_.rows() == 0) return Fail(bus_.at, "mpc.bus has no rows: a case needs buses");
  return true;
}

bool Parser::NumberCell(const MatrixSpec& spec, const Matrix& m, std::size_t row, int col,
                        double* out) {
  double v = m.Get(row, col);
  if (std::isnan(v)) {
    std::size_t at = NthToken(m.row_at[row], col);
    return Fail(at, "expected a number in " + Cell(spec, row, col) + ", got " + Quote(TokenAt(at)));
  }
  *out = v;
  return true;
}

bool Parser::IntCell(const MatrixSpec& spec, const Matrix& m, std::size_t row, int col, int* out) {
  if (AsInt(m.Get(row, col), out)) return true;
  std::size_t at = NthToken(m.row_at[row], col);
  return Fail(at, "expected an integer in " + Cell(spec, row, col) + ", got " + Quote(TokenAt(at)));
}

// A bus number in a gen, branch or dcline row: one of mpc.bus's.
bool Parser::BusRef(const MatrixSpec& spec, const Matrix& m, std::size_t row, int col, int* out) {
  if (!IntCell(spec, m, row, col, out)) return false;
  if (bus_row_.count(*out)) return true;
  return Fail(NthToken(m.row_at[row], col),
              "bus " + std::to_string(*out) + " in " + Cell(spec, row, col) + " is not in mpc.bus");
}

bool Parser::BuildBuses(Case* c) {
  const Matrix& m = bus_;
  c->bus.resize(m.rows());
  bus_row_.reserve(m.rows() * 2);
  for (std::size_t r = 0; r < m.rows(); ++r) {
    Bus& b = c->bus[r];
    if (!IntCell(kBusSpec, m, r, 0, &b.number)) return false;
    if (b.number <= 0) {
      std::size_t at = m.row_at[r];
      return Fail(at, "expected a positive bus number in " + Cell(kBusSpec, r, 0) + ", got " +
                          Quote(TokenAt(at)));
    }
    auto [it, fresh] = bus_row_.emplace(b.number, r);
    if (!fresh) {
      return Fail(m.row_at[r], "duplicate bus number " + std::to_string(b.number) +
                                   " in mpc.bus row " + std::to_string(r + 1) + " (also in row " +
                                   std::to_string(it->second + 1) + ")");
    }
    if (!IntCell(kBusSpec, m, r, 1, &b.type)) return false;
    if (b.type < kPQ || b.type > kIsolated) {
      std::size_t at = NthToken(m.row_at[r], 1);
      return Fail(at, "expected a bus type 1 (PQ), 2 (PV), 3 (reference) or 4 (isolated) in " +
                          Cell(kBusSpec, r, 1) + ", got " + Quote(TokenAt(at)));
    }
    bool ok = NumberCell(kBusSpec, m, r, 2, &b.pd) && NumberCell(kBusSpec, m, r, 3, &b.qd) &&
              NumberCell(kBusSpec, m, r, 4, &b.gs) && NumberCell(kBusSpec, m, r, 5, &b.bs) &&
              IntCell(kBusSpec, m, r, 6, &b.area) && NumberCell(kBusSpec, m, r, 7, &b.vm) &&
              NumberCell(kBusSpec, m, r, 8, &b.va) && NumberCell(kBusSpec, m, r, 9, &b.base_kv) &&
              IntCell(kBusSpec, m, r, 10, &b.zone) && NumberCell(kBusSpec, m, r, 11, &b.vmax) &&
              NumberCell(kBusSpec, m, r, 12, &b.vmin);
    if (!ok) return false;
  }
  return true;
}

bool Parser::BuildGens(Case* c) {
  const Matrix& m = gen_;
  c->gen.resize(m.rows());
  for (std::size_t r = 0; r < m.rows(); ++r) {
    Gen& g = c->gen[r];
    bool ok = BusRef(kGenSpec, m, r, 0, &g.bus) && NumberCell(kGenSpec, m, r, 1, &g.pg) &&
              NumberCell(kGenSpec, m, r, 2, &g.qg) && NumberCell(kGenSpec, m, r, 3, &g.qmax) &&
              NumberCell(kGenSpec, m, r, 4, &g.qmin) && NumberCell(kGenSpec, m, r, 5, &g.vg) &&
              NumberCell(kGenSpec, m, r, 6, &g.mbase) && IntCell(kGenSpec, m, r, 7, &g.status) &&
              NumberCell(kGenSpec, m, r, 8, &g.pmax) && NumberCell(kGenSpec, m, r, 9, &g.pmin);
    if (!ok) return false;
    // Columns 11-21 verbatim (NaN included: MATPOWER does not read them
    // for a power flow).
    g.extra.assign(m.values.begin() + static_cast<std::ptrdiff_t>(r * m.stride + 10),
                   m.values.begin() + static_cast<std::ptrdiff_t>((r + 1) * m.stride));
  }
  return true;
}

bool Parser::BuildBranches(Case* c) {
  const Matrix& m = branch_;
  c->branch.resize(m.rows());
  for (std::size_t r = 0; r < m.rows(); ++r) {
    Branch& br = c->branch[r];
    bool ok =
        BusRef(kBranchSpec, m, r, 0, &br.from) && BusRef(kBranchSpec, m, r, 1, &br.to) &&
        NumberCell(kBranchSpec, m, r, 2, &br.r) && NumberCell(kBranchSpec, m, r, 3, &br.x) &&
        NumberCell(kBranchSpec, m, r, 4, &br.b) && NumberCell(kBranchSpec, m, r, 5, &br.rate_a) &&
        NumberCell(kBranchSpec, m, r, 6, &br.rate_b) &&
        NumberCell(kBranchSpec, m, r, 7, &br.rate_c) && NumberCell(kBranchSpec, m, r, 8, &br.tap) &&
        NumberCell(kBranchSpec, m, r, 9, &br.shift) && IntCell(kBranchSpec, m, r, 10, &br.status) &&
        (m.stride < 12 || NumberCell(kBranchSpec, m, r, 11, &br.angmin)) &&
        (m.stride < 13 || NumberCell(kBranchSpec, m, r, 12, &br.angmax));
    if (!ok) return false;
  }
  return true;
}

bool Parser::BuildDcLines(Case* c) {
  const Matrix& m = dcline_;
  const MatrixSpec& s = kDcLineSpec;
  c->dclines.resize(m.rows());
  for (std::size_t r = 0; r < m.rows(); ++r) {
    DcLine& d = c->dclines[r];
    bool ok = BusRef(s, m, r, 0, &d.from) && BusRef(s, m, r, 1, &d.to) &&
              IntCell(s, m, r, 2, &d.status) && NumberCell(s, m, r, 3, &d.pf) &&
              NumberCell(s, m, r, 4, &d.pt) && NumberCell(s, m, r, 5, &d.qf) &&
              NumberCell(s, m, r, 6, &d.qt) && NumberCell(s, m, r, 7, &d.vf) &&
              NumberCell(s, m, r, 8, &d.vt) && NumberCell(s, m, r, 9, &d.pmin) &&
              NumberCell(s, m, r, 10, &d.pmax) && NumberCell(s, m, r, 11, &d.qminf) &&
              NumberCell(s, m, r, 12, &d.qmaxf) && NumberCell(s, m, r, 13, &d.qmint) &&
              NumberCell(s, m, r, 14, &d.qmaxt) && NumberCell(s, m, r, 15, &d.loss0) &&
              NumberCell(s, m, r, 16, &d.loss1);
    if (!ok) return false;
  }
  return true;
}

bool Parser::BuildNames(Case* c) {
  if (!names_seen_) return true;
  if (names_.size() != c->bus.size()) {
    return Fail(names_at_, "mpc.bus_name has " + std::to_string(names_.size()) +
                               " names but mpc.bus has " + std::to_string(c->bus.size()) + " rows");
  }
  for (std::size_t i = 0; i < names_.size(); ++i) c->bus[i].name = std::move(names_[i]);
  return true;
}

// What was dropped or assumed, for Case::warnings.
void Parser::NoteWarnings(Case* c) const {
  auto dropped = [&](const Matrix& m, const MatrixSpec& spec) {
    if (m.columns <= spec.keep) return;
    c->warnings.push_back("mpc." + std::string(spec.field) + ": columns " +
                          std::to_string(spec.keep + 1) + "-" + std::to_string(m.columns) +
                          " (results of a solved case) ignored");
  };
  dropped(bus_, kBusSpec);
  dropped(gen_, kGenSpec);
  dropped(branch_, kBranchSpec);
  dropped(dcline_, kDcLineSpec);
  if (branch_.rows() > 0 && branch_.columns < 13) {
    c->warnings.push_back(branch_.columns == 11
                              ? "mpc.branch has no ANGMIN/ANGMAX columns: taken as -360/360"
                              : "mpc.branch has no ANGMAX column: taken as 360");
  }
  if (!skipped_.empty()) {
    std::string s = "not read:";
    for (std::size_t i = 0; i < skipped_.size(); ++i) {
      s += (i ? ", mpc." : " mpc.") + skipped_[i];
    }
    c->warnings.push_back(s);
  }
  for (const std::string& f : reassigned_) {
    c->warnings.push_back(f + " assigned more than once: the last assignment is used");
  }
}

bool Parser::Build(Case* out) {
  if (!CheckPresent()) return false;
  Case c;
  c.name = name_;
  c.base_mva = base_mva_;
  if (!BuildBuses(&c) || !BuildGens(&c) || !BuildBranches(&c) || !BuildDcLines(&c) ||
      !BuildNames(&c)) {
    return false;
  }
  NoteWarnings(&c);
  *out = std::move(c);
  return true;
}

// ---------------------------------------------------------------------------
// Writing.

// Case::name as a MATLAB function name: a letter, then letters, digits and
// '_', at most 63 characters (namelengthmax).
std::string FunctionName(const std::string& name) {
  std::string out;
  for (char c : name) out += IsIdentChar(c) ? c : '_';
  if (out.empty()) return "bver_case";
  if (!IsLetter(out[0])) out = "case_" + out;
  if (out.size() > 63) out.resize(63);
  return out;
}

// Text for a comment or a MATLAB string literal: no line breaks, no other
// control bytes (tabs stay).
std::string OneLine(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = ' ';
  }
  return out;
}

// The shortest text that reads back to the same double; Inf and NaN as
// MATLAB spells them.
std::string NumberText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

class Writer {
 public:
  std::string Write(const Case& c);

 private:
  void Number(double v);
  void Integer(int v);
  void Header(const char* const* names, int n);
  void BusRows(const Case& c);
  void GenRows(const Case& c);
  void BranchRows(const Case& c);
  void DcLineRows(const Case& c);
  void Names(const Case& c);

  std::string out_;
};

// One matrix element, tab first as savecase writes them.
void Writer::Number(double v) {
  out_ += '\t';
  out_ += NumberText(v);
}

void Writer::Integer(int v) {
  out_ += '\t';
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, end);
}

// "%\tbus_i\ttype...": the column comment line above each matrix.
void Writer::Header(const char* const* names, int n) {
  out_ += '%';
  for (int i = 0; i < n; ++i) {
    out_ += '\t';
    out_ += names[i];
  }
  out_ += '\n';
}

void Writer::BusRows(const Case& c) {
  out_ += "\n%% bus data\n";
  Header(kBusHeader, 13);
  out_ += "mpc.bus = [\n";
  for (const Bus& b : c.bus) {
    Integer(b.number);
    Integer(b.type);
    for (double v : {b.pd, b.qd, b.gs, b.bs}) Number(v);
    Integer(b.area);
    for (double v : {b.vm, b.va, b.base_kv}) Number(v);
    Integer(b.zone);
    for (double v : {b.vmax, b.vmin}) Number(v);
    out_ += ";\n";
  }
  out_ += "];\n";
}

// A matrix is rectangular: every row as wide as the longest Gen::extra
// (at most columns 11-21), shorter ones padded with MATPOWER's default 0.
void Writer::GenRows(const Case& c) {
  std::size_t extra = 0;
  for (const Gen& g : c.gen) extra = std::max(extra, std::min<std::size_t>(g.extra.size(), 11));
  out_ += "\n%% generator data\n";
  Header(kGenHeader, 10 + static_cast<int>(extra));
  out_ += "mpc.gen = [\n";
  for (const Gen& g : c.gen) {
    Integer(g.bus);
    for (double v : {g.pg, g.qg, g.qmax, g.qmin, g.vg, g.mbase}) Number(v);
    Integer(g.status);
    for (double v : {g.pmax, g.pmin}) Number(v);
    for (std::size_t k = 0; k < extra; ++k) Number(k < g.extra.size() ? g.extra[k] : 0.0);
    out_ += ";\n";
  }
  out_ += "];\n";
}

void Writer::BranchRows(const Case& c) {
  out_ += "\n%% branch data\n";
  Header(kBranchHeader, 13);
  out_ += "mpc.branch = [\n";
  for (const Branch& br : c.branch) {
    Integer(br.from);
    Integer(br.to);
    for (double v : {br.r, br.x, br.b, br.rate_a, br.rate_b, br.rate_c, br.tap, br.shift}) {
      Number(v);
    }
    Integer(br.status);
    for (double v : {br.angmin, br.angmax}) Number(v);
    out_ += ";\n";
  }
  out_ += "];\n";
}

void Writer::DcLineRows(const Case& c) {
  if (c.dclines.empty()) return;
  out_ += "\n%%-----  DC Line Data  -----%%\n";
  out_ += "% MATPOWER models these after mpc = toggle_dcline(mpc, 'on').\n";
  Header(kDcLineHeader, 17);
  out_ += "mpc.dcline = [\n";
  for (const DcLine& d : c.dclines) {
    Integer(d.from);
    Integer(d.to);
    Integer(d.status);
    for (double v : {d.pf, d.pt, d.qf, d.qt, d.vf, d.vt, d.pmin, d.pmax, d.qminf, d.qmaxf, d.qmint,
                     d.qmaxt, d.loss0, d.loss1}) {
      Number(v);
    }
    out_ += ";\n";
  }
  out_ += "];\n";
}

void Writer::Names(const Case& c) {
  bool any = false;
  for (const Bus& b : c.bus) any = any || !b.name.empty();
  if (!any) return;
  out_ += "\n%% bus names\nmpc.bus_name = {\n";
  for (const Bus& b : c.bus) {
    out_ += "\t'";
    for (char ch : OneLine(b.name)) {
      out_ += ch;
      if (ch == '\'') out_ += '\'';  // MATLAB doubles a quote inside a string
    }
    out_ += "';\n";
  }
  out_ += "};\n";
}

std::string Writer::Write(const Case& c) {
  std::string fn = FunctionName(c.name);
  std::string upper = fn;
  for (char& ch : upper) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  out_.reserve(64 * (c.bus.size() + c.gen.size() + c.branch.size()) + 1024);
  out_ += "function mpc = " + fn + "\n";
  out_ += "%" + upper + "    Power flow data written by BVER.\n";
  out_ += "%   Case '" + OneLine(c.name) + "', written by BVER's electrical pack.\n";
  if (!c.loads.empty() || !c.shunts.empty()) {
    out_ += "%   Loads and shunts are in the bus totals (Pd, Qd, Gs, Bs).\n";
  }
  out_ += "%   Please see CASEFORMAT for details on the case file format.\n";
  out_ += "\n%% MATPOWER Case Format : Version 2\nmpc.version = '2';\n";
  out_ += "\n%%-----  Power Flow Data  -----%%\n%% system MVA base\nmpc.baseMVA = ";
  out_ += NumberText(c.base_mva) + ";\n";
  BusRows(c);
  GenRows(c);
  BranchRows(c);
  DcLineRows(c);
  Names(c);
  return std::move(out_);
}

// Fills *error without letting an allocation failure escape.
void SetError(ParseError* error, int line, int column, std::string_view message) noexcept {
  if (error == nullptr) return;
  error->line = line;
  error->column = column;
  try {
    error->message = std::string(message);
  } catch (...) {
    error->message.clear();
  }
}

}  // namespace

bool ReadMatpower(std::string_view text, Case* out, ParseError* error) {
  try {
    if (out == nullptr) {
      SetError(error, 1, 1, "no Case to read into");
      return false;
    }
    Parser parser(text);
    if (parser.Parse(out)) return true;
    ParseError e = parser.Error();
    SetError(error, e.line, e.column, e.message);
  } catch (...) {
    // Only memory exhaustion can get here; answer rather than throw.
    SetError(error, 1, 1, "cannot read the case: out of memory");
  }
  return false;
}

std::string WriteMatpower(const Case& c) { return Writer().Write(c); }

}  // namespace grid
