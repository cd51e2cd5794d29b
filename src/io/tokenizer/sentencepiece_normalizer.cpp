// SentencePiece normalization: UTF-8 rules, byte pieces, tries, the precompiled charsmap and the
// whitespace handling of NormalizerSpec.
#include <algorithm>
#include <cstdio>

#include "io/tokenizer/sentencepiece_internal.h"
#include "slim/core/error.h"
#include "slim/core/utf8.h"

namespace slim::io::spm {

namespace {

uint32_t load_u32_le(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
         (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
}

}  // namespace

bool valid_utf8_prefix(std::string_view text, size_t* length) {
  const size_t valid = valid_utf8_length(text);
  *length = valid == 0 ? 1 : valid;
  return valid != 0;
}

std::string byte_piece(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof(text), "<0x%02X>", byte);
  return text;
}

int piece_byte(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = piece[i];
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value |= c - 'A' + 10;
    } else {
      return -1;  // SentencePiece writes upper-case hex only
    }
  }
  return value;
}

// ------------------------------------------------------------------------------------ ByteTrie

ByteTrie::ByteTrie(std::vector<std::pair<std::string_view, int32_t>> entries) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  nodes_.emplace_back();
  struct Work {
    uint32_t node;
    size_t lo, hi, depth;
  };
  std::vector<Work> stack = {{0, 0, entries.size(), 0}};
  while (!stack.empty()) {
    const Work work = stack.back();
    stack.pop_back();
    size_t lo = work.lo;
    // Entries ending here come first in sorted order; the first one wins.
    if (lo < work.hi && entries[lo].first.size() == work.depth) {
      nodes_[work.node].value = entries[lo].second;
      while (lo < work.hi && entries[lo].first.size() == work.depth)
        ++lo;
    }
    // One edge per distinct next byte, stored contiguously for this node.
    std::vector<Work> children;
    const uint32_t first_edge = static_cast<uint32_t>(edges_.size());
    for (size_t i = lo; i < work.hi;) {
      const auto label = static_cast<unsigned char>(entries[i].first[work.depth]);
      size_t j = i;
      while (j < work.hi && static_cast<unsigned char>(entries[j].first[work.depth]) == label)
        ++j;
      const auto target = static_cast<uint32_t>(nodes_.size());
      nodes_.emplace_back();
      edges_.push_back({label, target});
      children.push_back({target, i, j, work.depth + 1});
      i = j;
    }
    nodes_[work.node].first_edge = first_edge;
    nodes_[work.node].edge_count = static_cast<uint32_t>(edges_.size() - first_edge);
    stack.insert(stack.end(), children.begin(), children.end());
  }
}

uint32_t ByteTrie::child(uint32_t node, unsigned char label) const {
  const Node& n = nodes_[node];
  const Edge* begin = edges_.data() + n.first_edge;
  const Edge* end = begin + n.edge_count;
  const Edge* it = std::lower_bound(begin, end, label,
                                    [](const Edge& e, unsigned char l) { return e.label < l; });
  return (it != end && it->label == label) ? it->target : kNone;
}

size_t ByteTrie::longest_prefix(std::string_view text) const {
  size_t longest = 0;
  if (nodes_.empty()) return 0;
  for_each_prefix(text, [&](size_t length, int32_t) { longest = length; });
  return longest;
}

// ------------------------------------------------------------------------------------ CharsMap

CharsMap::CharsMap(const std::string& blob, const std::string& source) {
  const std::string where = str(source, ": normalizer_spec.precompiled_charsmap");
  SLIM_CHECK(blob.size() > 4, where, ": ", blob.size(),
             " bytes is too short for the 4-byte trie size and the trie");
  const uint32_t trie_size = load_u32_le(blob.data());
  SLIM_CHECK(trie_size < blob.size() - 4, where, ": trie size ", trie_size,
             " leaves no room in the ", blob.size(), "-byte blob for the replacement strings");
  SLIM_CHECK(trie_size >= 1024 && trie_size % 1024 == 0, where, ": trie size ", trie_size,
             " is not a positive multiple of 1024");
  replacements_ = blob.substr(4 + trie_size);
  SLIM_CHECK(replacements_.back() == '\0', where,
             ": the replacement strings do not end with a NUL byte");
  units_.resize(trie_size / 4);
  for (size_t i = 0; i < units_.size(); ++i)
    units_[i] = load_u32_le(blob.data() + 4 + 4 * i);
}

std::pair<size_t, std::string_view> CharsMap::longest_match(std::string_view text) const {
  // darts-clone unit: bit 8 has_leaf, bits 0-7 (and 31) label, value = low 31 bits of the leaf,
  // offset = (unit >> 10) << ((unit & (1 << 9)) >> 6). Children of a node at `p` are at
  // p ^ offset ^ label; every position is checked against the array's size.
  const auto offset = [](uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); };
  if (units_.empty()) return {0, {}};
  size_t best_length = 0;
  uint32_t best_value = 0;
  size_t node = offset(units_[0]);
  for (size_t i = 0; i < text.size(); ++i) {
    const auto label = static_cast<unsigned char>(text[i]);
    node ^= label;
    if (node >= units_.size()) break;
    const uint32_t unit = units_[node];
    if ((unit & ((1u << 31) | 0xFF)) != label) break;
    node ^= offset(unit);
    if (((unit >> 8) & 1) != 0) {
      if (node >= units_.size()) break;
      best_length = i + 1;
      best_value = units_[node] & ((1u << 31) - 1);
    }
  }
  if (best_length == 0 || best_value >= replacements_.size()) return {0, {}};
  // NUL-terminated; the blob's last byte is NUL, so this stays inside it.
  return {best_length, std::string_view(replacements_.data() + best_value)};
}

// ---------------------------------------------------------------------------------- Normalizer

Normalizer::Normalizer(const SentencePieceModel& model, const ByteTrie* user_defined)
    : spec_(model.normalizer),
      treat_whitespace_as_suffix_(model.treat_whitespace_as_suffix),
      user_defined_(user_defined) {
  if (!spec_.precompiled_charsmap.empty())
    charsmap_ = CharsMap(spec_.precompiled_charsmap, model.source);
}

std::pair<std::string_view, size_t> Normalizer::normalize_prefix(std::string_view input) const {
  if (input.empty()) return {{}, 0};
  // User-defined pieces are never normalized.
  if (user_defined_ != nullptr) {
    const size_t length = user_defined_->longest_prefix(input);
    if (length > 0) return {input.substr(0, length), length};
  }
  const auto [length, replacement] = charsmap_.longest_match(input);
  if (length > 0 && length <= input.size()) return {replacement, length};
  size_t char_length = 1;
  if (!valid_utf8_prefix(input, &char_length)) return {kReplacementCharacter, 1};
  return {input.substr(0, char_length), char_length};
}

std::string Normalizer::normalize(std::string_view input) const {
  std::string out;
  if (input.empty()) return out;
  const std::string_view space = spec_.escape_whitespaces ? kSpaceSymbol : std::string_view(" ");

  if (spec_.remove_extra_whitespaces) {
    while (!input.empty()) {
      const auto [normalized, consumed] = normalize_prefix(input);
      if (normalized != " ") break;
      input.remove_prefix(consumed);
    }
  }
  if (input.empty()) return out;
  out.reserve(input.size() * 3);

  if (!treat_whitespace_as_suffix_ && spec_.add_dummy_prefix) out.append(space);

  bool previous_was_space = spec_.remove_extra_whitespaces;
  while (!input.empty()) {
    auto [normalized, consumed] = normalize_prefix(input);
    while (previous_was_space && !normalized.empty() && normalized.front() == ' ')
      normalized.remove_prefix(1);
    if (!normalized.empty()) {
      for (const char c : normalized) {
        if (c == ' ' && spec_.escape_whitespaces) {
          out.append(kSpaceSymbol);
        } else {
          out.push_back(c);
        }
      }
      previous_was_space = normalized.back() == ' ';
    }
    input.remove_prefix(consumed);
    if (!spec_.remove_extra_whitespaces) previous_was_space = false;
  }

  if (spec_.remove_extra_whitespaces) {
    while (out.size() >= space.size() &&
           std::string_view(out).substr(out.size() - space.size()) == space)
      out.resize(out.size() - space.size());
  }
  if (treat_whitespace_as_suffix_ && spec_.add_dummy_prefix) out.append(space);
  return out;
}

}  // namespace slim::io::spm
