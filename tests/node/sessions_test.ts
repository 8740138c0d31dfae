import assert from "node:assert/strict";
import { nth } from "../_support/nth.ts";
import {
  AccessControl,
  parseUsersFile,
  PROTECTED_MODE_REFUSAL,
  settleUsers,
  sha256Hex,
  type User,
} from "../../src/auth/mod.ts";
import { Logger } from "../../src/log.ts";
import { Sessions } from "../../src/node/sessions.ts";
import { parseCommand } from "../../src/protocol/mod.ts";
import type { ClientInfo, ConnectionControl } from "../../src/server/mod.ts";

const LIMITS = { maxKeyBytes: 1024, maxValueBytes: 1 << 20, maxKeysPerCommand: 100 };

class FakeConnection implements ConnectionControl {
  maxLineBytes = 1 << 20;
  closedBecause: string | null = null;
  close(reason: string): void {
    this.closedBecause = reason;
  }
  setMaxLineBytes(bytes: number): void {
    this.maxLineBytes = bytes;
  }
}

function makeSessions(text: string | null, options: { password?: string; enforced?: boolean }) {
  let users: Map<string, User> | null = null;
  if (text !== null) {
    const parsed = parseUsersFile(text, "users.acl", sha256Hex);
    if ("error" in parsed) throw new Error(parsed.error);
    users = parsed;
  }
  const hash = options.password === undefined ? null : sha256Hex(options.password);
  const access = new AccessControl(settleUsers(users, hash), {
    hash: sha256Hex,
    protectedMode: true,
    enforced: options.enforced ?? true,
  });
  const logged: string[] = [];
  let nowMs = 1_000;
  let reloadText: string | null = null;
  const sessions = new Sessions(access, {
    log: new Logger("debug", (line) => logged.push(line)),
    nowMs: () => nowMs,
    maxLineBytes: 65_536,
    reload: () => {
      const parsed = parseUsersFile(reloadText ?? "", "users.acl", sha256Hex);
      if ("error" in parsed) return Promise.resolve(parsed.error);
      access.replaceUsers(settleUsers(parsed, hash));
      return Promise.resolve(null);
    },
  });
  return {
    sessions,
    logged,
    advance: (ms: number) => nowMs += ms,
    setReload: (text: string) => reloadText = text,
  };
}

const LOCAL: ClientInfo = { remoteAddress: "127.0.0.1", isLoopback: true };

function command(line: string) {
  const parsed = parseCommand(line, LIMITS);
  assert.notEqual(parsed.kind, "invalid");
  return parsed as Exclude<typeof parsed, { kind: "invalid" }>;
}

Deno.test("Sessions: an unauthenticated connection has a 4 KiB line limit until AUTH", () => {
  const { sessions } = makeSessions("user a on >pa ~* +@all", {});
  const connection = new FakeConnection();
  const client = { ...LOCAL };
  assert.equal(sessions.opened(client, connection), null);
  assert.equal(connection.maxLineBytes, 4096);
  const session = sessions.of(client);
  assert.equal(
    sessions.refusal(session, command("GET k"), () => "GET"),
    "ERROR NOAUTH authentication required\r\n",
  );
  assert.equal(sessions.refusal(session, command("AUTH a pa"), () => "AUTH"), null);
  assert.equal(sessions.refusal(session, command("QUIT"), () => "QUIT"), null);
  assert.equal(sessions.authenticate(client, "a", "pa"), "OK\r\n");
  assert.equal(connection.maxLineBytes, 65_536);
  assert.equal(sessions.whoami(client), "USER a\r\n");
  sessions.closed(client);
});

Deno.test("Sessions: protected mode refuses a remote client only while default is open", () => {
  const remote = { remoteAddress: "10.0.0.9", isLoopback: false };
  const open = makeSessions(null, { enforced: false });
  assert.equal(open.sessions.opened(remote, new FakeConnection()), PROTECTED_MODE_REFUSAL);
  assert.equal(open.sessions.opened({ ...LOCAL }, new FakeConnection()), null);
  const withPassword = makeSessions(null, { password: "pw" });
  assert.equal(withPassword.sessions.opened(remote, new FakeConnection()), null);
});

Deno.test("Sessions: AUTH failures are counted, logged once a second, never with the password", () => {
  const { sessions, logged, advance } = makeSessions("user a on >pa ~* +@all", {});
  const client = { ...LOCAL };
  for (let i = 0; i < 5; i++) {
    assert.match(sessions.authenticate(client, "a", "secret-guess"), /^ERROR WRONGPASS /);
  }
  assert.equal(
    sessions.authenticate(client, "secret-as-user", "x"),
    sessions.authenticate(
      client,
      "a",
      "y",
    ),
  );
  assert.equal(sessions.authFailures, 7);
  assert.equal(logged.length, 1);
  advance(1_000);
  sessions.authenticate(client, "secret-as-user", "secret-guess");
  assert.equal(logged.length, 2);
  const last = JSON.parse(nth(logged, 1));
  assert.equal(last.failures_not_logged, 6);
  assert.equal(last.user, "(unknown)");
  assert.equal(last.client, "127.0.0.1");
  assert.ok(!logged.join("").includes("secret"));
});

Deno.test("Sessions.load() closes the connections of removed and disabled users only", async () => {
  const { sessions, setReload } = makeSessions(
    "user a on >pa ~* +@all\nuser b on >pb ~* +@all\nuser c on >pc ~* +@read",
    {},
  );
  const connections = ["a", "b", "c"].map((name) => {
    const connection = new FakeConnection();
    const client = { ...LOCAL };
    sessions.opened(client, connection);
    assert.equal(sessions.authenticate(client, name, "p" + name), "OK\r\n");
    return { client, connection };
  });
  setReload("user a on >pa ~* +@all\nuser b off >pb\nuser c on >pc ~* +@read +@write +bogus");
  assert.match(await sessions.load(), /^ERROR users.acl:3: rule "\+bogus"/);
  assert.ok(connections.every(({ connection }) => connection.closedBecause === null));
  setReload("user b off >pb\nuser c on >pc ~* +@read +@write");
  assert.equal(await sessions.load(), "OK\r\n");
  assert.equal(
    nth(connections, 0).connection.closedBecause,
    "user a was removed or turned off by ACL LOAD",
  );
  assert.equal(
    nth(connections, 1).connection.closedBecause,
    "user b was removed or turned off by ACL LOAD",
  );
  assert.equal(nth(connections, 2).connection.closedBecause, null);
  // c's connection has c's new rules at once.
  const session = sessions.of(nth(connections, 2).client);
  assert.equal(sessions.refusal(session, command("SET k v"), () => "SET"), null);
});
