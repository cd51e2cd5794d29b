// tokenizer.json decoders: each rewrites the list of token strings, as tokenizers' decode_chain.
#include "io/tokenizer/components.h"
#include "io/tokenizer/unicode.h"
#include "slim/core/error.h"
#include "slim/core/text.h"

namespace slim::io::tok {

namespace {

std::string replace_all(const std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  std::string out;
  size_t start = 0;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, start)) {
    out.append(text, start, at - start);
    out += to;
    start = at + from.size();
  }
  out.append(text, start, std::string::npos);
  return out;
}

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_)
      step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// Maps GPT-2's printable characters back to bytes; the joined bytes are read as UTF-8 with
// U+FFFD for invalid sequences.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& token : tokens) {
      for (auto character : utf8_characters(token)) {
        const int byte = unicode_to_byte(character);
        if (byte >= 0) {
          bytes += static_cast<char>(byte);
        } else {
          bytes.append(character);
        }
      }
    }
    tokens = {sanitize_utf8(bytes)};
  }
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = replace_all(tokens[i], replacement_, " ");
      if (i == 0 && strip_first_ && !tokens[i].empty() && tokens[i][0] == ' ')
        tokens[i].erase(0, 1);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens)
      token = replace_all(token, from_, to_);
  }

 private:
  std::string from_;
  std::string to_;
};

// "<0x41>"-style byte tokens: consecutive ones are joined; valid UTF-8 becomes text, otherwise
// each byte becomes U+FFFD.
class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      const std::string clean = sanitize_utf8(pending);
      if (clean == pending) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending_count; ++i)
          out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
      pending_count = 0;
    };
    for (auto& token : tokens) {
      int byte = -1;
      if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>') {
        byte = static_cast<int>(std::strtol(token.substr(3, 2).c_str(), nullptr, 16));
      }
      if (byte >= 0) {
        pending += static_cast<char>(byte);
        ++pending_count;
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const auto& token : tokens)
      joined += token;
    tokens = {joined};
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& token : tokens) {
      for (size_t i = 0; i < start_ && starts_with(token, content_); ++i) {
        token.erase(0, content_.size());
      }
      for (size_t i = 0; i < stop_ && ends_with(token, content_); ++i) {
        token.erase(token.size() - content_.size());
      }
    }
  }

 private:
  std::string content_;
  size_t start_;
  size_t stop_;
};

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) {
        if (tokens[i].compare(0, prefix_.size(), prefix_) == 0) {
          tokens[i].erase(0, prefix_.size());
        } else {
          tokens[i].insert(0, 1, ' ');
        }
      }
      if (cleanup_) tokens[i] = cleanup(tokens[i]);
    }
  }

 private:
  static std::string cleanup(std::string text) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."},     {" ?", "?"},     {" !", "!"},          {" ,", ","},
        {" ' ", "'"},    {" n't", "n't"}, {" 'm", "'m"},        {" 's", "'s"},
        {" 've", "'ve"}, {" 're", "'re"}, {" do not", " don't"}};
    for (const auto& [from, to] : kRules)
      text = replace_all(text, from, to);
    return text;
  }
  std::string prefix_;
  bool cleanup_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& object, const std::string& where) {
  if (object.is_null()) return nullptr;
  const std::string type = require_key(object, "type", where).get<std::string>();
  const std::string here = where + " (" + type + ")";
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& step : require_key(object, "decoders", here)) {
      steps.push_back(make_decoder(step, where));
    }
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") {
    bool strip_first = bool_or(object, "add_prefix_space", true, here);
    if (object.contains("prepend_scheme")) {
      strip_first = string_or(object, "prepend_scheme", "always", here) != "never";
    }
    return std::make_unique<MetaspaceDecoder>(
        string_or(object, "replacement", "\xE2\x96\x81", here), strip_first);
  }
  if (type == "Replace") {
    const json& pattern = require_key(object, "pattern", here);
    SLIM_CHECK(pattern.is_object() && pattern.contains("String"), here,
               ": only {\"String\": ...} patterns are supported in the Replace decoder");
    return std::make_unique<ReplaceDecoder>(
        pattern.at("String").get<std::string>(),
        require_key(object, "content", here).get<std::string>());
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    return std::make_unique<StripDecoder>(require_key(object, "content", here).get<std::string>(),
                                          require_key(object, "start", here).get<size_t>(),
                                          require_key(object, "stop", here).get<size_t>());
  }
  if (type == "WordPiece") {
    return std::make_unique<WordPieceDecoder>(string_or(object, "prefix", "##", here),
                                              bool_or(object, "cleanup", true, here));
  }
  SLIM_FAIL(where, ": decoder type ", quote(type),
            " is not supported (supported: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, "
            "Fuse, Strip, WordPiece)");
}

}  // namespace slim::io::tok
