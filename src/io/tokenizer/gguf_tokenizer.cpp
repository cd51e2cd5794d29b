// Tokenizer files rebuilt from a GGUF vocabulary (tokenizer.ggml.*; slim/io/tokenizer/
// gguf_tokenizer.h), the reverse of what llama.cpp's convert_hf_to_gguf.py stores:
//
//   "gpt2"   byte-level BPE -> tokenizer.json. Token types (tokenizer.ggml.token_type): NORMAL and
//            BYTE tokens form the BPE vocabulary, CONTROL tokens become special added tokens,
//            USER_DEFINED tokens non-special added tokens, UNUSED tokens (the "[PADn]" fillers
//            convert_hf_to_gguf.py writes for ids the tokenizer lacks) are left out. The merges
//            keep their order (rank). The pre-tokenizer is chosen by tokenizer.ggml.pre; its regex
//            is the original one of the model family's tokenizer.json (llama.cpp's own copies
//            are adapted to its regex engine).
//   "llama"  SentencePiece BPE -> tokenizer.model (serialize_sentencepiece_model), exact: scores,
//            piece types, byte fallback and the normalizer flags carry over as they are.
//
// Plus tokenizer_config.json: bos/eos/unk/pad tokens, add_bos_token / add_eos_token (GGUF's keys,
// else llama.cpp's default for the pre-tokenizer), model_max_length, chat_template.
#include "slim/io/tokenizer/gguf_tokenizer.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/io/gguf.h"
#include "slim/io/tokenizer/sentencepiece.h"

namespace slim::io {

namespace {

using json = nlohmann::ordered_json;

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
constexpr int64_t kNormal = 1;
constexpr int64_t kUnknown = 2;
constexpr int64_t kControl = 3;
constexpr int64_t kUserDefined = 4;
constexpr int64_t kUnused = 5;
constexpr int64_t kByte = 6;

// A family of byte-level BPE pre-tokenizers, named as tokenizer.ggml.pre names them.
struct BpePreset {
  std::vector<const char*> names;
  // Split regex of the family's tokenizer.json; nullptr: GPT-2's, built into ByteLevel.
  const char* regex;
  const char* normalizer;  // "NFC" or nullptr
  bool ignore_merges;      // llama.cpp sets it for the family (whole-word vocabulary hits first)
  bool default_add_bos;    // llama.cpp's default when tokenizer.ggml.add_bos_token is absent
  // Digits(individual_digits) before ByteLevel: every digit is a piece of its own (only with
  // regex == nullptr, as the StarCoder family's tokenizer.json has it).
  bool individual_digits = false;
};

const BpePreset kBpePresets[] = {
    // Llama 3 (tokenizer.json of meta-llama/Meta-Llama-3-8B).
    {{"llama-bpe", "llama3", "llama-v3"},
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     nullptr,
     true,
     true},
    // Qwen2 / Qwen2.5 / Qwen3 (tokenizer.json of Qwen/Qwen2-7B and later).
    {{"qwen2", "deepseek-r1-qwen"},
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "NFC",
     false,
     false},
    // GPT-2 (ByteLevel with its built-in regex).
    {{"gpt-2"}, nullptr, nullptr, false, false},
    // StarCoder's vocabulary and its descendants (SmolLM / SmolLM2, Refact): Digits with
    // individual digits, then ByteLevel with GPT-2's regex, no normalizer (tokenizer.json of
    // bigcode/starcoder and HuggingFaceTB/SmolLM2-135M; llama.cpp's LLAMA_VOCAB_PRE_TYPE_STARCODER
    // / _REFACT / _SMOLLM use "\p{N}" and then GPT-2's regex, ignore_merges off, no BOS).
    {{"starcoder", "refact", "smollm"}, nullptr, nullptr, false, false, true},
};

const BpePreset* find_preset(const std::string& pre) {
  for (const auto& preset : kBpePresets) {
    for (const char* name : preset.names) {
      if (pre == name) return &preset;
    }
  }
  return nullptr;
}

json byte_level(bool add_prefix_space, bool trim_offsets, bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", trim_offsets},
          {"use_regex", use_regex}};
}

struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<int64_t> types;
  std::optional<int64_t> bos, eos, unk, pad;
  bool add_bos = false;
  bool add_eos = false;
};

Vocabulary read_vocabulary(const GgufFile& gguf, bool default_add_bos) {
  const std::string& path = gguf.path();
  Vocabulary v;
  v.tokens = gguf.get_array_strings("tokenizer.ggml.tokens");
  SLIM_CHECK(!v.tokens.empty(), path, ": tokenizer.ggml.tokens is empty");
  v.types.assign(v.tokens.size(), kNormal);
  if (gguf.contains("tokenizer.ggml.token_type")) {
    v.types = gguf.get_array_int("tokenizer.ggml.token_type");
    SLIM_CHECK(v.types.size() == v.tokens.size(), path, ": tokenizer.ggml.token_type has ",
               v.types.size(), " entries but tokenizer.ggml.tokens has ", v.tokens.size());
  }
  const auto special = [&](const char* key) -> std::optional<int64_t> {
    const auto value = gguf.get_int_opt(key);
    if (!value) return std::nullopt;
    SLIM_CHECK(*value >= 0 && *value < static_cast<int64_t>(v.tokens.size()), path, ": ", key,
               " is ", *value, ", outside the ", v.tokens.size(), "-token vocabulary");
    return value;
  };
  v.bos = special("tokenizer.ggml.bos_token_id");
  v.eos = special("tokenizer.ggml.eos_token_id");
  v.unk = special("tokenizer.ggml.unknown_token_id");
  v.pad = special("tokenizer.ggml.padding_token_id");
  v.add_bos = gguf.get_bool_opt("tokenizer.ggml.add_bos_token").value_or(default_add_bos);
  v.add_eos = gguf.get_bool_opt("tokenizer.ggml.add_eos_token").value_or(false);
  return v;
}

json template_processing(const Vocabulary& v) {
  json single = json::array();
  json pair = json::array();
  json specials = json::object();
  const auto add_special = [&](int64_t id, json* sequence, int type_id) {
    const std::string& token = v.tokens[id];
    sequence->push_back({{"SpecialToken", {{"id", token}, {"type_id", type_id}}}});
    specials[token] = {{"id", token}, {"ids", {id}}, {"tokens", {token}}};
  };
  for (int part = 0; part < 2; ++part) {
    json* sequence = part == 0 ? &single : &pair;
    for (int type_id = 0; type_id <= part; ++type_id) {
      if (v.add_bos && v.bos) add_special(*v.bos, sequence, type_id);
      sequence->push_back({{"Sequence", {{"id", type_id == 0 ? "A" : "B"}, {"type_id", type_id}}}});
      if (v.add_eos && v.eos) add_special(*v.eos, sequence, type_id);
    }
  }
  return {{"type", "TemplateProcessing"},
          {"single", single},
          {"pair", pair},
          {"special_tokens", specials}};
}

void write_byte_level_bpe(const GgufFile& gguf, const std::string& directory,
                          const BpePreset& preset, const Vocabulary& v) {
  const std::string& path = gguf.path();
  // convert_hf_to_gguf.py leaves the key out when the tokenizer has no merges (llama.cpp then
  // refuses the file); a BPE without merges is still a valid tokenizer.json.
  std::vector<std::string> merges;
  if (gguf.contains("tokenizer.ggml.merges")) {
    merges = gguf.get_array_strings("tokenizer.ggml.merges");
  } else {
    spdlog::warn("{}: tokenizer.ggml.merges is missing; the tokenizer will have no merges", path);
  }

  // Which tokens go in the BPE vocabulary: NORMAL / BYTE / UNKNOWN, and whatever a merge names.
  std::vector<bool> in_model(v.tokens.size(), false);
  std::unordered_map<std::string, size_t> id_of;
  id_of.reserve(v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const int64_t type = v.types[i];
    SLIM_CHECK(type >= kNormal && type <= kByte, path, ": tokenizer.ggml.token_type[", i, "] is ",
               type, ", not a token type (1 normal .. 6 byte)");
    in_model[i] = type == kNormal || type == kByte || type == kUnknown;
    if (type != kUnused) id_of.emplace(v.tokens[i], i);  // first id wins, as in tokenizers
  }
  json merge_list = json::array();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    const size_t space = merge.find(' ', 1);
    SLIM_CHECK(space != std::string::npos, path, ": tokenizer.ggml.merges[", rank, "] ",
               quote(merge), " is not two tokens separated by a space");
    const std::string left = merge.substr(0, space);
    const std::string right = merge.substr(space + 1);
    for (const std::string* part : {&left, &right}) {
      const auto it = id_of.find(*part);
      SLIM_CHECK(it != id_of.end(), path, ": tokenizer.ggml.merges[", rank, "] ", quote(merge),
                 " uses ", quote(*part), ", which is not a token of the vocabulary");
      in_model[it->second] = true;
    }
    const auto merged = id_of.find(left + right);
    SLIM_CHECK(merged != id_of.end(), path, ": tokenizer.ggml.merges[", rank, "] ", quote(merge),
               " makes ", quote(left + right), ", which is not a token of the vocabulary");
    in_model[merged->second] = true;
    merge_list.push_back({left, right});
  }

  json vocab = json::object();
  // Appended to the ordered map directly: its operator[] searches linearly (quadratic here).
  auto& vocab_entries = vocab.get_ref<json::object_t&>();
  json added = json::array();
  std::unordered_set<std::string> in_vocab;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const int64_t type = v.types[i];
    if (in_model[i] && in_vocab.insert(v.tokens[i]).second)
      vocab_entries.emplace_back(v.tokens[i], json(i));
    if (type == kControl || type == kUserDefined) {
      added.push_back({{"id", i},
                       {"content", v.tokens[i]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", type == kControl}});
    }
  }

  json pre_tokenizer;
  if (preset.regex != nullptr) {
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers",
                      {{{"type", "Split"},
                        {"pattern", {{"Regex", preset.regex}}},
                        {"behavior", "Isolated"},
                        {"invert", false}},
                       byte_level(false, false, false)}}};
  } else if (preset.individual_digits) {
    pre_tokenizer = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(false, true, true)}}};
  } else {
    pre_tokenizer = byte_level(false, true, true);
  }
  json normalizer = nullptr;
  if (preset.normalizer != nullptr) normalizer = {{"type", preset.normalizer}};
  const bool template_needed = (v.add_bos && v.bos) || (v.add_eos && v.eos);

  json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", normalizer},
      {"pre_tokenizer", pre_tokenizer},
      {"post_processor",
       template_needed ? template_processing(v) : byte_level(false, false, false)},
      {"decoder", byte_level(true, true, true)},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", v.unk && in_model[*v.unk] ? json(v.tokens[*v.unk]) : json(nullptr)},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", preset.ignore_merges},
        {"vocab", vocab},
        {"merges", merge_list}}}};
  // Tokens stay readable UTF-8 (not \u escapes). Byte-level tokens are always valid UTF-8; an
  // invalid sequence in a user-defined token is replaced (U+FFFD) rather than failing.
  write_file(directory + "/tokenizer.json",
             tokenizer.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

void write_tokenizer_config(const GgufFile& gguf, const std::string& directory, const Vocabulary& v,
                            const std::string& tokenizer_class) {
  json config = json::object();
  config["tokenizer_class"] = tokenizer_class;
  config["add_bos_token"] = v.add_bos;
  config["add_eos_token"] = v.add_eos;
  const auto token = [&](const std::optional<int64_t>& id) {
    return id ? json(v.tokens[*id]) : json(nullptr);
  };
  config["bos_token"] = token(v.bos);
  config["eos_token"] = token(v.eos);
  if (v.unk) config["unk_token"] = token(v.unk);
  if (v.pad) config["pad_token"] = token(v.pad);
  config["clean_up_tokenization_spaces"] = false;
  const std::string arch = gguf.get_string_opt("general.architecture").value_or("");
  if (const auto context = gguf.get_int_opt(arch + ".context_length"))
    config["model_max_length"] = *context;
  if (const auto chat = gguf.get_string_opt("tokenizer.chat_template"))
    config["chat_template"] = *chat;
  write_file(directory + "/tokenizer_config.json",
             config.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

}  // namespace

std::string supported_bpe_pre_tokenizers_text() {
  std::string text;
  for (const auto& preset : kBpePresets) {
    for (const char* name : preset.names) {
      if (!text.empty()) text += ", ";
      text += name;
    }
  }
  return text;
}

std::vector<std::string> write_hf_tokenizer(const GgufFile& gguf, const std::string& directory) {
  const std::string& path = gguf.path();
  SLIM_CHECK(gguf.contains("tokenizer.ggml.model"), path,
             ": the file has no tokenizer (tokenizer.ggml.model is missing)");
  const std::string kind = gguf.get_string("tokenizer.ggml.model");
  if (kind == "gpt2") {
    const auto pre = gguf.get_string_opt("tokenizer.ggml.pre");
    SLIM_CHECK(pre.has_value(), path,
               ": tokenizer.ggml.pre is missing, so the pre-tokenizer of this byte-level BPE "
               "vocabulary is unknown (known: ",
               supported_bpe_pre_tokenizers_text(), ")");
    const BpePreset* preset = find_preset(*pre);
    SLIM_CHECK(
        preset != nullptr, path, ": tokenizer.ggml.pre is ", quote(*pre),
        ", a pre-tokenizer Slim cannot rebuild (known: ", supported_bpe_pre_tokenizers_text(), ")");
    const Vocabulary v = read_vocabulary(gguf, preset->default_add_bos);
    write_byte_level_bpe(gguf, directory, *preset, v);
    write_tokenizer_config(gguf, directory, v, "PreTrainedTokenizerFast");
    return {"tokenizer.json", "tokenizer_config.json"};
  }
  if (kind == "llama") {
    SentencePieceModel model = sentencepiece_model_from_gguf(gguf);
    const Vocabulary v = read_vocabulary(gguf, /*default_add_bos=*/true);
    write_file(directory + "/tokenizer.model", serialize_sentencepiece_model(model));
    write_tokenizer_config(gguf, directory, v, "LlamaTokenizer");
    return {"tokenizer.model", "tokenizer_config.json"};
  }
  SLIM_FAIL(path, ": tokenizer.ggml.model is ", quote(kind),
            "; Slim rebuilds 'gpt2' (byte-level BPE) and 'llama' (SentencePiece) vocabularies");
}

}  // namespace slim::io
