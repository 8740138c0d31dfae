/**
 * Who may do what: the users, how a connection authenticates, and the check every command of
 * an authenticated connection passes (see docs/security.md). No I/O: the node reads the files
 * (files.ts) and hands the users in; the clock is passed in for the rate-limited log.
 */

import { type Command, COMMAND_KIND_INDEX, commandRow, errorReply } from "../protocol/mod.ts";
import { assert } from "../assert.ts";
import {
  describeUser,
  finishDraft,
  newDraft,
  parseUserLine,
  type PasswordHasher,
  type User,
} from "./users.ts";

export const NOAUTH = errorReply("NOAUTH authentication required");
export const WRONGPASS = errorReply(
  "WRONGPASS invalid username-password pair or user is disabled",
);
export const DEFAULT_USER = "default";
/** Before AUTH a line may be this long at most (see docs/security.md). */
export const UNAUTHENTICATED_MAX_LINE_BYTES = 4 * 1024;

export const PROTECTED_MODE_REFUSAL = "DENIED protected mode: the user default has no password " +
  "and this client is not on loopback; set auth.password (or auth.users_file), or set " +
  "auth.protected_mode = false to accept clients from any address without a password";

/** The `default` user when no users file and no password are configured: as before auth. */
export function openDefaultUser(): User {
  const user = parseUserLine(["user", DEFAULT_USER, "on", "nopass", "~*", "+@all"], () => "");
  assert(!("problem" in user), "the open default user's rules parse");
  return user;
}

/**
 * The users, with `default` settled: from the users file (or, without one, open), then the
 * configured password, which replaces `nopass` (like Redis's requirepass).
 */
export function settleUsers(
  fromFile: ReadonlyMap<string, User> | null,
  passwordHash: string | null,
): Map<string, User> {
  const users = new Map(fromFile ?? []);
  let defaultUser = users.get(DEFAULT_USER) ?? null;
  if (defaultUser === null) {
    if (fromFile === null || passwordHash !== null) defaultUser = openDefaultUser();
    else defaultUser = finishDraft(newDraft(DEFAULT_USER));
  }
  if (passwordHash !== null) {
    const hashes = defaultUser.passwordHashes.filter((hash) => hash !== passwordHash);
    defaultUser = {
      ...defaultUser,
      enabled: true,
      nopass: false,
      passwordHashes: [...hashes, passwordHash],
    };
  }
  users.set(DEFAULT_USER, defaultUser);
  return users;
}

/** Equal strings, compared in time that does not depend on where they differ. */
function sameText(left: string, right: string): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let i = 0; i < left.length; i++) difference |= left.charCodeAt(i) ^ right.charCodeAt(i);
  return difference === 0;
}

/** The first word of a request line, lowercase, as NOPERM names it. */
function commandName(command: Command, word: string): string {
  if (command.kind === "acl_list") return "acl|list";
  if (command.kind === "acl_load") return "acl|load";
  return word.toLowerCase();
}

/** What the auth.* keys configure, read from them and their files (see files.ts). */
export interface AccessState {
  readonly users: Map<string, User>;
  /** auth.protected_mode: applies to connections accepted from now on. */
  readonly protectedMode: boolean;
  /** Users or a password are configured: every command is checked. */
  readonly enforced: boolean;
}

export class AccessControl {
  #state: AccessState;
  readonly #hash: PasswordHasher;

  constructor(state: AccessState, hash: PasswordHasher) {
    this.#state = state;
    this.#hash = hash;
  }

  get users(): ReadonlyMap<string, User> {
    return this.#state.users;
  }

  get protectedMode(): boolean {
    return this.#state.protectedMode;
  }

  get enforced(): boolean {
    return this.#state.enforced;
  }

  /** The auth.* keys or the users file changed (ACL LOAD, a config reload, CONFIG SET). */
  replace(state: AccessState): void {
    this.#state = state;
  }

  /** Who a new connection is before AUTH: `default` if it needs no password, else nobody. */
  userAtConnect(): User | null {
    const user = this.#state.users.get(DEFAULT_USER);
    return user !== undefined && user.enabled && user.nopass ? user : null;
  }

  /** Protected mode: why a client from `isLoopback` is refused, or null. */
  connectRefusal(isLoopback: boolean): string | null {
    if (!this.protectedMode || isLoopback) return null;
    return this.userAtConnect() !== null ? PROTECTED_MODE_REFUSAL : null;
  }

  /** The user that `password` proves, or null (unknown, off or wrong password). */
  authenticate(name: string | null, password: string): User | null {
    const user = this.#state.users.get(name ?? DEFAULT_USER);
    if (user === undefined || !user.enabled) return null;
    if (user.nopass) return user;
    const hashHex = this.#hash(password);
    let found = false;
    // Every hash is compared, so the time says nothing about which one matched.
    for (const candidate of user.passwordHashes) found = sameText(candidate, hashHex) || found;
    return found ? user : null;
  }

  /**
   * May `user` run `command` (its keys included)? The check of every command; refusal() then
   * says why not.
   */
  allows(user: User, command: Command): boolean {
    if (user.allowedKinds[COMMAND_KIND_INDEX[command.kind]] !== 1) return false;
    if (user.allKeys) return true;
    if ("key" in command) return keyAllowed(user, command.key);
    if ("keys" in command) {
      for (const key of command.keys) if (!keyAllowed(user, key)) return false;
    }
    return true;
  }

  /**
   * The ERROR line that refuses `command` to `user`, or null. `word` gives the command word
   * as typed (asked only for a refusal). Keys of every key-taking command are checked; SYNC requests are not (a peer
   * exchanges every key).
   */
  refusal(user: User, command: Command, word: () => string): string | null {
    const kind = command.kind;
    if (commandRow(kind).category !== "connection" && !user.commands.has(kind)) {
      return errorReply(
        `NOPERM user ${user.name} has no permissions to run the '${
          commandName(command, word())
        }' command`,
      );
    }
    if (user.allKeys) return null;
    if ("key" in command) return keyRefusal(user, command.key);
    if ("keys" in command) {
      for (const key of command.keys) {
        const refused = keyRefusal(user, key);
        if (refused !== null) return refused;
      }
    }
    return null;
  }

  /** ACL LIST. */
  listReply(): string {
    let reply = "USERS " + this.#state.users.size + "\r\n";
    for (const user of this.#state.users.values()) reply += describeUser(user) + "\r\n";
    return reply;
  }
}

/** May `user` touch `key`? */
export function keyAllowed(user: User, key: string): boolean {
  if (user.allKeys) return true;
  const matchers = user.keyMatchers;
  const first = key.length === 0 ? -1 : key.charCodeAt(0);
  for (let i = 0; i < matchers.length; i++) {
    const matcher = matchers[i]!;
    const unit = matcher.firstUnit;
    if ((unit === -1 || unit === first) && matcher.matches(key)) return true;
  }
  return false;
}

/** May `user` touch the key held in `bytes[start, end)`? Makes no string. */
export function keyBytesAllowed(
  user: User,
  bytes: Uint8Array,
  start: number,
  end: number,
): boolean {
  if (user.allKeys) return true;
  const matchers = user.keyMatchers;
  const first = start === end ? -1 : bytes[start]!;
  for (let i = 0; i < matchers.length; i++) {
    const matcher = matchers[i]!;
    const unit = matcher.firstUnit;
    if ((unit === -1 || unit === first) && matcher.matchesBytes(bytes, start, end)) return true;
  }
  return false;
}

function keyRefusal(user: User, key: string): string | null {
  if (keyAllowed(user, key)) return null;
  const shown = key.length > 128 ? key.slice(0, 128) + "..." : key;
  return errorReply(`NOPERM user ${user.name} has no permissions to access the '${shown}' key`);
}
