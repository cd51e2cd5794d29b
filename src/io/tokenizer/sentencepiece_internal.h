// Pieces of the SentencePiece implementation shared by its source files (private to src/io).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "slim/io/tokenizer/sentencepiece.h"

namespace slim::io::spm {

// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Length of the UTF-8 sequence a lead byte announces, as SentencePiece counts it (1 for ASCII,
// continuation and invalid bytes). Callers clamp it to the bytes left.
inline size_t one_char_length(unsigned char lead) {
  return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[lead >> 4];
}

// Whether `text` starts with a well-formed UTF-8 character (shortest form, no surrogates, at most
// U+10FFFF); `length` gets its byte length, or 1 when it is not valid.
bool valid_utf8_prefix(std::string_view text, size_t* length);

// The "<0x41>" piece of a byte, and the byte of such a piece (-1 when it is not one).
std::string byte_piece(unsigned char byte);
int piece_byte(std::string_view piece);

// A byte trie of strings with non-negative values; lookups walk it byte by byte.
class ByteTrie {
 public:
  ByteTrie() = default;
  explicit ByteTrie(std::vector<std::pair<std::string_view, int32_t>> entries);
  bool empty() const { return nodes_.size() <= 1; }

  // Calls on_match(length, value) for every entry that is a prefix of `text`, shortest first.
  template <typename OnMatch>
  void for_each_prefix(std::string_view text, OnMatch&& on_match) const {
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      node = child(node, static_cast<unsigned char>(text[i]));
      if (node == kNone) return;
      if (nodes_[node].value >= 0) on_match(i + 1, nodes_[node].value);
    }
  }
  // Length of the longest entry that is a prefix of `text` (0 when none).
  size_t longest_prefix(std::string_view text) const;

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Node {
    int32_t value = -1;
    uint32_t first_edge = 0;  // edges_[first_edge, first_edge + edge_count), sorted by label
    uint32_t edge_count = 0;
  };
  struct Edge {
    unsigned char label;
    uint32_t target;
  };
  uint32_t child(uint32_t node, unsigned char label) const;

  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
};

// SentencePiece's precompiled charsmap: a uint32 trie size, a darts-clone double array of that
// many bytes, then NUL-terminated replacement strings the trie's values point into.
class CharsMap {
 public:
  CharsMap() = default;
  // Validates the blob's layout; throws slim::Error naming `source`.
  CharsMap(const std::string& blob, const std::string& source);
  bool empty() const { return units_.empty(); }
  // The longest rule matching a prefix of `text`: its length and replacement; length 0 if none.
  std::pair<size_t, std::string_view> longest_match(std::string_view text) const;

 private:
  std::vector<uint32_t> units_;
  std::string replacements_;
};

// NormalizerSpec applied as SentencePiece's Normalizer::Normalize does.
class Normalizer {
 public:
  Normalizer(const SentencePieceModel& model, const ByteTrie* user_defined);
  std::string normalize(std::string_view input) const;

 private:
  // The normalized form of the longest rule / user-defined piece / character at the start of
  // `input`, and how many input bytes it consumes.
  std::pair<std::string_view, size_t> normalize_prefix(std::string_view input) const;

  SentencePieceModel::Normalizer spec_;
  bool treat_whitespace_as_suffix_ = false;
  CharsMap charsmap_;
  const ByteTrie* user_defined_ = nullptr;
};

}  // namespace slim::io::spm
