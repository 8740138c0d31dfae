/**
 * Users and their rules, in Redis ACL syntax (a subset; see docs/security.md):
 *
 *   user <name> [on|off] [>password | #<sha256 hex> | nopass]... [~<glob>]... [allkeys]
 *        [+@<category> | -@<category> | +<command> | -<command> | allcommands | nocommands]...
 *
 * Rules apply left to right to a user that starts off, with no password, no key and no
 * command. Pure: passwords are hashed by the function passed in, files are read elsewhere.
 */

import {
  COMMAND_KIND_INDEX,
  COMMAND_KINDS,
  type CommandKind,
  commandRow,
  commandWords,
} from "../protocol/mod.ts";
import { compileGlob, type KeyMatcher } from "./glob.ts";

/** SHA-256 of a password, as 64 lowercase hex digits. */
export type PasswordHasher = (password: string) => string;

export interface User {
  readonly name: string;
  readonly enabled: boolean;
  /** Any password is accepted (and none is needed to be this user at connect). */
  readonly nopass: boolean;
  /** SHA-256 hex of each password. */
  readonly passwordHashes: readonly string[];
  /** `~*` or `allkeys`: no key is checked. */
  readonly allKeys: boolean;
  readonly keyGlobs: readonly string[];
  readonly keyMatchers: readonly KeyMatcher[];
  /** The kinds of command granted; `connection` commands are always allowed. */
  readonly commands: ReadonlySet<CommandKind>;
  /**
   * 1 at the COMMAND_KIND_INDEX of each kind the user may run (granted, or a `connection`
   * command), else 0: the check of every request, one array read.
   */
  readonly allowedKinds: Uint8Array;
  /** The command rules as applied, normalized (for ACL LIST). */
  readonly commandRules: readonly string[];
}

/** A user being built by its rules. */
interface Draft {
  name: string;
  enabled: boolean;
  nopass: boolean;
  passwordHashes: string[];
  allKeys: boolean;
  keyGlobs: string[];
  commands: Set<CommandKind>;
  commandRules: string[];
}

/** The categories a rule may name; `all` is every kind. */
export const CATEGORIES: readonly string[] = ["read", "write", "admin", "sync", "all"];

const SHA256_HEX = /^[0-9a-f]{64}$/;
const USER_NAME = /^[\x21-\x7e]{1,128}$/;

/** Rule words (lowercase) -> the kinds they name: each command word, and `acl|list`-style forms. */
const KINDS_BY_NAME: ReadonlyMap<string, readonly CommandKind[]> = (() => {
  const names = new Map<string, CommandKind[]>();
  const add = (name: string, kind: CommandKind) => {
    const kinds = names.get(name) ?? [];
    kinds.push(kind);
    names.set(name, kinds);
  };
  for (const kind of COMMAND_KINDS) {
    for (const word of commandWords(kind)) add(word.toLowerCase(), kind);
  }
  // Kinds without a word of their own are named as their parent command's.
  add("sync", "sync_run");
  add("acl", "acl_list");
  add("acl", "acl_load");
  add("acl|list", "acl_list");
  add("acl|load", "acl_load");
  add("acl|whoami", "acl_whoami");
  return names;
})();

function kindsOfCategory(category: string): CommandKind[] {
  return COMMAND_KINDS.filter((kind) =>
    category === "all" || commandRow(kind).category === category
  );
}

/** A rule as it may be shown: a password never is. */
export function shownRule(rule: string): string {
  return rule.startsWith(">") ? ">***" : rule.length > 80 ? rule.slice(0, 80) + "..." : rule;
}

export function newDraft(name: string): Draft {
  return {
    name,
    enabled: false,
    nopass: false,
    passwordHashes: [],
    allKeys: false,
    keyGlobs: [],
    commands: new Set(),
    commandRules: [],
  };
}

/** Applies one rule to the draft; the problem (without the rule) or null. */
export function applyRule(draft: Draft, rule: string, hash: PasswordHasher): string | null {
  const lower = rule.toLowerCase();
  if (lower === "on" || lower === "off") draft.enabled = lower === "on";
  else if (lower === "nopass") {
    draft.nopass = true;
    draft.passwordHashes = [];
  } else if (rule.startsWith(">")) {
    if (rule.length === 1) return "empty password";
    addPassword(draft, hash(rule.slice(1)));
  } else if (rule.startsWith("#")) {
    const hex = rule.slice(1).toLowerCase();
    if (!SHA256_HEX.test(hex)) return "must be # and 64 hex digits (a SHA-256)";
    addPassword(draft, hex);
  } else if (lower === "allkeys" || rule === "~*") {
    draft.allKeys = true;
    draft.keyGlobs = [];
  } else if (rule.startsWith("~")) {
    if (rule.length === 1) return "empty key pattern";
    if (!draft.allKeys) draft.keyGlobs.push(rule.slice(1));
  } else if (lower === "allcommands" || lower === "nocommands") {
    return applyCommandRule(draft, lower === "allcommands" ? "+@all" : "-@all");
  } else if (rule.startsWith("+") || rule.startsWith("-")) {
    return applyCommandRule(draft, lower);
  } else return "unknown rule";
  return null;
}

function addPassword(draft: Draft, hashHex: string): void {
  draft.nopass = false;
  if (!draft.passwordHashes.includes(hashHex)) draft.passwordHashes.push(hashHex);
}

/** `+@read`, `-get`, ...: grants or takes away kinds, and records the rule. */
function applyCommandRule(draft: Draft, rule: string): string | null {
  const grant = rule[0] === "+";
  const name = rule.slice(1);
  let kinds: readonly CommandKind[];
  if (name.startsWith("@")) {
    const category = name.slice(1);
    if (!CATEGORIES.includes(category)) {
      return `unknown category "${category}" (${CATEGORIES.join(", ")})`;
    }
    kinds = kindsOfCategory(category);
  } else {
    const named = KINDS_BY_NAME.get(name);
    if (named === undefined) return `unknown command "${name}"`;
    kinds = named;
  }
  for (const kind of kinds) {
    if (grant) draft.commands.add(kind);
    else draft.commands.delete(kind);
  }
  // +@all and -@all start the rules afresh: what came before no longer matters.
  if (name === "@all") draft.commandRules = [rule];
  else draft.commandRules.push(rule);
  return null;
}

export function finishDraft(draft: Draft): User {
  const allowedKinds = new Uint8Array(COMMAND_KINDS.length);
  for (const kind of COMMAND_KINDS) {
    const allowed = draft.commands.has(kind) || commandRow(kind).category === "connection";
    allowedKinds[COMMAND_KIND_INDEX[kind]] = allowed ? 1 : 0;
  }
  return {
    ...draft,
    keyMatchers: draft.keyGlobs.map(compileGlob),
    commands: new Set(draft.commands),
    allowedKinds,
  };
}

/** The user's rules as ACL LIST shows them: passwords only as `#<sha256>`. */
export function describeUser(user: User): string {
  const parts = ["user", user.name, user.enabled ? "on" : "off"];
  if (user.nopass) parts.push("nopass");
  for (const hashHex of user.passwordHashes) parts.push("#" + hashHex);
  if (user.allKeys) parts.push("~*");
  else for (const glob of user.keyGlobs) parts.push("~" + glob);
  parts.push(...(user.commandRules.length === 0 ? ["-@all"] : user.commandRules));
  return parts.join(" ");
}

/** One user's line; the user, or the problem naming the rule. */
export function parseUserLine(
  words: readonly string[],
  hash: PasswordHasher,
): User | { problem: string } {
  if (words[0] !== "user") {
    return { problem: `expected "user <name> <rules>...", got "${shownRule(words[0] ?? "")}"` };
  }
  const name = words[1];
  if (name === undefined) return { problem: "user without a name" };
  if (!USER_NAME.test(name)) {
    return { problem: `user name must be 1 to 128 printable characters, got "${shownRule(name)}"` };
  }
  const draft = newDraft(name);
  for (const rule of words.slice(2)) {
    const problem = applyRule(draft, rule, hash);
    if (problem !== null) return { problem: `rule "${shownRule(rule)}": ${problem}` };
  }
  return finishDraft(draft);
}

/**
 * A whole users file: every user, or the first error as `<file>:<line>: <problem>`. One bad
 * line rejects the whole file.
 */
export function parseUsersFile(
  text: string,
  fileName: string,
  hash: PasswordHasher,
): Map<string, User> | { error: string } {
  const users = new Map<string, User>();
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parsed = parseUserLine(line.split(/[ \t]+/), hash);
    const where = `${fileName}:${index + 1}`;
    if ("problem" in parsed) return { error: `${where}: ${parsed.problem}` };
    if (users.has(parsed.name)) {
      return { error: `${where}: user "${parsed.name}" is defined twice` };
    }
    users.set(parsed.name, parsed);
  }
  return users;
}
