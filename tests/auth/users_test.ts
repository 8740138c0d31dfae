import assert from "node:assert/strict";
import {
  AccessControl,
  describeUser,
  parseUsersFile,
  settleUsers,
  sha256Hex,
  type User,
} from "../../src/auth/mod.ts";
import { parseCommand } from "../../src/protocol/mod.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const FILE = "users.acl";
const LIMITS = { maxKeyBytes: 1024, maxValueBytes: 1 << 20, maxKeysPerCommand: 100 };

function parse(text: string): Map<string, User> {
  const parsed = parseUsersFile(text, FILE, sha256Hex);
  if ("error" in parsed) throw new Error(parsed.error);
  return parsed;
}

function parseError(text: string): string {
  const parsed = parseUsersFile(text, FILE, sha256Hex);
  assert.ok("error" in parsed, "the file should be rejected");
  return parsed.error;
}

Deno.test("parseUsersFile() reads users, skipping comments and blank lines", () => {
  const users = parse(
    "# the team\n\nuser alice on >wonderland ~user:* +@read\n  user bob off nopass ~* +@all\n",
  );
  assert.deepEqual([...users.keys()], ["alice", "bob"]);
  const alice = users.get("alice") as User;
  assert.equal(alice.enabled, true);
  assert.deepEqual(alice.passwordHashes, [sha256Hex("wonderland")]);
  assert.deepEqual(alice.keyGlobs, ["user:*"]);
  assert.ok(alice.commands.has("get") && alice.commands.has("scan"));
  assert.ok(!alice.commands.has("set"));
  const bob = users.get("bob") as User;
  assert.equal(bob.enabled, false);
  assert.equal(bob.nopass, true);
  assert.equal(bob.allKeys, true);
});

Deno.test("a new user starts off, with no password, no key and no command", () => {
  const user = parse("user nobody").get("nobody") as User;
  assert.equal(user.enabled, false);
  assert.equal(user.nopass, false);
  assert.deepEqual(user.passwordHashes, []);
  assert.equal(user.allKeys, false);
  assert.deepEqual(user.keyGlobs, []);
  assert.equal(user.commands.size, 0);
  assert.equal(describeUser(user), "user nobody off -@all");
});

Deno.test("rules apply left to right", () => {
  const users = parse([
    "user a on +@all -@admin +info",
    "user b on allcommands nocommands +get",
    "user c on >one nopass",
    "user d on nopass >two",
    "user e on off",
    "user f on +@read -get +@write -@write",
  ].join("\n"));
  const a = users.get("a") as User;
  assert.ok(a.commands.has("set") && a.commands.has("info") && !a.commands.has("truncate"));
  assert.deepEqual([...(users.get("b") as User).commands], ["get"]);
  assert.equal((users.get("c") as User).nopass, true);
  assert.deepEqual((users.get("c") as User).passwordHashes, []);
  assert.equal((users.get("d") as User).nopass, false);
  assert.equal((users.get("e") as User).enabled, false);
  const f = users.get("f") as User;
  assert.ok(f.commands.has("mget") && !f.commands.has("get") && !f.commands.has("set"));
});

Deno.test("#<sha256> passwords are taken as they are, in any case", () => {
  const hash = sha256Hex("pw");
  const user = parse(`user a on #${hash.toUpperCase()}`).get("a") as User;
  assert.deepEqual(user.passwordHashes, [hash]);
});

Deno.test("allkeys and ~* open every key; other globs add up", () => {
  const users = parse("user a on allkeys\nuser b on ~x:* ~y:*\nuser c on ~x ~*");
  assert.equal((users.get("a") as User).allKeys, true);
  assert.deepEqual((users.get("b") as User).keyGlobs, ["x:*", "y:*"]);
  assert.equal((users.get("c") as User).allKeys, true);
});

Deno.test("describeUser() shows passwords only as #<sha256>", () => {
  const users = parse("user alice on >secret ~k:* +@read -scan +set");
  const line = describeUser(users.get("alice") as User);
  assert.equal(line, `user alice on #${sha256Hex("secret")} ~k:* +@read -scan +set`);
  assert.ok(!line.includes("secret "));
  // What ACL LIST shows reads back as the same user.
  const again = parse(line).get("alice") as User;
  assert.deepEqual(describeUser(again), line);
});

Deno.test("command rules name categories, commands, aliases and ACL subcommands", () => {
  const user = parse("user a on +@sync +delete +acl|list +sync -sync").get("a") as User;
  assert.ok(user.commands.has("del"));
  assert.ok(user.commands.has("acl_list") && !user.commands.has("acl_load"));
  assert.ok(!user.commands.has("sync_request") && !user.commands.has("sync_run"));
});

/** [file text, the error]: the file, the line and the rule are named; passwords never. */
const BAD_FILES: [string, string][] = [
  [
    "user a on +@nope",
    'users.acl:1: rule "+@nope": unknown category "nope" (read, write, admin, sync, all)',
  ],
  ["\n# c\nuser a on +frobnicate", 'users.acl:3: rule "+frobnicate": unknown command "frobnicate"'],
  ["user a on sometimes", 'users.acl:1: rule "sometimes": unknown rule'],
  ["user a on #abc", 'users.acl:1: rule "#abc": must be # and 64 hex digits (a SHA-256)'],
  ["user a on >", 'users.acl:1: rule ">***": empty password'],
  ["user a on ~", 'users.acl:1: rule "~": empty key pattern'],
  ["user", "users.acl:1: user without a name"],
  ["alice on", 'users.acl:1: expected "user <name> <rules>...", got "alice"'],
  ["user a on\nuser a off", 'users.acl:2: user "a" is defined twice'],
];

for (const [text, error] of BAD_FILES) {
  Deno.test(`parseUsersFile() rejects ${JSON.stringify(text)} naming the line and rule`, () => {
    assert.equal(parseError(text), error);
  });
}

Deno.test("an error never shows a password, even one in a bad rule", () => {
  const error = parseError("user a on >hunter2 +@bad");
  assert.ok(!error.includes("hunter2"), error);
  const named = parseError("user a on >hunter2\nuser a on");
  assert.ok(!named.includes("hunter2"), named);
});

function access(text: string | null, password: string | null = null): AccessControl {
  const users = settleUsers(text === null ? null : parse(text), password && sha256Hex(password));
  return new AccessControl({ users, protectedMode: true, enforced: true }, sha256Hex);
}

function command(line: string) {
  const parsed = parseCommand(line, LIMITS);
  assert.notEqual(parsed.kind, "invalid", line);
  return parsed as Exclude<typeof parsed, { kind: "invalid" }>;
}

Deno.test("settleUsers(): without a file or password, default is nopass ~* +@all", () => {
  const control = access(null);
  assert.equal(control.userAtConnect()?.name, "default");
  assert.equal(
    describeUser(control.users.get("default") as User),
    "user default on nopass ~* +@all",
  );
  assert.match(control.connectRefusal(false) ?? "", /^DENIED protected mode: /);
  assert.equal(control.connectRefusal(true), null);
});

Deno.test("settleUsers(): a users file without default leaves default off", () => {
  const control = access("user a on >x +@all ~*");
  assert.equal(control.userAtConnect(), null);
  assert.equal((control.users.get("default") as User).enabled, false);
  assert.equal(control.connectRefusal(false), null);
  assert.equal(control.authenticate(null, "x"), null);
});

Deno.test("settleUsers(): auth.password is default's password", () => {
  const control = access(null, "s3cret");
  assert.equal(control.userAtConnect(), null);
  assert.equal(control.authenticate(null, "s3cret")?.name, "default");
  assert.equal(control.authenticate("default", "s3cret")?.name, "default");
  assert.equal(control.authenticate(null, "wrong"), null);
  assert.equal(control.connectRefusal(false), null);
});

Deno.test("authenticate() refuses unknown users, off users and wrong passwords", () => {
  const control = access("user a on >pa ~* +@all\nuser b off >pb ~* +@all\nuser c on nopass");
  assert.equal(control.authenticate("a", "pa")?.name, "a");
  assert.equal(control.authenticate("a", "pb"), null);
  assert.equal(control.authenticate("b", "pb"), null);
  assert.equal(control.authenticate("zed", "pa"), null);
  assert.equal(control.authenticate("c", "anything")?.name, "c");
});

Deno.test("refusal() checks the category, then every key", () => {
  const control = access("user r on >p ~user:* ~[ab] +@read");
  const user = control.users.get("r") as User;
  assert.equal(control.refusal(user, command("GET user:1"), () => "GET"), null);
  assert.equal(
    control.refusal(user, command("GET other"), () => "GET"),
    "ERROR NOPERM user r has no permissions to access the 'other' key\r\n",
  );
  assert.equal(
    control.refusal(user, command("set user:1 v"), () => "set"),
    "ERROR NOPERM user r has no permissions to run the 'set' command\r\n",
  );
  assert.equal(control.refusal(user, command("MGET user:1 a b"), () => "MGET"), null);
  assert.equal(
    control.refusal(user, command("EXISTS a c b"), () => "EXISTS"),
    "ERROR NOPERM user r has no permissions to access the 'c' key\r\n",
  );
  assert.equal(control.refusal(user, command("PING"), () => "PING"), null);
  assert.equal(control.refusal(user, command("ACL WHOAMI"), () => "ACL"), null);
  assert.equal(
    control.refusal(user, command("ACL LIST"), () => "ACL"),
    "ERROR NOPERM user r has no permissions to run the 'acl|list' command\r\n",
  );
});

const FUZZ_SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20_261_207);
const RULE_PIECES = [
  "user",
  "on",
  "off",
  "nopass",
  ">",
  ">pw",
  "#",
  "#" + "a".repeat(64),
  "#" + "g".repeat(64),
  "~",
  "~*",
  "~[",
  "~a?b",
  "~\\",
  "allkeys",
  "+@",
  "+@read",
  "-@all",
  "+@nope",
  "+get",
  "-acl|list",
  "+",
  "-",
  "allcommands",
  "nocommands",
  "u",
  "default",
  "\t",
  " ",
  "\u00e9",
  "\0",
];

Deno.test(`parseUsersFile() never throws on random files (seed ${FUZZ_SEED})`, () => {
  const random = new SeededRandom(FUZZ_SEED);
  for (let file = 0; file < 500; file++) {
    const lines: string[] = [];
    for (let line = random.below(6); line > 0; line--) {
      const words: string[] = [];
      for (let word = random.below(8); word > 0; word--) {
        words.push(
          random.below(10) === 0 ? random.bytes(random.below(6)) : random.pick(RULE_PIECES),
        );
      }
      lines.push(words.join(random.below(4) === 0 ? "\t" : " "));
    }
    const parsed = parseUsersFile(
      lines.join(random.below(3) === 0 ? "\r\n" : "\n"),
      FILE,
      sha256Hex,
    );
    if ("error" in parsed) assert.match(parsed.error, /^users\.acl:[0-9]+: /);
    else for (const user of parsed.values()) describeUser(user);
  }
});
