#include "clip/text_clean.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <map>
#include <optional>

namespace psic {

namespace {

using icu::UnicodeString;

std::string to_utf8(const UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

void append_code_point(std::string& out, UChar32 c) {
  UnicodeString u;
  u.append(c);
  u.toUTF8String(out);
}

// Named entities that captions use (Python's html5 table has 2,231; unknown names stay as text).
const std::map<std::string, std::u32string>& entities() {
  static const std::map<std::string, std::u32string> table = {
      {"amp", U"&"},      {"lt", U"<"},       {"gt", U">"},       {"quot", U"\""},    {"apos", U"'"},
      {"nbsp", U"\u00a0"}, {"copy", U"\u00a9"}, {"reg", U"\u00ae"}, {"trade", U"\u2122"}, {"hellip", U"\u2026"},
      {"mdash", U"\u2014"}, {"ndash", U"\u2013"}, {"lsquo", U"\u2018"}, {"rsquo", U"\u2019"}, {"ldquo", U"\u201c"},
      {"rdquo", U"\u201d"}, {"laquo", U"\u00ab"}, {"raquo", U"\u00bb"}, {"euro", U"\u20ac"}, {"pound", U"\u00a3"},
      {"yen", U"\u00a5"},  {"cent", U"\u00a2"}, {"deg", U"\u00b0"},  {"times", U"\u00d7"}, {"divide", U"\u00f7"},
      {"plusmn", U"\u00b1"}, {"middot", U"\u00b7"}, {"bull", U"\u2022"}, {"sect", U"\u00a7"}, {"para", U"\u00b6"},
      {"iexcl", U"\u00a1"}, {"iquest", U"\u00bf"}, {"eacute", U"\u00e9"}, {"Eacute", U"\u00c9"}, {"egrave", U"\u00e8"},
      {"ecirc", U"\u00ea"}, {"aacute", U"\u00e1"}, {"agrave", U"\u00e0"}, {"acirc", U"\u00e2"}, {"auml", U"\u00e4"},
      {"ouml", U"\u00f6"}, {"uuml", U"\u00fc"}, {"Auml", U"\u00c4"}, {"Ouml", U"\u00d6"}, {"Uuml", U"\u00dc"},
      {"szlig", U"\u00df"}, {"ccedil", U"\u00e7"}, {"ntilde", U"\u00f1"}, {"oacute", U"\u00f3"}, {"iacute", U"\u00ed"},
      {"uacute", U"\u00fa"}, {"aring", U"\u00e5"}, {"oslash", U"\u00f8"}, {"aelig", U"\u00e6"}, {"shy", U"\u00ad"}};
  return table;
}

// Python's html.unescape maps these numeric references like browsers do.
UChar32 numeric_reference(long long v) {
  static const std::map<long long, UChar32> windows1252 = {
      {0x80, 0x20ac}, {0x82, 0x201a}, {0x83, 0x0192}, {0x84, 0x201e}, {0x85, 0x2026}, {0x86, 0x2020}, {0x87, 0x2021},
      {0x88, 0x02c6}, {0x89, 0x2030}, {0x8a, 0x0160}, {0x8b, 0x2039}, {0x8c, 0x0152}, {0x8e, 0x017d}, {0x91, 0x2018},
      {0x92, 0x2019}, {0x93, 0x201c}, {0x94, 0x201d}, {0x95, 0x2022}, {0x96, 0x2013}, {0x97, 0x2014}, {0x98, 0x02dc},
      {0x99, 0x2122}, {0x9a, 0x0161}, {0x9b, 0x203a}, {0x9c, 0x0153}, {0x9e, 0x017e}, {0x9f, 0x0178}};
  auto it = windows1252.find(v);
  if (it != windows1252.end()) return it->second;
  if (v == 0 || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return 0xFFFD;
  return static_cast<UChar32>(v);
}

// The Windows-1252 byte of a code point, with ftfy's "sloppy" extension (the five undefined
// bytes map to the C1 controls of the same value).
std::optional<uint8_t> sloppy_windows1252(UChar32 c) {
  if (c < 0x80 || (c >= 0xA0 && c <= 0xFF)) return static_cast<uint8_t>(c);
  if (c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D) return static_cast<uint8_t>(c);
  static const std::map<UChar32, uint8_t> high = {
      {0x20ac, 0x80}, {0x201a, 0x82}, {0x0192, 0x83}, {0x201e, 0x84}, {0x2026, 0x85}, {0x2020, 0x86}, {0x2021, 0x87},
      {0x02c6, 0x88}, {0x2030, 0x89}, {0x0160, 0x8a}, {0x2039, 0x8b}, {0x0152, 0x8c}, {0x017d, 0x8e}, {0x2018, 0x91},
      {0x2019, 0x92}, {0x201c, 0x93}, {0x201d, 0x94}, {0x2022, 0x95}, {0x2013, 0x96}, {0x2014, 0x97}, {0x02dc, 0x98},
      {0x2122, 0x99}, {0x0161, 0x9a}, {0x203a, 0x9b}, {0x0153, 0x9c}, {0x017e, 0x9e}, {0x0178, 0x9f}};
  auto it = high.find(c);
  if (it == high.end()) return std::nullopt;
  return it->second;
}

// Mojibake: text that is UTF-8 decoded as Windows-1252. Re-encode to bytes and decode as UTF-8
// when that succeeds and yields multi-byte characters (ftfy's fix_encoding, the common case).
UnicodeString fix_encoding(const UnicodeString& s) {
  std::string bytes;
  bool high = false;
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    i += U16_LENGTH(c);
    auto b = sloppy_windows1252(c);
    if (!b) return s;
    if (*b >= 0x80) high = true;
    bytes.push_back(static_cast<char>(*b));
  }
  if (!high) return s;
  // Valid UTF-8 with at least one multi-byte sequence?
  size_t i = 0;
  bool multibyte = false;
  while (i < bytes.size()) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > bytes.size()) return s;
    for (int k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(bytes[i + k]) >> 6) != 2) return s;
    if (n > 1) multibyte = true;
    i += n;
  }
  return multibyte ? UnicodeString::fromUTF8(bytes) : s;
}

bool is_removed_control(UChar32 c) {
  // ftfy's remove_control_chars: C0 controls but tab/newlines, DEL, BOM, deprecated formatting,
  // interlinear annotation, object replacement, musical-format and tag characters.
  return (c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0xFEFF ||
         (c >= 0x206A && c <= 0x206F) || (c >= 0xFFF9 && c <= 0xFFFC) || (c >= 0x1D173 && c <= 0x1D17A) ||
         (c >= 0xE0000 && c <= 0xE007F);
}

UnicodeString per_character_fixes(const UnicodeString& s) {
  static const std::map<UChar32, const char*> ligatures = {
      {0xFB00, "ff"}, {0xFB01, "fi"}, {0xFB02, "fl"}, {0xFB03, "ffi"}, {0xFB04, "ffl"}, {0xFB05, "st"}, {0xFB06, "st"},
      {0x0132, "IJ"}, {0x0133, "ij"}, {0x0149, "\u02bcn"}, {0x01F1, "DZ"}, {0x01F2, "Dz"}, {0x01F3, "dz"},
      {0x01C4, "D\u017d"}, {0x01C5, "D\u017e"}, {0x01C6, "d\u017e"}, {0x01C7, "LJ"}, {0x01C8, "Lj"}, {0x01C9, "lj"},
      {0x01CA, "NJ"}, {0x01CB, "Nj"}, {0x01CC, "nj"}};
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(err);
  UnicodeString out;
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    i += U16_LENGTH(c);
    auto lig = ligatures.find(c);
    if (lig != ligatures.end()) {
      out.append(UnicodeString::fromUTF8(lig->second));
    } else if ((c >= 0xFF01 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFEE) || c == 0x3000) {
      // fix_character_width: fullwidth (and halfwidth) forms to their NFKC equivalents.
      UnicodeString one;
      one.append(c);
      out.append(U_SUCCESS(err) ? nfkc->normalize(one, err) : one);
    } else if (c == 0x2018 || c == 0x2019 || c == 0x201A || c == 0x201B) {
      out.append(static_cast<UChar32>('\''));  // uncurl_quotes
    } else if (c == 0x201C || c == 0x201D || c == 0x201E || c == 0x201F) {
      out.append(static_cast<UChar32>('"'));
    } else if (!is_removed_control(c)) {
      out.append(c);
    }
  }
  return out;
}

}  // namespace

std::string html_unescape(const std::string& utf8) {
  if (utf8.find('&') == std::string::npos) return utf8;
  std::string out;
  for (size_t i = 0; i < utf8.size();) {
    if (utf8[i] != '&') {
      out.push_back(utf8[i++]);
      continue;
    }
    const size_t semi = utf8.find(';', i + 1);
    if (semi != std::string::npos && semi - i <= 32) {
      const std::string name = utf8.substr(i + 1, semi - i - 1);
      if (name.size() > 1 && name[0] == '#') {
        const bool hex = name[1] == 'x' || name[1] == 'X';
        const std::string digits = name.substr(hex ? 2 : 1);
        const bool ok = !digits.empty() && digits.size() <= 8 &&
                        digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") == std::string::npos;
        if (ok) {
          append_code_point(out, numeric_reference(std::stoll(digits, nullptr, hex ? 16 : 10)));
          i = semi + 1;
          continue;
        }
      } else {
        auto it = entities().find(name);
        if (it != entities().end()) {
          for (char32_t c : it->second) append_code_point(out, static_cast<UChar32>(c));
          i = semi + 1;
          continue;
        }
      }
    }
    out.push_back(utf8[i++]);
  }
  return out;
}

std::string fix_text(const std::string& utf8) {
  std::string text = utf8;
  if (text.find('<') == std::string::npos) text = html_unescape(text);  // ftfy's unescape_html = "auto"
  UnicodeString s = UnicodeString::fromUTF8(text);
  s = fix_encoding(s);
  s = per_character_fixes(s);
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  if (U_SUCCESS(err)) s = nfc->normalize(s, err);
  return to_utf8(s);
}

std::string clip_clean_text(const std::string& utf8) {
  const std::string basic = html_unescape(html_unescape(fix_text(utf8)));
  // whitespace_clean: runs of Unicode whitespace (Python's \s) become one space; strip; lower.
  const UnicodeString s = UnicodeString::fromUTF8(basic);
  UnicodeString out;
  bool pending_space = false;
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    i += U16_LENGTH(c);
    const bool space = u_isUWhiteSpace(c) || (c >= 0x1C && c <= 0x1F);
    if (space) {
      pending_space = !out.isEmpty();
      continue;
    }
    if (pending_space) out.append(static_cast<UChar32>(' '));
    pending_space = false;
    out.append(c);
  }
  out.toLower(icu::Locale::getRoot());
  return to_utf8(out);
}

}  // namespace psic
