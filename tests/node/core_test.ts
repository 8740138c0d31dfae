import assert from "node:assert/strict";
import { Histogram } from "../../src/metrics/mod.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/types.ts";
import { NodeCore } from "../../src/node/core.ts";
import { RemoteMerge } from "../../src/node/remote_merge.ts";
import type { ChangeLog, ChangePublisher } from "../../src/persistence/mod.ts";
import type { FramedLine } from "../../src/protocol/mod.ts";
import type { Replicator } from "../../src/replication/mod.ts";
import type { LogWaiter } from "../../src/server/mod.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { MAX_PREFETCH_KEYS, Store } from "../../src/store/store.ts";

const NOW_MS = 1_700_000_000_000;
const LOOPBACK = { remoteAddress: "127.0.0.1", isLoopback: true };
const REMOTE = { remoteAddress: "10.1.2.3", isLoopback: false };

/** Records what the core hands to the log and to replication. */
class RecordingParts {
  appended: string[][] = [];
  published: string[][] = [];
  waiters: LogWaiter[] = [];
  refusal: string | null = null;
  /** Appended with a publisher: handed on by logAll(), as the log does once it holds them. */
  #unlogged: { publisher: ChangePublisher; changes: readonly Entry[] }[] = [];

  /** The log holds everything appended: it hands the node's own changes on. */
  logAll(): void {
    for (const { publisher, changes } of this.#unlogged) publisher.publish(changes);
    this.#unlogged = [];
  }

  changeLog(): ChangeLog {
    return {
      append: (changes, publisher) => {
        this.appended.push(changes.map(describe));
        if (publisher !== undefined) this.#unlogged.push({ publisher, changes });
      },
      whenLogged: (waiter) => this.waiters.push(waiter),
      writeError: () => this.refusal,
      infoFields: () => [["persistence", "test"]],
      fsyncDurationHistogram: new Histogram([1]),
      backup: () => Promise.resolve({ ok: true, path: "/data/backup.1.snapshot" }),
      close: () => Promise.resolve(),
    };
  }

  replicator(): Replicator {
    return {
      publish: (changes) => this.published.push(changes.map(describe)),
      flush: () => {},
      discoveredPeers: () => [],
      infoFields: () => [["replication", "test"]],
      lagHistogram: new Histogram([1]),
      setMaxPendingPublishes: () => {},
      close: () => Promise.resolve(),
    };
  }
}

function describe(entry: Entry): string {
  return `${entry.key}=${entry.value ?? "<tombstone>"}`;
}

interface CoreOptions {
  config?: Partial<Config>;
  connectionCount?: () => number;
  requestShutdown?: () => void;
}

function makeCore(options: CoreOptions = {}) {
  const config: Config = {
    ...structuredClone(DEFAULT_CONFIG),
    nodeId: "node-a",
    ...options.config,
  };
  const store = new Store({
    nodeId: config.nodeId,
    clock: { nowMs: () => NOW_MS },
    tombstoneGraceMs: config.antiEntropy.tombstoneGraceMs,
    maxClockSkewMs: config.replication.maxClockSkewMs,
    trackCausality: config.conflicts.mode !== "lww",
    keepSiblings: config.conflicts.mode === "siblings",
  });
  const parts = new RecordingParts();
  const changeLog = parts.changeLog();
  const core = new NodeCore(config, store, {
    changeLog,
    replicator: parts.replicator(),
    antiEntropy: null,
    connectionCount: options.connectionCount ?? (() => 0),
    requestShutdown: options.requestShutdown ?? (() => {}),
  });
  const remote = new RemoteMerge(store, changeLog, config.limits);
  return { core, parts, store, remote };
}

Deno.test("NodeCore.handleLine() answers a bad line with one ERROR and goes on", () => {
  const { core } = makeCore();
  assert.equal(core.handleLine("SETX k v", LOOPBACK), 'ERROR unknown command "SETX"\r\n');
  assert.equal(core.handleLine("GET", LOOPBACK), "ERROR wrong number of arguments for GET\r\n");
  assert.equal(core.handleLine("SET k v", LOOPBACK), "OK\r\n");
  assert.equal(core.handleLine("GET k", LOOPBACK), "VALUE v\r\n");
});

Deno.test("NodeCore.handleLine() returns null for QUIT so the connection closes", () => {
  const { core } = makeCore();
  assert.equal(core.handleLine("quit", LOOPBACK), null);
});

const WAITER: LogWaiter = { logged: () => {} };

Deno.test("NodeCore.endOfChunk() hands a chunk's changes to the log once, and to replication once the log holds them", () => {
  const { core, parts } = makeCore();
  core.handleLine("SET a 1", LOOPBACK);
  core.handleLine("GET a", LOOPBACK);
  core.handleLine("MSET b 2 c 3", LOOPBACK);
  core.handleLine("DEL a", LOOPBACK);
  assert.equal(core.endOfChunk(WAITER), true, "the replies wait for the log");
  assert.deepEqual(parts.appended, [["a=1", "b=2", "c=3", "a=<tombstone>"]]);
  assert.deepEqual(parts.published, [], "no peer gets what the log may still lose");
  parts.logAll();
  assert.deepEqual(parts.published, parts.appended);
  assert.deepEqual(parts.waiters, [WAITER]);
  core.handleLine("GET b", LOOPBACK);
  assert.equal(core.endOfChunk(WAITER), false, "a chunk without writes does not wait");
  assert.equal(parts.appended.length, 1, "a chunk without writes hands nothing on");
  assert.equal(parts.waiters.length, 1);
});

Deno.test("NodeCore holds the replies of a chunk that answered a peer's SYNC GET until the log holds every change, unless writes are refused", () => {
  const { core, parts } = makeCore();
  core.handleLine("SYNC GET 2 a", LOOPBACK);
  assert.equal(core.endOfChunk(WAITER), true, "entries a peer reads wait for the log");
  assert.deepEqual(parts.waiters, [WAITER]);
  assert.equal(parts.appended.length, 0, "nothing to append");
  core.handleLine("SYNC DIGESTS 2 0", LOOPBACK);
  assert.equal(core.endOfChunk(WAITER), false, "digests carry hashes only");
  parts.refusal = "disk full";
  core.handleLine("SYNC GET 2 a", LOOPBACK);
  assert.equal(core.endOfChunk(WAITER), false, "while the log refuses writes, nothing waits");
  assert.equal(parts.waiters.length, 1);
});

Deno.test("NodeCore refuses writes, not reads, while the log cannot take them", () => {
  const { core, parts } = makeCore();
  core.handleLine("SET a 1", LOOPBACK);
  core.endOfChunk(WAITER);
  parts.refusal = "disk full";
  for (const line of ["SET a 2", "DEL a", "INC n", "APPEND a x", "MSET a 1", "TRUNCATE"]) {
    assert.equal(core.handleLine(line, LOOPBACK), "ERROR write refused: disk full\r\n", line);
  }
  assert.equal(core.handleLine("GET a", LOOPBACK), "VALUE 1\r\n");
  parts.refusal = null;
  assert.equal(core.handleLine("SET a 2", LOOPBACK), "OK\r\n");
});

Deno.test("NodeCore accepts SHUTDOWN from loopback clients only, unless allowed", () => {
  let requests = 0;
  const { core } = makeCore({ requestShutdown: () => requests++ });
  assert.equal(
    core.handleLine("SHUTDOWN", REMOTE),
    "ERROR SHUTDOWN is accepted from loopback clients only\r\n",
  );
  assert.equal(requests, 0);
  assert.equal(core.handleLine("SHUTDOWN", LOOPBACK), "OK\r\n");
  assert.equal(requests, 1);
  const { core: open } = makeCore({
    config: { allowRemoteShutdown: true },
    requestShutdown: () => requests++,
  });
  assert.equal(open.handleLine("SHUTDOWN", REMOTE), "OK\r\n");
  assert.equal(requests, 2);
});

Deno.test("RemoteMerge.applyRemote() merges peer entries and logs only the winners", () => {
  const { core, parts, remote } = makeCore();
  core.handleLine("SET mine local", LOOPBACK);
  core.endOfChunk(WAITER);
  parts.logAll();
  parts.appended = [];
  const old = hlcFromMs(NOW_MS - 60_000);
  const counts = remote.applyRemote([
    { key: "mine", value: "older", hlc: old, node: "node-b", expiresAtMs: 0 },
    { key: "theirs", value: "x", hlc: old, node: "node-b", expiresAtMs: 0 },
    { key: "late", value: "y", hlc: hlcFromMs(NOW_MS + 3_600_000), node: "node-b", expiresAtMs: 0 },
  ]);
  assert.deepEqual(counts, { applied: 1, stale: 1, future: 1, invalid: 0 });
  assert.deepEqual(parts.appended, [["theirs=x"]]);
  assert.deepEqual(parts.published, [["mine=local"]], "remote entries are not published again");
  assert.equal(core.handleLine("GET mine", LOOPBACK), "VALUE local\r\n");
});

Deno.test("in siblings mode GET of a raw line lists a key's siblings, and a peer's sibling over max_value_bytes is refused", () => {
  const limits = { ...DEFAULT_CONFIG.limits, maxValueBytes: 8 };
  const conflicts = { mode: "siblings" as const, logMaxEntries: 10 };
  const { core, remote, store } = makeCore({ config: { limits, conflicts } });
  core.handleLine("SET k mine", LOOPBACK);
  const hlc = store.entry("k")!.hlc;
  const newer = { key: "k", value: "theirs", hlc: hlc + 1, node: "node-b", expiresAtMs: 0 };
  const tooLarge: Entry = {
    ...newer,
    hlc: hlc + 2,
    causality: {
      seen: [],
      losers: [{ node: "node-c", hlc: hlc + 1, seen: [], value: "9 bytes.." }],
    },
  };
  assert.deepEqual(remote.applyRemote([tooLarge]).invalid, 1);
  assert.deepEqual(remote.applyRemote([newer]).applied, 1);
  // As the server hands a line over: still in the received bytes, where GET has a fast path.
  const bytes = new TextEncoder().encode("GET k\r\n");
  const copy = (start: number, end: number) => String.fromCharCode(...bytes.subarray(start, end));
  const framed: FramedLine = { bytes, start: 0, end: 5, copy, text: () => copy(0, 5) };
  const expected = `SIBLINGS 2\r\nnode-b@${hlc + 1} theirs\r\nnode-a@${hlc} mine\r\n`;
  assert.equal(core.handleLine(framed, LOOPBACK), expected);
  assert.equal(core.handleLine("GET k", LOOPBACK), expected);
  assert.match(core.handleLine("INFO", LOOPBACK) as string, /\r\nsiblings_held:1\r\n/);
});

Deno.test("NodeCore INFO reports the node, counts, memory and root, then END", () => {
  const { core } = makeCore({ connectionCount: () => 7 });
  core.handleLine("MSET a 1 b 2", LOOPBACK);
  core.handleLine("DEL b", LOOPBACK);
  const reply = core.handleLine("INFO", LOOPBACK) as string;
  const lines = reply.split("\r\n").slice(0, -1);
  assert.equal(lines[0], "INFO");
  assert.equal(lines.at(-1), "END");
  const fields = new Map(
    lines.slice(1, -1).map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon), line.slice(colon + 1)];
    }),
  );
  assert.equal(fields.get("node_id"), "node-a");
  assert.equal(fields.get("keys"), "1");
  assert.equal(fields.get("tombstones"), "1");
  assert.equal(fields.get("connections"), "7");
  assert.equal(fields.get("commands_processed"), "3");
  assert.ok(Number(fields.get("memory_rss_bytes")) > 0);
  assert.match(fields.get("merkle_root") ?? "", /^[0-9a-f]{16}$/);
  assert.equal(fields.get("persistence"), "test");
  assert.equal(fields.get("replication"), "test");
});

Deno.test("NodeCore.beforeLines() hints up to MAX_PREFETCH_KEYS keys and says where it stopped", () => {
  const { core, store } = makeCore();
  for (let i = 0; i < 200; i++) core.handleLine(`SET k${i} ${i}`, LOOPBACK);
  const before = store.rootHex();
  const lines = Array.from({ length: 100 }, (_, i) => `GET k${i}\r\n`);
  const bytes = new TextEncoder().encode(lines.join(""));
  // The 64th key ends where the 64th line's line end begins.
  const last = lines.slice(0, MAX_PREFETCH_KEYS).join("").length - 2;
  assert.equal(core.beforeLines(bytes, 0, bytes.length), last);
  const rest = core.beforeLines(bytes, last + 2, bytes.length);
  assert.equal(rest, bytes.length, "the other 36 lines fit in one hint");
  assert.equal(core.beforeLines(bytes, 0, 10), 10, "fewer lines: the end");
  assert.equal(store.rootHex(), before, "a hint changes nothing");
  assert.equal(core.handleLine("GET k63", LOOPBACK), "VALUE 63\r\n");
});
