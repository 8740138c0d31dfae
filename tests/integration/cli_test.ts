/**
 * `merklekv cli` as a real process (`deno run main.ts cli ...`) against a real node: every
 * reply shape one-shot, exit statuses, --json and --raw, --pipe with 10,000 lines, the prompt
 * fed through stdin, and the prompt on a pseudo-terminal (util-linux `script`) with history.
 */

import assert from "node:assert/strict";
import { NodeProcess } from "../_support/node_process.ts";
import { freePort } from "../_support/ports.ts";
import { fromBinary, toBinary } from "../../src/client/mod.ts";
import { UsersFile } from "../_support/auth.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** A generous bound on one CLI run, for a busy machine; no test measures time. */
const RUN_TIMEOUT_MS = 60_000;

interface CliRun {
  code: number;
  /** stdout as a binary string: one code unit per byte. */
  stdout: string;
  stderr: string;
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/**
 * Runs `main.ts cli <args>` with `stdin` (text, or none) and waits for it to exit; `env` is
 * added to the environment (MERKLEKV_PASSWORD is never inherited from the test's).
 */
async function cli(
  args: string[],
  stdin?: string,
  env: Record<string, string> = {},
): Promise<CliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "cli", ...args],
    env: { MERKLEKV_PASSWORD: "", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  clearTimeout(timer);
  return {
    code: output.code,
    stdout: latin1(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

async function withNode(test: (node: NodeProcess) => Promise<void>): Promise<void> {
  const node = await NodeProcess.start({ toml: "[limits]\nscan_page_keys = 100" });
  try {
    await test(node);
  } finally {
    await node.cleanup();
  }
}

/** Asserts a one-shot run printed `lines` and exited with `code`. */
async function expectReply(node: NodeProcess, command: string[], lines: string[], code = 0) {
  const run = await cli(["-p", String(node.port), ...command]);
  assert.equal(run.stdout, lines.map((line) => line + "\n").join(""), command.join(" "));
  assert.equal(run.code, code, `${command.join(" ")}: ${run.stderr}`);
  assert.equal(run.stderr, "");
}

Deno.test("merklekv cli prints every reply shape whole; ERROR exits 1", async () => {
  await withNode(async (node) => {
    await expectReply(node, ["SET", "user:1", "jane  doe "], ["OK"]);
    await expectReply(node, ["GET", "user:1"], ["VALUE jane  doe "]);
    await expectReply(node, ["MSET", "user:2", "bob", "other", "x"], ["OK"]);
    await expectReply(node, ["MGET", "user:1", "user:3"], [
      "VALUES 2",
      "user:1 jane  doe ",
      "user:3 NOT_FOUND",
    ]);
    await expectReply(node, ["scan", "user:"], ["KEYS 2", "user:1", "user:2"]);
    await expectReply(node, ["HELP", "del"], [
      "HELP 2",
      "DEL key - Deletes key; replies DELETED or NOT_FOUND",
      "DELETE key - Same as DEL",
    ]);
    await expectReply(node, ["HELP", "SETX"], ['ERROR unknown command "SETX"'], 1);
    await expectReply(node, ["SETX", "k", "v"], ['ERROR unknown command "SETX"'], 1);
    await expectReply(node, ["GET"], ["ERROR wrong number of arguments for GET"], 1);
    await expectReply(node, ["DEL", "nothing"], ["NOT_FOUND"]);

    const info = await cli(["-p", String(node.port), "INFO"]);
    const infoLines = info.stdout.split("\n");
    assert.equal(info.code, 0);
    assert.equal(infoLines[0], "INFO");
    assert.ok(infoLines.includes(`node_id:${node.nodeId}`), info.stdout);
    assert.deepEqual(infoLines.slice(-2), ["END", ""]);

    const help = await cli(["-p", String(node.port), "HELP"]);
    const helpLines = help.stdout.split("\n").slice(0, -1);
    assert.equal(helpLines[0], `HELP ${helpLines.length - 1}`);
    assert.ok(
      helpLines.includes(
        "SET key value - Stores value (every byte after the key's space); replies OK",
      ),
    );
  });
});

Deno.test("merklekv cli --json prints one JSON value per reply, --raw the bytes received", async () => {
  await withNode(async (node) => {
    const port = String(node.port);
    const client = await node.connect();
    // A value with a control byte and bytes that are not UTF-8.
    await client.request("SET bin a\x01b\xff");
    await client.close();
    const json = async (...command: string[]) => {
      const run = await cli(["-p", port, "--json", ...command]);
      return { code: run.code, value: JSON.parse(fromBinary(run.stdout)) };
    };
    assert.deepEqual(await json("SET", "k", "v"), { code: 0, value: "OK" });
    assert.deepEqual(await json("MGET", "k", "none"), {
      code: 0,
      value: ["VALUES 2", "k v", "none NOT_FOUND"],
    });
    assert.deepEqual(await json("SCAN", "none"), { code: 0, value: ["KEYS 0"] });
    assert.deepEqual(await json("NOPE"), { code: 1, value: { error: 'unknown command "NOPE"' } });
    assert.deepEqual(await json("GET", "bin"), { code: 0, value: "VALUE a\x01b\ufffd" });
    const info = await json("INFO");
    assert.equal(info.value[0], "INFO");
    assert.equal(info.value.at(-1), "END");

    const raw = await cli(["-p", port, "--raw", "GET", "bin"]);
    assert.equal(raw.stdout, "VALUE a\x01b\xff\r\n");
    const text = await cli(["-p", port, "GET", "bin"]);
    assert.equal(text.stdout, "VALUE a\\x01b\xff\n");
    const rawBlock = await cli(["-p", port, "--raw", "MGET", "k"]);
    assert.equal(rawBlock.stdout, "VALUES 1\r\nk v\r\n");
  });
});

Deno.test("merklekv cli --pipe applies 10,000 stdin lines, then summarizes on stderr", async () => {
  await withNode(async (node) => {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) lines.push(`SET key:${i} value ${i}`);
    const run = await cli(["-p", String(node.port), "--pipe"], lines.join("\r\n") + "\n");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "OK\n".repeat(10_000));
    assert.equal(run.stderr, "lines sent: 10000, errors: 0\n");
    await expectReply(node, ["DBSIZE"], ["DBSIZE 10000"]);
    await expectReply(node, ["GET", "key:9999"], ["VALUE value 9999"]);

    // Blank lines are skipped; an ERROR is counted and the rest still applied; exit status 1.
    const mixed = await cli(["-p", String(node.port), "--pipe", "--json"], "INC n\n\nNOPE\nINC n");
    assert.equal(mixed.code, 1);
    assert.equal(mixed.stdout, '"VALUE 1"\n{"error":"unknown command \\"NOPE\\""}\n"VALUE 2"\n');
    assert.equal(mixed.stderr, "lines sent: 3, errors: 1\n");
  });
});

Deno.test("merklekv cli reads the prompt's lines from stdin that is not a terminal", async () => {
  await withNode(async (node) => {
    const input = ["SET a 1", "", "  GET a", "HELP PING", "nope", "quit", "SET a 2"].join("\n");
    const run = await cli(["-p", String(node.port)], input + "\n");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      [
        "OK",
        "VALUE 1",
        "HELP 1",
        "PING [message] - Replies PONG, or PONG message",
        'ERROR unknown command "nope"',
        "",
      ].join("\n"),
    );
    // quit ended the session: the line after it was never sent.
    await expectReply(node, ["GET", "a"], ["VALUE 1"]);
    // The end of stdin ends it too.
    const eof = await cli(["-p", String(node.port), "--raw"], "PING");
    assert.deepEqual([eof.code, eof.stdout], [0, "PONG\r\n"]);
  });
});

Deno.test("merklekv cli says clearly that it cannot connect, and exits 1", async () => {
  const port = await freePort();
  const run = await cli(["-p", String(port), "PING"]);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.equal(
    run.stderr,
    `merklekv cli: cannot connect to 127.0.0.1:${port}: connection refused ` +
      "(is a node running there?)\n",
  );
});

Deno.test("merklekv cli refuses a bad option with its usage, exit 2; --help prints the usage", async () => {
  const bad = await cli(["--port", "99999", "PING"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^merklekv cli: invalid port "99999": must be an integer 1\.\.65535\n/);
  assert.match(bad.stderr, /Usage: merklekv cli/);
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: merklekv cli \[options\] \[command \.\.\.\]/);
});

/** A node with the user `app` (password APP_PASSWORD) and `default` protected by DEFAULT_PASSWORD. */
async function withProtectedNode(test: (node: NodeProcess) => Promise<void>): Promise<void> {
  const users = await UsersFile.create(`user app on >${APP_PASSWORD} ~* +@all\n`);
  const node = await NodeProcess.start({
    toml: `[auth]\nusers_file = "${users.path}"\npassword = "${DEFAULT_PASSWORD}"`,
  });
  try {
    await test(node);
  } finally {
    await node.cleanup();
    await users.remove();
  }
}

const APP_PASSWORD = "app-cli-pw";
const DEFAULT_PASSWORD = "default-cli-pw";
const WRONGPASS = "ERROR WRONGPASS invalid username-password pair or user is disabled";

Deno.test("merklekv cli --user with MERKLEKV_PASSWORD runs a command on a protected node", async () => {
  await withProtectedNode(async (node) => {
    const port = String(node.port);
    const env = { MERKLEKV_PASSWORD: APP_PASSWORD };
    const set = await cli(["-p", port, "--user", "app", "SET", "k", "v"], undefined, env);
    assert.deepEqual([set.code, set.stdout, set.stderr], [0, "OK\n", ""]);
    const who = await cli(["-p", port, "--user=app", "ACL", "WHOAMI"], undefined, env);
    assert.deepEqual([who.code, who.stdout, who.stderr], [0, "USER app\n", ""]);
    // --pass, and the default user with a password alone.
    const pass = await cli(["-p", port, "--pass", DEFAULT_PASSWORD, "GET", "k"]);
    assert.deepEqual([pass.code, pass.stdout, pass.stderr], [0, "VALUE v\n", ""]);
    // Without a password the node answers NOAUTH.
    const none = await cli(["-p", port, "GET", "k"]);
    assert.deepEqual([none.code, none.stdout], [1, "ERROR NOAUTH authentication required\n"]);
  });
});

Deno.test("merklekv cli with a wrong password exits 1 with WRONGPASS, never the password", async () => {
  await withProtectedNode(async (node) => {
    const port = String(node.port);
    const env = { MERKLEKV_PASSWORD: "wrong-cli-pw" };
    for (const args of [["--user", "app"], []]) {
      const run = await cli(["-p", port, ...args, "GET", "k"], undefined, env);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, "");
      assert.equal(
        run.stderr,
        `merklekv cli: 127.0.0.1:${port} refused AUTH as ${args[1] ?? "default"}: ${WRONGPASS}\n`,
      );
    }
    const missing = await cli(["-p", port, "--user", "app", "PING"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--user app needs a password: set MERKLEKV_PASSWORD/);
  });
});

Deno.test("merklekv cli --pipe and the prompt authenticate at connect", async () => {
  await withProtectedNode(async (node) => {
    const port = String(node.port);
    const env = { MERKLEKV_PASSWORD: APP_PASSWORD };
    const pipe = await cli(["-p", port, "--user", "app", "--pipe"], "SET a 1\nINCR a\n", env);
    assert.deepEqual([pipe.code, pipe.stdout], [0, "OK\nVALUE 2\n"]);
    assert.equal(pipe.stderr, "lines sent: 2, errors: 0\n");
    const wrong = await cli(["-p", port, "--pipe", "--pass", "nope"], "SET a 1\n");
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused AUTH as default: ERROR WRONGPASS /);
    const prompt = await cli(["-p", port, "--user", "app"], "GET a\nACL WHOAMI\n", env);
    assert.deepEqual([prompt.code, prompt.stdout], [0, "VALUE 2\nUSER app\n"]);
  });
});

/** Whether util-linux `script` is here to give the CLI a pseudo-terminal. */
async function hasScript(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("script", { args: ["--version"] }).output();
    return success;
  } catch {
    return false;
  }
}

/** A process on a pseudo-terminal: type into it and wait for what it prints. */
class Terminal {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  output = "";
  #changed: () => void = () => {};

  constructor(command: string) {
    const child = new Deno.Command("script", {
      args: ["-qfec", command, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reading = (async () => {
      for await (const chunk of child.stdout) {
        this.output += latin1(chunk);
        this.#changed();
      }
    })();
  }

  async type(keys: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(keys));
  }

  /** Waits until `text` has been printed `times` times in all. */
  async waitFor(text: string, times = 1): Promise<void> {
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    while (this.output.split(text).length - 1 < times) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`never printed ${JSON.stringify(text)}: ${this.output}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#changed = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  async close(): Promise<Deno.CommandStatus> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    const status = await this.#child.status;
    clearTimeout(timer);
    await this.#reading;
    await this.#child.stderr.cancel();
    return status;
  }
}

Deno.test({
  name: "merklekv cli on a terminal edits lines and recalls history with the arrow keys",
  ignore: !await hasScript(),
  fn: async () => {
    await withNode(async (node) => {
      const prompt = `127.0.0.1:${node.port}> `;
      const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
      const terminal = new Terminal(
        [Deno.execPath(), "run", "--allow-all", MAIN, "cli", "-p", String(node.port)]
          .map(quote).join(" "),
      );
      try {
        // Keys typed before raw mode would be read by the terminal's line discipline.
        await terminal.waitFor(prompt);
        await terminal.type("SET h 1\r");
        await terminal.waitFor("OK\r");
        await terminal.type("ET h\x1b[HG\r"); // Home, then the G at the start
        await terminal.waitFor("VALUE 1\r");
        await terminal.type("INC h\r");
        await terminal.waitFor("VALUE 2\r");
        // Up three times: back to SET h 1, sent again.
        await terminal.type("\x1b[A\x1b[A\x1b[A\r");
        await terminal.waitFor("OK\r", 2);
        // History is now SET h 1, GET h, INC h, SET h 1: up three times is GET h.
        await terminal.type("\x1b[A\x1b[A\x1b[A\r");
        await terminal.waitFor("VALUE 1\r", 2);
        await terminal.type("é\r");
        await terminal.waitFor(toBinary('ERROR unknown command "é"'));
        await terminal.type("\x04"); // Ctrl-D on an empty line leaves
      } finally {
        const status = await terminal.close();
        assert.equal(status.code, 0, terminal.output);
      }
      await expectReply(node, ["GET", "h"], ["VALUE 1"]);
    });
  },
});
