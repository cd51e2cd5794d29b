// tokenizer.json models: BPE (byte-level and SentencePiece-style) and WordPiece.
#include <cstdio>
#include <queue>
#include <shared_mutex>

#include "io/tokenizer/components.h"
#include "io/tokenizer/unicode.h"
#include "slim/core/error.h"

namespace slim::io::tok {

namespace {

std::unordered_map<std::string, TokenId> read_vocab(const json& vocab, const std::string& where,
                                                    Vocabulary& vocabulary) {
  SLIM_CHECK(vocab.is_object(), where, ": 'vocab' must be an object of token: id");
  std::unordered_map<std::string, TokenId> ids;
  ids.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    SLIM_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < INT32_MAX,
               where, ": vocab entry ", quote(token), " has invalid id ", id.dump());
    ids.emplace(token, id.get<TokenId>());
    vocabulary.add(token, id.get<TokenId>());
  }
  return ids;
}

class BpeModel : public Model {
 public:
  BpeModel(const json& object, const std::string& where, Vocabulary& vocabulary) {
    vocab_ = read_vocab(require_key(object, "vocab", where), where, vocabulary);
    const json& dropout = object.contains("dropout") ? object.at("dropout") : json();
    SLIM_CHECK(dropout.is_null() || (dropout.is_number() && dropout.get<double>() == 0.0), where,
               ": BPE dropout ", dropout.dump(),
               " is not supported (encoding must be deterministic)");
    prefix_ = string_or(object, "continuing_subword_prefix", "", where);
    suffix_ = string_or(object, "end_of_word_suffix", "", where);
    byte_fallback_ = bool_or(object, "byte_fallback", false, where);
    fuse_unk_ = bool_or(object, "fuse_unk", false, where);
    ignore_merges_ = bool_or(object, "ignore_merges", false, where);
    const std::string unk = string_or(object, "unk_token", "", where);
    if (!unk.empty()) {
      const auto it = vocab_.find(unk);
      SLIM_CHECK(it != vocab_.end(), where, ": unk_token ", quote(unk),
                 " is not in the vocabulary");
      unk_id_ = it->second;
    }
    read_merges(require_key(object, "merges", where), where);
    if (byte_fallback_) {
      for (int byte = 0; byte < 256; ++byte) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", byte);
        const auto it = vocab_.find(name);
        byte_ids_[byte] = it == vocab_.end() ? -1 : it->second;
      }
    }
  }

  void tokenize(const std::string& piece, std::vector<TokenId>& out) const override {
    if (piece.empty()) return;
    {
      std::shared_lock lock(cache_mutex_);
      const auto it = cache_.find(piece);
      if (it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<TokenId> ids = encode_word(piece);
    out.insert(out.end(), ids.begin(), ids.end());
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() > kCacheLimit) cache_.clear();
    cache_.emplace(piece, std::move(ids));
  }

 private:
  static constexpr size_t kCacheLimit = 200000;

  struct Merge {
    int32_t rank;
    TokenId merged;
  };

  static uint64_t pair_key(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  void read_merges(const json& merges, const std::string& where) {
    SLIM_CHECK(merges.is_array(), where, ": 'merges' must be a list");
    merges_.reserve(merges.size());
    int32_t rank = 0;
    for (const auto& entry : merges) {
      std::string left;
      std::string right;
      if (entry.is_string()) {
        const std::string text = entry.get<std::string>();
        const size_t space = text.find(' ', 1);
        SLIM_CHECK(space != std::string::npos, where, ": merge ", rank, " ", quote(text),
                   " is not two tokens separated by a space");
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else {
        SLIM_CHECK(
            entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string(),
            where, ": merge ", rank, " must be \"a b\" or [\"a\", \"b\"], found ", entry.dump());
        left = entry[0].get<std::string>();
        right = entry[1].get<std::string>();
      }
      std::string merged = left;
      merged += (!prefix_.empty() && right.compare(0, prefix_.size(), prefix_) == 0)
                    ? right.substr(prefix_.size())
                    : right;
      const auto left_id = vocab_.find(left);
      const auto right_id = vocab_.find(right);
      const auto merged_id = vocab_.find(merged);
      SLIM_CHECK(left_id != vocab_.end() && right_id != vocab_.end(), where, ": merge ", rank, " (",
                 quote(left), ", ", quote(right), ") uses a token missing from the vocabulary");
      SLIM_CHECK(merged_id != vocab_.end(), where, ": merge ", rank, " produces ", quote(merged),
                 " which is not in the vocabulary");
      merges_.emplace(pair_key(left_id->second, right_id->second), Merge{rank, merged_id->second});
      ++rank;
    }
  }

  // One initial symbol per character (byte pieces or unk when the character is unknown).
  std::vector<TokenId> initial_symbols(const std::string& word) const {
    std::vector<TokenId> symbols;
    const auto characters = utf8_characters(word);
    bool previous_unk = false;
    for (size_t i = 0; i < characters.size(); ++i) {
      std::string token;
      if (i > 0 && !prefix_.empty()) token = prefix_;
      token.append(characters[i]);
      if (i + 1 == characters.size() && !suffix_.empty()) token += suffix_;
      const auto it = vocab_.find(token);
      if (it != vocab_.end()) {
        symbols.push_back(it->second);
        previous_unk = false;
        continue;
      }
      if (byte_fallback_) {
        bool all_bytes = true;
        for (unsigned char byte : characters[i])
          all_bytes = all_bytes && byte_ids_[byte] >= 0;
        if (all_bytes) {
          for (unsigned char byte : characters[i])
            symbols.push_back(byte_ids_[byte]);
          previous_unk = false;
          continue;
        }
      }
      if (unk_id_) {
        if (!(fuse_unk_ && previous_unk)) symbols.push_back(*unk_id_);
        previous_unk = true;
      }
      // Without an unk token, an unknown character is dropped, as tokenizers does.
    }
    return symbols;
  }

  std::vector<TokenId> encode_word(const std::string& word) const {
    if (ignore_merges_) {
      const auto it = vocab_.find(word + suffix_);
      if (it != vocab_.end()) return {it->second};
    }
    std::vector<TokenId> ids = initial_symbols(word);
    const size_t n = ids.size();
    if (n < 2) return ids;
    // Doubly linked list over positions; merged-away positions are marked dead (id -1).
    std::vector<int> next(n);
    std::vector<int> prev(n);
    for (size_t i = 0; i < n; ++i) {
      next[i] = static_cast<int>(i) + 1 < static_cast<int>(n) ? static_cast<int>(i) + 1 : -1;
      prev[i] = static_cast<int>(i) - 1;
    }
    struct Candidate {
      int32_t rank;
      int left;
      TokenId left_id;
      TokenId right_id;
      bool operator>(const Candidate& other) const {
        return rank != other.rank ? rank > other.rank : left > other.left;
      }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    auto push = [&](int left) {
      if (left < 0 || next[left] < 0) return;
      const auto it = merges_.find(pair_key(ids[left], ids[next[left]]));
      if (it != merges_.end()) queue.push({it->second.rank, left, ids[left], ids[next[left]]});
    };
    for (int i = 0; i + 1 < static_cast<int>(n); ++i)
      push(i);
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      const int left = top.left;
      const int right = next[left];
      // Stale entries: a side was merged away or changed since the candidate was queued.
      if (ids[left] != top.left_id || right < 0 || ids[right] != top.right_id) continue;
      ids[left] = merges_.at(pair_key(top.left_id, top.right_id)).merged;
      ids[right] = -1;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      push(prev[left]);
      push(left);
    }
    std::vector<TokenId> result;
    for (int i = 0; i >= 0; i = next[i])
      result.push_back(ids[i]);
    return result;
  }

  std::unordered_map<std::string, TokenId> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::string prefix_;
  std::string suffix_;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::optional<TokenId> unk_id_;
  TokenId byte_ids_[256] = {};
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>> cache_;
};

// Greedy longest-match-first WordPiece (BERT).
class WordPieceModel : public Model {
 public:
  WordPieceModel(const json& object, const std::string& where, Vocabulary& vocabulary) {
    vocab_ = read_vocab(require_key(object, "vocab", where), where, vocabulary);
    prefix_ = string_or(object, "continuing_subword_prefix", "##", where);
    const std::string unk = string_or(object, "unk_token", "[UNK]", where);
    const auto it = vocab_.find(unk);
    SLIM_CHECK(it != vocab_.end(), where, ": unk_token ", quote(unk), " is not in the vocabulary");
    unk_id_ = it->second;
    if (object.contains("max_input_chars_per_word")) {
      max_chars_ = object.at("max_input_chars_per_word").get<size_t>();
    }
  }

  void tokenize(const std::string& piece, std::vector<TokenId>& out) const override {
    const auto characters = utf8_characters(piece);
    if (characters.size() > max_chars_) {
      out.push_back(unk_id_);
      return;
    }
    std::vector<TokenId> ids;
    size_t start = 0;
    while (start < characters.size()) {
      size_t end = characters.size();
      std::optional<TokenId> found;
      while (end > start) {
        const size_t begin_byte = characters[start].data() - piece.data();
        const size_t end_byte =
            characters[end - 1].data() + characters[end - 1].size() - piece.data();
        std::string candidate = piece.substr(begin_byte, end_byte - begin_byte);
        if (start > 0) candidate = prefix_ + candidate;
        const auto it = vocab_.find(candidate);
        if (it != vocab_.end()) {
          found = it->second;
          break;
        }
        --end;
      }
      if (!found) {
        out.push_back(unk_id_);
        return;
      }
      ids.push_back(*found);
      start = end;
    }
    out.insert(out.end(), ids.begin(), ids.end());
  }

 private:
  std::unordered_map<std::string, TokenId> vocab_;
  std::string prefix_;
  TokenId unk_id_ = 0;
  size_t max_chars_ = 100;
};

}  // namespace

std::unique_ptr<Model> make_model(const json& object, const std::string& where,
                                  Vocabulary& vocabulary) {
  SLIM_CHECK(object.is_object(), where, ": 'model' must be an object");
  // Older files omit "type" for BPE.
  const std::string type = string_or(object, "type", object.contains("merges") ? "BPE" : "", where);
  const std::string here = where + " (" + type + ")";
  if (type == "BPE") return std::make_unique<BpeModel>(object, here, vocabulary);
  if (type == "WordPiece") return std::make_unique<WordPieceModel>(object, here, vocabulary);
  SLIM_FAIL(where, ": model type ", quote(type),
            " is not supported (supported: BPE, WordPiece; for Unigram use tokenizer.model)");
}

}  // namespace slim::io::tok
