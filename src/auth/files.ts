/**
 * The I/O edge of auth: reads the users file and the password file, warns about files others
 * may read, and builds the AccessControl the node checks every command against.
 */

import { createHash } from "node:crypto";
import type { AuthConfig } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import { AccessControl, type AccessState, settleUsers } from "./access.ts";
import { parseUsersFile, type User } from "./users.ts";

/**
 * A users or password file that cannot be read or is invalid: the node does not start, and a
 * reload changes nothing.
 */
export class AuthFileError extends Error {}

export function sha256Hex(password: string): string {
  return createHash("sha256").update(password, "latin1").digest("hex");
}

/** Warns when a file holding secrets may be read by users other than its owner. */
export async function warnIfReadableByOthers(path: string, log: Logger): Promise<void> {
  try {
    const mode = (await Deno.stat(path)).mode;
    if (mode !== null && (mode & 0o077) !== 0) {
      log.warn("secret_file_readable_by_others", {
        file: path,
        mode: "0" + (mode & 0o777).toString(8),
        advice: `chmod 600 ${path}`,
      });
    }
  } catch {
    // A file that cannot be stat'ed fails where it is read, with its own message.
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AuthFileError(`Cannot read ${what} ${path}: ${reason}`);
  }
}

/** The users of auth.users_file, or an Error naming the file, line and rule. */
export async function readUsersFile(path: string): Promise<Map<string, User>> {
  const parsed = parseUsersFile(await readText(path, "auth.users_file"), path, sha256Hex);
  if ("error" in parsed) throw new AuthFileError(`Invalid users file ${parsed.error}`);
  return parsed;
}

/** The `default` user's password hash, from auth.password or auth.password_file, or null. */
async function passwordHash(auth: AuthConfig): Promise<string | null> {
  if (auth.password !== null) return sha256Hex(auth.password);
  if (auth.passwordFile === null) return null;
  const text = await readText(auth.passwordFile, "auth.password_file");
  const [password = ""] = text.split(/\r?\n/);
  if (password === "") {
    throw new AuthFileError(`auth.password_file ${auth.passwordFile}: first line is empty`);
  }
  return sha256Hex(password);
}

/**
 * Reads what the auth.* keys configure, files included; throws an AuthFileError whose message
 * names the file and line. Run at start, by ACL LOAD and by every config change of auth.*.
 */
export async function readAccess(auth: AuthConfig, log: Logger): Promise<AccessState> {
  for (const path of [auth.usersFile, auth.passwordFile]) {
    if (path !== null) await warnIfReadableByOthers(path, log);
  }
  const hash = await passwordHash(auth);
  const fromFile = auth.usersFile === null ? null : await readUsersFile(auth.usersFile);
  return {
    users: settleUsers(fromFile, hash),
    protectedMode: auth.protectedMode,
    enforced: fromFile !== null || hash !== null,
  };
}

/**
 * The node's AccessControl at start (throws an AuthFileError: the node does not start), and
 * how to read the auth.* keys again.
 */
export async function loadAccess(
  auth: AuthConfig,
  log: Logger,
): Promise<{ access: AccessControl; read: (next: AuthConfig) => Promise<AccessState> }> {
  const access = new AccessControl(await readAccess(auth, log), sha256Hex);
  return { access, read: (next) => readAccess(next, log) };
}
