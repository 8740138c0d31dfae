import assert from "node:assert/strict";
import { nth } from "../_support/nth.ts";
import {
  AccessControl,
  type AccessState,
  AuthFileError,
  NOAUTH,
  parseUsersFile,
  PROTECTED_MODE_REFUSAL,
  settleUsers,
  sha256Hex,
  type User,
} from "../../src/auth/mod.ts";
import type { AuthConfig } from "../../src/config/mod.ts";
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

/** What `auth` configures when the users file holds `usersText`; throws AuthFileError. */
function stateOf(auth: AuthConfig, usersText: string, enforced?: boolean): AccessState {
  let users: Map<string, User> | null = null;
  if (auth.usersFile !== null) {
    const parsed = parseUsersFile(usersText, auth.usersFile, sha256Hex);
    if ("error" in parsed) throw new AuthFileError(parsed.error);
    users = parsed;
  }
  const hash = auth.password === null ? null : sha256Hex(auth.password);
  return {
    users: settleUsers(users, hash),
    protectedMode: auth.protectedMode,
    enforced: enforced ?? (users !== null || hash !== null),
  };
}

/** Sessions over a users file whose text is `text` (null: no users file), set anew by setReload. */
function makeSessions(text: string | null, options: { password?: string; enforced?: boolean }) {
  let usersText = text ?? "";
  const auth: AuthConfig = {
    usersFile: text === null ? null : "users.acl",
    password: options.password ?? null,
    passwordFile: null,
    protectedMode: true,
  };
  const logged: string[] = [];
  let nowMs = 1_000;
  const sessions = new Sessions(
    new AccessControl(stateOf(auth, usersText, options.enforced), sha256Hex),
    {
      log: new Logger("debug", (line) => logged.push(line)),
      nowMs: () => nowMs,
      maxLineBytes: 65_536,
      read: (next) => Promise.try(() => stateOf(next, usersText)),
      auth,
    },
  );
  /** auth.* keys changed: read and put in place as a config change does; the error or null. */
  const change = async (next: Partial<AuthConfig>): Promise<string | null> => {
    const prepared = await sessions.prepare({ ...auth, ...next });
    if ("error" in prepared) return prepared.error;
    Object.assign(auth, next);
    sessions.install(prepared.state, "CONFIG SET");
    return null;
  };
  return {
    sessions,
    logged,
    change,
    advance: (ms: number) => nowMs += ms,
    setReload: (next: string) => usersText = next,
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

Deno.test("Sessions: a password set at run time keeps open connections as default; new ones need AUTH", async () => {
  const { sessions, change } = makeSessions(null, {});
  const before = { ...LOCAL };
  sessions.opened(before, new FakeConnection());
  assert.equal(await change({ password: "pw" }), null);
  assert.equal(sessions.access.enforced, true);
  const session = sessions.of(before);
  assert.equal(session.user?.name, "default");
  assert.equal(sessions.refusal(session, command("SET k v"), () => "SET"), null);
  const connection = new FakeConnection();
  const after = { ...LOCAL };
  sessions.opened(after, connection);
  assert.equal(sessions.refusal(sessions.of(after), command("GET k"), () => "GET"), NOAUTH);
  assert.equal(connection.maxLineBytes, 4096);
  assert.match(sessions.authenticate(after, null, "other"), /^ERROR WRONGPASS/);
  assert.equal(sessions.authenticate(after, null, "pw"), "OK\r\n");
});

Deno.test("Sessions: a changed password keeps authenticated sessions and takes effect for new AUTHs", async () => {
  const { sessions, change } = makeSessions(null, { password: "old" });
  const connection = new FakeConnection();
  const client = { ...LOCAL };
  sessions.opened(client, connection);
  assert.equal(sessions.authenticate(client, null, "old"), "OK\r\n");
  assert.equal(await change({ password: "new" }), null);
  assert.equal(connection.closedBecause, null);
  assert.equal(sessions.refusal(sessions.of(client), command("GET k"), () => "GET"), null);
  const other = { ...LOCAL };
  sessions.opened(other, new FakeConnection());
  assert.match(sessions.authenticate(other, null, "old"), /^ERROR WRONGPASS/);
  assert.equal(sessions.authenticate(other, null, "new"), "OK\r\n");
});

Deno.test("Sessions: a password removed lets waiting connections run as default, without the 4 KiB cap", async () => {
  const { sessions, change } = makeSessions(null, { password: "pw" });
  const connection = new FakeConnection();
  const client = { ...LOCAL };
  sessions.opened(client, connection);
  assert.equal(connection.maxLineBytes, 4096);
  assert.equal(await change({ password: null }), null);
  assert.equal(sessions.access.enforced, false);
  assert.equal(connection.maxLineBytes, 65_536);
  assert.equal(sessions.whoami(client), "USER default\r\n");
});

Deno.test("Sessions: protected mode changed applies to connections accepted after the change", async () => {
  const { sessions, change } = makeSessions(null, {});
  const remote = { remoteAddress: "10.0.0.9", isLoopback: false };
  assert.equal(sessions.opened(remote, new FakeConnection()), PROTECTED_MODE_REFUSAL);
  assert.equal(await change({ protectedMode: false }), null);
  const connection = new FakeConnection();
  assert.equal(sessions.opened(remote, connection), null);
  assert.equal(await change({ protectedMode: true }), null);
  assert.equal(connection.closedBecause, null);
  assert.equal(sessions.opened({ ...remote }, new FakeConnection()), PROTECTED_MODE_REFUSAL);
});

Deno.test("Sessions: an auth change whose users file does not parse changes nothing", async () => {
  const { sessions, change, setReload } = makeSessions("user a on >pa ~* +@all", {});
  const connection = new FakeConnection();
  const client = { ...LOCAL };
  sessions.opened(client, connection);
  assert.equal(sessions.authenticate(client, "a", "pa"), "OK\r\n");
  setReload("user b on >pb ~* +@nope");
  assert.match(await change({ password: "pw" }) ?? "", /^users\.acl:1: /);
  assert.equal(sessions.access.users.has("a"), true);
  assert.equal(sessions.access.users.get("default")?.passwordHashes.length, 0);
  assert.equal(connection.closedBecause, null);
});
