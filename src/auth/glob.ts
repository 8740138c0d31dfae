/**
 * Key globs as Redis matches them (stringmatchlen): `*` any run of bytes, `?` one byte,
 * `[abc]`, `[a-z]` and `[^...]` one byte of a set, `\x` the byte x. Keys are binary strings
 * (one code unit per byte), so matching bytes is matching code units. Pure.
 */

/** A compiled glob: true when the key matches. */
export type KeyMatcher = (key: string) => boolean;

const REGEXP_SPECIAL = /[\\^$.*+?()[\]{}|/-]/;

function escapeUnit(unit: string): string {
  return REGEXP_SPECIAL.test(unit) ? "\\" + unit : unit;
}

/** The `[...]` set starting at `start` (after `[`) as a RegExp class, and where it ends. */
function compileSet(glob: string, start: number): { source: string; next: number } {
  let index = start;
  let negated = false;
  if (glob[index] === "^") {
    negated = true;
    index++;
  }
  let body = "";
  // Like Redis, an unclosed set runs to the end of the pattern.
  while (index < glob.length && glob[index] !== "]") {
    let unit = glob.charAt(index);
    if (unit === "\\" && index + 1 < glob.length) unit = glob.charAt(++index);
    if (glob[index + 1] === "-" && index + 2 < glob.length && glob[index + 2] !== "]") {
      let last = glob.charAt(index + 2);
      let skip = 3;
      if (last === "\\" && index + 3 < glob.length) {
        last = glob.charAt(index + 3);
        skip = 4;
      }
      // Redis accepts a range written backwards ([z-a]).
      const [low, high] = unit <= last ? [unit, last] : [last, unit];
      body += escapeUnit(low) + "-" + escapeUnit(high);
      index += skip;
      continue;
    }
    body += escapeUnit(unit);
    index++;
  }
  const source = body === "" ? (negated ? "[\\s\\S]" : "(?!)") : `[${negated ? "^" : ""}${body}]`;
  return { source, next: index + 1 };
}

/** The glob as an anchored RegExp source. */
export function globSource(glob: string): string {
  let source = "";
  let index = 0;
  while (index < glob.length) {
    const unit = glob.charAt(index);
    if (unit === "*") {
      source += "[\\s\\S]*";
      index++;
    } else if (unit === "?") {
      source += "[\\s\\S]";
      index++;
    } else if (unit === "[") {
      const set = compileSet(glob, index + 1);
      source += set.source;
      index = set.next;
    } else if (unit === "\\" && index + 1 < glob.length) {
      source += escapeUnit(glob.charAt(index + 1));
      index += 2;
    } else {
      source += escapeUnit(unit);
      index++;
    }
  }
  return `^${source}$`;
}

/** Compiles a glob once; `*` alone matches everything without a RegExp. */
export function compileGlob(glob: string): KeyMatcher {
  if (glob === "*") return () => true;
  const pattern = new RegExp(globSource(glob));
  return (key) => pattern.test(key);
}
