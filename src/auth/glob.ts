/**
 * Key globs as Redis matches them (stringmatchlen): `*` any run of bytes, `?` one byte,
 * `[abc]`, `[a-z]` and `[^...]` one byte of a set, `\x` the byte x. Keys are binary strings
 * (one code unit per byte), so matching bytes is matching code units. A glob is compiled once
 * into tokens and matched on the key's code units, as a string or as the bytes received, with
 * no RegExp, no string made and nothing allocated. globSource() gives the same glob as a
 * RegExp: the reference the matcher is tested against. Pure.
 */

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

/** Token of `?`: any one code unit. Literal units are tokens >= 0, sets SET_BASE - index. */
const ANY = -1;
const STAR = -2;
const SET_BASE = -3;
const BACKSLASH = 0x5c;

/** A `[...]` set: code unit ranges as pairs (low, high), inclusive. */
interface UnitSet {
  readonly negated: boolean;
  readonly ranges: Int32Array;
}

function setHas(set: UnitSet, unit: number): boolean {
  const ranges = set.ranges;
  let found = false;
  for (let i = 0; i < ranges.length && !found; i += 2) {
    found = unit >= ranges[i]! && unit <= ranges[i + 1]!;
  }
  return found !== set.negated;
}

/** The `[...]` set starting at `start` (after `[`), as compileSet() reads it, and where it ends. */
function readSet(glob: string, start: number): { set: UnitSet; next: number } {
  let index = start;
  let negated = false;
  if (glob[index] === "^") {
    negated = true;
    index++;
  }
  const ranges: number[] = [];
  while (index < glob.length && glob[index] !== "]") {
    let unit = glob.charCodeAt(index);
    if (unit === BACKSLASH && index + 1 < glob.length) unit = glob.charCodeAt(++index);
    let last = unit;
    let skip = 1;
    if (glob[index + 1] === "-" && index + 2 < glob.length && glob[index + 2] !== "]") {
      last = glob.charCodeAt(index + 2);
      skip = 3;
      if (last === BACKSLASH && index + 3 < glob.length) {
        last = glob.charCodeAt(index + 3);
        skip = 4;
      }
    }
    ranges.push(Math.min(unit, last), Math.max(unit, last));
    index += skip;
  }
  return { set: { negated, ranges: Int32Array.from(ranges) }, next: index + 1 };
}

/** A compiled glob (compileGlob): one shape for every glob, so the callers stay monomorphic. */
export class KeyMatcher {
  readonly glob: string;
  /**
   * The code unit every matching key starts with (the glob starts with a literal), else -1:
   * a caller trying several globs skips those whose first unit differs without a call.
   */
  readonly firstUnit: number;
  /** Literal code units (>= 0), ANY, STAR, or SET_BASE - the set's index in #sets. */
  readonly #tokens: Int32Array;
  readonly #sets: readonly UnitSet[];

  constructor(glob: string) {
    this.glob = glob;
    const tokens: number[] = [];
    const sets: UnitSet[] = [];
    let index = 0;
    while (index < glob.length) {
      const unit = glob.charCodeAt(index);
      if (glob[index] === "*") {
        // A run of stars is one star.
        if (tokens[tokens.length - 1] !== STAR) tokens.push(STAR);
        index++;
      } else if (glob[index] === "?") {
        tokens.push(ANY);
        index++;
      } else if (glob[index] === "[") {
        const read = readSet(glob, index + 1);
        tokens.push(SET_BASE - sets.length);
        sets.push(read.set);
        index = read.next;
      } else if (unit === BACKSLASH && index + 1 < glob.length) {
        tokens.push(glob.charCodeAt(index + 1));
        index += 2;
      } else {
        tokens.push(unit);
        index++;
      }
    }
    this.#tokens = Int32Array.from(tokens);
    this.#sets = sets;
    this.firstUnit = tokens[0] !== undefined && tokens[0] >= 0 ? tokens[0] : -1;
  }

  /** Does the token of `?` or of a set match the code unit `unit`? */
  #specialMatches(token: number, unit: number): boolean {
    return token === ANY || (token <= SET_BASE && setHas(this.#sets[SET_BASE - token]!, unit));
  }

  /**
   * Does `key` match? Stars by the greedy search with one way back (to the last star): a
   * later star can take whatever an earlier one would have, so no other choice needs trying;
   * time at most the key's length times the glob's. A star that ends the glob takes the rest.
   */
  matches(key: string): boolean {
    const tokens = this.#tokens;
    const count = tokens.length;
    const end = key.length;
    let token = 0;
    let at = 0;
    let afterStar = -1;
    let starAt = 0;
    for (;;) {
      if (token < count) {
        const next = tokens[token]!;
        if (next === STAR) {
          if (token === count - 1) return true;
          afterStar = ++token;
          starAt = at;
          continue;
        }
        if (at < end) {
          const unit = key.charCodeAt(at);
          if (next === unit || (next < 0 && this.#specialMatches(next, unit))) {
            token++;
            at++;
            continue;
          }
        }
      } else if (at === end) return true;
      if (afterStar === -1 || starAt >= end) return false;
      token = afterStar;
      at = ++starAt;
    }
  }

  /**
   * matches() of the key held in bytes[start, end) (each byte one code unit). The same loop as
   * matches(), written twice so that neither reads its key's units through a call.
   */
  matchesBytes(bytes: Uint8Array, start: number, end: number): boolean {
    const tokens = this.#tokens;
    const count = tokens.length;
    let token = 0;
    let at = start;
    let afterStar = -1;
    let starAt = start;
    for (;;) {
      if (token < count) {
        const next = tokens[token]!;
        if (next === STAR) {
          if (token === count - 1) return true;
          afterStar = ++token;
          starAt = at;
          continue;
        }
        if (at < end) {
          const unit = bytes[at]!;
          if (next === unit || (next < 0 && this.#specialMatches(next, unit))) {
            token++;
            at++;
            continue;
          }
        }
      } else if (at === end) return true;
      if (afterStar === -1 || starAt >= end) return false;
      token = afterStar;
      at = ++starAt;
    }
  }
}

/** Compiles a glob once. */
export function compileGlob(glob: string): KeyMatcher {
  return new KeyMatcher(glob);
}
