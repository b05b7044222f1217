// CLIP's text cleaning: ftfy.fix_text with ftfy 6.3.1's defaults (the version the tokenizer
// fixtures were made with), then html.unescape twice, whitespace collapsed, strip, lower-case.
// Written from ftfy's documentation and behaviour, not translated from its code.
//
// fix_text splits the text after each '\n' and fixes every segment on its own; unescape_html
// ("auto") is switched off from the first segment that contains '<' onwards. On a segment it
// repeats, until nothing changes: unescape_html, fix_encoding, fix_c1_controls,
// fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks,
// remove_terminal_escapes, remove_control_chars, NFC. Implemented, as ftfy 6.3.1 does them:
//
// - unescape_html: '&name;' from the HTML5 table (also its upper-case Latin variants such as
//   '&EACUTE;'), and '&#N;' / '&#xN;' references; entities without ';' are left alone.
// - fix_encoding (mojibake), repeated until the text stops changing, so several layers come off:
//   text that is all ASCII, or that the "badness" heuristic does not flag, is kept. Otherwise,
//   for each single-byte encoding in ftfy's order (latin-1, sloppy-windows-1252, -1251, -1250,
//   -1253, -1254, -1257, iso-8859-2, macroman, cp437) that can encode the whole text: encode
//   it; restore_byte_a0 (a space that stood for byte A0 inside a UTF-8 sequence, and 'Ã ' as
//   'à'); for the sloppy encodings replace_lossy_sequences (UTF-8 sequences with a lost byte,
//   U+FFFD/'?', become U+FFFD); then decode as strict UTF-8 (utf-8-variants, i.e. CESU-8
//   surrogate pairs and C0 80, when bytes ED or C0 occur). The first that decodes wins. If none
//   does, decode_inconsistent_utf8 fixes the runs that look like UTF-8 mojibake one by one (when
//   each is "bad" on its own), and last C1 controls become their Windows-1252 characters.
//   "Sloppy" encodings map their undefined bytes to the Latin-1 code points, and U+FFFD to 1A.
// - The badness heuristic: ftfy's character categories and its list of unlikely sequences
//   (badness.py), evaluated as ftfy's is_bad (any match).
// - fix_c1_controls, fix_latin_ligatures (ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ→ſt ﬆ, Ĳ ĳ ŉ and the DŽ/LJ/NJ/DZ digraphs),
//   fix_character_width (U+FF01–U+FFEF to their NFKC form, U+3000 to a space), uncurl_quotes
//   (U+02BC and U+2018–U+201B to ', U+201C–U+201F to "), fix_line_breaks (CRLF, CR, U+2028,
//   U+2029, U+0085 to LF), remove_terminal_escapes (ESC [ digits/; letter), remove_control_chars
//   (U+0000–U+0008, U+000B, U+000E–U+001F, U+007F, U+206A–U+206F, U+FEFF, U+FFF9–U+FFFC;
//   ftfy keeps tag characters, joiners, bidi controls and musical controls), NFC.
//
// Not implemented, and why:
// - fix_surrogates: the input is UTF-8, which cannot hold UTF-16 surrogates; invalid UTF-8
//   input becomes U+FFFD before anything else (Python would have refused to decode it).
// - max_decode_length (segments over 1,000,000 characters are cut): captions are short.
// - The character tables come from CPython 3.11 (codecs, html.entities, ftfy's categories);
//   ICU's Unicode version decides NFC/NFKC, letters and whitespace, which can differ from
//   Python's unicodedata 14.0 only for characters added since.
//
// html.unescape (applied twice by CLIP after ftfy) is Python's: '&#N', '&#xN' with or without
// ';', the HTML5 names with the longest-prefix rule for names without ';'.
#include "clip/text_clean.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace psic {

namespace {

using icu::UnicodeString;
using Text = std::u32string;  // code points, indexed like a Python str

// ---------------------------------------------------------------------------------------------
// Tables (generated, see the .inc files)

enum Category : uint16_t {
  kCommon = 1 << 0,
  kC1 = 1 << 1,
  kBad = 1 << 2,
  kLaw = 1 << 3,
  kCurrency = 1 << 4,
  kStartPunct = 1 << 5,
  kEndPunct = 1 << 6,
  kNumeric = 1 << 7,
  kKaomoji = 1 << 8,
  kUpperAccented = 1 << 9,
  kLowerAccented = 1 << 10,
  kUpperCommon = 1 << 11,
  kLowerCommon = 1 << 12,
  kBox = 1 << 13,
};

struct CategoryRange {
  char32_t first, last;
  uint16_t categories;
};

struct Charmap {
  const char* name;
  bool sloppy;       // undefined bytes pass through; U+FFFD is byte 1A
  bool restore_a0;   // restore_byte_a0 applies (not for macroman)
  char16_t high[128];  // bytes 0x80..0xFF
};

struct Entity {
  const char* name;
  const char* utf8;
};

#include "clip/text_clean_tables.inc"
#include "clip/html_entities.inc"

constexpr size_t kSloppy1252 = 1;  // kCharmaps[0] is latin-1
constexpr size_t kClueEncodings = 7;  // latin-1 .. windows-1257: the ones ftfy's UTF-8 clues use

uint16_t categories(char32_t c) {
  auto it = std::upper_bound(std::begin(kCategoryRanges), std::end(kCategoryRanges), c,
                             [](char32_t v, const CategoryRange& r) { return v < r.first; });
  if (it == std::begin(kCategoryRanges)) return 0;
  --it;
  return c <= it->last ? it->categories : 0;
}

bool in(char32_t c, uint16_t mask) { return (categories(c) & mask) != 0; }
bool one_of(char32_t c, const char32_t* set) { return std::char_traits<char32_t>::find(set, std::char_traits<char32_t>::length(set), c) != nullptr; }
bool ascii_letter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool ascii_lower(char32_t c) { return c >= 'a' && c <= 'z'; }
// Python's str.isspace / the regex \s: Unicode White_Space plus U+001C..U+001F.
bool is_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)) || (c >= 0x1C && c <= 0x1F); }
// The regex \w: letters, numbers, underscore.
bool is_word(char32_t c) {
  return c == '_' || (U_GET_GC_MASK(static_cast<UChar32>(c)) & (U_GC_L_MASK | U_GC_N_MASK)) != 0;
}

// ---------------------------------------------------------------------------------------------
// UTF-8 <-> code points

Text to_text(const std::string& utf8) {
  const UnicodeString u = UnicodeString::fromUTF8(utf8);  // invalid bytes become U+FFFD
  Text out;
  out.reserve(static_cast<size_t>(u.length()));
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    i += U16_LENGTH(c);
    out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string to_utf8(const Text& t) {
  std::string out;
  out.reserve(t.size());
  for (char32_t c : t) append_utf8(out, c);
  return out;
}

void append(Text& out, const char* utf8) {
  const Text t = to_text(utf8);
  out += t;
}

// Python's strict UTF-8 decoder (no overlongs, surrogates or code points past U+10FFFF); with
// `variants`, ftfy's utf-8-variants: also C0 80 as U+0000 and CESU-8 surrogate pairs.
std::optional<Text> decode_utf8_strict(const std::string& bytes, bool variants) {
  Text out;
  const size_t n = bytes.size();
  auto at = [&](size_t i) -> unsigned { return i < n ? static_cast<uint8_t>(bytes[i]) : 0x100u; };
  auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) { return at(i) >= lo && at(i) <= hi && at(i) < 0x100; };
  for (size_t i = 0; i < n;) {
    const unsigned b = at(i);
    if (variants && b == 0xC0 && at(i + 1) == 0x80) {
      out.push_back(0);
      i += 2;
    } else if (variants && b == 0xED && cont(i + 1, 0xA0, 0xAF) && cont(i + 2) && at(i + 3) == 0xED &&
               cont(i + 4, 0xB0, 0xBF) && cont(i + 5)) {
      const char32_t high = ((at(i + 1) & 0x0F) << 6) | (at(i + 2) & 0x3F);
      const char32_t low = ((at(i + 4) & 0x0F) << 6) | (at(i + 5) & 0x3F);
      out.push_back(0x10000 + (high << 10) + low);
      i += 6;
    } else if (b < 0x80) {
      out.push_back(b);
      i += 1;
    } else if (b >= 0xC2 && b <= 0xDF && cont(i + 1)) {
      out.push_back(((b & 0x1F) << 6) | (at(i + 1) & 0x3F));
      i += 2;
    } else if (b >= 0xE0 && b <= 0xEF && cont(i + 1, b == 0xE0 ? 0xA0 : 0x80, b == 0xED ? 0x9F : 0xBF) && cont(i + 2)) {
      out.push_back(((b & 0x0F) << 12) | ((at(i + 1) & 0x3F) << 6) | (at(i + 2) & 0x3F));
      i += 3;
    } else if (b >= 0xF0 && b <= 0xF4 && cont(i + 1, b == 0xF0 ? 0x90 : 0x80, b == 0xF4 ? 0x8F : 0xBF) && cont(i + 2) &&
               cont(i + 3)) {
      out.push_back(((b & 0x07) << 18) | ((at(i + 1) & 0x3F) << 12) | ((at(i + 2) & 0x3F) << 6) | (at(i + 3) & 0x3F));
      i += 4;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Single-byte encodings

const std::map<char32_t, uint8_t>& reverse_charmap(size_t k) {
  static const auto maps = [] {
    std::vector<std::map<char32_t, uint8_t>> m(std::size(kCharmaps));
    for (size_t e = 0; e < m.size(); ++e)
      for (int b = 127; b >= 0; --b) m[e][kCharmaps[e].high[b]] = static_cast<uint8_t>(0x80 + b);  // first byte wins
    return m;
  }();
  return maps[k];
}

// text.encode(encoding), or nothing when a character is not in it (ftfy's possible_encoding).
std::optional<std::string> encode_single_byte(const Text& t, size_t k) {
  const Charmap& cm = kCharmaps[k];
  const auto& rev = reverse_charmap(k);
  std::string out;
  out.reserve(t.size());
  for (char32_t c : t) {
    if (c == 0x1A) {
      if (cm.sloppy) return std::nullopt;
      out.push_back(0x1A);
    } else if (c == 0xFFFD && cm.sloppy) {
      out.push_back(0x1A);
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      auto it = rev.find(c);
      if (it == rev.end()) return std::nullopt;
      out.push_back(static_cast<char>(it->second));
    }
  }
  return out;
}

bool is_ascii(const Text& t) {
  return std::all_of(t.begin(), t.end(), [](char32_t c) { return c < 0x80; });
}

// ---------------------------------------------------------------------------------------------
// The badness heuristic: does the text hold a sequence that is far likelier mojibake than text?

bool bad_at(const Text& t, size_t i) {
  const size_t n = t.size();
  auto c = [&](size_t k) -> char32_t { return i + k < n ? t[i + k] : 0xFFFFFFFF; };
  auto cat = [&](size_t k, uint16_t mask) { return i + k < n && in(t[i + k], mask); };
  constexpr uint16_t kAccented = kLowerAccented | kUpperAccented;
  constexpr uint16_t kMarks = kBox | kStartPunct | kEndPunct | kCurrency | kNumeric | kLaw;

  if (cat(0, kC1)) return true;
  if (cat(0, kBad | kAccented | kMarks) && cat(1, kBad)) return true;
  if (ascii_letter(c(0)) && cat(1, kLowerCommon | kUpperCommon) && cat(2, kBad)) return true;
  if (cat(0, kBad) && cat(1, kAccented | kMarks)) return true;
  if (cat(0, kLowerAccented | kLowerCommon | kBox | kEndPunct | kCurrency | kNumeric) && cat(1, kUpperAccented)) return true;
  if (cat(0, kBox | kEndPunct | kCurrency | kNumeric) && cat(1, kLowerAccented)) return true;
  if (cat(0, kLowerAccented | kBox | kEndPunct) && cat(1, kCurrency)) return true;
  if (i < n && is_space(c(0)) && cat(1, kUpperAccented) && cat(2, kCurrency)) return true;
  if (cat(0, kUpperAccented | kBox) && cat(1, kNumeric | kLaw)) return true;
  if (cat(0, kAccented | kBox | kCurrency | kEndPunct) && cat(1, kStartPunct) && cat(2, kNumeric)) return true;
  if (cat(0, kAccented | kCurrency | kNumeric | kBox | kLaw) && cat(1, kEndPunct) && cat(2, kStartPunct)) return true;
  if (cat(0, kCurrency | kNumeric | kBox) && cat(1, kStartPunct)) return true;
  if (ascii_lower(c(0)) && cat(1, kUpperAccented) && cat(2, kStartPunct | kCurrency)) return true;
  if (cat(0, kBox) && cat(1, kKaomoji)) return true;
  if (cat(0, kAccented | kCurrency | kNumeric | kStartPunct | kEndPunct | kLaw) && cat(1, kBox)) return true;
  if (cat(0, kBox) && cat(1, kEndPunct)) return true;
  if (cat(0, kAccented) && cat(1, kStartPunct | kEndPunct) && i + 2 < n && is_word(c(2))) return true;
  // œ not followed by an unaccented Latin letter; a degree sign after a capital accented letter.
  if ((c(0) == U'\u0152' || c(0) == U'\u0153') && i + 1 < n && !ascii_letter(c(1))) return true;
  if (cat(0, kUpperAccented) && c(1) == U'\u00b0') return true;
  // Common two-character Windows-1252 mojibake.
  if (one_of(c(0), U"\u00c2\u00c3\u00ce\u00d0") && i + 1 < n &&
      (one_of(c(1), U"\u20ac\u0153\u0160\u0161\u00a2\u00a3\u0178\u017e\u00a0\u00ad\u00ae\u00a9\u00b0\u00b7\u00bb\u2013\u2014\u00b4") ||
       cat(1, kStartPunct | kEndPunct)))
    return true;
  if (c(0) == U'\u00d7' && (c(1) == U'\u00b2' || c(1) == U'\u00b3')) return true;
  // Windows-1252 mojibake of Arabic: four characters.
  auto arabic_second = [&](size_t k) {
    return i + k < n && (cat(k, kCommon | kCurrency | kBad | kNumeric | kStartPunct) ||
                         one_of(t[i + k], U"\u0178\u0160\u00ae\u00b0\u00b5\u00bb"));
  };
  if (one_of(c(0), U"\u00d8\u00d9") && arabic_second(1) && one_of(c(2), U"\u00d8\u00d9") && arabic_second(3)) return true;
  // Windows-1252 mojibake starting three-byte sequences of South Asian scripts.
  if (c(0) == U'\u00e0' && one_of(c(1), U"\u00b2\u00b5\u00b9\u00bc\u00bd\u00be")) return true;
  // MacRoman mojibake.
  if (c(0) == U'\u221a' && one_of(c(1), U"\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5\u00f8")) return true;
  if (c(0) == U'\u2248' && (c(1) == U'\u00b0' || c(1) == U'\u00a2')) return true;
  if (c(0) == U'\u201a' && c(1) == U'\u00c4' && one_of(c(2), U"\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2\u03c0")) return true;
  if (c(0) == U'\u201a' && (c(1) == U'\u00e2' || c(1) == U'\u00f3') && one_of(c(2), U"\u00e0\u00e4\u00b0\u00ea")) return true;
  // Windows-1251 mojibake.
  if (c(0) == U'\u0432' && c(1) == U'\u0402') return true;
  constexpr uint16_t kCyrGreekMiddle = kC1 | kBad | kStartPunct | kEndPunct | kCurrency;
  if (one_of(c(0), U"\u0412\u0413\u0420\u0421") && i + 1 < n && (cat(1, kCyrGreekMiddle) || one_of(c(1), U"\u00b0\u00b5")) &&
      one_of(c(2), U"\u0412\u0413\u0420\u0421"))
    return true;
  if (c(0) == U'\u0413' && c(1) == U'\u045e' && c(2) == U'\u0412' && c(3) == U'\u0402' && c(4) == U'\u0412' && i + 5 < n &&
      c(5) != '\n' && (ascii_letter(c(6)) || c(6) == ' '))
    return true;
  // Windows-1252 encodings of 'à', 'á' and U+00A0 itself.
  if (c(0) == U'\u00c3' && (c(1) == U'\u00a0' || c(1) == U'\u00a1')) return true;
  if (ascii_lower(c(0))) {  // [a-z]\s?[ÃÂ] followed by a space
    const size_t k = (i + 1 < n && is_space(c(1))) ? 2 : 1;
    if ((c(1) == U'\u00c3' || c(1) == U'\u00c2') && c(2) == ' ') return true;
    if (k == 2 && (c(2) == U'\u00c3' || c(2) == U'\u00c2') && c(3) == ' ') return true;
  }
  if (i == 0 && (c(0) == U'\u00c3' || c(0) == U'\u00c2') && c(1) == ' ') return true;
  // Â standing in front of the very character it encodes.
  if (i + 2 < n && (ascii_lower(c(0)) || one_of(c(0), U".,?!") || cat(0, kEndPunct)) && c(1) == U'\u00c2' &&
      (c(2) == ' ' || cat(2, kStartPunct | kEndPunct)))
    return true;
  // Windows-1253 mojibake.
  if (c(0) == U'\u03b2' && c(1) == U'\u20ac' && one_of(c(2), U"\u2122\u00a0\u0386\u00ad\u00ae\u00b0")) return true;
  if (one_of(c(0), U"\u0392\u0393\u039e\u039f") && i + 1 < n && (cat(1, kCyrGreekMiddle) || c(1) == U'\u00b0') &&
      one_of(c(2), U"\u0392\u0393\u039e\u039f"))
    return true;
  // Windows-1257 mojibake.
  if (c(0) == U'\u0101' && c(1) == U'\u20ac') return true;
  return false;
}

bool is_bad(const Text& t) {
  for (size_t i = 0; i < t.size(); ++i)
    if (bad_at(t, i)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Byte-level repairs applied before decoding as UTF-8

bool in_range(unsigned b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; }
// Continuation bytes that make likely characters after E0–E3 (not 85, A0).
bool likely_continuation(unsigned b) { return in_range(b, 0x80, 0x84) || in_range(b, 0x86, 0x9F) || in_range(b, 0xA1, 0xBF); }

// Length of the UTF-8 sequence that a space (standing for A0) broke at `i`, or 0.
size_t altered_utf8_at(const std::string& s, size_t i) {
  auto at = [&](size_t k) -> unsigned { return i + k < s.size() ? static_cast<uint8_t>(s[i + k]) : 0x100; };
  const unsigned b = at(0);
  if ((b == 0xC2 || b == 0xC3 || b == 0xC5 || b == 0xCE || b == 0xD0 || b == 0xD9) && at(1) == ' ') return 2;
  if ((b == 0xE2 || b == 0xE3) && at(1) == ' ' && likely_continuation(at(2))) return 3;
  if (in_range(b, 0xE0, 0xE3) && likely_continuation(at(1)) && at(2) == ' ') return 3;
  if (b == 0xF0) {
    const bool c1 = in_range(at(1), 0x80, 0xBF), c2 = in_range(at(2), 0x80, 0xBF), c3 = in_range(at(3), 0x80, 0xBF);
    if ((at(1) == ' ' && c2 && c3) || (c1 && at(2) == ' ' && c3) || (c1 && c2 && at(3) == ' ')) return 4;
  }
  return 0;
}

bool has_altered_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (altered_utf8_at(s, i)) return true;
  return false;
}

// ftfy's restore_byte_a0: 'Ã ' as a word becomes 'à ' (except Portuguese 'às', 'àquele'...), then
// the spaces inside otherwise-valid UTF-8 sequences become A0.
std::string restore_byte_a0(const std::string& in) {
  std::string s;
  for (size_t i = 0; i < in.size();) {
    if (static_cast<uint8_t>(in[i]) == 0xC3 && i + 1 < in.size() && in[i + 1] == ' ') {
      const std::string rest = in.substr(i + 2, 5);
      const bool keep = rest.rfind(" ", 0) == 0 || rest.rfind("quele", 0) == 0 || rest.rfind("quela", 0) == 0 ||
                        rest.rfind("quilo", 0) == 0 || rest.rfind("s ", 0) == 0;
      if (!keep) {
        s += "\xc3\xa0 ";
        i += 2;
        continue;
      }
    }
    s.push_back(in[i++]);
  }
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t len = altered_utf8_at(s, i);
    if (len == 0) {
      out.push_back(s[i++]);
      continue;
    }
    for (size_t k = 0; k < len; ++k) out.push_back(s[i + k] == ' ' ? '\xa0' : s[i + k]);
    i += len;
  }
  return out;
}

// ftfy's replace_lossy_sequences: UTF-8 sequences with a byte lost to U+FFFD (byte 1A) or '?'.
std::string replace_lossy_sequences(const std::string& s) {
  auto lossy_at = [&](size_t i) -> size_t {
    auto at = [&](size_t k) -> unsigned { return i + k < s.size() ? static_cast<uint8_t>(s[i + k]) : 0x100; };
    auto lost = [](unsigned b) { return b == 0x1A || b == '?'; };
    auto cont_or_sub = [](unsigned b) { return b == 0x1A || in_range(b, 0x80, 0xBF); };
    const unsigned b = at(0);
    if (in_range(b, 0xC2, 0xDF) && at(1) == 0x1A) return 2;
    if (in_range(b, 0xC2, 0xC3) && at(1) == '?') return 2;
    if (b == 0xED && in_range(at(1), 0xA0, 0xAF) && lost(at(2)) && at(3) == 0xED && in_range(at(4), 0xB0, 0xBF) &&
        (lost(at(5)) || in_range(at(5), 0x80, 0xBF)))
      return 6;
    if (b == 0xED && in_range(at(1), 0xA0, 0xAF) && (lost(at(2)) || in_range(at(2), 0x80, 0xBF)) && at(3) == 0xED &&
        in_range(at(4), 0xB0, 0xBF) && lost(at(5)))
      return 6;
    if (in_range(b, 0xE0, 0xEF) && ((lost(at(1)) && cont_or_sub(at(2))) || (cont_or_sub(at(1)) && lost(at(2))))) return 3;
    if (in_range(b, 0xF0, 0xF4) &&
        ((lost(at(1)) && cont_or_sub(at(2)) && cont_or_sub(at(3))) || (cont_or_sub(at(1)) && lost(at(2)) && cont_or_sub(at(3))) ||
         (cont_or_sub(at(1)) && cont_or_sub(at(2)) && lost(at(3)))))
      return 4;
    if (b == 0x1A) return 1;
    return 0;
  };
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t len = lossy_at(i);
    if (len == 0) {
      out.push_back(s[i++]);
    } else {
      out += "\xef\xbf\xbd";
      i += len;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// fix_encoding

Text fix_encoding(const Text& text);

// Characters that look like the bytes of UTF-8 in the encodings ftfy's clues cover.
struct Utf8Clues {
  std::vector<char32_t> first_of_2, first_of_3, first_of_4, continuation, continuation_strict;
  static bool has(const std::vector<char32_t>& v, char32_t c) { return std::binary_search(v.begin(), v.end(), c); }
};

const Utf8Clues& utf8_clues() {
  static const Utf8Clues clues = [] {
    Utf8Clues c;
    auto add = [](std::vector<char32_t>& v, unsigned lo, unsigned hi) {
      for (size_t e = 0; e < kClueEncodings; ++e)
        for (unsigned b = lo; b <= hi; ++b) v.push_back(kCharmaps[e].high[b - 0x80]);
    };
    add(c.first_of_2, 0xC2, 0xDF);
    add(c.first_of_3, 0xE0, 0xEF);
    add(c.first_of_4, 0xF0, 0xF0);
    add(c.first_of_4, 0xF3, 0xF3);
    add(c.continuation, 0x80, 0xBF);
    c.continuation_strict = c.continuation;
    c.continuation.push_back(' ');  // a space that stood for A0
    // Punctuation that often stands for itself next to mojibake is not a "strict" continuation.
    const Text loose = U"\u2013\u2014\u2015\u2026\u2018\u2019\u201a\u201c\u201d\u201e\u2022";
    c.continuation_strict.erase(std::remove_if(c.continuation_strict.begin(), c.continuation_strict.end(),
                                               [&](char32_t ch) { return loose.find(ch) != Text::npos; }),
                                c.continuation_strict.end());
    for (auto* v : {&c.first_of_2, &c.first_of_3, &c.first_of_4, &c.continuation, &c.continuation_strict}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    return c;
  }();
  return clues;
}

// End of the run of UTF-8-looking sequences that starts at `i`, or `i` when none does.
size_t utf8_run_end(const Text& t, size_t i) {
  const Utf8Clues& k = utf8_clues();
  if (i > 0 && Utf8Clues::has(k.continuation_strict, t[i - 1])) return i;
  auto conts = [&](size_t from, size_t count) {
    if (from + count > t.size()) return false;
    for (size_t j = from; j < from + count; ++j)
      if (!Utf8Clues::has(k.continuation, t[j])) return false;
    return true;
  };
  size_t j = i;
  while (j < t.size()) {
    if (Utf8Clues::has(k.first_of_2, t[j]) && conts(j + 1, 1)) {
      j += 2;
    } else if (Utf8Clues::has(k.first_of_3, t[j]) && conts(j + 1, 2)) {
      j += 3;
    } else if (Utf8Clues::has(k.first_of_4, t[j]) && conts(j + 1, 3)) {
      j += 4;
    } else {
      break;
    }
  }
  return j;
}

// ftfy's decode_inconsistent_utf8: fix each run of UTF-8 mojibake on its own (text that mixes
// encodings, e.g. "café / cafÃ©").
Text decode_inconsistent_utf8(const Text& t) {
  Text out;
  for (size_t i = 0; i < t.size();) {
    const size_t j = utf8_run_end(t, i);
    if (j == i) {
      out.push_back(t[i++]);
      continue;
    }
    const Text run = t.substr(i, j - i);
    out += (run.size() < t.size() && is_bad(run)) ? fix_encoding(run) : run;
    i = j;
  }
  return out;
}

bool has_utf8_run(const Text& t) {
  for (size_t i = 0; i < t.size(); ++i)
    if (utf8_run_end(t, i) > i) return true;
  return false;
}

Text fix_c1_controls(const Text& t) {
  Text out = t;
  for (char32_t& c : out)
    if (c >= 0x80 && c <= 0x9F) c = kCharmaps[kSloppy1252].high[c - 0x80];
  return out;
}

bool has_c1(const Text& t) {
  return std::any_of(t.begin(), t.end(), [](char32_t c) { return c >= 0x80 && c <= 0x9F; });
}

Text fix_encoding_one_step(const Text& text) {
  if (text.empty() || is_ascii(text) || !is_bad(text)) return text;
  // UTF-8 decoded as a single-byte encoding: the usual case, tried first.
  for (size_t k = 0; k < std::size(kCharmaps); ++k) {
    auto bytes = encode_single_byte(text, k);
    if (!bytes) continue;
    if (kCharmaps[k].restore_a0 && has_altered_utf8(*bytes)) *bytes = restore_byte_a0(*bytes);
    if (kCharmaps[k].sloppy) *bytes = replace_lossy_sequences(*bytes);
    const bool variants = bytes->find('\xed') != std::string::npos || bytes->find('\xc0') != std::string::npos;
    if (auto fixed = decode_utf8_strict(*bytes, variants)) return *fixed;
  }
  // Mojibake embedded in text that is otherwise fine.
  if (has_utf8_run(text)) {
    Text fixed = decode_inconsistent_utf8(text);
    if (fixed != text) return fixed;
  }
  // Latin-1 meant as Windows-1252 (ftfy's latin-1 → windows-1252 step and fix_c1_controls both
  // come to this: each C1 control becomes its Windows-1252 character, the 5 undefined stay).
  if (has_c1(text)) return fix_c1_controls(text);
  return text;
}

Text fix_encoding(const Text& text) {
  Text t = text;
  for (;;) {
    Text next = fix_encoding_one_step(t);
    if (next == t) return t;
    t = std::move(next);
  }
}

// ---------------------------------------------------------------------------------------------
// HTML

const Entity* find_entity(const Entity* begin, const Entity* end, const std::string& name) {
  auto it = std::lower_bound(begin, end, name, [](const Entity& e, const std::string& n) { return std::strcmp(e.name, n.c_str()) < 0; });
  return it != end && name == it->name ? it : nullptr;
}

const Entity* html5_entity(const std::string& name) {
  return find_entity(std::begin(kHtml5Entities), std::end(kHtml5Entities), name);
}

bool ascii_alnum(char32_t c) { return ascii_letter(c) || (c >= '0' && c <= '9'); }
bool ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool ascii_hex(char32_t c) { return ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Python's html.unescape for a numeric reference (browsers' rules for invalid numbers).
Text html_numeric(const Text& digits, bool hex) {
  unsigned long long v = 0;
  bool huge = false;
  for (char32_t d : digits) {
    const unsigned x = ascii_digit(d) ? d - '0' : (d | 0x20) - 'a' + 10;
    v = v * (hex ? 16 : 10) + x;
    if (v > 0x10FFFF) huge = true, v = 0x110000;
  }
  if (huge) v = 0x110000;
  if (v == 0) return U"\ufffd";
  if (v == 0x0D) return U"\r";
  if (v >= 0x80 && v <= 0x9F) return Text(1, kCharmaps[kSloppy1252].high[v - 0x80]);
  if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return U"\ufffd";
  if ((v >= 0x1 && v <= 0x8) || v == 0xB || (v >= 0xE && v <= 0x1F) || v == 0x7F || (v >= 0xFDD0 && v <= 0xFDEF) ||
      (v & 0xFFFE) == 0xFFFE)
    return U"";
  return Text(1, static_cast<char32_t>(v));
}

// Length of a complete numeric reference '#123;' / '#x1F;' starting after '&' at `i`, or 0.
size_t numeric_reference_at(const Text& t, size_t i, bool need_semicolon, Text& value) {
  if (i >= t.size() || t[i] != '#') return 0;
  const bool hex = i + 1 < t.size() && (t[i + 1] == 'x' || t[i + 1] == 'X');
  size_t j = i + (hex ? 2 : 1);
  const size_t start = j;
  while (j < t.size() && (hex ? ascii_hex(t[j]) : ascii_digit(t[j]))) ++j;
  if (j == start) return 0;
  const bool semicolon = j < t.size() && t[j] == ';';
  if (need_semicolon && !semicolon) return 0;
  value = html_numeric(t.substr(start, j - start), hex);
  return j - i + (semicolon ? 1 : 0);
}

// ftfy's unescape_html: '&#?[0-9A-Za-z]{1,24};' when it names an entity or a number.
Text ftfy_unescape_html(const Text& t) {
  if (t.find(U'&') == Text::npos) return t;
  Text out;
  for (size_t i = 0; i < t.size();) {
    if (t[i] == '&') {
      size_t j = i + 1;
      const bool hash = j < t.size() && t[j] == '#';
      if (hash) ++j;
      const size_t start = j;
      while (j < t.size() && ascii_alnum(t[j])) ++j;
      if (j > start && j - start <= 24 && j < t.size() && t[j] == ';') {
        const std::string name = to_utf8(t.substr(i + 1, j - i));  // with the ';'
        Text value;
        if (hash) {
          if (numeric_reference_at(t, i + 1, true, value) == j - i) {
            out += value;
            i = j + 1;
            continue;
          }
        } else if (const Entity* e = html5_entity(name)) {
          append(out, e->utf8);
          i = j + 1;
          continue;
        } else if (const Entity* u = find_entity(std::begin(kFtfyUpperEntities), std::end(kFtfyUpperEntities), name)) {
          append(out, u->utf8);
          i = j + 1;
          continue;
        }
      }
    }
    out.push_back(t[i++]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The other fixes

Text per_character_fixes(const Text& t) {
  static const std::map<char32_t, const char32_t*> ligatures = {
      {0x0132, U"IJ"}, {0x0133, U"ij"}, {0x0149, U"\u02bcn"}, {0x01F1, U"DZ"}, {0x01F2, U"Dz"}, {0x01F3, U"dz"},
      {0x01C4, U"D\u017d"}, {0x01C5, U"D\u017e"}, {0x01C6, U"d\u017e"}, {0x01C7, U"LJ"}, {0x01C8, U"Lj"}, {0x01C9, U"lj"},
      {0x01CA, U"NJ"}, {0x01CB, U"Nj"}, {0x01CC, U"nj"}, {0xFB00, U"ff"}, {0xFB01, U"fi"}, {0xFB02, U"fl"},
      {0xFB03, U"ffi"}, {0xFB04, U"ffl"}, {0xFB05, U"\u017ft"}, {0xFB06, U"st"}};
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(err);
  Text s;
  // fix_c1_controls, fix_latin_ligatures, fix_character_width
  for (char32_t c : t) {
    if (c >= 0x80 && c <= 0x9F) {
      s.push_back(kCharmaps[kSloppy1252].high[c - 0x80]);
    } else if (auto lig = ligatures.find(c); lig != ligatures.end()) {
      s += lig->second;
    } else if (c == 0x3000) {
      s.push_back(' ');
    } else if (c >= 0xFF01 && c <= 0xFFEF && U_SUCCESS(err)) {
      UnicodeString one;
      one.append(static_cast<UChar32>(c));
      UErrorCode e2 = U_ZERO_ERROR;
      std::string folded;
      nfkc->normalize(one, e2).toUTF8String(folded);
      s += U_SUCCESS(e2) ? to_text(folded) : Text(1, c);
    } else {
      s.push_back(c);
    }
  }
  // uncurl_quotes
  for (char32_t& c : s) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    else if (c >= 0x201C && c <= 0x201F) c = '"';
  }
  // fix_line_breaks
  Text lines;
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    lines.push_back((c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) ? U'\n' : c);
  }
  // remove_terminal_escapes: ESC '[' (digits | ';')* letter
  Text plain;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] == 0x1B && i + 1 < lines.size() && lines[i + 1] == '[') {
      size_t j = i + 2;
      while (j < lines.size() && (lines[j] == ';' || u_isdigit(static_cast<UChar32>(lines[j])))) ++j;
      if (j < lines.size() && ascii_letter(lines[j])) {
        i = j;
        continue;
      }
    }
    plain.push_back(lines[i]);
  }
  // remove_control_chars
  Text out;
  for (char32_t c : plain) {
    const bool control = c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
                         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
    if (!control) out.push_back(c);
  }
  return out;
}

Text nfc(const Text& t) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) return t;
  std::string out;
  const UnicodeString u = UnicodeString::fromUTF8(to_utf8(t));
  n->normalize(u, err).toUTF8String(out);
  return U_SUCCESS(err) ? to_text(out) : t;
}

// ftfy's fix_and_explain on one segment: the whole sequence of fixes until nothing changes.
Text fix_segment(Text text, bool unescape) {
  for (;;) {
    const Text before = text;
    if (unescape) text = ftfy_unescape_html(text);
    text = fix_encoding(text);
    text = per_character_fixes(text);
    text = nfc(text);
    if (text == before) return text;
  }
}

}  // namespace

std::string html_unescape(const std::string& utf8) {
  if (utf8.find('&') == std::string::npos) return utf8;
  const Text t = to_text(utf8);
  Text out;
  for (size_t i = 0; i < t.size();) {
    if (t[i] != '&') {
      out.push_back(t[i++]);
      continue;
    }
    Text value;
    if (const size_t len = numeric_reference_at(t, i + 1, false, value)) {
      out += value;
      i += 1 + len;
      continue;
    }
    // '&' then up to 32 characters other than tab, LF, FF, space, '<', '&', '#', ';', then ';'?
    size_t j = i + 1;
    while (j < t.size() && j - i - 1 < 32 && Text(U"\t\n\f <&#;").find(t[j]) == Text::npos) ++j;
    if (j == i + 1) {
      out.push_back(t[i++]);
      continue;
    }
    if (j < t.size() && t[j] == ';') ++j;
    const Text ref = t.substr(i + 1, j - i - 1);
    if (const Entity* e = html5_entity(to_utf8(ref))) {
      append(out, e->utf8);
    } else {
      bool found = false;
      for (size_t x = ref.size() - 1; x > 1 && !found; --x) {
        if (const Entity* p = html5_entity(to_utf8(ref.substr(0, x)))) {
          append(out, p->utf8);
          out += ref.substr(x);
          found = true;
        }
      }
      if (!found) {
        out.push_back('&');
        out += ref;
      }
    }
    i = j;
  }
  return to_utf8(out);
}

std::string fix_text(const std::string& utf8) {
  const Text text = to_text(utf8);
  Text out;
  bool unescape = true;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find(U'\n', pos);
    end = end == Text::npos ? text.size() : end + 1;
    const Text segment = text.substr(pos, end - pos);
    if (segment.find(U'<') != Text::npos) unescape = false;  // "auto": stays off from here on
    out += fix_segment(segment, unescape);
    pos = end;
  }
  return to_utf8(out);
}

std::string clip_clean_text(const std::string& utf8) {
  const std::string basic = html_unescape(html_unescape(fix_text(utf8)));
  // whitespace_clean: runs of Unicode whitespace (Python's \s) become one space; strip; lower.
  const Text s = to_text(basic);
  Text out;
  bool pending_space = false;
  for (char32_t c : s) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  UnicodeString u = UnicodeString::fromUTF8(to_utf8(out));
  u.toLower(icu::Locale::getRoot());
  std::string result;
  u.toUTF8String(result);
  return result;
}

}  // namespace psic
