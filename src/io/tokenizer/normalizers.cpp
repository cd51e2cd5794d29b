// tokenizer.json normalizers.
#include <utf8proc.h>

#include "io/tokenizer/components.h"
#include "io/tokenizer/regex.h"
#include "io/tokenizer/unicode.h"
#include "slim/core/error.h"

namespace slim::io::tok {

namespace {

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  std::string normalize(std::string text) const override {
    for (const auto& step : steps_)
      text = step->normalize(std::move(text));
    return text;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(std::string form) : form_(std::move(form)) {}
  std::string normalize(std::string text) const override { return normalize_unicode(text, form_); }

 private:
  std::string form_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string normalize(std::string text) const override { return lowercase(text); }
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string normalize(std::string text) const override {
    return text.empty() ? text : prefix_ + text;  // as tokenizers: nothing is added to ""
  }

 private:
  std::string prefix_;
};

// Replace {pattern: {String: s} | {Regex: r}, content}: every match is replaced by content.
class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& pattern, std::string content, const std::string& where)
      : content_(std::move(content)) {
    if (pattern.contains("String")) {
      literal_ = pattern.at("String").get<std::string>();
      SLIM_CHECK(!literal_.empty(), where, ": Replace pattern is an empty string");
    } else if (pattern.contains("Regex")) {
      regex_ = std::make_unique<Regex>(pattern.at("Regex").get<std::string>());
    } else {
      SLIM_FAIL(where, ": Replace pattern must be {\"String\": ...} or {\"Regex\": ...}");
    }
  }
  std::string normalize(std::string text) const override {
    std::string out;
    size_t start = 0;
    if (regex_) {
      for (const auto& [begin, end] : regex_->find_all(text)) {
        out.append(text, start, begin - start);
        out += content_;
        start = end;
      }
    } else {
      for (size_t at = text.find(literal_); at != std::string::npos;
           at = text.find(literal_, start)) {
        out.append(text, start, at - start);
        out += content_;
        start = at + literal_.size();
      }
    }
    out.append(text, start, std::string::npos);
    return out;
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string text) const override {
    auto characters = utf8_characters(text);
    size_t first = 0;
    size_t last = characters.size();
    while (left_ && first < last && is_whitespace(decode_utf8(characters[first])))
      ++first;
    while (right_ && last > first && is_whitespace(decode_utf8(characters[last - 1])))
      --last;
    if (first == last) return std::string();
    const size_t begin = characters[first].data() - text.data();
    const size_t end = characters[last - 1].data() + characters[last - 1].size() - text.data();
    return text.substr(begin, end - begin);
  }

 private:
  bool left_;
  bool right_;
};

bool is_combining_mark(char32_t code_point) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(code_point)) == UTF8PROC_CATEGORY_MN;
}

class StripAccentsNormalizer : public Normalizer {
 public:
  std::string normalize(std::string text) const override {
    std::string out;
    for (auto character : utf8_characters(text)) {
      if (!is_combining_mark(decode_utf8(character))) out.append(character);
    }
    return out;
  }
};

bool is_chinese_character(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BERT's normalizer: control characters removed, whitespace to spaces, CJK characters padded
// with spaces, optional accent stripping (after NFD) and lowercasing.
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese, std::optional<bool> strip_accents, bool lowercase)
      : clean_text_(clean_text),
        chinese_(chinese),
        strip_accents_(strip_accents.value_or(lowercase)),
        lowercase_(lowercase) {}
  std::string normalize(std::string text) const override {
    std::string out;
    for (auto character : utf8_characters(text)) {
      const char32_t c = decode_utf8(character);
      if (clean_text_) {
        if (c == 0 || c == 0xFFFD) continue;
        const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
        const bool control = c != '\t' && c != '\n' && c != '\r' &&
                             (category == UTF8PROC_CATEGORY_CC || category == UTF8PROC_CATEGORY_CF);
        if (control) continue;
        if (is_whitespace(c)) {
          out += ' ';
          continue;
        }
      }
      if (chinese_ && is_chinese_character(c)) {
        out += ' ';
        out.append(character);
        out += ' ';
        continue;
      }
      out.append(character);
    }
    if (strip_accents_) out = StripAccentsNormalizer().normalize(normalize_unicode(out, "NFD"));
    if (lowercase_) out = lowercase(out);
    return out;
  }

 private:
  bool clean_text_;
  bool chinese_;
  bool strip_accents_;
  bool lowercase_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& object, const std::string& where) {
  if (object.is_null()) return nullptr;
  const std::string type = require_key(object, "type", where).get<std::string>();
  const std::string here = where + " (" + type + ")";
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& step : require_key(object, "normalizers", here)) {
      steps.push_back(make_normalizer(step, where));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    return std::make_unique<UnicodeNormalizer>(type);
  }
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Prepend") {
    return std::make_unique<PrependNormalizer>(
        require_key(object, "prepend", here).get<std::string>());
  }
  if (type == "Replace") {
    return std::make_unique<ReplaceNormalizer>(
        require_key(object, "pattern", here),
        require_key(object, "content", here).get<std::string>(), here);
  }
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(bool_or(object, "strip_left", true, here),
                                             bool_or(object, "strip_right", true, here));
  }
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "BertNormalizer") {
    std::optional<bool> strip_accents;
    if (object.contains("strip_accents") && !object.at("strip_accents").is_null()) {
      strip_accents = bool_or(object, "strip_accents", false, here);
    }
    return std::make_unique<BertNormalizer>(bool_or(object, "clean_text", true, here),
                                            bool_or(object, "handle_chinese_chars", true, here),
                                            strip_accents,
                                            bool_or(object, "lowercase", true, here));
  }
  SLIM_FAIL(where, ": normalizer type ", quote(type),
            " is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Prepend, "
            "Replace, Strip, StripAccents, BertNormalizer)");
}

}  // namespace slim::io::tok
