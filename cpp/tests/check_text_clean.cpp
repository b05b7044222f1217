// CLIP's text cleaning (ftfy.fix_text, ftfy 6.3.1 defaults) on mojibake: correct French, German
// and Spanish sentences are mis-decoded here on purpose (their UTF-8 read as Latin-1 or as
// Windows-1252, one layer and two layers) and must come back. What comes back is the original
// after the normalisations fix_text always applies: curly quotes become straight ones
// (’ ‘ → ', “ ” „ → "); the sentences are already NFC and hold no ligatures, fullwidth forms or
// control characters, so nothing else changes. Correct text must come through unchanged.
#include <string>
#include <vector>

#include "check.h"
#include "clip/text_clean.h"

namespace {

// The bytes of a UTF-8 string read as Latin-1: each byte becomes the code point of its value.
std::string read_as_latin1(const std::string& utf8) {
  std::string out;
  for (const char ch : utf8) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (b >> 6)));
      out.push_back(static_cast<char>(0x80 | (b & 0x3F)));
    }
  }
  return out;
}

// Read as Windows-1252 the way browsers (WHATWG) do: 0x80–0x9F are the typographic characters,
// and the five undefined bytes (81 8D 8F 90 9D) stay the C1 controls of the same value.
std::string read_as_windows1252(const std::string& utf8) {
  static const char* const high[32] = {
      "\u20ac", "\u0081", "\u201a", "\u0192", "\u201e", "\u2026", "\u2020", "\u2021", "\u02c6", "\u2030", "\u0160",
      "\u2039", "\u0152", "\u008d", "\u017d", "\u008f", "\u0090", "\u2018", "\u2019", "\u201c", "\u201d", "\u2022",
      "\u2013", "\u2014", "\u02dc", "\u2122", "\u0161", "\u203a", "\u0153", "\u009d", "\u017e", "\u0178"};
  std::string out;
  for (const char ch : utf8) {
    const auto b = static_cast<unsigned char>(ch);
    if (b >= 0x80 && b <= 0x9F) {
      out += high[b - 0x80];
    } else {
      out += read_as_latin1(std::string(1, ch));
    }
  }
  return out;
}

std::string uncurl(std::string s) {
  for (const auto& [curly, straight] : std::vector<std::pair<std::string, std::string>>{
           {"\u2018", "'"}, {"\u2019", "'"}, {"\u201c", "\""}, {"\u201d", "\""}, {"\u201e", "\""}}) {
    for (size_t at = s.find(curly); at != std::string::npos; at = s.find(curly, at)) s.replace(at, curly.size(), straight);
  }
  return s;
}

const std::vector<std::string>& sentences() {
  static const std::vector<std::string> s = {
      // French: accents, œ, €, guillemets, curly apostrophe.
      "L\u2019été dernier, nous sommes allés à la plage près de Nîmes avec nos sœurs.",
      "« Où est le cœur ? » demanda-t-elle, déçue : ça coûte 15 € !",
      "Voilà à la mode, garçon.",
      // German: umlauts, ß, „…“ quotes, en dash.
      "Die Straße ist für Fußgänger gesperrt \u2013 bitte Umleitung über Köln nehmen.",
      "\u201eSchöne Grüße aus München\u201c, schrieb Jürgen.",
      // Spanish: ñ, ¿ ¡, ü, acute accents, “…” quotes.
      "¿Dónde está el niño? ¡Mañana vamos a la montaña con Begoña!",
      "El pingüino comió jamón en la cañada y dijo \u201cadiós\u201d.",
  };
  return s;
}

}  // namespace

PSIC_CHECK_CASE("text clean: UTF-8 read as Latin-1, one layer, is repaired") {
  for (const auto& s : sentences()) {
    const std::string broken = read_as_latin1(s);
    EXPECT_MSG(broken != s, "the test did not break: " + s);
    const std::string fixed = psic::fix_text(broken);
    EXPECT_MSG(fixed == uncurl(s), "'" + broken + "' gave '" + fixed + "', expected '" + uncurl(s) + "'");
  }
}

PSIC_CHECK_CASE("text clean: UTF-8 read as Windows-1252, one layer, is repaired") {
  for (const auto& s : sentences()) {
    const std::string broken = read_as_windows1252(s);
    const std::string fixed = psic::fix_text(broken);
    EXPECT_MSG(fixed == uncurl(s), "'" + broken + "' gave '" + fixed + "', expected '" + uncurl(s) + "'");
  }
}

PSIC_CHECK_CASE("text clean: two layers of mojibake (Latin-1, Windows-1252 and both mixed) are repaired") {
  using Layer = std::string (*)(const std::string&);
  const std::vector<std::pair<const char*, std::pair<Layer, Layer>>> layers = {
      {"latin-1 twice", {read_as_latin1, read_as_latin1}},
      {"windows-1252 twice", {read_as_windows1252, read_as_windows1252}},
      {"latin-1 then windows-1252", {read_as_latin1, read_as_windows1252}},
      {"windows-1252 then latin-1", {read_as_windows1252, read_as_latin1}}};
  for (const auto& [name, layer] : layers) {
    for (const auto& s : sentences()) {
      const std::string broken = layer.second(layer.first(s));
      const std::string fixed = psic::fix_text(broken);
      EXPECT_MSG(fixed == uncurl(s), std::string(name) + ": '" + broken + "' gave '" + fixed + "'");
    }
  }
  // Three layers come off too.
  const std::string s = sentences()[0];
  EXPECT(psic::fix_text(read_as_windows1252(read_as_windows1252(read_as_windows1252(s)))) == uncurl(s));
}

PSIC_CHECK_CASE("text clean: correct text with look-alike characters is left alone") {
  // Legitimate Â, Ã, ©, ï, Œ... that mojibake also produces, but not in a mojibake pattern.
  for (const std::string s :
       {"Âge", "São Paulo", "©2024", "naïve café", "Ã", "Ação, não há informação", "ÀÉÎÕÜ", "Æther", "Ñandú",
        "1 € = 100 ¢", "25°C", "Größe: 1,80 m", "¡Olé!", "Señor Muñoz", "Œuvre, cœur", "½ kg", "Ørsted",
        "Ελληνικά και русский", "a photo of a cat", ""}) {
    EXPECT_MSG(psic::fix_text(s) == s, "'" + s + "' became '" + psic::fix_text(s) + "'");
  }
  // The sentences themselves: only the quotes change.
  for (const auto& s : sentences()) EXPECT_MSG(psic::fix_text(s) == uncurl(s), s);
}

PSIC_CHECK_CASE("text clean: ftfy's finer encoding repairs") {
  // Mojibake inside otherwise correct text (decode_inconsistent_utf8).
  EXPECT(psic::fix_text("café / cafÃ©") == "café / café");
  // U+00A0 of 'à' turned into a plain space (restore_byte_a0).
  EXPECT(psic::fix_text("VoilÃ  Ã  la mode") == "Voilà à la mode");
  EXPECT(psic::fix_text("Ã la mode") == "à la mode");
  // A lost byte (U+FFFD from a strict decoder) in a UTF-8 sequence (replace_lossy_sequences).
  EXPECT(psic::fix_text("â€œ like this â€\xef\xbf\xbd") == "\" like this \xef\xbf\xbd");
  // C1 controls are Windows-1252 characters (fix_c1_controls); the undefined 0x81 stays.
  EXPECT(psic::fix_text("caf\u00e9 \u0080 5") == "caf\u00e9 \u20ac 5");
  EXPECT(psic::fix_text("broken&#x81;") == "broken\u0081");
  // A byte-order mark read as Latin-1 becomes U+FEFF, which remove_control_chars drops.
  EXPECT(psic::fix_text("ï»¿x") == "x");
}

PSIC_CHECK_CASE("text clean: ftfy's other default fixes and HTML entities") {
  EXPECT(psic::fix_text("ﬁsh ﬂour, oﬀice ﬅ") == "fish flour, office \u017ft");  // fix_latin_ligatures
  EXPECT(psic::fix_text("ＬＯＵＤ　ＮＯＩＳＥＳ") == "LOUD NOISES");                // fix_character_width
  EXPECT(psic::fix_text("\u201chere\u2019s a test\u201d \u02bc") == "\"here's a test\" '");  // uncurl_quotes
  EXPECT(psic::fix_text("a\r\nb\rc\u2028d") == "a\nb\nc\nd");                      // fix_line_breaks
  EXPECT(psic::fix_text("\x1b[36;44mblue\x1b[0m") == "blue");                      // remove_terminal_escapes
  EXPECT(psic::fix_text("bell\x07 \u200dzwj") == "bell \u200dzwj");                // remove_control_chars
  EXPECT(psic::fix_text("cafe\u0301") == "caf\u00e9");                              // NFC
  // unescape_html: ';' required, upper-case Latin names accepted, off from a line with '<' on.
  EXPECT(psic::fix_text("JEDNOCZE&SACUTE;NIE &eacute; &#x80; &#20x6;") == "JEDNOCZEŚNIE é € &#20x6;");
  EXPECT(psic::fix_text("informal &not html") == "informal &not html");
  EXPECT(psic::fix_text("&amp;\n<html>\n&amp;") == "&\n<html>\n&amp;");
  EXPECT(psic::fix_text("&amp;amp;amp;") == "&");
  // Python's html.unescape (CLIP applies it twice after ftfy) also takes names without ';'.
  EXPECT(psic::html_unescape("fish &amp chips &#39;s &eacutefoo;") == "fish & chips 's éfoo;");
}

PSIC_CHECK_CASE("text clean: clip_clean_text repairs, collapses and lower-cases") {
  const std::string broken = read_as_windows1252(read_as_latin1("  \u201eSchöne   Grüße\u201c aus MÜNCHEN\t"));
  EXPECT_MSG(psic::clip_clean_text(broken) == "\"schöne grüße\" aus münchen", psic::clip_clean_text(broken));
  EXPECT(psic::clip_clean_text("Â¿DÃ³nde estÃ¡?&nbsp;&amp;amp;") == "¿dónde está? &");
}
