import assert from "node:assert/strict";
import { SeededRandom } from "../_support/seeded_random.ts";
import { compileGlob, globSource } from "../../src/auth/mod.ts";

/** [glob, key, matches] as Redis's stringmatchlen answers them. */
const CASES: [string, string, boolean][] = [
  ["*", "", true],
  ["*", "anything", true],
  ["user:*", "user:1", true],
  ["user:*", "user:", true],
  ["user:*", "users:1", false],
  ["user:*", "xuser:1", false],
  ["*:cache", "a:b:cache", true],
  ["*:cache", "a:b:cachex", false],
  ["a*b*c", "aXXbYYc", true],
  ["a*b*c", "aXXbYY", false],
  ["?", "a", true],
  ["?", "", false],
  ["?", "ab", false],
  ["k?y", "key", true],
  ["k?y", "k.y", true],
  ["k?y", "kiey", false],
  ["[abc]x", "bx", true],
  ["[abc]x", "dx", false],
  ["[^abc]x", "dx", true],
  ["[^abc]x", "ax", false],
  ["[a-c]1", "b1", true],
  ["[a-c]1", "d1", false],
  ["[c-a]1", "b1", true],
  ["[0-9][0-9]", "42", true],
  ["[0-9][0-9]", "4x", false],
  ["\\*", "*", true],
  ["\\*", "a", false],
  ["a\\?", "a?", true],
  ["a\\?", "ab", false],
  ["[\\]]", "]", true],
  ["a.b", "a.b", true],
  ["a.b", "axb", false],
  ["(x)+", "(x)+", true],
  ["(x)+", "xx", false],
  ["^$", "^$", true],
  ["a/b|c", "a/b|c", true],
  ["{a}", "{a}", true],
  ["[-]", "-", true],
  ["[a-]", "-", true],
  ["\xe9*", "\xe9t\xe9", true],
  ["x\ny", "x\ny", true],
  // Literals and `*` only: matched by comparing runs, not by a RegExp.
  ["name", "name", true],
  ["name", "names", false],
  ["name", "nam", false],
  ["", "", true],
  ["", "a", false],
  ["v*_*", "v100_0000123", true],
  ["v*_*", "v_", true],
  ["v*_*", "v100", false],
  ["v*_*", "x100_1", false],
  ["ab*ba", "aba", false],
  ["ab*ba", "abba", true],
  ["a*a*a", "aa", false],
  ["a*a*a", "aaa", true],
  ["a*ab*b", "aab", false],
  ["a*ab*b", "aabb", true],
  ["*a*", "bab", true],
  ["*a*", "bbb", false],
  ["**", "", true],
  ["a**b", "ab", true],
  ["*:cache", ":cache", true],
  ["*:cache", "cache", false],
  ["a\\*b", "a*b", true],
  ["a\\*b", "axb", false],
  ["a\\", "a\\", true],
  ["\\a*", "ax", true],
  ["\xe9*", "\xe9", true],
  ["\u0100*", "\u0100", true],
];

/** The key as received bytes, with room around it (the matcher must keep to start..end). */
function receivedBytes(key: string): { bytes: Uint8Array; start: number; end: number } {
  const bytes = new Uint8Array(key.length + 4).fill(0x61);
  for (let i = 0; i < key.length; i++) bytes[i + 2] = key.charCodeAt(i);
  return { bytes, start: 2, end: 2 + key.length };
}

for (const [glob, key, expected] of CASES) {
  Deno.test(`compileGlob("${glob}") ${expected ? "matches" : "does not match"} "${key}"`, () => {
    const matches = compileGlob(glob);
    assert.equal(matches.matches(key), expected);
    if (key.split("").every((unit) => unit.charCodeAt(0) < 256)) {
      const { bytes, start, end } = receivedBytes(key);
      assert.equal(matches.matchesBytes(bytes, start, end), expected, "on the received bytes");
    }
  });
}

Deno.test("compileGlob() answers as the glob's RegExp does, on strings and on bytes", () => {
  const units = ["*", "*", "a", "b", "\\", "?", "["];
  let seed = 11;
  const next = (bound: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % bound;
  };
  for (let i = 0; i < 3000; i++) {
    let glob = "";
    for (let j = next(7); j > 0; j--) glob += units[next(i % 2 === 0 ? 5 : units.length)];
    let key = "";
    for (let j = next(8); j > 0; j--) key += next(2) === 0 ? "a" : "b";
    if (next(8) === 0) key += "*";
    const expected = new RegExp(globSource(glob)).test(key);
    const matches = compileGlob(glob);
    assert.equal(matches.matches(key), expected, `${glob} against ${key}`);
    const { bytes, start, end } = receivedBytes(key);
    assert.equal(
      matches.matchesBytes(bytes, start, end),
      expected,
      `${glob} against ${key} as bytes`,
    );
  }
});

Deno.test("compileGlob() answers as the RegExp reference for sets, escapes and long keys, on strings and bytes", () => {
  const random = new SeededRandom(95);
  const globUnits = [
    "*",
    "*",
    "*",
    "?",
    "[",
    "]",
    "^",
    "-",
    "\\",
    "a",
    "b",
    "[a-c]",
    "[^b]",
    "\xe9",
  ];
  const keyUnits = ["a", "a", "b", "b", "c", "-", "]", "^", "\\", "*", "[", "\xe9", "\xff", "\x00"];
  let matched = 0;
  for (let i = 0; i < 20_000; i++) {
    let glob = "";
    for (let j = random.below(7); j > 0; j--) glob += random.pick(globUnits);
    let key = "";
    for (let j = random.below(i % 10 === 0 ? 40 : 8); j > 0; j--) key += random.pick(keyUnits);
    const expected = new RegExp(globSource(glob)).test(key);
    if (expected) matched++;
    const matcher = compileGlob(glob);
    assert.equal(matcher.matches(key), expected, `${JSON.stringify(glob)} against ${key}`);
    const { bytes, start, end } = receivedBytes(key);
    assert.equal(
      matcher.matchesBytes(bytes, start, end),
      expected,
      `${JSON.stringify(glob)} against ${JSON.stringify(key)} as bytes`,
    );
  }
  // Both answers were asked for often.
  assert.ok(matched > 1_000 && matched < 19_000, `${matched} of 20000 matched`);
});

Deno.test("compileGlob() never throws, whatever the pattern", () => {
  const units = ["*", "?", "[", "]", "^", "-", "\\", "a", "(", ")", "{", "}", "|", ".", "$"];
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    let glob = "";
    const length = i % 9;
    for (let j = 0; j < length; j++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      glob += units[seed % units.length];
    }
    const matches = compileGlob(glob);
    matches.matches("a");
    matches.matches(glob);
  }
});
