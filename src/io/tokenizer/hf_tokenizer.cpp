#include "slim/io/tokenizer/hf_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "io/tokenizer/components.h"
#include "io/tokenizer/unicode.h"
#include "slim/core/error.h"
#include "slim/core/files.h"

namespace slim::io {

namespace {

using tok::json;

struct AddedToken {
  std::string content;
  TokenId id = 0;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// One element of the post-processor's template: fixed ids, or the encoded sequence.
struct TemplatePart {
  bool is_sequence = false;
  std::vector<TokenId> ids;
};

// A piece of input after added tokens are cut out: text to tokenize, or one added token.
struct Segment {
  std::string text;
  std::optional<TokenId> token;
  bool at_text_start = false;
};

bool is_word_byte(unsigned char c) {
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

class HfTokenizer : public Tokenizer {
 public:
  HfTokenizer(const json& root, const std::string& path, const TokenizerConfig& config) {
    const std::string where = path;
    normalizer_ = tok::make_normalizer(root.value("normalizer", json()), where + ": normalizer");
    pre_tokenizer_ =
        tok::make_pre_tokenizer(root.value("pre_tokenizer", json()), where + ": pre_tokenizer");
    model_ =
        tok::make_model(tok::require_key(root, "model", where), where + ": model", vocabulary_);
    decoder_ = tok::make_decoder(root.value("decoder", json()), where + ": decoder");
    read_added_tokens(root.value("added_tokens", json::array()), where + ": added_tokens");
    read_post_processor(root.value("post_processor", json()), where + ": post_processor");
    apply_config(config, path);
  }

  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const override {
    const std::string clean = tok::sanitize_utf8(text);
    std::vector<TokenId> ids;
    for (const Segment& segment : split_added(clean, /*normalized_pass=*/false)) {
      if (segment.token) {
        ids.push_back(*segment.token);
        continue;
      }
      const std::string normalized =
          normalizer_ ? normalizer_->normalize(segment.text) : segment.text;
      for (Segment inner : split_added(normalized, /*normalized_pass=*/true)) {
        if (inner.token) {
          ids.push_back(*inner.token);
          continue;
        }
        std::vector<std::string> pieces{std::move(inner.text)};
        if (pre_tokenizer_) {
          pre_tokenizer_->pre_tokenize(pieces, segment.at_text_start && inner.at_text_start);
        }
        for (const auto& piece : pieces)
          model_->tokenize(piece, ids);
      }
    }
    if (!add_special_tokens || template_.empty()) return ids;
    std::vector<TokenId> framed;
    framed.reserve(ids.size() + 4);
    for (const auto& part : template_) {
      if (part.is_sequence) {
        framed.insert(framed.end(), ids.begin(), ids.end());
      } else {
        framed.insert(framed.end(), part.ids.begin(), part.ids.end());
      }
    }
    return framed;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (TokenId id : ids) {
      if (skip_special_tokens && special_ids_.count(id)) continue;
      const std::string* token = vocabulary_.token(id);
      if (token != nullptr) tokens.push_back(*token);
    }
    if (!decoder_) {
      std::string joined;
      for (size_t i = 0; i < tokens.size(); ++i)
        joined += (i ? " " : "") + tokens[i];
      return joined;
    }
    decoder_->decode_chain(tokens);
    std::string text;
    for (const auto& token : tokens)
      text += token;
    return text;
  }

  int64_t vocab_size() const override { return vocabulary_.size(); }
  std::optional<TokenId> token_to_id(const std::string& token) const override {
    return vocabulary_.find(token);
  }
  std::string id_to_token(TokenId id) const override {
    const std::string* token = vocabulary_.token(id);
    return token ? *token : std::string();
  }
  bool is_special(TokenId id) const override { return special_ids_.count(id) != 0; }

 private:
  void read_added_tokens(const json& list, const std::string& where) {
    SLIM_CHECK(list.is_array(), where, ": must be a list");
    for (const auto& entry : list) {
      AddedToken token;
      token.content = tok::require_key(entry, "content", where).get<std::string>();
      SLIM_CHECK(!token.content.empty(), where, ": an added token has empty content");
      const json& id = tok::require_key(entry, "id", where);
      SLIM_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0, where, ": token ",
                 quote(token.content), " has invalid id ", id.dump());
      token.id = id.get<TokenId>();
      token.special = tok::bool_or(entry, "special", false, where);
      token.lstrip = tok::bool_or(entry, "lstrip", false, where);
      token.rstrip = tok::bool_or(entry, "rstrip", false, where);
      token.single_word = tok::bool_or(entry, "single_word", false, where);
      token.normalized = tok::bool_or(entry, "normalized", !token.special, where);
      vocabulary_.add(token.content, token.id);
      if (token.special) special_ids_.insert(token.id);
      added_.push_back(token);
    }
    // Longest first, so matching at a position prefers the longest token.
    std::stable_sort(added_.begin(), added_.end(), [](const AddedToken& a, const AddedToken& b) {
      return a.content.size() > b.content.size();
    });
    for (size_t i = 0; i < added_.size(); ++i) {
      by_first_byte_[static_cast<unsigned char>(added_[i].content[0])].push_back(i);
    }
  }

  TokenId special_token_id(const std::string& token, const std::string& where) const {
    const auto id = vocabulary_.find(token);
    SLIM_CHECK(id.has_value(), where, ": special token ", quote(token),
               " is not in the vocabulary");
    return *id;
  }

  void read_post_processor(const json& object, const std::string& where) {
    if (object.is_null()) return;
    const std::string type = tok::require_key(object, "type", where).get<std::string>();
    if (type == "ByteLevel") return;  // offsets only; ids are unchanged
    if (type == "Sequence") {
      for (const auto& step : tok::require_key(object, "processors", where)) {
        read_post_processor(step, where);
      }
      return;
    }
    if (type == "TemplateProcessing") {
      std::map<std::string, std::vector<TokenId>> specials;
      for (const auto& [name, entry] : tok::require_key(object, "special_tokens", where).items()) {
        specials[name] = tok::require_key(entry, "ids", where).get<std::vector<TokenId>>();
      }
      for (const auto& item : tok::require_key(object, "single", where)) {
        if (item.contains("Sequence")) {
          template_.push_back({true, {}});
        } else if (item.contains("SpecialToken")) {
          const std::string name =
              tok::require_key(item.at("SpecialToken"), "id", where).get<std::string>();
          const auto it = specials.find(name);
          SLIM_CHECK(it != specials.end(), where, ": template names special token ", quote(name),
                     " missing from special_tokens");
          template_.push_back({false, it->second});
        } else {
          SLIM_FAIL(where, ": template item ", item.dump(),
                    " is neither Sequence nor SpecialToken");
        }
      }
      return;
    }
    if (type == "BertProcessing" || type == "RobertaProcessing") {
      const json& cls = tok::require_key(object, "cls", where);
      const json& sep = tok::require_key(object, "sep", where);
      template_ = {
          {false, {cls.at(1).get<TokenId>()}}, {true, {}}, {false, {sep.at(1).get<TokenId>()}}};
      return;
    }
    SLIM_FAIL(where, ": post-processor type ", quote(type),
              " is not supported (supported: TemplateProcessing, ByteLevel, BertProcessing, "
              "RobertaProcessing, Sequence)");
  }

  void apply_config(const TokenizerConfig& config, const std::string& path) {
    const std::string where = path + " (tokenizer_config.json)";
    if (config.bos_token) bos_id_ = special_token_id(*config.bos_token, where);
    if (config.eos_token) eos_id_ = special_token_id(*config.eos_token, where);
    if (config.pad_token) pad_id_ = vocabulary_.find(*config.pad_token);
    if (!config.add_bos_token && !config.add_eos_token) return;
    // As transformers' Llama tokenizers: the switches define the template.
    const bool add_bos = config.add_bos_token.value_or(false);
    const bool add_eos = config.add_eos_token.value_or(false);
    SLIM_CHECK(!add_bos || bos_id_, where, ": add_bos_token is true but there is no bos_token");
    SLIM_CHECK(!add_eos || eos_id_, where, ": add_eos_token is true but there is no eos_token");
    template_.clear();
    if (add_bos) template_.push_back({false, {*bos_id_}});
    template_.push_back({true, {}});
    if (add_eos) template_.push_back({false, {*eos_id_}});
  }

  // The added token matching at `position` (longest first), honouring single_word.
  const AddedToken* match_at(const std::string& text, size_t position, bool normalized_pass) const {
    const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[position])];
    for (size_t index : candidates) {
      const AddedToken& token = added_[index];
      if (token.normalized != normalized_pass) continue;
      if (text.compare(position, token.content.size(), token.content) != 0) continue;
      if (token.single_word) {
        const size_t end = position + token.content.size();
        const bool left_ok = position == 0 || !is_word_byte(text[position - 1]);
        const bool right_ok = end >= text.size() || !is_word_byte(text[end]);
        if (!left_ok || !right_ok) continue;
      }
      return &token;
    }
    return nullptr;
  }

  std::vector<Segment> split_added(const std::string& text, bool normalized_pass) const {
    std::vector<Segment> segments;
    if (added_.empty()) {
      if (!text.empty()) segments.push_back({text, std::nullopt, true});
      return segments;
    }
    size_t segment_start = 0;
    size_t position = 0;
    auto emit_text = [&](size_t begin, size_t end) {
      if (end > begin)
        segments.push_back({text.substr(begin, end - begin), std::nullopt, begin == 0});
    };
    while (position < text.size()) {
      const AddedToken* token = match_at(text, position, normalized_pass);
      if (token == nullptr) {
        ++position;
        continue;
      }
      size_t text_end = position;
      if (token->lstrip) {
        while (text_end > segment_start &&
               std::isspace(static_cast<unsigned char>(text[text_end - 1]))) {
          --text_end;
        }
      }
      emit_text(segment_start, text_end);
      segments.push_back({std::string(), token->id, false});
      position += token->content.size();
      if (token->rstrip) {
        while (position < text.size() && std::isspace(static_cast<unsigned char>(text[position]))) {
          ++position;
        }
      }
      segment_start = position;
    }
    emit_text(segment_start, text.size());
    return segments;
  }

  tok::Vocabulary vocabulary_;
  std::unique_ptr<tok::Normalizer> normalizer_;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tok::Model> model_;
  std::unique_ptr<tok::Decoder> decoder_;
  std::vector<AddedToken> added_;
  std::vector<size_t> by_first_byte_[256];
  std::set<TokenId> special_ids_;
  std::vector<TemplatePart> template_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path,
                                             const TokenizerConfig& config) {
  auto root = read_json_file<json>(path);
  SLIM_CHECK(root.is_object(), path, ": expected a JSON object");
  try {
    return std::make_unique<HfTokenizer>(root, path, config);
  } catch (const json::exception& error) {
    // Type mismatches deep in a component (a number where a string belongs, ...).
    SLIM_FAIL(path, ": unexpected structure: ", error.what());
  }
}

}  // namespace slim::io
