#include "packs/electrical/src/psse.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "packs/electrical/src/text.h"

// The conversion repeats psse2mpc's arithmetic in psse2mpc's order (e.g. PD
// = (PL + IP*V) + YP*V^2, summed per bus in file order), so that the doubles
// come out the same; keep that order when editing.

namespace grid {
namespace {

using text::AsInt;
using text::Quote;

// ---------------------------------------------------------------------------
// Characters, fields and records.

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

// Ends an unquoted field.
bool EndsBareField(char c) { return IsBlank(c) || c == ',' || c == '\'' || c == '"' || c == '/'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Upper(a[i]) != Upper(b[i])) return false;
  }
  return true;
}

std::string UpperCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Upper(c);
  return out;
}

// A number as sscanf's %f reads one, but all of the field: decimal,
// exponent, a leading sign. Infinities and NaN are no PSS/E data.
bool ParseNumber(std::string_view token, double* value) {
  const char* begin = token.data();
  const char* end = begin + token.size();
  if (begin != end && *begin == '+') {
    ++begin;
    if (begin != end && (*begin == '+' || *begin == '-')) return false;
  }
  if (begin == end) return false;
  auto [ptr, ec] = std::from_chars(begin, end, *value);
  return ptr == end && ec == std::errc() && std::isfinite(*value);
}

struct Loc {
  int line = 0;
  int column = 0;
};

// What the reader stopped at.
struct Failure {
  bool failed = false;
  Loc at;
  std::string message;
};

struct Field {
  std::string_view text;  // without the quotes
  int column = 0;         // 1-based, of the first byte (the opening quote)
  bool quoted = false;
};

// One line split into fields.
struct Record {
  int line = 0;
  std::vector<Field> fields;  // reused from line to line
  std::string_view comment;   // after the '/'
  int end_column = 1;         // just past the last field: where a missing one is reported
  bool empty() const { return fields.empty(); }
};

// Splits a line as psse2mpc's regular expression does: fields separated by
// a comma and/or blanks, a comma with no field before it (",," or a leading
// ",") an empty field, quoted fields kept whole, '/' starting a comment.
// False (and *failure filled) for a quote that is not closed.
bool Tokenize(std::string_view line, int line_number, Record* rec, Failure* failure) {
  rec->line = line_number;
  rec->fields.clear();
  rec->comment = {};
  rec->end_column = 1;
  bool after_field = false;  // a field read, its separating comma not yet
  const std::size_t n = line.size();
  std::size_t i = 0;
  while (i < n) {
    char c = line[i];
    int column = static_cast<int>(i) + 1;
    if (IsBlank(c)) {
      ++i;
    } else if (c == '/') {
      rec->comment = line.substr(i + 1);
      break;
    } else if (c == ',') {
      if (!after_field) {
        rec->fields.push_back({std::string_view(), column, false});
        rec->end_column = column + 1;
      }
      after_field = false;
      ++i;
    } else if (c == '\'' || c == '"') {
      std::size_t j = i + 1;
      for (;;) {
        j = line.find(c, j);
        if (j == std::string_view::npos) {
          failure->failed = true;
          failure->at = {line_number, column};
          failure->message = std::string("unterminated string: the ") +
                             (c == '\'' ? "single" : "double") + " quote has no closing quote";
          return false;
        }
        if (j + 1 < n && line[j + 1] == c) {  // a doubled quote stands for one
          j += 2;
          continue;
        }
        break;
      }
      rec->fields.push_back({line.substr(i + 1, j - i - 1), column, true});
      i = j + 1;
      rec->end_column = static_cast<int>(i) + 1;
      after_field = true;
    } else {
      std::size_t j = i;
      while (j < n && !EndsBareField(line[j])) ++j;
      rec->fields.push_back({line.substr(i, j - i), column, false});
      i = j;
      rec->end_column = static_cast<int>(i) + 1;
      after_field = true;
    }
  }
  return true;
}

enum class LineKind { kData, kEndOfSection, kQ };

// psse_read's test: "0" (after blanks) or "Q" (in column 1), then only
// blanks and a comment.
LineKind Classify(std::string_view line) {
  bool q = !line.empty() && line[0] == 'Q';
  std::size_t i = 0;
  if (q) {
    i = 1;
  } else {
    while (i < line.size() && IsBlank(line[i])) ++i;
    if (i == line.size() || line[i] != '0') return LineKind::kData;
    ++i;
  }
  while (i < line.size() && IsBlank(line[i])) ++i;
  if (i < line.size() && line[i] != '/') return LineKind::kData;
  return q ? LineKind::kQ : LineKind::kEndOfSection;
}

// "BUS" from "0 / END OF BUS DATA, BEGIN LOAD DATA"; empty when the comment
// names no section.
std::string_view SectionName(std::string_view line) {
  std::size_t slash = line.find('/');
  if (slash == std::string_view::npos) return {};
  std::string_view rest = line.substr(slash + 1);
  rest = rest.substr(0, rest.find("DATA"));
  rest = Trim(rest);
  constexpr std::string_view kEndOf = "END OF ";
  if (rest.substr(0, kEndOf.size()) != kEndOf) return {};
  return Trim(rest.substr(kEndOf.size()));
}

// ---------------------------------------------------------------------------
// Reading the fields of one record, with PSS/E's defaults for missing or
// empty ones and messages naming the field.

class Fields {
 public:
  // `what` names the record in messages ("bus record"); it must outlive
  // the Fields.
  Fields(const Record& rec, std::string_view what, Failure* failure)
      : rec_(rec), what_(what), failure_(failure) {}

  // Whether field k holds a value (",," and a missing trailing field do not).
  bool Has(std::size_t k) const {
    return k < rec_.fields.size() && (rec_.fields[k].quoted || !rec_.fields[k].text.empty());
  }
  Loc At(std::size_t k) const {
    if (k < rec_.fields.size()) return {rec_.line, rec_.fields[k].column};
    return {rec_.line, rec_.end_column};
  }
  std::string_view Text(std::size_t k) const {
    return k < rec_.fields.size() ? rec_.fields[k].text : std::string_view();
  }
  // The field's text trimmed, `fallback` when absent.
  std::string Id(std::size_t k, std::string_view fallback) const {
    return std::string(Has(k) ? Trim(Text(k)) : fallback);
  }

  // Field k as a number; `fallback` when it holds none.
  bool Number(std::size_t k, const char* name, double fallback, double* out) {
    if (!Has(k)) {
      *out = fallback;
      return true;
    }
    return Convert(k, name, out);
  }
  // The same for a field without a default.
  bool Number(std::size_t k, const char* name, double* out) {
    if (!Has(k)) return Missing(k, "a number", name);
    return Convert(k, name, out);
  }
  bool Integer(std::size_t k, const char* name, int fallback, int* out) {
    if (!Has(k)) {
      *out = fallback;
      return true;
    }
    return ConvertInt(k, name, out);
  }
  bool Integer(std::size_t k, const char* name, int* out) {
    if (!Has(k)) return Missing(k, "an integer", name);
    return ConvertInt(k, name, out);
  }
  // A bus number: positive; a branch's J may be negative (the metered
  // end), *out is then its absolute value.
  bool BusNumber(std::size_t k, const char* name, bool negative_ok, int* out) {
    if (!Has(k)) return Missing(k, "a bus number", name);
    if (!ConvertInt(k, name, out)) return false;
    if (negative_ok && *out < 0) *out = -*out;
    if (*out <= 0) return Fail(k, Expected("a positive bus number", name) + ", got " + Shown(k));
    return true;
  }

  bool Fail(std::size_t k, std::string message) {
    failure_->failed = true;
    failure_->at = At(k);
    failure_->message = std::move(message);
    return false;
  }

 private:
  // "expected a number for VM (bus record)".
  std::string Expected(const char* kind, const char* name) const {
    return std::string("expected ") + kind + " for " + name + " (" + std::string(what_) + ")";
  }
  std::string Shown(std::size_t k) const {
    const Field& f = rec_.fields[k];
    return f.quoted ? "the quoted string " + Quote(f.text) : Quote(f.text);
  }
  bool Convert(std::size_t k, const char* name, double* out) {
    const Field& f = rec_.fields[k];
    if (f.quoted || !ParseNumber(f.text, out)) {
      return Fail(k, Expected("a number", name) + ", got " + Shown(k));
    }
    return true;
  }
  bool ConvertInt(std::size_t k, const char* name, int* out) {
    double v = 0;
    const Field& f = rec_.fields[k];
    if (f.quoted || !ParseNumber(f.text, &v) || !AsInt(v, out)) {
      return Fail(k, Expected("an integer", name) + ", got " + Shown(k));
    }
    return true;
  }
  bool Missing(std::size_t k, const char* kind, const char* name) {
    const char* got = k < rec_.fields.size() ? ", got an empty field" : ", got the end of the line";
    return Fail(k, Expected(kind, name) + got);
  }

  const Record& rec_;
  std::string_view what_;
  Failure* failure_;
};

// ---------------------------------------------------------------------------
// Sections, per revision (psse_parse.m).

enum class Kind {
  kBus,
  kLoad,
  kFixedShunt,
  kGenerator,
  kBranch,
  kTransformer,
  kArea,  // read past, without a warning (psse2mpc parses it, unused)
  kTwoTerminalDc,
  kSwitchedShunt,
  kSkipped,  // read past, with psse2mpc's "Skipped N lines of ... data."
};

struct SectionSpec {
  Kind kind;
  const char* label;  // as psse2mpc spells it
};

std::vector<SectionSpec> SectionsOf(int rev) {
  std::vector<SectionSpec> s = {{Kind::kBus, "bus"}, {Kind::kLoad, "load"}};
  if (rev >= 31) s.push_back({Kind::kFixedShunt, "fixed shunt"});
  s.insert(s.end(), {{Kind::kGenerator, "generator"},
                     {Kind::kBranch, "branch"},
                     {Kind::kTransformer, "transformer"},
                     {Kind::kArea, "area"},
                     {Kind::kTwoTerminalDc, "two-terminal DC"},
                     {Kind::kSkipped, "voltage source converter"}});
  if (rev <= 30) s.push_back({Kind::kSwitchedShunt, "switched shunt"});
  s.insert(s.end(), {{Kind::kSkipped, "impedance correction"},
                     {Kind::kSkipped, "multi-terminal DC"},
                     {Kind::kSkipped, "multi-section line"},
                     {Kind::kSkipped, "zone"},
                     {Kind::kSkipped, "inter-area transfer"},
                     {Kind::kSkipped, "owner"},
                     {Kind::kSkipped, "FACTS control device"}});
  if (rev >= 31) s.push_back({Kind::kSwitchedShunt, "switched shunt"});
  if (rev >= 32) s.push_back({Kind::kSkipped, "GNE device"});
  if (rev >= 33) s.push_back({Kind::kSkipped, "induction machine"});
  return s;
}

// ---------------------------------------------------------------------------
// Degrees, as Octave computes them (tand, cosd via sind, acosd), for the DC
// lines' Q limits.

double TanD(double x) {
  double i0 = x / 180;
  double i90 = (x - 90) / 180;
  if (i0 == std::trunc(i0)) return 0;
  if (i90 == std::trunc(i90)) return HUGE_VAL;
  return std::tan(i0 * std::numbers::pi);
}

double SinD(double x) {
  double y = x - 180;
  y = y - std::floor(y / 360) * 360 - 180;  // wrapped into [-180, 180)
  if (y == -180) return 0;
  return std::sin(y / 180 * std::numbers::pi);
}

double CosD(double x) { return SinD(x + 90); }

double AcosD(double x) { return std::acos(x) * 180 / std::numbers::pi; }

// psse_convert_hvdc_Qlims: the converter's reactive power range at P MW.
void QLimits(double alpha_max, double alpha_min, double p, double* qmin, double* qmax) {
  *qmin = std::fabs(p * TanD(alpha_min));
  double phi = AcosD(0.5 * (CosD(alpha_max) + CosD(60)));
  *qmax = std::fabs(p * TanD(phi));
}

// ---------------------------------------------------------------------------
// The reader: one pass over the lines, converting each record as it comes.

struct RawBus {
  int number = 0;
  Loc at;
  std::string_view name;
  double base_kv = 0;
  int ide = 1;
  double gl = 0, bl = 0;
  int area = 1, zone = 1;
  double vm = 1, va = 0;
  double vmax = 1.1, vmin = 0.9;
  bool limits = false;  // NVHI and NVLO given
};

struct Winding {
  double windv = NAN;  // NaN: not given, defaults by CW
  double nomv = 0;
  double ang = 0;
  double rate[3] = {0, 0, 0};
};

class Reader {
 public:
  explicit Reader(std::string_view text);
  bool Read(Case* out);
  const Failure& failure() const { return failure_; }

 private:
  bool Fail(Loc at, std::string message) {
    failure_.failed = true;
    failure_.at = at;
    failure_.message = std::move(message);
    return false;
  }
  bool NextLine(std::string_view* line);
  Loc EndOfText() const;

  // Case identification and sections.
  bool ReadHeader();
  bool ReadRevision(Fields& f, const Record& rec, std::string_view line);
  bool ReadSection(const SectionSpec& spec);
  void CheckLabel(const SectionSpec& spec, std::string_view line);
  void ReadExtraSections();
  bool ReadRecord(Kind kind, const Record& rec);
  bool ContinuationLine(const std::string& what, int first_line, int index, int count, Record* rec);

  // Records.
  bool BusRecord(const Record& rec);
  bool FinishBuses();
  bool FindBus(int number, Loc at, const char* field, const char* what, std::size_t* index);
  bool LoadRecord(const Record& rec);
  bool FixedShuntRecord(const Record& rec);
  bool GeneratorRecord(const Record& rec);
  bool BranchRecord(const Record& rec);
  bool TransformerRecord(const Record& first);
  bool TwoWinding(Fields& f1, int cw, int cz, int stat, std::size_t fi, std::size_t ti);
  bool ThreeWinding(Fields& f1, int cw, int cz, int stat, const std::size_t (&bi)[3]);
  bool ReadWinding(Fields& f, Winding* w);
  bool TwoTerminalDcRecord(const Record& first);
  bool SwitchedShuntRecord(const Record& rec);
  void Finish();

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 0;  // number of the last line read
  std::string_view last_line_;
  bool ended_ = false;  // Q or the end of the text reached
  Loc section_end_;     // where the last section read ended
  Failure failure_;

  int rev_ = 0;
  double sbase_ = 100;
  Case case_;
  std::vector<std::string> parse_warnings_, convert_warnings_, missing_;

  std::vector<RawBus> raw_buses_;
  std::vector<int> numbers_;  // of case_.bus, sorted
  // Per bus, summed apart and added at the end as psse2mpc does.
  std::vector<double> switched_b_;
  std::vector<char> has_switched_;
  std::vector<double> from_g_, from_b_, to_g_, to_b_;
  std::int64_t star_base_ = 0;  // star bus k is star_base_ + k
  std::vector<Branch> three_winding_;
  std::vector<Bus> star_buses_;

  Record rec_;
  Record more_[4];  // lines 2-5 of a multi-line record
};

Reader::Reader(std::string_view text) : text_(text) {
  // A UTF-8 byte order mark and DOS end-of-file bytes are no data.
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
  while (!text_.empty() && text_.back() == '\x1A') text_.remove_suffix(1);
}

bool Reader::NextLine(std::string_view* line) {
  if (failure_.failed || pos_ >= text_.size()) return false;
  std::size_t end = pos_;
  while (end < text_.size() && text_[end] != '\n' && text_[end] != '\r') ++end;
  *line = text_.substr(pos_, end - pos_);
  ++line_;
  last_line_ = *line;
  pos_ = end;
  if (pos_ < text_.size()) {
    pos_ += (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ? 2 : 1;
  }
  for (std::size_t i = 0; i < line->size(); ++i) {
    unsigned char c = static_cast<unsigned char>((*line)[i]);
    if (c < 0x20 && c != '\t' && c != '\v' && c != '\f') {
      char buf[64];
      std::snprintf(buf, sizeof buf, "binary data (byte 0x%02X): expected PSS/E RAW text", c);
      return Fail({line_, static_cast<int>(i) + 1}, buf);
    }
  }
  return true;
}

// Where the text ends: past the last line, or on a line of its own after a
// final line break.
Loc Reader::EndOfText() const {
  if (text_.empty()) return {1, 1};
  char last = text_.back();
  if (last == '\n' || last == '\r') return {line_ + 1, 1};
  return {line_, static_cast<int>(last_line_.size()) + 1};
}

bool Reader::Read(Case* out) {
  if (!ReadHeader()) return false;
  for (const SectionSpec& spec : SectionsOf(rev_)) {
    if (ended_) {
      missing_.push_back(spec.label);
    } else if (!ReadSection(spec)) {
      return false;
    }
    if (spec.kind == Kind::kBus && !FinishBuses()) return false;
  }
  if (!missing_.empty()) {
    std::string list;
    for (const std::string& m : missing_) list += (list.empty() ? "" : ", ") + m;
    parse_warnings_.push_back("The data ends before the " + list + " data; read as empty.");
  }
  ReadExtraSections();
  if (failure_.failed) return false;
  Finish();
  case_.warnings = std::move(parse_warnings_);
  case_.warnings.insert(case_.warnings.end(), convert_warnings_.begin(), convert_warnings_.end());
  *out = std::move(case_);
  return true;
}

// Line 1: IC, SBASE, REV, XFRRAT, NXFRAT, BASFRQ / comment; lines 2-3 free.
bool Reader::ReadHeader() {
  std::string_view line;
  if (!NextLine(&line)) {
    if (failure_.failed) return false;
    return Fail({1, 1}, "the text is empty: expected a PSS/E RAW case");
  }
  if (!Tokenize(line, line_, &rec_, &failure_)) return false;
  Fields f(rec_, "case identification", &failure_);
  int ic = 0;
  if (!f.Integer(0, "IC", &ic) || !f.Number(1, "SBASE", &sbase_)) return false;
  if (!(sbase_ > 0)) {
    return f.Fail(1, "expected a positive SBASE (case identification), got " + Quote(f.Text(1)));
  }
  if (!ReadRevision(f, rec_, line)) return false;
  if (ic != 0) {
    parse_warnings_.push_back("IC = " + std::to_string(ic) +
                              " indicates that this may be a change case, rather than base case; "
                              "it is read as a base case.");
  }
  for (int k = 0; k < 2; ++k) {
    if (!NextLine(&line)) {
      if (failure_.failed) return false;
      ended_ = true;
      break;
    }
  }
  return true;
}

// REV from its field, else from "PSS/E-30" and the like in the comment.
bool Reader::ReadRevision(Fields& f, const Record& rec, std::string_view line) {
  int rev = 0;
  Loc at;
  if (f.Has(2)) {
    if (!f.Integer(2, "REV", &rev)) return false;
    at = f.At(2);
  } else {
    std::string upper = UpperCase(rec.comment);
    std::size_t digits = std::string::npos;
    constexpr std::string_view kRegistered = "PSS\u00AEE-";  // PSS®E-
    for (std::string_view tag : {std::string_view("PSS/E-"), std::string_view("PSS(TM)E-"),
                                 std::string_view("PSS(R)E-"), kRegistered}) {
      std::size_t p = upper.find(tag);
      if (p != std::string::npos && p + tag.size() < upper.size() && upper[p + tag.size()] >= '0' &&
          upper[p + tag.size()] <= '9') {
        digits = p + tag.size();
        break;
      }
    }
    if (digits == std::string::npos) {
      return Fail({rec.line, 1},
                  "the PSS/E revision is unknown: line 1 has no REV (3rd field) and its comment "
                  "no 'PSS/E-NN'; expected revision 29 to 33");
    }
    std::size_t end = digits;
    while (end < upper.size() && end - digits < 6 && upper[end] >= '0' && upper[end] <= '9') ++end;
    std::from_chars(upper.data() + digits, upper.data() + end, rev);
    int comment_column = static_cast<int>(rec.comment.data() - line.data()) + 1;
    at = {rec.line, comment_column + static_cast<int>(digits)};
  }
  if (rev < 29 || rev > 33) {
    return Fail(at, "PSS/E revision " + std::to_string(rev) + " is not supported (29-33)");
  }
  rev_ = rev;
  return true;
}

// Reads the lines of one section up to its "0" (or Q), converting its
// records.
bool Reader::ReadSection(const SectionSpec& spec) {
  int lines = 0;      // all of them, as psse2mpc counts
  bool data = false;  // a non-blank line seen
  std::string_view line;
  for (;;) {
    if (!NextLine(&line)) {
      if (failure_.failed) return false;
      ended_ = true;
      section_end_ = EndOfText();
      if (!data) {
        missing_.push_back(spec.label);
        return true;
      }
      if (spec.kind != Kind::kSkipped && spec.kind != Kind::kArea) {
        return Fail(section_end_, std::string("expected a ") + spec.label +
                                      " record, '0' (the end of the section) or 'Q', got the end "
                                      "of the text");
      }
      break;
    }
    LineKind kind = Classify(line);
    if (kind != LineKind::kData) {
      section_end_ = {line_, 1};
      if (kind == LineKind::kQ) {
        ended_ = true;
        if (lines == 0) {
          missing_.push_back(spec.label);
          return true;
        }
      } else {
        CheckLabel(spec, line);
      }
      break;
    }
    ++lines;
    if (spec.kind == Kind::kSkipped || spec.kind == Kind::kArea) {
      data = data || !Trim(line).empty();
      continue;
    }
    if (!Tokenize(line, line_, &rec_, &failure_)) return false;
    if (rec_.empty()) continue;  // blank or only a comment
    data = true;
    if (!ReadRecord(spec.kind, rec_)) return false;
  }
  if (spec.kind == Kind::kSkipped && lines > 0) {
    parse_warnings_.push_back("Skipped " + std::to_string(lines) +
                              (lines > 1 ? " lines of " : " line of ") + spec.label + " data.");
  }
  return true;
}

// psse2mpc's check of the "END OF <name> DATA" comment against the section
// expected.
void Reader::CheckLabel(const SectionSpec& spec, std::string_view line) {
  std::string_view name = SectionName(line);
  if (!name.empty() && !EqualsIgnoringCase(name, spec.label)) {
    parse_warnings_.push_back("Section label mismatch, found '" + std::string(name) +
                              "', expected '" + UpperCase(spec.label) + "'");
  }
}

// Sections after the revision's last one: counted, as psse2mpc warns.
void Reader::ReadExtraSections() {
  std::vector<std::string> found;
  int lines = 0;
  std::string_view line;
  while (!ended_ && NextLine(&line)) {
    LineKind kind = Classify(line);
    if (kind == LineKind::kData) {
      ++lines;
      continue;
    }
    if (kind == LineKind::kQ) {
      ended_ = true;
      if (lines == 0) break;
    }
    std::string_view name = kind == LineKind::kQ ? std::string_view() : SectionName(line);
    std::string size =
        lines ? "with " + std::to_string(lines) + " line(s)" : std::string("(empty)");
    found.push_back(name.empty() ? "  unlabeled section " + size
                                 : "  '" + std::string(name) + " DATA' " + size);
    lines = 0;
  }
  if (found.empty()) return;
  parse_warnings_.push_back("Found " + std::to_string(found.size()) + " additional section(s)");
  parse_warnings_.insert(parse_warnings_.end(), found.begin(), found.end());
}

bool Reader::ReadRecord(Kind kind, const Record& rec) {
  switch (kind) {
    case Kind::kBus:
      return BusRecord(rec);
    case Kind::kLoad:
      return LoadRecord(rec);
    case Kind::kFixedShunt:
      return FixedShuntRecord(rec);
    case Kind::kGenerator:
      return GeneratorRecord(rec);
    case Kind::kBranch:
      return BranchRecord(rec);
    case Kind::kTransformer:
      return TransformerRecord(rec);
    case Kind::kTwoTerminalDc:
      return TwoTerminalDcRecord(rec);
    case Kind::kSwitchedShunt:
      return SwitchedShuntRecord(rec);
    case Kind::kArea:
    case Kind::kSkipped:
      break;
  }
  return true;
}

// Line `index` (2-based) of a `count`-line record that began at
// `first_line`; blank lines are skipped, a section end is an error.
bool Reader::ContinuationLine(const std::string& what, int first_line, int index, int count,
                              Record* rec) {
  std::string_view line;
  for (;;) {
    bool got = NextLine(&line);
    if (failure_.failed) return false;
    if (!got || Classify(line) != LineKind::kData) {
      std::string message = "truncated " + what + " record: expected line " +
                            std::to_string(index) + " of the " + std::to_string(count) +
                            "-line record that starts at line " + std::to_string(first_line) +
                            ", got ";
      if (!got) return Fail(EndOfText(), message + "the end of the text");
      return Fail({line_, 1}, message + "the end of the section");
    }
    if (!Tokenize(line, line_, rec, &failure_)) return false;
    if (!rec->empty()) return true;
  }
}

// ---------------------------------------------------------------------------
// Buses.

bool Reader::BusRecord(const Record& rec) {
  Fields f(rec, "bus record", &failure_);
  RawBus b;
  b.at = f.At(0);
  b.name = f.Text(1);
  bool ok = f.BusNumber(0, "I", false, &b.number) && f.Number(2, "BASKV", 0, &b.base_kv) &&
            f.Integer(3, "IDE", 1, &b.ide);
  if (!ok) return false;
  if (rev_ <= 30) {
    // I, 'NAME', BASKV, IDE, GL, BL, AREA, ZONE, VM, VA, OWNER
    ok = f.Number(4, "GL", 0, &b.gl) && f.Number(5, "BL", 0, &b.bl) &&
         f.Integer(6, "AREA", 1, &b.area) && f.Integer(7, "ZONE", 1, &b.zone) &&
         f.Number(8, "VM", 1, &b.vm) && f.Number(9, "VA", 0, &b.va);
  } else {
    // I, 'NAME', BASKV, IDE, AREA, ZONE, OWNER, VM, VA, NVHI, NVLO, EVHI, EVLO
    ok = f.Integer(4, "AREA", 1, &b.area) && f.Integer(5, "ZONE", 1, &b.zone) &&
         f.Number(7, "VM", 1, &b.vm) && f.Number(8, "VA", 0, &b.va) &&
         f.Number(9, "NVHI", 1.1, &b.vmax) && f.Number(10, "NVLO", 0.9, &b.vmin);
    b.limits = f.Has(9) && f.Has(10);
  }
  if (!ok) return false;
  raw_buses_.push_back(b);
  return true;
}

// The bus table, sorted by number as psse2mpc sorts it; the other sections
// refer to it.
bool Reader::FinishBuses() {
  if (raw_buses_.empty()) {
    Loc at = section_end_.line > 0 ? section_end_ : EndOfText();
    return Fail(at, "no bus data: expected bus records from line 4");
  }
  std::stable_sort(raw_buses_.begin(), raw_buses_.end(),
                   [](const RawBus& a, const RawBus& b) { return a.number < b.number; });
  for (std::size_t i = 1; i < raw_buses_.size(); ++i) {
    if (raw_buses_[i].number == raw_buses_[i - 1].number) {
      return Fail(raw_buses_[i].at, "bus " + std::to_string(raw_buses_[i].number) +
                                        " is defined twice (also at line " +
                                        std::to_string(raw_buses_[i - 1].at.line) + ")");
    }
  }
  bool limits = rev_ >= 31 && std::all_of(raw_buses_.begin(), raw_buses_.end(),
                                          [](const RawBus& b) { return b.limits; });
  if (!limits) {
    convert_warnings_.push_back(
        "Using default voltage magnitude limits: VMIN = 0.9 p.u., VMAX = 1.1 p.u.");
  }
  std::size_t nb = raw_buses_.size();
  case_.base_mva = sbase_;
  case_.bus.reserve(nb);
  numbers_.reserve(nb);
  for (const RawBus& r : raw_buses_) {
    Bus b;
    b.number = r.number;
    b.type = r.ide;
    b.gs = r.gl;
    b.bs = r.bl;
    b.area = r.area;
    b.vm = r.vm;
    b.va = r.va;
    b.base_kv = r.base_kv;
    b.zone = r.zone;
    b.vmax = limits ? r.vmax : 1.1;
    b.vmin = limits ? r.vmin : 0.9;
    b.name = std::string(Trim(r.name));
    if (r.gl != 0 || r.bl != 0) case_.shunts.push_back({r.number, "GL/BL", r.gl, r.bl, 1});
    case_.bus.push_back(std::move(b));
    numbers_.push_back(r.number);
  }
  // Star buses of 3-winding transformers: 10^ceil(log10(max + 1)) + k.
  std::int64_t next = static_cast<std::int64_t>(numbers_.back()) + 1;
  star_base_ = 1;
  while (star_base_ < next) star_base_ *= 10;
  switched_b_.assign(nb, 0);
  has_switched_.assign(nb, 0);
  from_g_.assign(nb, 0);
  from_b_.assign(nb, 0);
  to_g_.assign(nb, 0);
  to_b_.assign(nb, 0);
  raw_buses_ = {};
  return true;
}

bool Reader::FindBus(int number, Loc at, const char* field, const char* what, std::size_t* index) {
  auto it = std::lower_bound(numbers_.begin(), numbers_.end(), number);
  if (it == numbers_.end() || *it != number) {
    return Fail(at, "bus " + std::to_string(number) + " (" + field + " of the " + what +
                        ") is not in the bus data");
  }
  *index = static_cast<std::size_t>(it - numbers_.begin());
  return true;
}

// ---------------------------------------------------------------------------
// Loads, shunts, generators, branches.

// I, ID, STATUS, AREA, ZONE, PL, QL, IP, IQ, YP, YQ, OWNER, ...: in service,
// the constant power equivalent at the RAW VM.
bool Reader::LoadRecord(const Record& rec) {
  Fields f(rec, "load record", &failure_);
  int bus = 0, status = 1;
  double pl, ql, ip, iq, yp, yq;
  std::size_t i = 0;
  bool ok = f.BusNumber(0, "I", false, &bus) && f.Integer(2, "STATUS", 1, &status) &&
            f.Number(5, "PL", 0, &pl) && f.Number(6, "QL", 0, &ql) && f.Number(7, "IP", 0, &ip) &&
            f.Number(8, "IQ", 0, &iq) && f.Number(9, "YP", 0, &yp) && f.Number(10, "YQ", 0, &yq) &&
            FindBus(bus, f.At(0), "I", "load record", &i);
  if (!ok) return false;
  if (status == 0) return true;
  Bus& b = case_.bus[i];
  double v = b.vm;
  double p = pl + ip * v + yp * (v * v);
  double q = ql + iq * v - yq * (v * v);
  b.pd += p;
  b.qd += q;
  case_.loads.push_back({bus, f.Id(1, "1"), p, q, 1});
  return true;
}

// I, ID, STATUS, GL, BL (REV >= 31).
bool Reader::FixedShuntRecord(const Record& rec) {
  Fields f(rec, "fixed shunt record", &failure_);
  int bus = 0, status = 1;
  double gl, bl;
  std::size_t i = 0;
  bool ok = f.BusNumber(0, "I", false, &bus) && f.Integer(2, "STATUS", 1, &status) &&
            f.Number(3, "GL", 0, &gl) && f.Number(4, "BL", 0, &bl) &&
            FindBus(bus, f.At(0), "I", "fixed shunt record", &i);
  if (!ok) return false;
  if (status == 0) return true;
  case_.bus[i].gs += gl;
  case_.bus[i].bs += bl;
  case_.shunts.push_back({bus, f.Id(1, "1"), gl, bl, 1});
  return true;
}

// I, ID, PG, QG, QT, QB, VS, IREG, MBASE, ZR, ZX, RT, XT, GTAP, STAT,
// RMPCT, PT, PB, ...
bool Reader::GeneratorRecord(const Record& rec) {
  Fields f(rec, "generator record", &failure_);
  Gen g;
  std::size_t i = 0;
  bool ok = f.BusNumber(0, "I", false, &g.bus) && f.Number(2, "PG", 0, &g.pg) &&
            f.Number(3, "QG", 0, &g.qg) && f.Number(4, "QT", 9999, &g.qmax) &&
            f.Number(5, "QB", -9999, &g.qmin) && f.Number(6, "VS", 1, &g.vg) &&
            f.Number(8, "MBASE", sbase_, &g.mbase) && f.Integer(14, "STAT", 1, &g.status) &&
            f.Number(16, "PT", 9999, &g.pmax) && f.Number(17, "PB", -9999, &g.pmin) &&
            FindBus(g.bus, f.At(0), "I", "generator record", &i);
  if (!ok) return false;
  g.extra.assign(11, 0.0);  // PC1 .. APF
  g.id = f.Id(1, "1");
  case_.gen.push_back(std::move(g));
  return true;
}

// I, J, CKT, R, X, B, RATEA, RATEB, RATEC, GI, BI, GJ, BJ, ST, ...
bool Reader::BranchRecord(const Record& rec) {
  Fields f(rec, "branch record", &failure_);
  Branch br;
  double gi, bi, gj, bj;
  std::size_t fi = 0, ti = 0;
  bool ok = f.BusNumber(0, "I", false, &br.from) && f.BusNumber(1, "J", true, &br.to) &&
            f.Number(3, "R", 0, &br.r) && f.Number(4, "X", &br.x) && f.Number(5, "B", 0, &br.b) &&
            f.Number(6, "RATEA", 0, &br.rate_a) && f.Number(7, "RATEB", 0, &br.rate_b) &&
            f.Number(8, "RATEC", 0, &br.rate_c) && f.Number(9, "GI", 0, &gi) &&
            f.Number(10, "BI", 0, &bi) && f.Number(11, "GJ", 0, &gj) &&
            f.Number(12, "BJ", 0, &bj) && f.Integer(13, "ST", 1, &br.status) &&
            FindBus(br.from, f.At(0), "I", "branch record", &fi) &&
            FindBus(br.to, f.At(1), "J", "branch record", &ti);
  if (!ok) return false;
  br.id = f.Id(2, "1");
  if (br.status != 0) {
    // Line shunts: summed per end, added to GS/BS in Finish.
    from_g_[fi] += gi;
    from_b_[fi] += bi;
    to_g_[ti] += gj;
    to_b_[ti] += bj;
    std::string id = "line " + std::to_string(br.from) + "-" + std::to_string(br.to) + " " + br.id;
    if (gi != 0 || bi != 0) case_.shunts.push_back({br.from, id, gi * sbase_, bi * sbase_, 1});
    if (gj != 0 || bj != 0) case_.shunts.push_back({br.to, id, gj * sbase_, bj * sbase_, 1});
  }
  case_.branch.push_back(std::move(br));
  return true;
}

// ---------------------------------------------------------------------------
// Transformers (psse_convert_xfmr.m).

// Line 1: I, J, K, CKT, CW, CZ, CM, MAG1, MAG2, NMETR, 'NAME', STAT, ...
bool Reader::TransformerRecord(const Record& first) {
  Fields f1(first, "transformer record, line 1", &failure_);
  int bus[3] = {0, 0, 0};
  int cw = 1, cz = 1, stat = 1;
  bool ok = f1.BusNumber(0, "I", false, &bus[0]) && f1.BusNumber(1, "J", false, &bus[1]) &&
            f1.Integer(2, "K", 0, &bus[2]) && f1.Integer(4, "CW", 1, &cw) &&
            f1.Integer(5, "CZ", 1, &cz) && f1.Integer(11, "STAT", 1, &stat);
  if (!ok) return false;
  if (cw < 1 || cw > 3) return f1.Fail(4, "expected CW 1, 2 or 3 (transformer record, line 1)");
  if (cz < 1 || cz > 3) return f1.Fail(5, "expected CZ 1, 2 or 3 (transformer record, line 1)");
  bool three = bus[2] != 0;
  int count = three ? 5 : 4;
  std::string what = three ? "3-winding transformer" : "2-winding transformer";
  for (int k = 0; k + 1 < count; ++k) {
    if (!ContinuationLine(what, first.line, k + 2, count, &more_[k])) return false;
  }
  std::size_t bi[3] = {0, 0, 0};
  static const char* const kNames[] = {"I", "J", "K"};
  for (int w = 0; w < (three ? 3 : 2); ++w) {
    if (!FindBus(bus[w], f1.At(static_cast<std::size_t>(w)), kNames[w], "transformer record",
                 &bi[w])) {
      return false;
    }
  }
  return three ? ThreeWinding(f1, cw, cz, stat, bi) : TwoWinding(f1, cw, cz, stat, bi[0], bi[1]);
}

// WINDVn, NOMVn, ANGn, RATAn, RATBn, RATCn, ... (lines 3-5).
bool Reader::ReadWinding(Fields& f, Winding* w) {
  bool ok = f.Has(0) ? f.Number(0, "WINDV", &w->windv) : true;
  return ok && f.Number(1, "NOMV", 0, &w->nomv) && f.Number(2, "ANG", 0, &w->ang) &&
         f.Number(3, "RATA", 0, &w->rate[0]) && f.Number(4, "RATB", 0, &w->rate[1]) &&
         f.Number(5, "RATC", 0, &w->rate[2]);
}

bool Reader::TwoWinding(Fields& f1, int cw, int cz, int stat, std::size_t fi, std::size_t ti) {
  Fields f2(more_[0], "transformer record, line 2", &failure_);
  Fields f3(more_[1], "transformer record, line 3", &failure_);
  Fields f4(more_[2], "transformer record, line 4", &failure_);
  double r = 0, x = 0, sbase12 = sbase_;
  Winding w1, w2;
  bool ok = f2.Number(0, "R1-2", 0, &r) && f2.Number(1, "X1-2", &x) &&
            f2.Number(2, "SBASE1-2", sbase_, &sbase12) && ReadWinding(f3, &w1) &&
            (f4.Has(0) ? f4.Number(0, "WINDV2", &w2.windv) : true) &&
            f4.Number(1, "NOMV2", 0, &w2.nomv);
  if (!ok) return false;
  const Bus& from = case_.bus[fi];
  const Bus& to = case_.bus[ti];
  if ((cw >= 2 && (from.base_kv == 0 || to.base_kv == 0)) || (cz >= 2 && from.base_kv == 0)) {
    return f1.Fail(from.base_kv == 0 ? 0 : 1,
                   "a transformer with CW " + std::to_string(cw) + " and CZ " + std::to_string(cz) +
                       " needs the BASKV of bus " +
                       std::to_string(from.base_kv == 0 ? from.number : to.number) +
                       ", which is 0");
  }
  if (cz >= 2 && !(sbase12 > 0)) return f2.Fail(2, "expected a positive SBASE1-2 with CZ 2 or 3");
  if (std::isnan(w1.windv)) w1.windv = cw == 2 ? from.base_kv : 1;
  if (std::isnan(w2.windv)) w2.windv = cw == 2 ? to.base_kv : 1;
  if (w2.windv == 0) return f4.Fail(0, "expected a non-zero WINDV2 (transformer record, line 4)");
  double nomv1 = w1.nomv != 0 ? w1.nomv : from.base_kv;
  double nomv2 = w2.nomv != 0 ? w2.nomv : to.base_kv;

  if (cz == 3) {  // R from the load loss in W, X from |Z|
    r = 1e-6 * r / sbase12;
    if (x * x < r * r) return f2.Fail(1, "X1-2 (|Z| with CZ 3) is smaller than the resistance");
    x = std::sqrt(x * x - r * r);
  }
  if (cz >= 2) {  // from the winding base to the system base
    double zb = nomv1 * nomv1 / sbase12;
    double zbs = from.base_kv * from.base_kv / sbase_;
    r = r * zb / zbs;
    x = x * zb / zbs;
  }
  double tap = w1.windv / w2.windv;
  if (cw >= 2) tap = tap * to.base_kv / from.base_kv;
  if (cw == 3) tap = tap * nomv1 / nomv2;

  Branch br;
  br.from = from.number;
  br.to = to.number;
  br.r = r;
  br.x = x;
  br.rate_a = w1.rate[0];
  br.rate_b = w1.rate[1];
  br.rate_c = w1.rate[2];
  br.tap = tap;
  br.shift = w1.ang;
  br.status = stat;
  br.id = f1.Id(3, "1");
  case_.branch.push_back(std::move(br));
  return true;
}

// Three branches, winding n to a new star bus; impedances from the
// winding-to-winding ones (star-delta).
bool Reader::ThreeWinding(Fields& f1, int cw, int cz, int stat, const std::size_t (&bi)[3]) {
  Fields f2(more_[0], "transformer record, line 2", &failure_);
  // R1-2, X1-2, SBASE1-2, R2-3, X2-3, SBASE2-3, R3-1, X3-1, SBASE3-1, VMSTAR, ANSTAR
  double r[3], x[3], sb[3], vmstar, anstar;
  static const char* const kR[] = {"R1-2", "R2-3", "R3-1"};
  static const char* const kX[] = {"X1-2", "X2-3", "X3-1"};
  static const char* const kS[] = {"SBASE1-2", "SBASE2-3", "SBASE3-1"};
  for (std::size_t k = 0; k < 3; ++k) {
    if (!f2.Number(3 * k, kR[k], 0, &r[k]) || !f2.Number(3 * k + 1, kX[k], &x[k]) ||
        !f2.Number(3 * k + 2, kS[k], sbase_, &sb[k])) {
      return false;
    }
    if (cz >= 2 && !(sb[k] > 0)) {
      return f2.Fail(3 * k + 2, std::string("expected a positive ") + kS[k] + " with CZ 2 or 3");
    }
  }
  if (!f2.Number(9, "VMSTAR", 1, &vmstar) || !f2.Number(10, "ANSTAR", 0, &anstar)) return false;
  Winding w[3];
  const Bus* bus[3];
  for (int k = 0; k < 3; ++k) {
    static const char* const kWhat[] = {"transformer record, line 3", "transformer record, line 4",
                                        "transformer record, line 5"};
    Fields f(more_[k + 1], kWhat[k], &failure_);
    if (!ReadWinding(f, &w[k])) return false;
    bus[k] = &case_.bus[bi[k]];
    if ((cw >= 2 || cz >= 2) && bus[k]->base_kv == 0) {
      return f1.Fail(static_cast<std::size_t>(k),
                     "a transformer with CW " + std::to_string(cw) + " and CZ " +
                         std::to_string(cz) + " needs the BASKV of bus " +
                         std::to_string(bus[k]->number) + ", which is 0");
    }
  }
  double tap[3], nomv[3];
  for (int k = 0; k < 3; ++k) {
    nomv[k] = w[k].nomv != 0 ? w[k].nomv : bus[k]->base_kv;
    tap[k] = std::isnan(w[k].windv) ? (cw == 2 ? bus[k]->base_kv : 1) : w[k].windv;
    if (cw >= 2) tap[k] = tap[k] / bus[k]->base_kv;
    if (cw == 3) tap[k] = tap[k] * nomv[k];
  }
  // Impedance k (1-2, 2-3, 3-1) is on the base of winding k.
  for (int k = 0; k < 3; ++k) {
    if (cz == 3) {
      r[k] = 1e-6 * r[k] / sb[k];
      if (x[k] * x[k] < r[k] * r[k]) {
        return f2.Fail(static_cast<std::size_t>(3 * k + 1),
                       std::string(kX[k]) + " (|Z| with CZ 3) is smaller than the resistance");
      }
      x[k] = std::sqrt(x[k] * x[k] - r[k] * r[k]);
    }
    if (cz >= 2) {
      double zb = nomv[k] * nomv[k] / sb[k];
      double zbs = bus[k]->base_kv * bus[k]->base_kv / sbase_;
      r[k] = r[k] * zb / zbs;
      x[k] = x[k] * zb / zbs;
    }
  }
  const double rs[3] = {(r[0] + r[2] - r[1]) / 2, (r[0] + r[1] - r[2]) / 2,
                        (r[2] + r[1] - r[0]) / 2};
  const double xs[3] = {(x[0] + x[2] - x[1]) / 2, (x[0] + x[1] - x[2]) / 2,
                        (x[2] + x[1] - x[0]) / 2};
  // STAT 0: all off; 4, 2, 3: winding 1, 2, 3 off.
  const bool off[3] = {stat == 0 || stat == 4, stat == 0 || stat == 2, stat == 0 || stat == 3};

  std::int64_t k_star = star_base_ + static_cast<std::int64_t>(star_buses_.size()) + 1;
  if (k_star > INT_MAX) {
    return f1.Fail(0, "the star bus of this 3-winding transformer would be numbered " +
                          std::to_string(k_star) + ", past the largest bus number");
  }
  int star = static_cast<int>(k_star);
  std::string ckt = f1.Id(3, "1");
  for (int k = 0; k < 3; ++k) {
    Branch br;
    br.from = bus[k]->number;
    br.to = star;
    br.r = rs[k];
    br.x = xs[k];
    br.rate_a = w[k].rate[0];
    br.rate_b = w[k].rate[1];
    br.rate_c = w[k].rate[2];
    br.tap = tap[k];
    br.shift = w[k].ang;
    br.status = off[k] ? 0 : 1;
    br.id = ckt;
    three_winding_.push_back(std::move(br));
  }
  Bus s;
  s.number = star;
  s.type = stat == 0 ? kIsolated : kPQ;
  s.vm = vmstar;
  s.va = anstar;
  s.area = bus[0]->area;
  s.zone = bus[0]->zone;
  s.base_kv = 1;
  s.vmax = 1.1;
  s.vmin = 0.9;
  s.name = "STR_PT_XF_" + std::to_string(star_buses_.size() + 1);
  star_buses_.push_back(std::move(s));
  return true;
}

// ---------------------------------------------------------------------------
// Two-terminal DC lines (psse_convert_hvdc.m) and switched shunts.

// Line 1: I (or 'NAME'), MDC, RDC, SETVL, VSCHD, ...; line 2: IPR, NBR,
// ANMXR, ANMNR, ...; line 3: IPI, NBI, GAMMX, GAMMN, ...
bool Reader::TwoTerminalDcRecord(const Record& first) {
  Fields f1(first, "two-terminal DC record, line 1", &failure_);
  int mdc = 0;
  double setvl, vschd;
  if (!f1.Integer(1, "MDC", 0, &mdc) || !f1.Number(3, "SETVL", &setvl) ||
      !f1.Number(4, "VSCHD", &vschd)) {
    return false;
  }
  for (int k = 0; k < 2; ++k) {
    if (!ContinuationLine("two-terminal DC", first.line, k + 2, 3, &more_[k])) return false;
  }
  Fields fr(more_[0], "two-terminal DC record, line 2", &failure_);
  Fields fi(more_[1], "two-terminal DC record, line 3", &failure_);
  int ipr = 0, ipi = 0;
  double anmxr, anmnr, gammx, gammn;
  std::size_t r = 0, i = 0;
  bool ok = fr.BusNumber(0, "IPR", false, &ipr) && fr.Number(2, "ANMXR", &anmxr) &&
            fr.Number(3, "ANMNR", &anmnr) && fi.BusNumber(0, "IPI", false, &ipi) &&
            fi.Number(2, "GAMMX", &gammx) && fi.Number(3, "GAMMN", &gammn) &&
            FindBus(ipr, fr.At(0), "IPR", "two-terminal DC record", &r) &&
            FindBus(ipi, fi.At(0), "IPI", "two-terminal DC record", &i);
  if (!ok) return false;
  setvl = std::fabs(setvl);
  double p = 0;  // MW at the rectifier
  if (mdc == 1) {
    p = setvl;
  } else if (mdc == 2) {
    p = setvl * vschd / 1000;  // SETVL in A, VSCHD in kV
  }
  DcLine d;
  d.from = ipr;
  d.to = ipi;
  d.status = mdc == 0 ? 0 : 1;
  d.pf = p;
  d.pt = p;
  d.vf = case_.bus[r].vm;
  d.vt = case_.bus[i].vm;
  d.pmin = 0.85 * p;
  d.pmax = 1.15 * p;
  QLimits(anmxr, anmnr, p, &d.qminf, &d.qmaxf);
  QLimits(gammx, gammn, p, &d.qmint, &d.qmaxt);
  case_.dclines.push_back(d);
  return true;
}

// BINIT only, at its place per revision: REV 29 I, MODSW, VSWHI, VSWLO,
// SWREM, RMIDNT, BINIT; 30-31 with RMPCT before RMIDNT; 32-33 I, MODSW,
// ADJM, STAT, VSWHI, VSWLO, SWREM, RMPCT, RMIDNT, BINIT.
bool Reader::SwitchedShuntRecord(const Record& rec) {
  Fields f(rec, "switched shunt record", &failure_);
  std::size_t k_binit = rev_ <= 29 ? 6 : rev_ <= 31 ? 7 : 9;
  int bus = 0, stat = 1;
  double binit;
  std::size_t i = 0;
  bool ok = f.BusNumber(0, "I", false, &bus) && f.Number(k_binit, "BINIT", 0, &binit) &&
            (rev_ < 32 || f.Integer(3, "STAT", 1, &stat)) &&
            FindBus(bus, f.At(0), "I", "switched shunt record", &i);
  if (!ok) return false;
  if (stat == 0) {
    convert_warnings_.push_back("The switched shunt at bus " + std::to_string(bus) + " (line " +
                                std::to_string(rec.line) +
                                ") is out of service (STAT 0); its BINIT is added to BS all the "
                                "same, as psse2mpc does.");
  }
  switched_b_[i] += binit;
  has_switched_[i] = 1;
  case_.shunts.push_back({bus, "switched", 0, binit, 1});
  return true;
}

// psse2mpc's last steps: switched shunts, then line shunts into GS/BS;
// 3-winding branches after the 2-winding ones; star buses last.
void Reader::Finish() {
  for (std::size_t i = 0; i < case_.bus.size(); ++i) {
    Bus& b = case_.bus[i];
    if (has_switched_[i]) b.bs = b.bs + switched_b_[i];
    b.gs = b.gs + from_g_[i] * sbase_ + to_g_[i] * sbase_;
    b.bs = b.bs + from_b_[i] * sbase_ + to_b_[i] * sbase_;
  }
  for (Branch& br : three_winding_) case_.branch.push_back(std::move(br));
  if (!star_buses_.empty()) {
    convert_warnings_.push_back("Added buses " + std::to_string(star_buses_.front().number) + "-" +
                                std::to_string(star_buses_.back().number) +
                                " as star-points for 3-winding transformers.");
  }
  for (Bus& b : star_buses_) case_.bus.push_back(std::move(b));
}

// Fills *error without letting an allocation failure escape.
void SetError(ParseError* error, Loc at, std::string_view message) noexcept {
  if (error == nullptr) return;
  error->line = at.line;
  error->column = at.column;
  try {
    error->message = std::string(message);
  } catch (...) {
    error->message.clear();
  }
}

}  // namespace

bool ReadPsse(std::string_view text, Case* out, ParseError* error) {
  try {
    if (out == nullptr) {
      SetError(error, {1, 1}, "no Case to read into");
      return false;
    }
    Reader reader(text);
    if (reader.Read(out)) return true;
    SetError(error, reader.failure().at, reader.failure().message);
  } catch (...) {
    // Only memory exhaustion can get here; answer rather than throw.
    SetError(error, {1, 1}, "cannot read the case: out of memory");
  }
  return false;
}

}  // namespace grid
