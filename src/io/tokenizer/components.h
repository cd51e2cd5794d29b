// The stages of a Hugging Face tokenizer.json pipeline (private to src/io/tokenizer):
//   normalizer -> pre-tokenizer -> model -> post-processor, and decoder for the way back.
// Each stage is built from its JSON object; an unknown "type" is an error naming it.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "slim/io/tokenizer/tokenizer.h"

namespace slim::io::tok {

using nlohmann::json;

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string text) const = 0;
};

// Splits (and may rewrite) pieces of text; works in place on the list of pieces.
// `at_text_start`: the pieces come from the segment that begins the input (Metaspace's
// prepend_scheme "first" adds its prefix only there).
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<std::string>& pieces, bool at_text_start) const = 0;
};

class Vocabulary;

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of one pre-tokenized piece.
  virtual void tokenize(const std::string& piece, std::vector<TokenId>& out) const = 0;
};

// Works on the list of token strings, as tokenizers' decode_chain does.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Token string <-> id for the base vocabulary and the added tokens.
class Vocabulary {
 public:
  void add(const std::string& token, TokenId id);
  std::optional<TokenId> find(const std::string& token) const {
    const auto it = ids_.find(token);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* token(TokenId id) const {
    return id >= 0 && static_cast<size_t>(id) < tokens_.size() && has_[id] ? &tokens_[id] : nullptr;
  }
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }

 private:
  std::unordered_map<std::string, TokenId> ids_;
  std::vector<std::string> tokens_;
  std::vector<bool> has_;
};

// `where` names the JSON location ("tokenizer.json: normalizer") for error messages.
std::unique_ptr<Normalizer> make_normalizer(const json& object, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& object, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const json& object, const std::string& where);
// Fills `vocabulary` from the model's vocab and returns the model.
std::unique_ptr<Model> make_model(const json& object, const std::string& where,
                                  Vocabulary& vocabulary);

// GPT-2's reversible map from bytes to printable characters (UTF-8 encoded), and back.
const std::string& byte_to_unicode(unsigned char byte);
// -1 when `character` is not in the map.
int unicode_to_byte(std::string_view character);

// Reads a required/optional key with a type check; messages name `where` and the key.
const json& require_key(const json& object, const char* key, const std::string& where);
std::string string_or(const json& object, const char* key, const std::string& fallback,
                      const std::string& where);
bool bool_or(const json& object, const char* key, bool fallback, const std::string& where);

}  // namespace slim::io::tok
