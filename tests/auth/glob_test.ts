import assert from "node:assert/strict";
import { compileGlob } from "../../src/auth/mod.ts";

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
];

for (const [glob, key, expected] of CASES) {
  Deno.test(`compileGlob("${glob}") ${expected ? "matches" : "does not match"} "${key}"`, () => {
    assert.equal(compileGlob(glob)(key), expected);
  });
}

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
    matches("a");
    matches(glob);
  }
});
