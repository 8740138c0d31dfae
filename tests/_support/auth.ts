/**
 * Helpers for tests of users and permissions: a users file in a temporary directory (owner
 * only), and a client that has authenticated.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import type { NodeProcess } from "./node_process.ts";

export class UsersFile {
  readonly path: string;
  readonly #directory: string;

  private constructor(directory: string) {
    this.#directory = directory;
    this.path = `${directory}/users.acl`;
  }

  static async create(text: string): Promise<UsersFile> {
    const file = new UsersFile(await Deno.makeTempDir({ prefix: "merklekv-users-" }));
    await file.write(text);
    return file;
  }

  async write(text: string): Promise<void> {
    await Deno.writeTextFile(this.path, text, { mode: 0o600 });
    await Deno.chmod(this.path, 0o600);
  }

  async remove(): Promise<void> {
    await Deno.remove(this.#directory, { recursive: true }).catch(() => {});
  }
}

/** A client of `node` that has sent `AUTH <user> <password>` (or `AUTH <password>`). */
export async function connectAs(
  node: NodeProcess,
  user: string | null,
  password: string,
): Promise<MerkleKVClient> {
  const client = await node.connect();
  const line = user === null ? `AUTH ${password}` : `AUTH ${user} ${password}`;
  assert.deepEqual(await client.request(line), ["OK"], line);
  return client;
}

/** The reply to one line, its lines joined by "\n". */
export async function reply(client: MerkleKVClient, line: string): Promise<string> {
  return (await client.request(line)).join("\n");
}

export function noperm(user: string, command: string): string {
  return `ERROR NOPERM user ${user} has no permissions to run the '${command}' command`;
}

export function nopermKey(user: string, key: string): string {
  return `ERROR NOPERM user ${user} has no permissions to access the '${key}' key`;
}

export const NOAUTH = "ERROR NOAUTH authentication required";
export const WRONGPASS = "ERROR WRONGPASS invalid username-password pair or user is disabled";
