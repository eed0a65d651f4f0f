#include "src/schema/evaluator.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "bver/pointer.h"

namespace bver::schema::internal {
namespace {

// One step of the instance location, kept on the stack: the attribute path
// text is only built when a violation is reported.
struct InstanceLoc {
  const InstanceLoc* parent;
  const std::string* key;  // null for an array index
  std::size_t index;
};

AttributePath PathOf(const InstanceLoc* loc) {
  std::vector<PathSegment> segments;
  for (; loc != nullptr; loc = loc->parent) {
    segments.push_back(loc->key != nullptr ? PathSegment::Key(*loc->key)
                                           : PathSegment::Index(loc->index));
  }
  std::reverse(segments.begin(), segments.end());
  return AttributePath(std::move(segments));
}

// Which properties / items of the current instance the keywords evaluated
// so far have looked at ("annotations" in the specification's terms), for
// unevaluatedProperties and unevaluatedItems. Members are identified by
// their position in the object, which is stable (nlohmann objects are maps).
class Annotations {
 public:
  void MarkProperty(std::size_t i, std::size_t n) { props_.Set(i, n); }
  void MarkAllProperties() { all_props_ = true; }
  bool PropertyEvaluated(std::size_t i) const { return all_props_ || props_.Get(i); }
  void MarkPrefix(std::size_t count) { prefix_ = std::max(prefix_, count); }
  void MarkItem(std::size_t i, std::size_t n) { items_.Set(i, n); }
  void MarkAllItems() { all_items_ = true; }
  bool ItemEvaluated(std::size_t i) const { return all_items_ || i < prefix_ || items_.Get(i); }
  void Merge(const Annotations& o) {
    all_props_ = all_props_ || o.all_props_;
    all_items_ = all_items_ || o.all_items_;
    prefix_ = std::max(prefix_, o.prefix_);
    props_.Or(o.props_);
    items_.Or(o.items_);
  }

 private:
  // A bit set that needs no allocation for up to 64 members.
  class Bits {
   public:
    void Set(std::size_t i, std::size_t n) {
      if (n <= 64 && big_.empty()) {
        small_ |= std::uint64_t{1} << i;
        return;
      }
      Grow(n);
      big_[i] = true;
    }
    bool Get(std::size_t i) const {
      if (big_.empty()) return i < 64 && (small_ >> i & 1) != 0;
      return i < big_.size() && big_[i];
    }
    void Or(const Bits& o) {
      if (big_.empty() && o.big_.empty()) {
        small_ |= o.small_;
        return;
      }
      Grow(o.big_.size());
      for (std::size_t i = 0; i < o.big_.size(); ++i) {
        if (o.big_[i]) big_[i] = true;
      }
      for (std::size_t i = 0; i < 64; ++i) {
        if ((o.small_ >> i & 1) != 0) big_[i] = true;
      }
    }

   private:
    void Grow(std::size_t n) {
      if (big_.empty()) {
        big_.assign(std::max<std::size_t>(n, 64), false);
        for (std::size_t i = 0; i < 64; ++i) big_[i] = (small_ >> i & 1) != 0;
        small_ = 0;
      } else if (big_.size() < n) {
        big_.resize(n, false);
      }
    }
    std::uint64_t small_ = 0;
    std::vector<bool> big_;
  };

  Bits props_;
  Bits items_;
  std::size_t prefix_ = 0;
  bool all_props_ = false;
  bool all_items_ = false;
};

bool TypeMatches(std::uint8_t types, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return (types & kTypeNull) != 0;
    case Json::value_t::boolean:
      return (types & kTypeBoolean) != 0;
    case Json::value_t::object:
      return (types & kTypeObject) != 0;
    case Json::value_t::array:
      return (types & kTypeArray) != 0;
    case Json::value_t::string:
      return (types & kTypeString) != 0;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return (types & kTypeNumber) != 0 || ((types & kTypeInteger) != 0 && IsIntegerValue(v));
    default:
      return false;
  }
}

std::string TypeList(std::uint8_t types) {
  static constexpr std::pair<std::uint8_t, const char*> kNames[] = {
      {kTypeObject, "object"}, {kTypeArray, "array"},     {kTypeString, "string"},
      {kTypeNumber, "number"}, {kTypeInteger, "integer"}, {kTypeBoolean, "boolean"},
      {kTypeNull, "null"}};
  std::vector<const char*> names;
  for (const auto& [bit, name] : kNames) {
    if ((types & bit) != 0) names.push_back(name);
  }
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

std::string Plural(std::uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

class Evaluator {
 public:
  Evaluator(bool track_scope, std::vector<Violation>* errors)
      : track_scope_(track_scope), errors_(errors) {}

  bool Eval(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* ann);

 private:
  // Points errors_ elsewhere (or nowhere) for a nested evaluation whose
  // failures are not failures of the whole (anyOf branches, not, if, ...).
  class ErrorSink {
   public:
    ErrorSink(Evaluator* e, std::vector<Violation>* target) : e_(e), saved_(e->errors_) {
      e->errors_ = target;
    }
    ~ErrorSink() { e_->errors_ = saved_; }
    ErrorSink(const ErrorSink&) = delete;
    ErrorSink& operator=(const ErrorSink&) = delete;

   private:
    Evaluator* e_;
    std::vector<Violation>* saved_;
  };

  bool collecting() const { return errors_ != nullptr; }

  bool EvalKeywords(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a);
  bool EvalInPlace(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a);
  bool EvalNumber(const Node* n, const Json& v, const InstanceLoc* loc);
  bool EvalString(const Node* n, const Json& v, const InstanceLoc* loc);
  bool EvalArray(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a);
  bool EvalObject(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a);
  bool EvalUnevaluated(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a);
  bool CheckUnique(const Json& v, const InstanceLoc* loc);

  // Follows a $ref or $dynamicRef. Re-entering a target for the same
  // instance value while it is still being evaluated can only loop forever
  // (the dynamic scope only grows, so it resolves the same way again): that
  // is reported as a failure right away instead of running into the depth
  // limit, which with branching references could take exponential time.
  bool FollowRef(const Node* target, const Json& v, const InstanceLoc* loc, Annotations* a,
                 std::string_view rule);

  // Applies `child` to `v`; a false schema is reported as a failure of
  // `rule` with a message that fits it.
  bool Apply(const Node* child, const Json& v, const InstanceLoc* loc, Annotations* ann,
             std::string_view rule);

  [[gnu::noinline]] void Report(const InstanceLoc* loc, std::string_view rule, std::string message);
  [[gnu::noinline]] std::string FalseMessage(std::string_view rule, const InstanceLoc* loc) const;
  // "head: [0] why; [1] why": re-runs each branch collecting its errors.
  [[gnu::noinline]] std::string Explain(std::string head, const std::vector<const Node*>& branches,
                                        const Json& v, const InstanceLoc* loc);
  [[gnu::noinline]] std::string FirstError(const Node* n, const Json& v, const InstanceLoc* loc);
  static std::string Summarize(const std::vector<Violation>& errors, const std::string& here);

  const bool track_scope_;
  std::vector<Violation>* errors_;
  int depth_ = 0;
  bool depth_reported_ = false;
  // Nesting of Explain calls: branch explanations stop after a few levels so
  // that re-running branches for messages stays cheap.
  int explain_depth_ = 0;
  std::vector<const Resource*> scope_;
  // The references being followed, innermost last; the first few live
  // inline so that validation usually allocates nothing for them.
  static constexpr std::size_t kInlineRefs = 16;
  std::array<std::pair<const Node*, const Json*>, kInlineRefs> inline_refs_;
  std::size_t active_ref_count_ = 0;
  std::vector<std::pair<const Node*, const Json*>> more_refs_;
};

bool Evaluator::FollowRef(const Node* target, const Json& v, const InstanceLoc* loc, Annotations* a,
                          std::string_view rule) {
  for (std::size_t i = 0; i < active_ref_count_; ++i) {
    const auto& [node, instance] = i < kInlineRefs ? inline_refs_[i] : more_refs_[i - kInlineRefs];
    if (instance == &v && node == target) {
      if (collecting()) {
        Report(loc, rule,
               "infinite " + Quote(rule) +
                   " loop: the schema refers back to itself for the same value");
      }
      return false;
    }
  }
  if (active_ref_count_ < kInlineRefs) {
    inline_refs_[active_ref_count_] = {target, &v};
  } else {
    more_refs_.emplace_back(target, &v);
  }
  ++active_ref_count_;
  bool valid = Apply(target, v, loc, a, rule);
  --active_ref_count_;
  if (active_ref_count_ >= kInlineRefs) more_refs_.pop_back();
  return valid;
}

void Evaluator::Report(const InstanceLoc* loc, std::string_view rule, std::string message) {
  if (errors_ == nullptr) return;
  errors_->push_back(Violation{PathOf(loc).ToString(), std::string(rule), std::move(message)});
}

std::string Evaluator::FalseMessage(std::string_view rule, const InstanceLoc* loc) const {
  std::string name = loc != nullptr && loc->key != nullptr ? Quote(*loc->key) : "";
  std::string index = loc != nullptr && loc->key == nullptr ? std::to_string(loc->index) : "";
  if (rule == "properties" || rule == "patternProperties") {
    return "property " + name + " is not allowed";
  }
  if (rule == "additionalProperties") return "additional property " + name + " is not allowed";
  if (rule == "unevaluatedProperties") return "unevaluated property " + name + " is not allowed";
  if (rule == "prefixItems") return "item " + index + " is not allowed";
  if (rule == "items") return "additional item " + index + " is not allowed";
  if (rule == "unevaluatedItems") return "unevaluated item " + index + " is not allowed";
  return "no value is allowed by " + Quote(rule);
}

std::string Evaluator::Summarize(const std::vector<Violation>& errors, const std::string& here) {
  if (errors.empty()) return "invalid";
  const Violation& first = errors.front();
  std::string out;
  if (first.path != here)
    out += (first.path.empty() ? std::string("at the root") : "at " + first.path) + ": ";
  out += first.message;
  if (errors.size() > 1) out += " (and " + std::to_string(errors.size() - 1) + " more)";
  return out;
}

std::string Evaluator::FirstError(const Node* n, const Json& v, const InstanceLoc* loc) {
  std::vector<Violation> found;
  {
    ErrorSink sink(this, &found);
    Eval(n, v, loc, nullptr);
  }
  return Summarize(found, PathOf(loc).ToString());
}

std::string Evaluator::Explain(std::string head, const std::vector<const Node*>& branches,
                               const Json& v, const InstanceLoc* loc) {
  constexpr std::size_t kMaxExplained = 4;
  constexpr int kMaxExplainDepth = 3;
  if (explain_depth_ >= kMaxExplainDepth) return head;
  ++explain_depth_;
  head += ": ";
  for (std::size_t i = 0; i < branches.size() && i < kMaxExplained; ++i) {
    if (i > 0) head += "; ";
    head += "[" + std::to_string(i) + "] " + FirstError(branches[i], v, loc);
  }
  if (branches.size() > kMaxExplained) {
    head += "; and " + Plural(branches.size() - kMaxExplained, "more schema");
  }
  --explain_depth_;
  return head;
}

bool Evaluator::Apply(const Node* child, const Json& v, const InstanceLoc* loc, Annotations* ann,
                      std::string_view rule) {
  if (child->kind == Node::Kind::kFalse) {
    if (collecting()) Report(loc, rule, FalseMessage(rule, loc));
    return false;
  }
  return Eval(child, v, loc, ann);
}

bool Evaluator::Eval(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* ann) {
  if (n->kind == Node::Kind::kTrue) return true;
  if (n->kind == Node::Kind::kFalse) {
    if (collecting()) Report(loc, "false", "no value is allowed here (the schema is false)");
    return false;
  }
  if (depth_ >= kMaxEvaluationDepth) {
    if (collecting() && !depth_reported_) {
      depth_reported_ = true;
      Report(loc, "depth",
             "evaluation nested deeper than " + std::to_string(kMaxEvaluationDepth) +
                 " schemas (a \"$ref\" cycle, or an instance nested too deeply)");
    }
    return false;
  }
  ++depth_;
  bool pushed = false;
  if (track_scope_ && (scope_.empty() || scope_.back() != n->resource)) {
    scope_.push_back(n->resource);
    pushed = true;
  }
  bool valid;
  if (n->has_unevaluated) {
    // unevaluated* see only the annotations of this schema's own keywords.
    Annotations local;
    valid = EvalKeywords(n, v, loc, &local);
    if (valid && ann != nullptr) ann->Merge(local);
  } else {
    valid = EvalKeywords(n, v, loc, ann);
  }
  if (pushed) scope_.pop_back();
  --depth_;
  return valid;
}

bool Evaluator::EvalKeywords(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a) {
  bool valid = true;
  if (n->types != 0 && !TypeMatches(n->types, v)) {
    if (collecting()) {
      Report(loc, "type",
             "expected " + TypeList(n->types) + ", got " + std::string(JsonTypeName(v)));
    }
    valid = false;
    if (!collecting()) return false;
  }
  if (n->const_value != nullptr && !JsonEqual(v, *n->const_value)) {
    if (collecting()) Report(loc, "const", "must be equal to " + Abbreviate(*n->const_value));
    valid = false;
    if (!collecting()) return false;
  }
  if (n->enum_values != nullptr) {
    bool found = false;
    for (const Json& e : *n->enum_values) {
      if (JsonEqual(v, e)) {
        found = true;
        break;
      }
    }
    if (!found) {
      if (collecting()) Report(loc, "enum", "must be one of " + Abbreviate(*n->enum_values));
      valid = false;
      if (!collecting()) return false;
    }
  }
  bool ok = true;
  switch (v.type()) {
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      ok = EvalNumber(n, v, loc);
      break;
    case Json::value_t::string:
      ok = EvalString(n, v, loc);
      break;
    default:
      break;
  }
  if (!ok) {
    valid = false;
    if (!collecting()) return false;
  }
  if (!EvalInPlace(n, v, loc, a)) {
    valid = false;
    if (!collecting()) return false;
  }
  if (v.is_object() && !EvalObject(n, v, loc, a)) {
    valid = false;
    if (!collecting()) return false;
  }
  if (v.is_array() && !EvalArray(n, v, loc, a)) {
    valid = false;
    if (!collecting()) return false;
  }
  if (n->has_unevaluated && !EvalUnevaluated(n, v, loc, a)) valid = false;
  return valid;
}

bool Evaluator::EvalNumber(const Node* n, const Json& v, const InstanceLoc* loc) {
  bool valid = true;
  auto check = [&](bool ok, std::string_view rule, const char* op, const Number& limit) {
    if (ok) return true;
    if (collecting()) Report(loc, rule, std::string("must be ") + op + " " + limit.ToString());
    valid = false;
    return collecting();
  };
  if (n->multiple_of &&
      !check(IsMultipleOf(v, *n->multiple_of), "multipleOf", "a multiple of", *n->multiple_of)) {
    return false;
  }
  if (n->maximum) {
    int c = CompareNumber(v, *n->maximum);
    if (!check(c == -1 || c == 0, "maximum", "<=", *n->maximum)) return false;
  }
  if (n->exclusive_maximum) {
    int c = CompareNumber(v, *n->exclusive_maximum);
    if (!check(c == -1, "exclusiveMaximum", "<", *n->exclusive_maximum)) return false;
  }
  if (n->minimum) {
    int c = CompareNumber(v, *n->minimum);
    if (!check(c == 1 || c == 0, "minimum", ">=", *n->minimum)) return false;
  }
  if (n->exclusive_minimum) {
    int c = CompareNumber(v, *n->exclusive_minimum);
    if (!check(c == 1, "exclusiveMinimum", ">", *n->exclusive_minimum)) return false;
  }
  return valid;
}

bool Evaluator::EvalString(const Node* n, const Json& v, const InstanceLoc* loc) {
  bool valid = true;
  const std::string& s = v.get_ref<const std::string&>();
  if (n->max_length || n->min_length) {
    std::size_t length = CodePointCount(s);
    if (n->max_length && length > *n->max_length) {
      if (collecting()) {
        Report(loc, "maxLength",
               "must be at most " + Plural(*n->max_length, "character") + " long, got " +
                   std::to_string(length));
      }
      valid = false;
      if (!collecting()) return false;
    }
    if (n->min_length && length < *n->min_length) {
      if (collecting()) {
        Report(loc, "minLength",
               "must be at least " + Plural(*n->min_length, "character") + " long, got " +
                   std::to_string(length));
      }
      valid = false;
      if (!collecting()) return false;
    }
  }
  if (n->pattern != nullptr && !n->pattern->Matches(s)) {
    if (collecting())
      Report(loc, "pattern", "must match the pattern " + Quote(n->pattern->source()));
    valid = false;
  }
  return valid;
}

bool Evaluator::EvalInPlace(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a) {
  bool valid = true;
  auto fail = [&]() {
    valid = false;
    return !collecting();  // true: stop now
  };
  if (n->ref != nullptr && !FollowRef(n->ref, v, loc, a, "$ref") && fail()) return false;
  if (n->dynamic_ref != nullptr) {
    const Node* target = n->dynamic_ref;
    if (!n->dynamic_anchor.empty()) {
      // The outermost resource in the dynamic scope that declares the anchor.
      for (const Resource* r : scope_) {
        auto it = r->dynamic_anchors.find(n->dynamic_anchor);
        if (it != r->dynamic_anchors.end()) {
          target = it->second;
          break;
        }
      }
    }
    if (!FollowRef(target, v, loc, a, "$dynamicRef") && fail()) return false;
  }
  for (const Node* child : n->all_of) {
    if (!Apply(child, v, loc, a, "allOf") && fail()) return false;
  }
  if (!n->any_of.empty()) {
    bool matched = false;
    {
      ErrorSink mute(this, nullptr);
      for (const Node* child : n->any_of) {
        if (a == nullptr) {
          if (Eval(child, v, loc, nullptr)) {
            matched = true;
            break;
          }
          continue;
        }
        // Every matching branch contributes annotations: evaluate them all.
        Annotations branch;
        if (Eval(child, v, loc, &branch)) {
          matched = true;
          a->Merge(branch);
        }
      }
    }
    if (!matched) {
      if (collecting()) {
        Report(loc, "anyOf",
               Explain("must match at least one schema in \"anyOf\"", n->any_of, v, loc));
      }
      if (fail()) return false;
    }
  }
  if (!n->one_of.empty()) {
    std::vector<std::size_t> matches;
    Annotations chosen;
    {
      ErrorSink mute(this, nullptr);
      for (std::size_t i = 0; i < n->one_of.size() && matches.size() < 2; ++i) {
        Annotations branch;
        if (Eval(n->one_of[i], v, loc, a != nullptr ? &branch : nullptr)) {
          matches.push_back(i);
          if (a != nullptr) chosen = std::move(branch);
        }
      }
    }
    if (matches.size() == 1) {
      if (a != nullptr) a->Merge(chosen);
    } else {
      if (collecting()) {
        if (matches.empty()) {
          Report(loc, "oneOf",
                 Explain("must match exactly one schema in \"oneOf\"", n->one_of, v, loc));
        } else {
          Report(loc, "oneOf",
                 "must match exactly one schema in \"oneOf\", but matches [" +
                     std::to_string(matches[0]) + "] and [" + std::to_string(matches[1]) + "]");
        }
      }
      if (fail()) return false;
    }
  }
  if (n->not_schema != nullptr) {
    bool matched;
    {
      ErrorSink mute(this, nullptr);
      matched = Eval(n->not_schema, v, loc, nullptr);
    }
    if (matched) {
      if (collecting()) Report(loc, "not", "must not match the \"not\" schema");
      if (fail()) return false;
    }
  }
  if (n->if_schema != nullptr &&
      (n->then_schema != nullptr || n->else_schema != nullptr || a != nullptr)) {
    bool condition;
    Annotations branch;
    {
      ErrorSink mute(this, nullptr);
      condition = Eval(n->if_schema, v, loc, a != nullptr ? &branch : nullptr);
    }
    if (condition && a != nullptr) a->Merge(branch);
    const Node* next = condition ? n->then_schema : n->else_schema;
    if (next != nullptr && !Apply(next, v, loc, a, condition ? "then" : "else") && fail()) {
      return false;
    }
  }
  if (!n->dependent_schemas.empty() && v.is_object()) {
    for (const auto& [name, child] : n->dependent_schemas) {
      if (v.find(name) == v.end()) continue;
      if (child->kind == Node::Kind::kFalse) {
        if (collecting()) {
          Report(loc, "dependentSchemas",
                 "property " + Quote(name) + " is not allowed (by \"dependentSchemas\")");
        }
        if (fail()) return false;
        continue;
      }
      if (!Apply(child, v, loc, a, "dependentSchemas") && fail()) return false;
    }
  }
  return valid;
}

bool Evaluator::EvalObject(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a) {
  bool valid = true;
  auto fail = [&]() {
    valid = false;
    return !collecting();
  };
  const std::size_t size = v.size();
  if (n->max_properties && size > *n->max_properties) {
    if (collecting()) {
      Report(loc, "maxProperties",
             "must have at most " + Plural(*n->max_properties, "property") + ", got " +
                 std::to_string(size));
    }
    if (fail()) return false;
  }
  if (n->min_properties && size < *n->min_properties) {
    if (collecting()) {
      Report(loc, "minProperties",
             "must have at least " + Plural(*n->min_properties, "property") + ", got " +
                 std::to_string(size));
    }
    if (fail()) return false;
  }
  for (const std::string& name : n->required) {
    if (v.find(name) != v.end()) continue;
    if (collecting()) Report(loc, "required", "missing required property " + Quote(name));
    if (fail()) return false;
  }
  for (const auto& [name, needed] : n->dependent_required) {
    if (v.find(name) == v.end()) continue;
    for (const std::string& other : needed) {
      if (v.find(other) != v.end()) continue;
      if (collecting()) {
        Report(loc, "dependentRequired",
               "property " + Quote(other) + " is required when " + Quote(name) + " is present");
      }
      if (fail()) return false;
    }
  }
  const bool members = !n->properties.empty() || !n->pattern_properties.empty() ||
                       n->additional_properties != nullptr || n->property_names != nullptr;
  if (!members) return valid;
  // Instance members and "properties" are both sorted by key: walk them in
  // step instead of searching.
  auto p = n->properties.begin();
  std::size_t index = 0;
  for (auto it = v.begin(); it != v.end(); ++it, ++index) {
    const std::string& key = it.key();
    const InstanceLoc child_loc{loc, &key, 0};
    bool evaluated = false;
    if (p != n->properties.end()) {
      int order = 0;
      while (p != n->properties.end() && (order = p->first.compare(key)) < 0) ++p;
      if (p != n->properties.end() && order == 0) {
        evaluated = true;
        if (!Apply(p->second, it.value(), &child_loc, nullptr, "properties") && fail()) {
          return false;
        }
      }
    }
    for (const auto& [pattern, child] : n->pattern_properties) {
      if (!pattern->Matches(key)) continue;
      evaluated = true;
      if (!Apply(child, it.value(), &child_loc, nullptr, "patternProperties") && fail()) {
        return false;
      }
    }
    if (!evaluated && n->additional_properties != nullptr) {
      evaluated = true;
      if (!Apply(n->additional_properties, it.value(), &child_loc, nullptr,
                 "additionalProperties") &&
          fail()) {
        return false;
      }
    }
    if (evaluated && a != nullptr) a->MarkProperty(index, size);
    if (n->property_names != nullptr && n->property_names->kind != Node::Kind::kTrue) {
      const Json name(key);
      bool ok;
      {
        ErrorSink mute(this, nullptr);
        ok = Eval(n->property_names, name, &child_loc, nullptr);
      }
      if (!ok) {
        if (collecting()) {
          Report(&child_loc, "propertyNames",
                 "property name " + Quote(key) +
                     " is not allowed: " + FirstError(n->property_names, name, &child_loc));
        }
        if (fail()) return false;
      }
    }
  }
  return valid;
}

bool Evaluator::CheckUnique(const Json& v, const InstanceLoc* loc) {
  bool valid = true;
  auto duplicate = [&](std::size_t first, std::size_t second) {
    valid = false;
    if (collecting()) {
      Report(loc, "uniqueItems",
             "items " + std::to_string(first) + " and " + std::to_string(second) +
                 " are equal, but items must be unique");
    }
    return !collecting();
  };
  const std::size_t size = v.size();
  if (size <= 16) {
    for (std::size_t j = 1; j < size; ++j) {
      for (std::size_t i = 0; i < j; ++i) {
        if (JsonEqual(v[i], v[j])) {
          if (duplicate(i, j)) return false;
          break;
        }
      }
    }
    return valid;
  }
  std::vector<std::pair<std::uint64_t, std::size_t>> hashed;
  hashed.reserve(size);
  for (std::size_t i = 0; i < size; ++i) hashed.emplace_back(JsonHash(v[i]), i);
  std::sort(hashed.begin(), hashed.end());
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (std::size_t start = 0; start < size;) {
    std::size_t end = start + 1;
    while (end < size && hashed[end].first == hashed[start].first) ++end;
    for (std::size_t k = start + 1; k < end; ++k) {
      for (std::size_t m = start; m < k; ++m) {
        if (JsonEqual(v[hashed[m].second], v[hashed[k].second])) {
          pairs.emplace_back(hashed[m].second, hashed[k].second);
          if (!collecting()) return false;
          break;
        }
      }
    }
    start = end;
  }
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& x, const auto& y) { return x.second < y.second; });
  for (const auto& [i, j] : pairs) duplicate(i, j);
  return valid;
}

bool Evaluator::EvalArray(const Node* n, const Json& v, const InstanceLoc* loc, Annotations* a) {
  bool valid = true;
  auto fail = [&]() {
    valid = false;
    return !collecting();
  };
  const std::size_t size = v.size();
  if (n->max_items && size > *n->max_items) {
    if (collecting()) {
      Report(
          loc, "maxItems",
          "must have at most " + Plural(*n->max_items, "item") + ", got " + std::to_string(size));
    }
    if (fail()) return false;
  }
  if (n->min_items && size < *n->min_items) {
    if (collecting()) {
      Report(
          loc, "minItems",
          "must have at least " + Plural(*n->min_items, "item") + ", got " + std::to_string(size));
    }
    if (fail()) return false;
  }
  if (n->unique_items && size > 1 && !CheckUnique(v, loc) && fail()) return false;

  const std::size_t prefix = std::min(n->prefix_items.size(), size);
  for (std::size_t i = 0; i < prefix; ++i) {
    const InstanceLoc child_loc{loc, nullptr, i};
    if (!Apply(n->prefix_items[i], v[i], &child_loc, nullptr, "prefixItems") && fail()) {
      return false;
    }
  }
  if (a != nullptr) a->MarkPrefix(prefix);
  if (n->items != nullptr && size > prefix) {
    for (std::size_t i = prefix; i < size; ++i) {
      const InstanceLoc child_loc{loc, nullptr, i};
      if (!Apply(n->items, v[i], &child_loc, nullptr, "items") && fail()) return false;
    }
    if (a != nullptr) a->MarkAllItems();
  }
  if (n->contains != nullptr) {
    const std::uint64_t min = n->min_contains.value_or(1);
    const bool count_all = a != nullptr || n->max_contains.has_value();
    std::uint64_t count = 0;
    {
      ErrorSink mute(this, nullptr);
      for (std::size_t i = 0; i < size; ++i) {
        const InstanceLoc child_loc{loc, nullptr, i};
        if (!Eval(n->contains, v[i], &child_loc, nullptr)) continue;
        ++count;
        if (a != nullptr) a->MarkItem(i, size);
        if (!count_all && count >= min) break;
      }
    }
    if (count < min) {
      if (collecting()) {
        if (n->min_contains) {
          Report(loc, "minContains",
                 "must contain at least " + Plural(min, "item") +
                     " matching the \"contains\" schema, found " + std::to_string(count));
        } else {
          Report(loc, "contains", "must contain an item matching the \"contains\" schema");
        }
      }
      if (fail()) return false;
    }
    if (n->max_contains && count > *n->max_contains) {
      if (collecting()) {
        Report(loc, "maxContains",
               "must contain at most " + Plural(*n->max_contains, "item") +
                   " matching the \"contains\" schema, found " + std::to_string(count));
      }
      if (fail()) return false;
    }
  }
  return valid;
}

bool Evaluator::EvalUnevaluated(const Node* n, const Json& v, const InstanceLoc* loc,
                                Annotations* a) {
  if (a == nullptr) return true;  // cannot happen: Eval passes local annotations
  bool valid = true;
  if (n->unevaluated_properties != nullptr && v.is_object()) {
    std::size_t index = 0;
    for (auto it = v.begin(); it != v.end(); ++it, ++index) {
      if (a->PropertyEvaluated(index)) continue;
      const InstanceLoc child_loc{loc, &it.key(), 0};
      if (!Apply(n->unevaluated_properties, it.value(), &child_loc, nullptr,
                 "unevaluatedProperties")) {
        valid = false;
        if (!collecting()) return false;
      }
    }
    if (valid) a->MarkAllProperties();
  }
  if (n->unevaluated_items != nullptr && v.is_array()) {
    bool items_valid = true;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (a->ItemEvaluated(i)) continue;
      const InstanceLoc child_loc{loc, nullptr, i};
      if (!Apply(n->unevaluated_items, v[i], &child_loc, nullptr, "unevaluatedItems")) {
        items_valid = false;
        if (!collecting()) return false;
      }
    }
    if (items_valid) {
      a->MarkAllItems();
    } else {
      valid = false;
    }
  }
  return valid;
}

}  // namespace

bool Evaluate(const CompiledSchema& schema, const Json& instance, std::vector<Violation>* errors) {
  if (schema.root == nullptr) return false;
  Evaluator evaluator(schema.uses_dynamic_scope, errors);
  return evaluator.Eval(schema.root, instance, nullptr, nullptr);
}

}  // namespace bver::schema::internal
