import assert from "node:assert/strict";
import { parseCliArgs } from "../../src/cli/mod.ts";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";

Deno.test("parseCliArgs() defaults to 127.0.0.1 and the default bind_port, text output, the prompt", () => {
  assert.deepEqual(parseCliArgs([]), {
    host: "127.0.0.1",
    port: DEFAULT_CONFIG.bindPort,
    user: null,
    password: null,
    tls: false,
    caFile: null,
    certFile: null,
    keyFile: null,
    format: "text",
    pipe: false,
    help: false,
    command: [],
  });
  assert.equal(DEFAULT_CONFIG.bindPort, 7878);
});

Deno.test("parseCliArgs() reads options, then every word after the first non-option is the command", () => {
  assert.deepEqual(parseCliArgs(["-h", "db1", "-p", "7000", "--json", "SET", "k", "-p"]), {
    host: "db1",
    port: 7000,
    user: null,
    password: null,
    tls: false,
    caFile: null,
    certFile: null,
    keyFile: null,
    format: "json",
    pipe: false,
    help: false,
    command: ["SET", "k", "-p"],
  });
  const long = parseCliArgs(["--host=db2", "--port=7001", "--raw", "--", "--x"]);
  assert.ok(!("error" in long));
  assert.equal(long.host, "db2");
  assert.equal(long.port, 7001);
  assert.equal(long.format, "raw");
  assert.deepEqual(long.command, ["--x"]);
  const pipe = parseCliArgs(["--pipe"]);
  assert.ok(!("error" in pipe) && pipe.pipe);
});

Deno.test("parseCliArgs() says what is wrong with bad options", () => {
  const cases: [string[], string][] = [
    [["--bogus"], 'unknown option "--bogus"'],
    [["-p"], "option -p needs a value"],
    [["-h"], "option -h needs a value"],
    [["--port="], "option --port needs a value"],
    [["-p", "0"], 'invalid port "0": must be an integer 1..65535'],
    [["-p", "65536"], 'invalid port "65536": must be an integer 1..65535'],
    [["-p", "http"], 'invalid port "http": must be an integer 1..65535'],
    [["--raw", "--json"], "choose one of --raw and --json"],
    [["--pipe=yes"], "option --pipe takes no value"],
    [["--pipe", "GET", "k"], "--pipe reads its commands from stdin: give no command as well"],
    [["--tls=yes"], "option --tls takes no value"],
    [["--cacert"], "option --cacert needs a file"],
    [["--cert", "me.crt"], "--cert and --key go together (a client certificate and its key)"],
  ];
  for (const [args, error] of cases) {
    assert.deepEqual(parseCliArgs(args), { error }, args.join(" "));
  }
});

Deno.test("parseCliArgs() reads --user and --pass, refusing words the server would not take", () => {
  const both = parseCliArgs(["--user", "app", "--pass=s3cret!", "GET", "k"]);
  assert.ok(!("error" in both));
  assert.equal(both.user, "app");
  assert.equal(both.password, "s3cret!");
  assert.deepEqual(both.command, ["GET", "k"]);
  const words = "must be 1 to 128 printable ASCII characters without spaces";
  assert.deepEqual(parseCliArgs(["--pass", "has space"]), { error: `option --pass: ${words}` });
  assert.deepEqual(parseCliArgs(["--user", "x".repeat(129)]), { error: `option --user: ${words}` });
  assert.deepEqual(parseCliArgs(["--pass"]), { error: "option --pass needs a value" });
});

Deno.test("parseCliArgs() reads --tls, --cacert, --cert and --key; each file option implies --tls", () => {
  const plain = parseCliArgs(["--tls", "PING"]);
  assert.ok(!("error" in plain));
  assert.equal(plain.tls, true);
  assert.equal(plain.caFile, null);
  const mutual = parseCliArgs(["--cacert", "ca.crt", "--cert=me.crt", "--key", "me.key", "PING"]);
  assert.ok(!("error" in mutual));
  assert.deepEqual(
    [mutual.tls, mutual.caFile, mutual.certFile, mutual.keyFile, mutual.command],
    [true, "ca.crt", "me.crt", "me.key", ["PING"]],
  );
});
