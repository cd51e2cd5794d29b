// Tokenizer metadata of GGUF exports, following convert_hf_to_gguf.py (_set_vocab_sentencepiece,
// _set_vocab_llama_hf, _set_vocab_gpt2) and gguf-py's SpecialVocab.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <unordered_map>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/text.h"
#include "slim/export/gguf_export.h"
#include "slim/io/gguf_writer.h"
#include "slim/io/tokenizer/sentencepiece.h"

namespace slim::exporter {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// GGUF token types (gguf-py TokenType; sentencepiece_model.proto numbering).
constexpr int32_t kNormal = 1;
constexpr int32_t kUnknown = 2;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kUnused = 5;
constexpr int32_t kByte = 6;

const char* const kSpacePiece = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// ------------------------------------------------------------------------ pre-tokenizers

// Split regexes of the byte-level BPE tokenizers whose llama.cpp pre-tokenizer Slim recognises,
// exactly as tokenizer.json spells them.
const char* const kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct KnownPre {
  const char* name;        // tokenizer.ggml.pre
  const char* regex;       // the split regex
  bool ignore_merges;      // what llama.cpp assumes for this name
  const char* tokenizers;  // for messages
};

const KnownPre kKnownPres[] = {
    {"gpt-2", kGpt2Regex, false, "GPT-2's ByteLevel regex (GPT-2, Slim's random models)"},
    {"llama-bpe", kLlama3Regex, true, "Llama 3's regex (Llama 3, 3.1, 3.2, 3.3)"},
    {"qwen2", kQwen2Regex, false, "Qwen2's regex (Qwen1.5, Qwen2, Qwen2.5, Qwen3)"},
};

std::string known_pres_text() {
  std::string text;
  for (const auto& known : kKnownPres)
    text += str(text.empty() ? "" : "; ", known.name, " (", known.tokenizers, ")");
  return text;
}

std::string compact(const json& value) {
  std::string text = value.dump();
  if (text.size() > 400) text = text.substr(0, 400) + "...";
  return text;
}

bool is_byte_level(const json& node, bool use_regex) {
  if (!node.is_object() || node.value("type", "") != "ByteLevel") return false;
  // transformers' defaults: add_prefix_space true, use_regex true.
  return !node.value("add_prefix_space", true) && node.value("use_regex", true) == use_regex;
}

// The split regex of a byte-level pre-tokenizer, or nullopt when its structure is not one of
// ByteLevel(use_regex) or Sequence[Split(Regex, Isolated), ByteLevel(no regex)].
std::optional<std::string> byte_level_regex(const json& pre) {
  if (is_byte_level(pre, true)) return std::string(kGpt2Regex);
  if (!pre.is_object() || pre.value("type", "") != "Sequence") return std::nullopt;
  const json& parts = pre.contains("pretokenizers") ? pre["pretokenizers"] : json();
  if (!parts.is_array() || parts.size() != 2) return std::nullopt;
  const json& split = parts[0];
  if (!split.is_object() || split.value("type", "") != "Split" ||
      split.value("behavior", "") != "Isolated" || split.value("invert", false) ||
      !split.contains("pattern") || !split["pattern"].is_object() ||
      !split["pattern"].contains("Regex") || !split["pattern"]["Regex"].is_string())
    return std::nullopt;
  if (!is_byte_level(parts[1], false)) return std::nullopt;
  return split["pattern"]["Regex"].get<std::string>();
}

// ------------------------------------------------------------------------------ helpers

std::optional<json> read_json_opt(const fs::path& path) {
  if (!fs::is_regular_file(path)) return std::nullopt;
  try {
    return json::parse(read_file(path.string()));
  } catch (const json::exception& error) {
    SLIM_FAIL(path.string(), ": invalid JSON: ", error.what());
  }
}

// gguf-py's does_token_look_special.
bool looks_special(const std::string& token) {
  if (token == "<pad>" || token == "<mask>" || token == "<2mass>" || token == "[@BOS@]")
    return true;
  if (starts_with(token, "<|") && ends_with(token, "|>")) return true;
  if (starts_with(token, "<\xEF\xBD\x9C") && ends_with(token, "\xEF\xBD\x9C>"))
    return true;  // <｜ ... ｜>
  return starts_with(token, "<unused") && ends_with(token, ">");
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
  return text;
}

// A token field of tokenizer_config.json: a string or {"content": ...}.
std::optional<std::string> token_content(const json& config, const std::string& key) {
  if (!config.is_object() || !config.contains(key)) return std::nullopt;
  const json& entry = config[key];
  if (entry.is_string()) return entry.get<std::string>();
  if (entry.is_object() && entry.contains("content") && entry["content"].is_string())
    return entry["content"].get<std::string>();
  return std::nullopt;
}

std::string template_special(const json& item) {
  if (item.is_object() && item.contains("SpecialToken") && item["SpecialToken"].is_object())
    return item["SpecialToken"].value("id", "");
  return "";
}

std::string template_sequence(const json& item) {
  if (item.is_object() && item.contains("Sequence") && item["Sequence"].is_object())
    return item["Sequence"].value("id", "");
  return "";
}

// ----------------------------------------------------------------------- special vocab

// gguf-py's SpecialVocab: special token ids, add_*_token switches, merges, chat templates.
class SpecialVocab {
 public:
  SpecialVocab(const fs::path& dir, bool load_merges, std::optional<size_t> n_vocab)
      : n_vocab_(n_vocab) {
    from_tokenizer_json(dir, load_merges);
    from_config_json(dir);
  }

  void apply(GgufVocab& vocab) const {
    if (!merges_.empty()) {
      vocab.merges = merges_;
    } else if (load_merges_) {
      // llama.cpp refuses a BPE vocabulary without the merges key, so an empty list is written
      // (the converter writes none and warns that the output may not work).
      vocab.merges = std::vector<std::string>{};
      spdlog::warn("gguf: the tokenizer has no merges; writing an empty merge list");
    }
    vocab.special_ids = ids_;
    for (const auto& [type, value] : add_) {
      if (type == "bos" || type == "eos" || type == "sep")
        vocab.add_special.push_back({type, value});
    }
    vocab.chat_template = chat_template_;
    vocab.named_chat_templates = named_templates_;
    vocab.normalizer_lowercase = lowercase_;
    vocab.normalizer_strip_accents = strip_accents_;
  }

 private:
  void set_id(const std::string& type, const json& id) {
    if (!id.is_number_integer()) return;
    const int64_t value = id.get<int64_t>();
    SLIM_CHECK(value >= 0, "special token ", type, " has the negative id ", value);
    for (const auto& [known, ignored] : ids_) {
      if (known == type) return;  // the first source wins
    }
    if (n_vocab_ && static_cast<size_t>(value) >= *n_vocab_) {
      spdlog::warn("gguf: special token {} id {} is outside the vocabulary of {}; skipped", type,
                   value, *n_vocab_);
      return;
    }
    ids_.push_back({type, static_cast<uint32_t>(value)});
  }

  void set_add(const std::string& type, bool value) {
    for (auto& [known, current] : add_) {
      if (known == type) {
        current = value;
        return;
      }
    }
    add_.push_back({type, value});
  }

  void parse_normalizer(const json& normalizer) {
    if (!normalizer.is_object()) return;
    const std::string type = normalizer.value("type", "");
    if (type == "Lowercase") {
      lowercase_ = true;
    } else if (type == "StripAccents") {
      strip_accents_ = true;
    } else if (type == "BertNormalizer") {
      if (normalizer.contains("lowercase") && normalizer["lowercase"].is_boolean())
        lowercase_ = normalizer["lowercase"].get<bool>();
      if (normalizer.contains("strip_accents") && normalizer["strip_accents"].is_boolean())
        strip_accents_ = normalizer["strip_accents"].get<bool>();
    } else if (type == "Sequence" && normalizer.contains("normalizers") &&
               normalizer["normalizers"].is_array()) {
      for (const auto& part : normalizer["normalizers"])
        parse_normalizer(part);
    }
  }

  void from_tokenizer_json(const fs::path& dir, bool load_merges) {
    load_merges_ = load_merges;
    const auto tokenizer = read_json_opt(dir / "tokenizer.json");
    json added_tokens = json::array();
    if (tokenizer) {
      const json& model = tokenizer->contains("model") ? (*tokenizer)["model"] : json();
      if (load_merges && model.is_object() && model.contains("merges") &&
          model["merges"].is_array()) {
        for (const auto& merge : model["merges"]) {
          if (merge.is_string()) {
            merges_.push_back(merge.get<std::string>());
          } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                     merge[1].is_string()) {
            // The pair form (transformers >= 4.45) allows spaces inside a part; they are
            // written as U+0120 ('Ġ', space + 256) so the string form stays unambiguous.
            auto part = [](const json& value) {
              return replace_all(value.get<std::string>(), " ", "\xC4\xA0");
            };
            merges_.push_back(part(merge[0]) + " " + part(merge[1]));
          } else {
            SLIM_FAIL((dir / "tokenizer.json").string(), ": model.merges: unknown merge format ",
                      compact(merge));
          }
        }
      }
      if (tokenizer->contains("normalizer")) parse_normalizer((*tokenizer)["normalizer"]);
      if (tokenizer->contains("added_tokens") && (*tokenizer)["added_tokens"].is_array())
        added_tokens = (*tokenizer)["added_tokens"];
    }
    auto config = read_json_opt(dir / "tokenizer_config.json");
    const bool has_config = config.has_value() && config->is_object() && !config->empty();
    if (tokenizer) parse_post_processor(*tokenizer, has_config ? &*config : nullptr);
    if (!has_config) return;

    read_chat_templates(dir, *config);
    for (const std::string& type : special_types_) {
      const std::string add_key = "add_" + type + "_token";
      if (config->contains(add_key) && (*config)[add_key].is_boolean())
        set_add(type, (*config)[add_key].get<bool>());
      const auto content = token_content(*config, type + "_token");
      if (!content) continue;
      for (const auto& token : added_tokens) {
        if (token.is_object() && token.value("content", "") == *content && token.contains("id")) {
          set_id(type, token["id"]);
          break;
        }
      }
    }
  }

  // Crude reading of the post-processor's template, as gguf-py does, for add_bos / add_eos /
  // add_sep (and a trailing special token that is not EOS becomes EOS, the old EOS EOT).
  void parse_post_processor(const json& tokenizer, json* config) {
    if (!tokenizer.contains("post_processor") || !tokenizer["post_processor"].is_object()) return;
    const json& post = tokenizer["post_processor"];
    std::vector<json> processors;
    if (post.contains("processors") && post["processors"].is_array()) {
      for (const auto& p : post["processors"])
        processors.push_back(p);
    } else {
      processors.push_back(post);
    }
    auto config_token = [&](const std::string& key) -> std::string {
      return config ? token_content(*config, key).value_or("") : "";
    };
    std::string bos = config_token("bos_token"), cls = config_token("cls_token");
    std::string eos = config_token("eos_token"), sep = config_token("sep_token");
    if (config) {
      if (bos.empty() && !cls.empty()) (*config)["bos_token"] = bos = cls;
      if (eos.empty() && !sep.empty()) (*config)["eos_token"] = eos = sep;
    }
    for (const auto& processor : processors) {
      if (!processor.is_object()) continue;
      const std::string type = processor.value("type", "");
      if (type == "RobertaProcessing") {
        set_add("bos", true);
        set_add("eos", true);
        set_add("sep", true);
        if (cls.empty() && config) {
          cls = processor.contains("cls") && processor["cls"].is_array() &&
                        !processor["cls"].empty() && processor["cls"][0].is_string()
                    ? processor["cls"][0].get<std::string>()
                    : bos;
          (*config)["cls_token"] = cls;
        }
        if (sep.empty() && config) {
          sep = processor.contains("sep") && processor["sep"].is_array() &&
                        !processor["sep"].empty() && processor["sep"][0].is_string()
                    ? processor["sep"][0].get<std::string>()
                    : eos;
          (*config)["sep_token"] = sep;
        }
        continue;
      }
      if (type != "TemplateProcessing") continue;
      const json single = processor.contains("single") && processor["single"].is_array()
                              ? processor["single"]
                              : json::array();
      json pair = processor.contains("pair") && processor["pair"].is_array() ? processor["pair"]
                                                                             : json::array();
      std::string first, last;
      if (single.size() > 1) {
        first = template_special(single.front());
        if (!first.empty()) {
          if (config && first != bos && first != cls) {
            if (bos.empty()) (*config)["bos_token"] = bos = first;
            if (cls.empty()) (*config)["cls_token"] = cls = first;
          } else if (!config) {
            bos = first;
          }
          set_add("bos", first == bos || first == cls);
          if (first != bos && first != cls)
            spdlog::warn("gguf: unknown leading special token {} in the post-processor", first);
        }
        last = template_special(single.back());
        if (!last.empty()) {
          if (!config) {
            eos = last;
          } else if (last != eos) {
            const bool has_eot = std::find(special_types_.begin(), special_types_.end(), "eot") !=
                                 special_types_.end();
            if (!has_eot) {
              special_types_.push_back("eot");
              (*config)["eot_token"] = eos;
            } else {
              special_types_.push_back("eom");
              (*config)["eom_token"] = eos;
            }
            (*config)["eos_token"] = eos = last;
          }
          set_add("eos", last == eos);
        }
      }
      if (!pair.empty()) {
        const size_t start = !first.empty() && template_special(pair.front()) == first ? 1 : 0;
        const bool drop_last = !last.empty() && template_special(pair.back()) == last;
        const size_t stop = pair.size() - (drop_last ? 1 : 0);
        json middle = json::array();
        for (size_t i = start; i < stop; ++i)
          middle.push_back(pair[i]);
        if (!middle.empty() && template_sequence(middle.front()) == "A" &&
            template_sequence(middle.back()) == "B" && middle.size() > 2) {
          bool add_sep = false;
          const std::string entry = template_special(middle[1]);
          if (!entry.empty() && (entry == sep || entry == eos) && last.empty()) add_sep = true;
          if (middle.size() == 4) {
            const std::string second = template_special(middle[2]);
            if (!second.empty() && (second == sep || second == eos)) add_sep = true;
          }
          set_add("sep", add_sep);
          if (add_sep && sep.empty() && config) (*config)["sep_token"] = eos;
        }
      }
    }
  }

  void read_chat_templates(const fs::path& dir, const json& config) {
    json value;
    if (config.contains("chat_template")) {
      value = config["chat_template"];
    } else if (fs::is_regular_file(dir / "chat_template.jinja")) {
      value = read_file((dir / "chat_template.jinja").string());
      std::vector<fs::path> extra;
      if (fs::is_directory(dir / "additional_chat_templates")) {
        for (const auto& entry : fs::directory_iterator(dir / "additional_chat_templates")) {
          if (entry.path().extension() == ".jinja") extra.push_back(entry.path());
        }
      }
      if (!extra.empty()) {
        std::sort(extra.begin(), extra.end());
        json list = json::array({{{"name", "default"}, {"template", value}}});
        for (const auto& path : extra)
          list.push_back({{"name", path.stem().string()}, {"template", read_file(path.string())}});
        value = list;
      }
    } else if (const auto file = read_json_opt(dir / "chat_template.json")) {
      if (file->is_object() && file->contains("chat_template")) value = (*file)["chat_template"];
    }
    if (value.is_string()) {
      chat_template_ = value.get<std::string>();
    } else if (value.is_array()) {
      for (const auto& choice : value) {
        if (!choice.is_object() || !choice.contains("template") || !choice["template"].is_string())
          continue;
        std::string name = choice.value("name", "");
        for (char& c : name) {
          if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        }
        if (name.empty()) continue;
        if (name == "default") {
          chat_template_ = choice["template"].get<std::string>();
        } else {
          named_templates_.push_back({name, choice["template"].get<std::string>()});
        }
      }
    } else if (!value.is_null()) {
      spdlog::warn("gguf: chat_template of {} is neither a string nor a list; ignored",
                   (dir / "tokenizer_config.json").string());
    }
  }

  void from_config_json(const fs::path& dir) {
    const auto config = read_json_opt(dir / "config.json");
    if (!config || !config->is_object()) return;
    for (const auto& type : special_types_) {
      const std::string key = type + "_token_id";
      if (config->contains(key)) {
        set_id(type, (*config)[key]);
      } else if (config->contains("text_config") && (*config)["text_config"].is_object() &&
                 (*config)["text_config"].contains(key)) {
        set_id(type, (*config)["text_config"][key]);
      }
    }
  }

  std::optional<size_t> n_vocab_;
  bool load_merges_ = false;
  std::vector<std::string> special_types_ = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  std::vector<std::string> merges_;
  std::vector<std::pair<std::string, uint32_t>> ids_;
  std::vector<std::pair<std::string, bool>> add_;
  std::optional<std::string> chat_template_;
  std::vector<std::pair<std::string, std::string>> named_templates_;
  std::optional<bool> lowercase_;
  std::optional<bool> strip_accents_;
};

// ---------------------------------------------------------------------- vocabularies

// tokenizer.model: _create_vocab_sentencepiece.
GgufVocab sentencepiece_vocab(const fs::path& dir, const io::ModelConfig& config) {
  const io::SentencePieceModel sp =
      io::read_sentencepiece_model((dir / "tokenizer.model").string());
  const size_t vocab_size =
      config.vocab_size > 0 ? static_cast<size_t>(config.vocab_size) : sp.pieces.size();
  GgufVocab vocab;
  vocab.model = "llama";
  vocab.pre = "default";
  vocab.pre_reason = "SentencePiece tokenizer.model";
  vocab.source = (dir / "tokenizer.model").string();
  vocab.tokens.resize(vocab_size);
  vocab.scores.assign(vocab_size, -10000.0f);
  vocab.token_types.assign(vocab_size, kUnused);
  for (size_t i = 0; i < vocab_size; ++i)
    vocab.tokens[i] = str("[PAD", i, "]");
  for (size_t id = 0; id < sp.pieces.size(); ++id) {
    if (id >= vocab_size) {
      spdlog::warn("gguf: tokenizer.model pieces from id {} are beyond vocab_size {}; ignored", id,
                   vocab_size);
      break;
    }
    const auto& piece = sp.pieces[id];
    vocab.tokens[id] = piece.piece;
    vocab.scores[id] = piece.score;
    switch (piece.type) {
      case io::PieceType::kUnknown:
        vocab.token_types[id] = kUnknown;
        break;
      case io::PieceType::kControl:
        vocab.token_types[id] = kControl;
        break;
      case io::PieceType::kUnused:
        vocab.token_types[id] = kUnused;
        break;
      case io::PieceType::kByte:
        vocab.token_types[id] = kByte;
        break;
      default:  // the converter does not ask IsUserDefined: those pieces stay NORMAL
        vocab.token_types[id] = kNormal;
        break;
    }
  }
  if (const auto added = read_json_opt(dir / "added_tokens.json"); added && added->is_object()) {
    for (const auto& [text, id_value] : added->items()) {
      if (!id_value.is_number_integer()) continue;
      const int64_t id = id_value.get<int64_t>();
      if (id < 0 || static_cast<size_t>(id) >= vocab_size) {
        spdlog::warn("gguf: added token {} id {} is outside the vocabulary; ignored", text, id);
        continue;
      }
      vocab.tokens[id] = text;
      vocab.scores[id] = -1000.0f;
      vocab.token_types[id] = kUserDefined;
    }
  }
  if (const auto tc = read_json_opt(dir / "tokenizer_config.json");
      tc && tc->is_object() && tc->contains("added_tokens_decoder") &&
      (*tc)["added_tokens_decoder"].is_object()) {
    for (const auto& [key, data] : (*tc)["added_tokens_decoder"].items()) {
      size_t id = 0;
      try {
        id = std::stoul(key);
      } catch (const std::exception&) {
        continue;
      }
      if (id >= vocab_size || !data.is_object() || !data.contains("content")) continue;
      std::string token = data["content"].get<std::string>();
      if (data.value("special", false) || looks_special(token)) {
        vocab.token_types[id] = kControl;
      } else {
        token = replace_all(token, kSpacePiece, " ");
        vocab.token_types[id] = kUserDefined;
      }
      vocab.scores[id] = -1000.0f;
      vocab.tokens[id] = token;
    }
  }
  SpecialVocab(dir, false, vocab.tokens.size()).apply(vocab);
  return vocab;
}

// Ids of transformers' all_special_ids: the special-token attributes of tokenizer_config.json.
std::set<int64_t> special_token_ids(const json& tokenizer_config,
                                    const std::unordered_map<std::string, int64_t>& ids) {
  std::set<int64_t> result;
  auto add = [&](const std::string& content) {
    const auto it = ids.find(content);
    if (it != ids.end()) result.insert(it->second);
  };
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                          "cls_token", "mask_token"}) {
    if (const auto content = token_content(tokenizer_config, key)) add(*content);
  }
  if (tokenizer_config.is_object() && tokenizer_config.contains("additional_special_tokens") &&
      tokenizer_config["additional_special_tokens"].is_array()) {
    for (const auto& entry : tokenizer_config["additional_special_tokens"]) {
      if (entry.is_string()) add(entry.get<std::string>());
      if (entry.is_object() && entry.contains("content")) add(entry.value("content", ""));
    }
  }
  return result;
}

// A SentencePiece-style tokenizer.json (BPE with byte fallback): LlamaHfVocab.
GgufVocab llama_hf_vocab(const fs::path& dir, const json& tokenizer,
                         const io::ModelConfig& config) {
  const std::string file = (dir / "tokenizer.json").string();
  const json& model = tokenizer["model"];
  SLIM_CHECK(model.contains("vocab") && model["vocab"].is_object(), file,
             ": model.vocab is not an object");
  const size_t base_size = model["vocab"].size();
  std::vector<std::string> base(base_size);
  std::vector<bool> seen(base_size, false);
  std::unordered_map<std::string, int64_t> ids;
  for (const auto& [token, id_value] : model["vocab"].items()) {
    const int64_t id = id_value.get<int64_t>();
    SLIM_CHECK(id >= 0 && static_cast<size_t>(id) < base_size && !seen[id], file,
               ": model.vocab ids are not 0..", base_size - 1, " (token ", quote(token), " has ",
               id, ")");
    base[id] = token;
    seen[id] = true;
    ids[token] = id;
  }
  std::map<int64_t, std::string> added;  // ids beyond the base vocabulary
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
    for (const auto& token : tokenizer["added_tokens"]) {
      const int64_t id = token.value("id", -1);
      const std::string content = token.value("content", "");
      if (id < 0) continue;
      ids[content] = id;
      if (static_cast<size_t>(id) >= base_size)
        added[id] = content;
      else
        base[id] = content;
    }
  }
  const json tokenizer_config =
      read_json_opt(dir / "tokenizer_config.json").value_or(json::object());
  const std::set<int64_t> specials = special_token_ids(tokenizer_config, ids);

  // Scores. The converter writes -1000 for every token here, which leaves llama.cpp's
  // SentencePiece tokenizer (it merges the adjacent pair whose concatenation has the highest
  // score) without a merge order. Slim writes the order the BPE merges define instead: a token
  // made by merge number r scores -r, so llama.cpp merges in the same order as the tokenizer.json
  // it came from; tokens no merge makes score kUnmerged, below every merge.
  constexpr float kUnmerged = -1e9f;
  std::vector<float> merge_score(base_size, kUnmerged);
  if (model.contains("merges") && model["merges"].is_array()) {
    int64_t rank = 0;
    for (const auto& merge : model["merges"]) {
      std::string left, right;
      if (merge.is_string()) {
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ', 1);
        if (space == std::string::npos) {
          ++rank;
          continue;
        }
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2) {
        left = merge[0].get<std::string>();
        right = merge[1].get<std::string>();
      }
      const auto it = ids.find(left + right);
      if (it != ids.end() && static_cast<size_t>(it->second) < base_size &&
          merge_score[it->second] == kUnmerged)
        merge_score[it->second] = -static_cast<float>(rank);
      ++rank;
    }
  }

  static const std::regex byte_token("<0x[0-9A-Fa-f]{2}>");
  GgufVocab vocab;
  vocab.model = "llama";
  vocab.pre = "default";
  vocab.pre_reason = "SentencePiece-style tokenizer.json (BPE with byte fallback)";
  vocab.source = file;
  for (size_t id = 0; id < base_size; ++id) {
    vocab.tokens.push_back(base[id]);
    vocab.scores.push_back(merge_score[id]);
    if (std::regex_match(base[id], byte_token)) {
      vocab.token_types.push_back(kByte);
    } else {
      vocab.token_types.push_back(specials.count(static_cast<int64_t>(id)) ? kControl : kNormal);
    }
  }
  for (const auto& [id, content] : added) {
    SLIM_CHECK(static_cast<size_t>(id) == vocab.tokens.size(), file, ": added token ",
               quote(content), " has id ", id, " but the previous id is ", vocab.tokens.size() - 1,
               " (ids must be contiguous)");
    vocab.tokens.push_back(content);
    vocab.scores.push_back(-1000.0f);
    vocab.token_types.push_back(specials.count(id) ? kControl : kUserDefined);
  }
  // llama.cpp sizes the embedding from the token list: pad to the config's vocab_size as the
  // SentencePiece path does (the converter does not pad here, and llama.cpp would then refuse a
  // checkpoint whose embedding has more rows than the tokenizer has tokens).
  for (size_t id = vocab.tokens.size(); id < static_cast<size_t>(config.vocab_size); ++id) {
    vocab.tokens.push_back(str("[PAD", id, "]"));
    vocab.scores.push_back(-1000.0f);
    vocab.token_types.push_back(kUnused);
  }
  if (tokenizer_config.contains("add_prefix_space") &&
      tokenizer_config["add_prefix_space"].is_boolean())
    vocab.add_space_prefix = tokenizer_config["add_prefix_space"].get<bool>();
  SpecialVocab(dir, false, vocab.tokens.size()).apply(vocab);
  return vocab;
}

// A byte-level BPE tokenizer.json: get_vocab_base + _set_vocab_gpt2.
GgufVocab gpt2_vocab(const fs::path& dir, const json& tokenizer, const io::ModelConfig& config,
                     const std::optional<std::string>& pre_override) {
  const std::string file = (dir / "tokenizer.json").string();
  const json& model = tokenizer["model"];
  SLIM_CHECK(model.value("type", "") == "BPE", file, ": model type ",
             quote(model.value("type", "")),
             " is not supported for GGUF export (byte-level BPE or SentencePiece-style BPE only)");
  SLIM_CHECK(model.contains("vocab") && model["vocab"].is_object(), file,
             ": model.vocab is not an object");
  GgufVocab vocab;
  vocab.model = "gpt2";
  vocab.source = file;
  if (pre_override) {
    vocab.pre = *pre_override;
    vocab.pre_reason = "--gguf_pre";
  } else {
    std::string reason;
    vocab.pre = recognise_pre_tokenizer(tokenizer, file, &reason);
    vocab.pre_reason = reason;
  }

  std::map<int64_t, std::string> by_id;
  for (const auto& [token, id_value] : model["vocab"].items()) {
    SLIM_CHECK(id_value.is_number_integer() && id_value.get<int64_t>() >= 0, file,
               ": model.vocab: token ", quote(token), " has no valid id");
    by_id[id_value.get<int64_t>()] = token;
  }
  std::unordered_map<int64_t, json> added;
  std::set<std::string> added_contents;
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
    for (const auto& token : tokenizer["added_tokens"]) {
      const int64_t id = token.value("id", -1);
      if (id < 0) continue;
      by_id[id] = token.value("content", "");
      added[id] = token;
      added_contents.insert(token.value("content", ""));
    }
  }
  const int64_t largest = by_id.empty() ? -1 : by_id.rbegin()->first;
  const int64_t vocab_size = config.vocab_size > 0 ? config.vocab_size : largest + 1;
  SLIM_CHECK(largest < vocab_size, file, ": token id ", largest, " (",
             quote(by_id.rbegin()->second), ") is not below the config's vocab_size ", vocab_size);
  for (int64_t id = 0; id < vocab_size; ++id) {
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
      vocab.tokens.push_back(str("[PAD", id, "]"));
      vocab.token_types.push_back(kUnused);
      continue;
    }
    std::string token = it->second;
    if (added_contents.count(token)) {
      const auto entry = added.find(id);
      const bool special = entry != added.end() && entry->second.value("special", false);
      if (special || looks_special(token)) {
        vocab.token_types.push_back(kControl);
      } else {
        token = replace_all(token, kSpacePiece, " ");
        vocab.token_types.push_back(kUserDefined);
      }
    } else {
      vocab.token_types.push_back(kNormal);
    }
    vocab.tokens.push_back(token);
  }
  SpecialVocab(dir, true, std::nullopt).apply(vocab);
  // llama.cpp's llama-bpe adds BOS unless told otherwise. A Llama 3 tokenizer.json whose
  // post-processor adds no BOS (older copies of Meta's file) says nothing about it, so say it: the
  // converter hashes such a tokenizer to "smaug-bpe" instead, which has the same split regex and
  // no BOS but also drops ignore_merges, which these tokenizers set.
  const bool bos_said = std::any_of(vocab.add_special.begin(), vocab.add_special.end(),
                                    [](const auto& entry) { return entry.first == "bos"; });
  if (vocab.pre == "llama-bpe" && !pre_override && !bos_said)
    vocab.add_special.push_back({"bos", false});
  return vocab;
}

}  // namespace

// --------------------------------------------------------------------------- public API

std::vector<std::string> recognised_pre_tokenizers() {
  std::vector<std::string> names;
  for (const auto& known : kKnownPres)
    names.push_back(known.name);
  return names;
}

std::string recognise_pre_tokenizer(const json& tokenizer, const std::string& source,
                                    std::string* reason) {
  const std::string advice =
      str("; Slim recognises ", known_pres_text(),
          ". Pass --gguf_pre NAME with the name llama.cpp's convert_hf_to_gguf.py writes for this "
          "tokenizer (its get_vocab_base_pre) to export anyway");
  const json& model = tokenizer.contains("model") ? tokenizer["model"] : json();
  const json& normalizer = tokenizer.contains("normalizer") ? tokenizer["normalizer"] : json();
  const json& pre = tokenizer.contains("pre_tokenizer") ? tokenizer["pre_tokenizer"] : json();
  // llama.cpp's byte-level pre-tokenizers do not normalize; NFC (Qwen) only recomposes
  // characters, which byte-level text of real corpora already is.
  SLIM_CHECK(
      normalizer.is_null() || (normalizer.is_object() && normalizer.value("type", "") == "NFC"),
      source, ": pre-tokenizer not recognised: normalizer ", compact(normalizer),
      " (expected none or NFC)", advice);
  const auto regex = byte_level_regex(pre);
  SLIM_CHECK(regex.has_value(), source,
             ": pre-tokenizer not recognised: expected ByteLevel or Sequence[Split(Regex), "
             "ByteLevel] without a prefix space, found ",
             compact(pre), advice);
  const bool ignore_merges = model.is_object() && model.value("ignore_merges", false);
  for (const auto& known : kKnownPres) {
    if (*regex != known.regex) continue;
    SLIM_CHECK(ignore_merges == known.ignore_merges, source, ": pre-tokenizer regex is ",
               known.tokenizers, " but model.ignore_merges is ", ignore_merges ? "true" : "false",
               " where llama.cpp's ", quote(known.name), " assumes ",
               known.ignore_merges ? "true" : "false", advice);
    if (reason) *reason = str("byte-level BPE with ", known.tokenizers);
    return known.name;
  }
  SLIM_FAIL(source, ": pre-tokenizer not recognised: split regex ", quote(*regex), advice);
}

GgufVocab build_gguf_vocab(const std::string& model_dir, const io::ModelConfig& config,
                           const std::optional<std::string>& pre_override) {
  const fs::path dir(model_dir);
  GgufVocab vocab;
  if (fs::is_regular_file(dir / "tokenizer.model")) {
    vocab = sentencepiece_vocab(dir, config);
  } else {
    const auto tokenizer = read_json_opt(dir / "tokenizer.json");
    SLIM_CHECK(tokenizer.has_value(), model_dir,
               ": no tokenizer.json or tokenizer.model (GGUF files carry the tokenizer)");
    const std::string file = (dir / "tokenizer.json").string();
    SLIM_CHECK(
        tokenizer->is_object() && tokenizer->contains("model") && (*tokenizer)["model"].is_object(),
        file, ": has no model object");
    const json& model = (*tokenizer)["model"];
    const bool bpe = model.value("type", "") == "BPE";
    const bool byte_fallback = model.value("byte_fallback", false);
    const json decoder = tokenizer->contains("decoder") ? (*tokenizer)["decoder"] : json();
    const bool sequence_decoder = decoder.is_object() && decoder.value("type", "") == "Sequence";
    // The tokenizer decides, not the architecture: llama.cpp reads a SentencePiece vocabulary
    // with any architecture (convert_hf_to_gguf.py picks by family, and so cannot export a Qwen3
    // model carrying Mistral's tokenizer, as models/sotu-qwen3-13m does).
    if (bpe && byte_fallback && sequence_decoder) {
      vocab = llama_hf_vocab(dir, *tokenizer, config);
    } else {
      vocab = gpt2_vocab(dir, *tokenizer, config, pre_override);
    }
  }
  if (pre_override && vocab.model != "gpt2") {
    vocab.pre = *pre_override;
    vocab.pre_reason = "--gguf_pre";
  }
  // llama.cpp maps token text to ids and asserts that no two tokens share a text.
  std::unordered_map<std::string, size_t> seen;
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    const auto [it, inserted] = seen.emplace(vocab.tokens[id], id);
    SLIM_CHECK(inserted, vocab.source, ": tokens ", it->second, " and ", id, " are both ",
               quote(vocab.tokens[id]), "; llama.cpp requires distinct token texts");
  }
  return vocab;
}

void write_gguf_vocab(io::GgufWriter& writer, const GgufVocab& vocab) {
  writer.set_string("tokenizer.ggml.model", vocab.model);
  if (vocab.pre) writer.set_string("tokenizer.ggml.pre", *vocab.pre);
  writer.set_array_strings("tokenizer.ggml.tokens", vocab.tokens);
  if (!vocab.scores.empty()) writer.set_array_f32("tokenizer.ggml.scores", vocab.scores);
  writer.set_array_i32("tokenizer.ggml.token_type", vocab.token_types);
  if (vocab.merges) writer.set_array_strings("tokenizer.ggml.merges", *vocab.merges);
  static const std::map<std::string, std::string> id_keys = {
      {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
      {"eot", "tokenizer.ggml.eot_token_id"},     {"eom", "tokenizer.ggml.eom_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
      {"pad", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"},
  };
  for (const auto& [type, id] : vocab.special_ids) {
    const auto key = id_keys.find(type);
    if (key == id_keys.end()) continue;  // e.g. cls: llama.cpp has no key for it
    writer.set_u32(key->second, id);
  }
  for (const auto& [type, value] : vocab.add_special)
    writer.set_bool("tokenizer.ggml.add_" + type + "_token", value);
  if (vocab.add_space_prefix)
    writer.set_bool("tokenizer.ggml.add_space_prefix", *vocab.add_space_prefix);
  if (!vocab.named_chat_templates.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, text] : vocab.named_chat_templates) {
      writer.set_string("tokenizer.chat_template." + name, text);
      names.push_back(name);
    }
    writer.set_array_strings("tokenizer.chat_templates", names);
  }
  if (vocab.chat_template) writer.set_string("tokenizer.chat_template", *vocab.chat_template);
  if (vocab.normalizer_lowercase)
    writer.set_bool("tokenizer.ggml.normalizer.lowercase", *vocab.normalizer_lowercase);
  if (vocab.normalizer_strip_accents)
    writer.set_bool("tokenizer.ggml.normalizer.strip_accents", *vocab.normalizer_strip_accents);
}

}  // namespace slim::exporter
