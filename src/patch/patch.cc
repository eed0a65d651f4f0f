#include "src/patch/patch.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace bver::patch {
namespace {

using Json = nlohmann::json;

// Violation rules; docs/patch.md lists them.
constexpr char kRuleSyntax[] = "patch.syntax";     // the patch is not well formed
constexpr char kRulePointer[] = "pointer.syntax";  // a pointer breaks RFC 6901
constexpr char kRuleTarget[] = "patch.target";     // a location does not resolve
constexpr char kRuleMove[] = "patch.move";         // "move" into its own child
constexpr char kRuleTest[] = "patch.test";         // a "test" did not hold

// Values quoted in messages are cut to about this many bytes.
constexpr std::size_t kMaxShownBytes = 80;

std::string_view KindOf(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::null:
      return "null";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::binary:
      return "binary data";
    case Json::value_t::discarded:
      return "a discarded value";
  }
  return "a value";
}

// Compact JSON text that never throws (invalid UTF-8 is replaced).
std::string Dump(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

// `s` as a JSON string literal, in full: pointers in messages are never cut.
std::string Quote(std::string_view s) { return Dump(Json(std::string(s))); }

// A value for a message, shortened at a UTF-8 character boundary.
std::string Show(const Json& v) {
  std::string text = Dump(v);
  if (text.size() <= kMaxShownBytes) return text;
  std::size_t cut = kMaxShownBytes - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

// ---------------------------------------------------------------- equality

// 1 == 1.0, exactly: `d` equals the integer `i` only when it has no fraction
// and lies in the integer's range, so 2^53 + 1 differs from 2^53 as a double.
bool IntegerEqualsDouble(const Json& i, double d) {
  if (!std::isfinite(d) || std::trunc(d) != d) return false;
  if (i.is_number_unsigned()) {
    if (d < 0 || d >= 18446744073709551616.0) return false;  // 2^64
    return static_cast<std::uint64_t>(d) == i.get<std::uint64_t>();
  }
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;  // 2^63
  return static_cast<std::int64_t>(d) == i.get<std::int64_t>();
}

// Precondition: both are numbers.
bool NumberEqual(const Json& x, const Json& y) {
  if (x.is_number_float() && y.is_number_float()) return x.get<double>() == y.get<double>();
  if (x.is_number_float()) return IntegerEqualsDouble(y, x.get<double>());
  if (y.is_number_float()) return IntegerEqualsDouble(x, y.get<double>());
  // Both integral. nlohmann parses non-negative integers as unsigned and
  // negative ones as signed, so mixed kinds are common.
  if (x.is_number_unsigned() && y.is_number_unsigned()) {
    return x.get<std::uint64_t>() == y.get<std::uint64_t>();
  }
  if (!x.is_number_unsigned() && !y.is_number_unsigned()) {
    return x.get<std::int64_t>() == y.get<std::int64_t>();
  }
  const Json& s = x.is_number_unsigned() ? y : x;
  const Json& u = x.is_number_unsigned() ? x : y;
  const std::int64_t sv = s.get<std::int64_t>();
  return sv >= 0 && static_cast<std::uint64_t>(sv) == u.get<std::uint64_t>();
}

// Same JSON type, counting the three number representations as one.
bool SameKind(const Json& x, const Json& y) {
  return (x.is_number() && y.is_number()) || x.type() == y.type();
}

// ---------------------------------------------------------------- pointers

// A "path" or "from" member of an operation, parsed.
struct Location {
  std::string member;  // "path" or "from"
  std::string text;    // the pointer as written
  std::vector<std::string> tokens;
};

// An error of one operation before it is placed in the patch: the single
// violation's path is the member at fault ("" for the whole operation);
// ApplyJsonPatch turns it into "/<index>/<member>".
Status OpError(StatusCode code, std::string_view member, std::string_view rule,
               std::string message) {
  Violation v{std::string(member), std::string(rule), message};
  return Status(code, std::move(message), {std::move(v)});
}

Status Malformed(std::string_view member, std::string message) {
  return OpError(StatusCode::kInvalidArgument, member, kRuleSyntax, std::move(message));
}

Status Unresolved(const Location& loc, std::string message) {
  return OpError(StatusCode::kInvalidArgument, loc.member, kRuleTarget, std::move(message));
}

// The pointer of the first `n` tokens of `loc`, for messages: "the root" or
// "\"/a/0\"".
std::string At(const Location& loc, std::size_t n) {
  if (n == 0) return "the root";
  return Quote(FormatJsonPointer(std::vector<std::string>(
      loc.tokens.begin(), loc.tokens.begin() + static_cast<std::ptrdiff_t>(n))));
}

// Reads member `member` of `op` as a pointer.
Result<Location> ReadPointer(const Json& op, const std::string& member) {
  auto it = op.find(member);
  if (it == op.end()) return Malformed(member, "missing \"" + member + "\" member");
  if (!it->is_string()) {
    return Malformed(member,
                     "\"" + member + "\" must be a string, not " + std::string(KindOf(*it)));
  }
  const std::string& text = it->get_ref<const std::string&>();
  Result<std::vector<std::string>> tokens = ParseJsonPointer(text);
  if (!tokens.ok()) {
    return OpError(StatusCode::kInvalidArgument, member, kRulePointer,
                   "invalid JSON pointer " + Quote(text) + " in \"" + member +
                       "\": " + tokens.status().message());
  }
  return Location{member, text, std::move(tokens).value()};
}

// Parses token `i` of `loc` as an index into `array` that must be below
// `count` (size for an existing element, size + 1 where "add" may insert).
// `head` opens the message.
Result<std::size_t> ArrayIndex(const Json& array, const Location& loc, std::size_t i,
                               std::size_t count, const std::string& head) {
  const std::string& token = loc.tokens[i];
  const std::string where = "the array at " + At(loc, i);
  if (token == "-") {
    return Unresolved(loc, head + ": \"-\" names the position after the last element of " + where +
                               ", which holds no value");
  }
  bool digits = !token.empty();
  for (char c : token) digits = digits && c >= '0' && c <= '9';
  if (!digits) {
    return Unresolved(loc, head + ": " + where + " has no element " + Quote(token) +
                               " (an index is \"0\" or digits without a leading zero)");
  }
  if (token.size() > 1 && token[0] == '0') {
    return Unresolved(loc, head + ": " + where + " has no element " + Quote(token) +
                               " (leading zeros are not allowed in an index)");
  }
  std::size_t index = 0;
  bool overflow = false;
  for (char c : token) {
    const auto digit = static_cast<std::size_t>(c - '0');
    if (index > (std::numeric_limits<std::size_t>::max() - digit) / 10) {
      overflow = true;
      break;
    }
    index = index * 10 + digit;
  }
  if (overflow || index >= count) {
    const std::size_t n = array.size();
    return Unresolved(loc, head + ": index " + token + " is out of range for " + where + " (" +
                               std::to_string(n) + (n == 1 ? " element" : " elements") + ")");
  }
  return index;
}

// Steps from `cur` by token `i` of `loc` to an existing child.
Result<Json*> Step(Json& cur, const Location& loc, std::size_t i, const std::string& head) {
  const std::string& token = loc.tokens[i];
  if (cur.is_object()) {
    auto it = cur.find(token);
    if (it == cur.end()) {
      return Unresolved(loc,
                        head + ": the object at " + At(loc, i) + " has no member " + Quote(token));
    }
    return &*it;
  }
  if (cur.is_array()) {
    BVER_ASSIGN_OR_RETURN(std::size_t index, ArrayIndex(cur, loc, i, cur.size(), head));
    return &cur[index];
  }
  return Unresolved(loc, head + ": the value at " + At(loc, i) + " is " + std::string(KindOf(cur)) +
                             ", not an object or array");
}

// The value at the first `depth` tokens of `loc`.
Result<Json*> Walk(Json& root, const Location& loc, std::size_t depth, const std::string& head) {
  Json* cur = &root;
  for (std::size_t i = 0; i < depth; ++i) {
    BVER_ASSIGN_OR_RETURN(cur, Step(*cur, loc, i, head));
  }
  return cur;
}

// How messages about a missing location open: path "/a/b" does not exist.
std::string DoesNotExist(const Location& loc) {
  return loc.member + " " + Quote(loc.text) + " does not exist";
}

// The existing value at `loc`.
Result<Json*> Find(Json& root, const Location& loc) {
  return Walk(root, loc, loc.tokens.size(), DoesNotExist(loc));
}

// RFC 6902 "add": sets an object member (replacing it), inserts into an array
// at an index <= size or at "-", or replaces the whole document.
Status AddAt(Json& root, const Location& loc, Json value) {
  if (loc.tokens.empty()) {
    root = std::move(value);
    return Status::Ok();
  }
  const std::size_t last = loc.tokens.size() - 1;
  BVER_ASSIGN_OR_RETURN(Json * parent, Walk(root, loc, last, "cannot add at " + Quote(loc.text)));
  const std::string& token = loc.tokens[last];
  if (parent->is_object()) {
    (*parent)[token] = std::move(value);
    return Status::Ok();
  }
  if (parent->is_array()) {
    if (token == "-") {
      parent->push_back(std::move(value));
      return Status::Ok();
    }
    BVER_ASSIGN_OR_RETURN(std::size_t index, ArrayIndex(*parent, loc, last, parent->size() + 1,
                                                        "cannot add at " + Quote(loc.text)));
    parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(index), std::move(value));
    return Status::Ok();
  }
  return Unresolved(loc, "cannot add at " + Quote(loc.text) + ": the value at " + At(loc, last) +
                             " is " + std::string(KindOf(*parent)) + ", not an object or array");
}

// RFC 6902 "remove": takes the existing value at `loc` out of the document.
Result<Json> RemoveAt(Json& root, const Location& loc) {
  if (loc.tokens.empty()) {
    return Unresolved(loc, "cannot remove the whole document (" + loc.member + " is \"\")");
  }
  const std::size_t last = loc.tokens.size() - 1;
  const std::string head = DoesNotExist(loc);
  BVER_ASSIGN_OR_RETURN(Json * parent, Walk(root, loc, last, head));
  BVER_ASSIGN_OR_RETURN(Json * target, Step(*parent, loc, last, head));
  Json value = std::move(*target);
  if (parent->is_object()) {
    parent->erase(loc.tokens[last]);
  } else {
    const auto offset = target - parent->get_ptr<Json::array_t*>()->data();
    parent->erase(parent->begin() + offset);
  }
  return value;
}

bool IsProperPrefix(const std::vector<std::string>& prefix, const std::vector<std::string>& of) {
  if (prefix.size() >= of.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (prefix[i] != of[i]) return false;
  }
  return true;
}

enum class OpKind { kAdd, kRemove, kReplace, kMove, kCopy, kTest };

std::optional<OpKind> ParseOpName(const std::string& name) {
  if (name == "add") return OpKind::kAdd;
  if (name == "remove") return OpKind::kRemove;
  if (name == "replace") return OpKind::kReplace;
  if (name == "move") return OpKind::kMove;
  if (name == "copy") return OpKind::kCopy;
  if (name == "test") return OpKind::kTest;
  return std::nullopt;
}

Result<const Json*> ReadValue(const Json& op) {
  auto it = op.find("value");
  if (it == op.end()) return Malformed("value", "missing \"value\" member");
  return &*it;
}

// Applies one well-formed-so-far operation to `doc` (the working copy).
Status ApplyOperation(Json& doc, const Json& op, OpKind kind) {
  BVER_ASSIGN_OR_RETURN(Location path, ReadPointer(op, "path"));
  switch (kind) {
    case OpKind::kAdd: {
      BVER_ASSIGN_OR_RETURN(const Json* value, ReadValue(op));
      return AddAt(doc, path, *value);
    }
    case OpKind::kRemove: {
      BVER_ASSIGN_OR_RETURN(Json removed, RemoveAt(doc, path));
      (void)removed;
      return Status::Ok();
    }
    case OpKind::kReplace: {
      BVER_ASSIGN_OR_RETURN(const Json* value, ReadValue(op));
      BVER_ASSIGN_OR_RETURN(Json * target, Find(doc, path));
      *target = *value;
      return Status::Ok();
    }
    case OpKind::kMove: {
      BVER_ASSIGN_OR_RETURN(Location from, ReadPointer(op, "from"));
      if (from.tokens == path.tokens) {
        // Removing and re-adding at the same place changes nothing, but the
        // location must still exist.
        BVER_ASSIGN_OR_RETURN(Json * unused, Find(doc, from));
        (void)unused;
        return Status::Ok();
      }
      // A requirement on the patch itself, so checked before the document.
      if (IsProperPrefix(from.tokens, path.tokens)) {
        return OpError(
            StatusCode::kInvalidArgument, "path", kRuleMove,
            "cannot move " + Quote(from.text) + " into its own child " + Quote(path.text));
      }
      BVER_ASSIGN_OR_RETURN(Json value, RemoveAt(doc, from));
      return AddAt(doc, path, std::move(value));
    }
    case OpKind::kCopy: {
      BVER_ASSIGN_OR_RETURN(Location from, ReadPointer(op, "from"));
      BVER_ASSIGN_OR_RETURN(Json * source, Find(doc, from));
      Json value = *source;
      return AddAt(doc, path, std::move(value));
    }
    case OpKind::kTest: {
      BVER_ASSIGN_OR_RETURN(const Json* value, ReadValue(op));
      Result<Json*> target = Find(doc, path);
      if (!target.ok()) {
        // The document does not satisfy the test: a failed precondition, not
        // a malformed patch.
        return OpError(StatusCode::kFailedPrecondition, "path", kRuleTest,
                       "test failed: " + target.status().message());
      }
      if (!JsonEqual(**target, *value)) {
        return OpError(StatusCode::kFailedPrecondition, "", kRuleTest,
                       "test failed at " + Quote(path.text) + ": expected " + Show(*value) +
                           ", found " + Show(**target));
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

// Places an OpError at operation `index` of the patch.
Status Place(const Status& error, std::size_t index, std::string_view op_name) {
  std::string where = "/" + std::to_string(index);
  std::string rule;
  std::string detail = error.message();
  if (!error.violations().empty()) {
    const Violation& v = error.violations().front();
    if (!v.path.empty()) where += "/" + v.path;
    rule = v.rule;
  }
  std::string message = "operation " + std::to_string(index);
  if (!op_name.empty()) message += " (" + std::string(op_name) + ")";
  message += ": " + detail;
  return Status(error.code(), std::move(message), {Violation{where, rule, detail}});
}

Status ApplyJsonPatchImpl(Json& doc, const Json& patch) {
  if (!patch.is_array()) {
    std::string message =
        "a JSON Patch must be an array of operations, not " + std::string(KindOf(patch));
    return InvalidArgumentError(message, {Violation{"", kRuleSyntax, message}});
  }
  Json work = doc;
  for (std::size_t i = 0; i < patch.size(); ++i) {
    const Json& op = patch[i];
    if (!op.is_object()) {
      return Place(Malformed("", "an operation must be an object, not " + std::string(KindOf(op))),
                   i, "");
    }
    auto name = op.find("op");
    if (name == op.end()) return Place(Malformed("op", "missing \"op\" member"), i, "");
    if (!name->is_string()) {
      return Place(Malformed("op", "\"op\" must be a string, not " + std::string(KindOf(*name))), i,
                   "");
    }
    const std::string& op_name = name->get_ref<const std::string&>();
    std::optional<OpKind> kind = ParseOpName(op_name);
    if (!kind) {
      return Place(Malformed("op", "unknown op " + Quote(op_name) +
                                       " (expected add, remove, replace, move, copy or test)"),
                   i, "");
    }
    Status status = ApplyOperation(work, op, *kind);
    if (!status.ok()) return Place(status, i, op_name);
  }
  doc.swap(work);
  return Status::Ok();
}

}  // namespace

// ------------------------------------------------------------------ public

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> UnescapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '~') {
      out += token[i];
      continue;
    }
    if (i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
      continue;
    }
    return InvalidArgumentError("\"~\" at offset " + std::to_string(i) +
                                " must be followed by \"0\" or \"1\"");
  }
  return out;
}

Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') {
    return InvalidArgumentError("a non-empty pointer must start with \"/\"");
  }
  for (std::size_t i = 0; i < pointer.size(); ++i) {
    const char c = pointer[i];
    if (c == '/') {
      tokens.emplace_back();
    } else if (c != '~') {
      tokens.back() += c;
    } else if (i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
      tokens.back() += pointer[++i] == '0' ? '~' : '/';
    } else {
      return InvalidArgumentError("\"~\" at offset " + std::to_string(i) +
                                  " must be followed by \"0\" or \"1\"");
    }
  }
  return tokens;
}

std::string FormatJsonPointer(const std::vector<std::string>& tokens) {
  std::string out;
  for (const std::string& token : tokens) {
    out += '/';
    out += EscapePointerToken(token);
  }
  return out;
}

bool JsonEqual(const Json& a, const Json& b) {
  std::vector<std::pair<const Json*, const Json*>> stack{{&a, &b}};
  while (!stack.empty()) {
    const auto [x, y] = stack.back();
    stack.pop_back();
    if (x->is_number() && y->is_number()) {
      if (!NumberEqual(*x, *y)) return false;
      continue;
    }
    if (x->type() != y->type()) return false;
    if (x->is_object()) {
      if (x->size() != y->size()) return false;
      // Both maps are ordered by the same comparator, so walk them together.
      for (auto xi = x->begin(), yi = y->begin(); xi != x->end(); ++xi, ++yi) {
        if (xi.key() != yi.key()) return false;
        stack.emplace_back(&*xi, &*yi);
      }
    } else if (x->is_array()) {
      if (x->size() != y->size()) return false;
      for (std::size_t i = 0; i < x->size(); ++i) stack.emplace_back(&(*x)[i], &(*y)[i]);
    } else if (*x != *y) {
      return false;
    }
  }
  return true;
}

Status ApplyJsonPatch(Json& doc, const Json& patch) {
  try {
    return ApplyJsonPatchImpl(doc, patch);
  } catch (const std::exception& e) {
    // Not expected (the code avoids throwing calls); kept so that no
    // exception leaves the module. `doc` is untouched: only the copy changed.
    return InternalError(std::string("json patch: ") + e.what());
  }
}

Status ApplyMergePatch(Json& doc, const Json& merge_patch) {
  try {
    // RFC 7386 section 2, iteratively: each pair is (target, patch) where the
    // patch is to be merged into the target. Pointers into std::map nodes stay
    // valid while sibling members are added or erased.
    // The patch may be `doc` itself or a part of it, which the merge would
    // change under our feet; patches are small, so merge from a copy.
    const Json patch_copy = merge_patch;
    std::vector<std::pair<Json*, const Json*>> stack{{&doc, &patch_copy}};
    while (!stack.empty()) {
      auto [target, patch] = stack.back();
      stack.pop_back();
      if (!patch->is_object()) {
        *target = *patch;
        continue;
      }
      if (!target->is_object()) *target = Json::object();
      for (auto it = patch->begin(); it != patch->end(); ++it) {
        if (it->is_null()) {
          target->erase(it.key());
        } else {
          stack.emplace_back(&(*target)[it.key()], &*it);
        }
      }
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return InternalError(std::string("json merge patch: ") + e.what());
  }
}

Json Diff(const Json& from, const Json& to) {
  // Depth-first over an explicit stack (no recursion limit). A task either
  // compares two values at `path` or, when `from` is null, emits `op`. Children
  // are pushed in reverse so that operations come out in document order, and
  // an array's length changes come after the in-place edits of its elements.
  struct Task {
    const Json* from = nullptr;
    const Json* to = nullptr;
    std::string path;
    Json op;
  };
  auto emit = [](std::string_view op, const std::string& path, const Json* value) {
    Task t;
    t.op = Json::object({{"op", std::string(op)}, {"path", path}});
    if (value != nullptr) t.op["value"] = *value;
    return t;
  };

  Json patch = Json::array();
  std::vector<Task> stack;
  stack.push_back(Task{&from, &to, "", Json()});
  std::vector<Task> children;
  while (!stack.empty()) {
    Task task = std::move(stack.back());
    stack.pop_back();
    if (task.from == nullptr) {
      patch.push_back(std::move(task.op));
      continue;
    }
    const Json& a = *task.from;
    const Json& b = *task.to;
    children.clear();
    if (a.is_object() && b.is_object()) {
      auto ai = a.begin();
      auto bi = b.begin();
      while (ai != a.end() || bi != b.end()) {
        const bool take_a = bi == b.end() || (ai != a.end() && ai.key() < bi.key());
        const bool take_b = ai == a.end() || (bi != b.end() && bi.key() < ai.key());
        if (take_a) {
          children.push_back(
              emit("remove", task.path + "/" + EscapePointerToken(ai.key()), nullptr));
          ++ai;
        } else if (take_b) {
          children.push_back(emit("add", task.path + "/" + EscapePointerToken(bi.key()), &*bi));
          ++bi;
        } else {
          children.push_back(
              Task{&*ai, &*bi, task.path + "/" + EscapePointerToken(ai.key()), Json()});
          ++ai;
          ++bi;
        }
      }
    } else if (a.is_array() && b.is_array()) {
      const std::size_t n = a.size();
      const std::size_t m = b.size();
      std::size_t prefix = 0;
      while (prefix < n && prefix < m && JsonEqual(a[prefix], b[prefix])) ++prefix;
      std::size_t suffix = 0;
      while (suffix < n - prefix && suffix < m - prefix &&
             JsonEqual(a[n - 1 - suffix], b[m - 1 - suffix])) {
        ++suffix;
      }
      const std::size_t a_mid = n - prefix - suffix;
      const std::size_t b_mid = m - prefix - suffix;
      const std::size_t common = std::min(a_mid, b_mid);
      for (std::size_t i = prefix; i < prefix + common; ++i) {
        children.push_back(Task{&a[i], &b[i], task.path + "/" + std::to_string(i), Json()});
      }
      // Extra elements of `from` go from the highest index down; missing ones
      // of `to` are inserted in order before the common suffix.
      for (std::size_t i = prefix + a_mid; i > prefix + common; --i) {
        children.push_back(emit("remove", task.path + "/" + std::to_string(i - 1), nullptr));
      }
      for (std::size_t i = prefix + common; i < prefix + b_mid; ++i) {
        children.push_back(emit("add", task.path + "/" + std::to_string(i), &b[i]));
      }
    } else if (!SameKind(a, b) || !JsonEqual(a, b)) {
      children.push_back(emit("replace", task.path, &b));
    }
    for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back(std::move(*it));
  }
  return patch;
}

}  // namespace bver::patch
