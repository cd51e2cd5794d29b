// tokenizer.json pre-tokenizers.
#include <utf8proc.h>

#include "io/tokenizer/components.h"
#include "io/tokenizer/regex.h"
#include "io/tokenizer/unicode.h"
#include "slim/core/error.h"

namespace slim::io::tok {

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const std::string& name, const std::string& where) {
  if (name == "Removed") return Behavior::Removed;
  if (name == "Isolated") return Behavior::Isolated;
  if (name == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::MergedWithNext;
  if (name == "Contiguous") return Behavior::Contiguous;
  SLIM_FAIL(where, ": unknown split behavior ", quote(name),
            " (expected Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
}

struct Segment {
  size_t begin;
  size_t end;
  bool delimiter;
};

// Cuts `text` at the delimiter ranges and applies the behavior, as tokenizers' split() does.
void split_piece(const std::string& text, const std::vector<std::pair<size_t, size_t>>& matches,
                 bool invert, Behavior behavior, std::vector<std::string>& out) {
  std::vector<Segment> segments;
  size_t position = 0;
  for (const auto& [begin, end] : matches) {
    if (begin > position) segments.push_back({position, begin, invert});
    segments.push_back({begin, end, !invert});
    position = end;
  }
  if (position < text.size()) segments.push_back({position, text.size(), invert});

  std::vector<std::string> pieces;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& segment = segments[i];
    const bool previous_delimiter = i > 0 && segments[i - 1].delimiter;
    std::string piece = text.substr(segment.begin, segment.end - segment.begin);
    switch (behavior) {
      case Behavior::Removed:
        if (!segment.delimiter) pieces.push_back(std::move(piece));
        break;
      case Behavior::Isolated:
        pieces.push_back(std::move(piece));
        break;
      case Behavior::MergedWithPrevious:
        // A delimiter joins the segment before it, unless that one is a delimiter too.
        if (segment.delimiter && !pieces.empty() && !previous_delimiter) {
          pieces.back() += piece;
        } else {
          pieces.push_back(std::move(piece));
        }
        break;
      case Behavior::MergedWithNext:
        // A delimiter joins the segment after it, unless that one is a delimiter too.
        if (previous_delimiter && !segment.delimiter && !pieces.empty()) {
          pieces.back() += piece;
        } else {
          pieces.push_back(std::move(piece));
        }
        break;
      case Behavior::Contiguous:
        if (segment.delimiter && previous_delimiter && !pieces.empty()) {
          pieces.back() += piece;
        } else {
          pieces.push_back(std::move(piece));
        }
        break;
    }
  }
  for (auto& piece : pieces) {
    if (!piece.empty()) out.push_back(std::move(piece));
  }
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool at_text_start) const override {
    for (const auto& step : steps_)
      step->pre_tokenize(pieces, at_text_start);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

// Splits every piece where a pattern matches (a literal string or a regex).
class PatternSplit : public PreTokenizer {
 public:
  PatternSplit(std::string literal, std::unique_ptr<Regex> regex, Behavior behavior, bool invert)
      : literal_(std::move(literal)),
        regex_(std::move(regex)),
        behavior_(behavior),
        invert_(invert) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::string> out;
    out.reserve(pieces.size() * 2);
    for (const auto& piece : pieces)
      split_piece(piece, find(piece), invert_, behavior_, out);
    pieces = std::move(out);
  }

 private:
  std::vector<std::pair<size_t, size_t>> find(const std::string& text) const {
    if (regex_) return regex_->find_all(text);
    std::vector<std::pair<size_t, size_t>> matches;
    if (literal_.empty()) return matches;
    for (size_t at = text.find(literal_); at != std::string::npos;
         at = text.find(literal_, at + literal_.size())) {
      matches.emplace_back(at, at + literal_.size());
    }
    return matches;
  }

  std::string literal_;
  std::unique_ptr<Regex> regex_;
  Behavior behavior_;
  bool invert_;
};

// The GPT-2 pattern ByteLevel uses when use_regex is true.
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        regex_(use_regex ? std::make_unique<Regex>(kGpt2Pattern) : nullptr) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::string> split;
    for (auto& piece : pieces) {
      if (add_prefix_space_ && !piece.empty() && piece[0] != ' ') piece.insert(0, 1, ' ');
      if (regex_) {
        split_piece(piece, regex_->find_all(piece), false, Behavior::Isolated, split);
      } else {
        split.push_back(std::move(piece));
      }
    }
    for (auto& piece : split) {
      std::string mapped;
      mapped.reserve(piece.size() * 2);
      for (unsigned char byte : piece)
        mapped += byte_to_unicode(byte);
      piece = std::move(mapped);
    }
    pieces = std::move(split);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

enum class PrependScheme { Always, First, Never };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool at_text_start) const override {
    std::vector<std::string> out;
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::string text;
      for (char c : pieces[i]) {
        if (c == ' ') {
          text += replacement_;
        } else {
          text += c;
        }
      }
      const bool prepend = scheme_ == PrependScheme::Always ||
                           (scheme_ == PrependScheme::First && at_text_start && i == 0);
      if (prepend && text.compare(0, replacement_.size(), replacement_) != 0) {
        text = replacement_ + text;
      }
      if (!split_) {
        out.push_back(std::move(text));
        continue;
      }
      std::vector<std::pair<size_t, size_t>> matches;
      for (size_t at = text.find(replacement_); at != std::string::npos;
           at = text.find(replacement_, at + replacement_.size())) {
        matches.emplace_back(at, at + replacement_.size());
      }
      split_piece(text, matches, false, Behavior::MergedWithNext, out);
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

bool is_punctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  }
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO;
}

// Splits on a per-character predicate: whitespace removed, punctuation isolated (BERT).
class BertPreTokenizer : public PreTokenizer {
 public:
  explicit BertPreTokenizer(bool split_punctuation) : split_punctuation_(split_punctuation) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::string> out;
    for (const auto& piece : pieces) {
      std::string current;
      for (auto character : utf8_characters(piece)) {
        const char32_t c = decode_utf8(character);
        if (is_whitespace(c)) {
          if (!current.empty()) out.push_back(std::move(current));
          current.clear();
        } else if (split_punctuation_ && is_punctuation(c)) {
          if (!current.empty()) out.push_back(std::move(current));
          current.clear();
          out.emplace_back(character);
        } else {
          current.append(character);
        }
      }
      if (!current.empty()) out.push_back(std::move(current));
    }
    pieces = std::move(out);
  }

 private:
  bool split_punctuation_;
};

std::unique_ptr<Regex> pattern_regex(const json& pattern, std::string& literal,
                                     const std::string& where) {
  SLIM_CHECK(pattern.is_object(), where, ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
  if (pattern.contains("Regex"))
    return std::make_unique<Regex>(pattern.at("Regex").get<std::string>());
  SLIM_CHECK(pattern.contains("String"), where,
             ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
  literal = pattern.at("String").get<std::string>();
  return nullptr;
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& object, const std::string& where) {
  if (object.is_null()) return nullptr;
  const std::string type = require_key(object, "type", where).get<std::string>();
  const std::string here = where + " (" + type + ")";
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& step : require_key(object, "pretokenizers", here)) {
      steps.push_back(make_pre_tokenizer(step, where));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  if (type == "Split") {
    std::string literal;
    auto regex = pattern_regex(require_key(object, "pattern", here), literal, here);
    return std::make_unique<PatternSplit>(
        literal, std::move(regex),
        parse_behavior(require_key(object, "behavior", here).get<std::string>(), here),
        bool_or(object, "invert", false, here));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(bool_or(object, "add_prefix_space", true, here),
                                                   bool_or(object, "use_regex", true, here));
  }
  if (type == "Metaspace") {
    const std::string replacement = string_or(object, "replacement", "\xE2\x96\x81", here);
    PrependScheme scheme = PrependScheme::Always;
    if (object.contains("prepend_scheme")) {
      const std::string name = string_or(object, "prepend_scheme", "always", here);
      if (name == "first") {
        scheme = PrependScheme::First;
      } else if (name == "never") {
        scheme = PrependScheme::Never;
      } else {
        SLIM_CHECK(name == "always", here, ": unknown prepend_scheme ", quote(name),
                   " (expected always, first, never)");
      }
    } else if (!bool_or(object, "add_prefix_space", true, here)) {
      scheme = PrependScheme::Never;
    }
    return std::make_unique<MetaspacePreTokenizer>(replacement, scheme,
                                                   bool_or(object, "split", true, here));
  }
  if (type == "Digits") {
    const bool individual = bool_or(object, "individual_digits", false, here);
    return std::make_unique<PatternSplit>(
        "", std::make_unique<Regex>(individual ? R"(\p{N})" : R"(\p{N}+)"), Behavior::Isolated,
        false);
  }
  if (type == "Whitespace") {
    return std::make_unique<PatternSplit>("", std::make_unique<Regex>(R"(\w+|[^\w\s]+)"),
                                          Behavior::Removed, true);
  }
  if (type == "WhitespaceSplit") return std::make_unique<BertPreTokenizer>(false);
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>(true);
  if (type == "Punctuation") {
    return std::make_unique<PatternSplit>(
        "", std::make_unique<Regex>(R"([\p{P}!-/:-@\[-`{-~])"),
        parse_behavior(string_or(object, "behavior", "Isolated", here), here), false);
  }
  SLIM_FAIL(where, ": pre-tokenizer type ", quote(type),
            " is not supported (supported: Sequence, Split, ByteLevel, Metaspace, Digits, "
            "Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation)");
}

}  // namespace slim::io::tok
