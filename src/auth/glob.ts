/**
 * Key globs as Redis matches them (stringmatchlen): `*` any run of bytes, `?` one byte,
 * `[abc]`, `[a-z]` and `[^...]` one byte of a set, `\x` the byte x. Keys are binary strings
 * (one code unit per byte), so matching bytes is matching code units. Pure.
 */

/**
 * A compiled glob: true when the key matches; `bytes` asks the same of the key held in
 * `bytes[start, end)` (each byte one code unit), without making a string where it can.
 */
export interface KeyMatcher {
  (key: string): boolean;
  bytes(bytes: Uint8Array, start: number, end: number): boolean;
}
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

/**
 * The literal runs between the glob's `*`s (escapes resolved), or null if it has `?` or `[`.
 * `a*b\\*c` gives ["a", "b*c"]; a glob without `*` gives one run.
 */
export function starParts(glob: string): string[] | null {
  const parts: string[] = [];
  let part = "";
  for (let index = 0; index < glob.length; index++) {
    const unit = glob.charAt(index);
    if (unit === "?" || unit === "[") return null;
    if (unit === "*") {
      parts.push(part);
      part = "";
    } else if (unit === "\\" && index + 1 < glob.length) part += glob.charAt(++index);
    else part += unit;
  }
  parts.push(part);
  return parts;
}

/** Does `key` match the runs of a glob of literals and `*`s (leftmost search is exact)? */
function starMatch(parts: readonly string[], key: string): boolean {
  const first = parts[0] ?? "";
  const last = parts[parts.length - 1] ?? "";
  if (parts.length === 1) return key === first;
  const limit = key.length - last.length;
  if (limit < first.length || !key.startsWith(first) || !key.endsWith(last)) return false;
  let at = first.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? "";
    const found = key.indexOf(part, at);
    if (found === -1 || found + part.length > limit) return false;
    at = found + part.length;
  }
  return true;
}

/** Are bytes[at, at + part.length) the code units of `part`? */
function bytesAt(bytes: Uint8Array, at: number, part: string): boolean {
  for (let i = 0; i < part.length; i++) if (bytes[at + i] !== part.charCodeAt(i)) return false;
  return true;
}

/** starMatch() of the key bytes[start, end). */
function starMatchBytes(parts: readonly string[], bytes: Uint8Array, start: number, end: number) {
  const first = parts[0] ?? "";
  const last = parts[parts.length - 1] ?? "";
  if (parts.length === 1) return end - start === first.length && bytesAt(bytes, start, first);
  const limit = end - last.length;
  if (limit < start + first.length || !bytesAt(bytes, start, first)) return false;
  if (!bytesAt(bytes, limit, last)) return false;
  let at = start + first.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? "";
    while (at + part.length <= limit && !bytesAt(bytes, at, part)) at++;
    if (at + part.length > limit) return false;
    at += part.length;
  }
  return true;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i] ?? 0);
  return text;
}

function matcher(
  matches: (key: string) => boolean,
  bytes: (bytes: Uint8Array, start: number, end: number) => boolean,
): KeyMatcher {
  return Object.assign(matches, { bytes });
}

/**
 * Compiles a glob once. Globs of literals and `*` (`*`, `user:*`, `*:cache`, `v*_*`, `name`)
 * are matched by comparing runs, on the key's bytes as received; others by a RegExp.
 */
export function compileGlob(glob: string): KeyMatcher {
  if (glob === "*") return matcher(() => true, () => true);
  const parts = starParts(glob);
  if (parts !== null) {
    return matcher(
      (key) => starMatch(parts, key),
      (bytes, start, end) => starMatchBytes(parts, bytes, start, end),
    );
  }
  const pattern = new RegExp(globSource(glob));
  return matcher(
    (key) => pattern.test(key),
    (bytes, start, end) => pattern.test(latin1(bytes, start, end)),
  );
}
