/**
 * A rolling upgrade from the previous release (docs/deployment.md, Upgrades): three nodes run
 * the release's bundle (tests/fixtures/releases/, see its README) with data directories and a
 * real Mosquitto, then are restarted one at a time onto the current code, with writes through
 * release and current nodes between the steps. In the mixed cluster, changes travel both ways by
 * replication and by anti-entropy; at the end every node holds every key. Also: the current
 * code starts from a data directory that the release wrote alone (snapshot and log after it).
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { MAIN, NodeProcess } from "../_support/node_process.ts";
import { delay, freePort, waitUntil } from "../_support/ports.ts";

/** The previous release, bundled into one file (tests/fixtures/releases/README.md). */
const RELEASE = new URL("../fixtures/releases/merklekv-0.1.0-67c765e.js", import.meta.url)
  .pathname;
const FAST_RECONNECT = "[replication]\nreconnect_min_ms = 20\nreconnect_max_ms = 200";
const CONVERGE_TIMEOUT_MS = 10_000;
/** EXPIRE seconds of the keys that must be gone by the end of the test. */
const SHORT_TTL_SECONDS = 1;
const LONG_TTL_SECONDS = 3600;
/** How long after its expiry a key is surely gone on every node (clocks of one machine). */
const EXPIRY_MARGIN_MS = 500;

type Build = "release" | "current";

/**
 * What a cluster of the release and the current code does (docs/deployment.md, Upgrades):
 * the current code reads every change, sync entry and file of the release. Whether the release
 * reads the current code's changes and sync entries is `releaseReadsCurrent`; when it does not,
 * `logs` is what nodes of each build log about it (every line must be seen, and nothing else).
 */
const MIXED_CLUSTER: {
  releaseReadsCurrent: boolean;
  logs: { build: Build; event: string; field: string; pattern: RegExp }[];
} = { releaseReadsCurrent: true, logs: [] };

/**
 * Warnings this test causes on purpose: it kills the broker, which keeps no sessions, so the
 * changes it held are missed and repaired (docs/replication.md).
 */
const BROKER_LOSS_EVENTS = new Set([
  "replication_disconnected",
  "replication_connect_failed",
  "replication_connection_error",
  "replication_changes_missed",
]);

/**
 * Every key's expected value (null: deleted or expired), when the keys with a short expiry
 * expire, the keys with a long expiry, and which keys the current code wrote.
 */
class Model {
  readonly values = new Map<string, string | null>();
  readonly counters = new Map<string, bigint>();
  /** Keys given SHORT_TTL_SECONDS: when their EXPIRE was sent and acknowledged (Unix ms). */
  readonly expiring = new Map<string, { sentMs: number; acknowledgedMs: number }>();
  readonly longExpiry = new Set<string>();
  /** The last round each node wrote in (by index). */
  readonly lastRound = new Map<number, number>();
  readonly #writtenByCurrent = new Set<string>();

  wrote(key: string, build: Build): void {
    if (build === "current") this.#writtenByCurrent.add(key);
  }

  /** A copy, to compare with a backup taken at this moment. */
  clone(): Model {
    const copy = new Model();
    for (const [key, value] of this.values) copy.values.set(key, value);
    for (const [key, sum] of this.counters) copy.counters.set(key, sum);
    for (const [key, times] of this.expiring) copy.expiring.set(key, times);
    for (const key of this.longExpiry) copy.longExpiry.add(key);
    return copy;
  }

  add(counter: string, amount: bigint): void {
    this.counters.set(counter, (this.counters.get(counter) ?? 0n) + amount);
  }

  /**
   * What a `build` node must hold at `nowMs`: every key (one about to expire only while it
   * surely has not, or surely has), or without the current code's keys when the release
   * cannot read them.
   */
  expected(build: Build, nowMs: number): Map<string, string | null> {
    const all = new Map<string, string | null>(this.values);
    for (const [key, sum] of this.counters) all.set(key, sum.toString());
    const ttlMs = SHORT_TTL_SECONDS * 1000;
    for (const [key, { sentMs, acknowledgedMs }] of this.expiring) {
      if (nowMs >= acknowledgedMs + ttlMs + EXPIRY_MARGIN_MS) all.set(key, null);
      else if (nowMs > sentMs + ttlMs - EXPIRY_MARGIN_MS) all.delete(key);
    }
    if (build === "release" && !MIXED_CLUSTER.releaseReadsCurrent) {
      for (const key of this.#writtenByCurrent) all.delete(key);
    }
    return all;
  }
}

interface Member {
  node: NodeProcess;
  client: MerkleKVClient;
  build: Build;
  /** The stderr of every process this node ran before the running one, with its build. */
  pastLogs: { build: Build; text: string }[];
}

function at(members: Member[], index: number): Member {
  const member = members[index];
  if (member === undefined) throw new RangeError(`no node ${index}`);
  return member;
}

/**
 * The commands of one round through node `index`: five new keys (one expires at once), and
 * a change, a DEL and an EXPIRE of the keys it made in its previous round (which every node
 * holds), and counters every node increments. Applies them to the model.
 */
function roundCommands(index: number, round: number, model: Model): string[] {
  const key = (r: number, i: number) => `k:${r}:${index}:${i}`;
  const commands: string[] = [];
  for (let i = 0; i < 5; i++) {
    commands.push(`SET ${key(round, i)} v:${round}:${index}:${i}`);
    model.values.set(key(round, i), `v:${round}:${index}:${i}`);
  }
  commands.push(`EXPIRE ${key(round, 3)} ${SHORT_TTL_SECONDS}`);
  const previous = model.lastRound.get(index);
  if (previous !== undefined) {
    commands.push(`SET ${key(previous, 0)} w:${round}:${index}`);
    model.values.set(key(previous, 0), `w:${round}:${index}`);
    commands.push(`DEL ${key(previous, 1)}`);
    model.values.set(key(previous, 1), null);
    commands.push(`EXPIRE ${key(previous, 2)} ${LONG_TTL_SECONDS}`);
    model.longExpiry.add(key(previous, 2));
  }
  model.lastRound.set(index, round);
  commands.push(`INC hits ${index + 1}`, "DEC stock 2", `INCR round:${round} ${10 + index}`);
  model.add("hits", BigInt(index + 1));
  model.add("stock", -2n);
  model.add(`round:${round}`, BigInt(10 + index));
  return commands;
}

/** Runs one round of writes through each node of `indexes`, at the same time. */
async function writeRound(members: Member[], indexes: number[], round: number, model: Model) {
  await Promise.all(indexes.map(async (index) => {
    const member = at(members, index);
    const commands = roundCommands(index, round, model);
    const sentMs = Date.now();
    const replies = await member.client.pipeline(commands);
    // The EXPIRE with SHORT_TTL_SECONDS is on the round's key 3 (roundCommands()).
    model.expiring.set(`k:${round}:${index}:3`, { sentMs, acknowledgedMs: Date.now() });
    for (const [n, command] of commands.entries()) {
      const reply = replies[n]?.[0] ?? "";
      assert.match(reply, /^(OK|DELETED|VALUE -?\d+)$/, `${command} on ${member.node.nodeId}`);
      model.wrote(command.split(" ")[1] ?? "", member.build);
    }
  }));
}

/** What `member` holds that the model says it must not, as `key=held (expected ...)` lines. */
async function differences(member: Member, model: Model): Promise<string[]> {
  const expected = model.expected(member.build, Date.now());
  const held = await member.client.mget(expected.keys());
  const wrong = [...expected].filter(([key, value]) => held.get(key) !== value)
    .map(([key, value]) => `${key}=${held.get(key)} (expected ${value})`);
  const longExpiry = [...model.longExpiry].filter((key) => expected.has(key));
  const ttls = await member.client.pipeline(longExpiry.map((key) => `TTL ${key}`));
  for (const [n, key] of longExpiry.entries()) {
    const reply = ttls[n]?.[0] ?? "";
    const seconds = Number(reply.slice("TTL ".length));
    const fresh = seconds > LONG_TTL_SECONDS - 120 && seconds <= LONG_TTL_SECONDS;
    if (!fresh) wrong.push(`${key}: ${reply} (expected TTL ${LONG_TTL_SECONDS} or a little less)`);
  }
  return wrong;
}

/** Waits until each of `members` holds what the model says for its build. */
async function waitHolds(members: Member[], model: Model): Promise<void> {
  for (const member of members) {
    let wrong: string[] = [];
    try {
      await waitUntil(`${member.node.nodeId} (${member.build}) to hold every key`, async () => {
        wrong = await differences(member, model);
        return wrong.length === 0;
      }, CONVERGE_TIMEOUT_MS);
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${wrong.slice(0, 10).join(", ")}`);
    }
  }
}

/** `SYNC` from `from` to `to`; with the release reading current entries, both ways must move. */
async function syncBothWays(members: Member[], from: number, to: number): Promise<void> {
  const target = `127.0.0.1 ${at(members, to).node.port}`;
  const [reply] = await at(members, from).client.request(`SYNC ${target}`);
  // Each side wrote keys the other lacks: the session pulls some and pushes some.
  const expected = MIXED_CLUSTER.releaseReadsCurrent
    ? /^OK pulled=[1-9]\d* pushed=[1-9]\d* /
    : /^(OK|ERROR) /;
  assert.match(reply ?? "", expected, `SYNC ${from} -> ${to}: ${reply}`);
}

/**
 * With the broker down, only anti-entropy moves changes: writes on a release node and on a
 * current node, then a session started by the current node, then the same started by the
 * release node. Both hold every key after each; the broker comes back after.
 */
async function antiEntropyBothWays(
  broker: Mosquitto,
  members: Member[],
  pair: { release: number; current: number },
  round: number,
  model: Model,
): Promise<number> {
  await broker.stop("SIGKILL");
  const both = [at(members, pair.release), at(members, pair.current)];
  const indexes = [pair.release, pair.current];
  await writeRound(members, indexes, round, model);
  await syncBothWays(members, pair.current, pair.release);
  if (MIXED_CLUSTER.releaseReadsCurrent) await waitHolds(both, model);
  await writeRound(members, indexes, round + 1, model);
  await syncBothWays(members, pair.release, pair.current);
  if (MIXED_CLUSTER.releaseReadsCurrent) await waitHolds(both, model);
  await broker.restart();
  await waitConnected(members);
  // The third node gets them from the outboxes the two kept while the broker was away, and
  // from the sessions nodes start when they connect again.
  await waitHolds(members, model);
  return round + 2;
}

async function waitConnected(members: Member[]): Promise<void> {
  for (const member of members) {
    await waitUntil(
      `${member.node.nodeId} connected to the broker`,
      async () => (await member.client.info()).get("replication_broker") === "connected",
      CONVERGE_TIMEOUT_MS,
    );
  }
}

/** Stops node `index` (SIGTERM) and starts it on the current code, same config and data. */
async function upgrade(members: Member[], index: number): Promise<void> {
  const member = at(members, index);
  await member.client.close();
  const status = await member.node.stop("SIGTERM");
  assert.equal(status.code, 0, `${member.node.nodeId} stopped cleanly:\n${member.node.stderr()}`);
  member.pastLogs.push({ build: member.build, text: member.node.stderr() });
  await member.node.restart(MAIN);
  member.build = "current";
  member.client = await member.node.connect();
  assert.equal((await member.client.request("PING"))[0], "PONG");
}

/** The warnings and errors of every process `member` ran, with the build that logged them. */
function problems(member: Member): { build: Build; record: Record<string, unknown> }[] {
  const runs = [...member.pastLogs, { build: member.build, text: member.node.stderr() }];
  return runs.flatMap(({ build, text }) =>
    // Complete lines only: each ends with a newline.
    text.split("\n").slice(0, -1).filter((line) => line.startsWith("{"))
      .map((line) => ({ build, record: JSON.parse(line) as Record<string, unknown> }))
      .filter(({ record }) => record.level === "warn" || record.level === "error")
  );
}

/**
 * Nothing logs a warning or an error but the broker's loss (caused here) and what a mixed
 * cluster is documented to log (MIXED_CLUSTER.logs); each documented line is seen.
 */
function assertLogs(members: Member[]): void {
  const seen = new Set<number>();
  for (const member of members) {
    for (const { build, record } of problems(member)) {
      const event = String(record.event);
      if (record.level === "warn" && BROKER_LOSS_EVENTS.has(event)) continue;
      // A node reconnecting to the broker starts a session with the peers it knows; one that
      // is being restarted (caused here) refuses the connection.
      if (event === "sync_failed" && /ECONNREFUSED/.test(String(record.error))) continue;
      const documented = MIXED_CLUSTER.logs.findIndex((line) =>
        line.build === build && line.event === event &&
        line.pattern.test(String(record[line.field]))
      );
      assert.ok(
        documented >= 0,
        `${member.node.nodeId} (${build}) logged ${JSON.stringify(record)}`,
      );
      seen.add(documented);
    }
  }
  for (const [n, line] of MIXED_CLUSTER.logs.entries()) {
    assert.ok(seen.has(n), `a ${line.build} node logs ${line.event} ${line.field}=${line.pattern}`);
  }
}

/** Three release nodes with data directories on one broker, anti-entropy by SYNC only. */
async function startReleaseCluster(broker: Mosquitto, dirs: string[]): Promise<Member[]> {
  const ports = await Promise.all(dirs.map(() => freePort()));
  const nodes = await Promise.all(ports.map((port, index) =>
    NodeProcess.start({
      script: RELEASE,
      nodeId: `node-${index}`,
      port,
      dataDir: dirs[index],
      topLevel: `mqtt_broker_address = "${broker.url}"`,
      toml: [
        "[anti_entropy]",
        // The loop is off: sessions run on SYNC, and when a node (re)connects to the broker.
        "interval_ms = 0",
        `peers = [${ports.filter((other) => other !== port).map((p) => `"127.0.0.1:${p}"`)}]`,
        FAST_RECONNECT,
      ].join("\n"),
    })
  ));
  const members: Member[] = [];
  for (const node of nodes) {
    members.push({ node, client: await node.connect(), build: "release", pastLogs: [] });
  }
  for (const member of members) {
    assert.equal(await member.client.version(), "0.1.0");
  }
  return members;
}

/**
 * Every node holds every key (the expired ones gone), counters' exact sums and long expiries,
 * and the Merkle roots agree; then a session between any two finds nothing to repair.
 */
async function assertConverged(members: Member[], model: Model): Promise<void> {
  if (!MIXED_CLUSTER.releaseReadsCurrent) {
    // Anti-entropy between current nodes repairs what a release node could not take.
    await syncEveryPair(members, /^pulled=\d+ pushed=\d+ /);
  }
  const acknowledged = [...model.expiring.values()].map((times) => times.acknowledgedMs);
  const allExpiredMs = Math.max(...acknowledged) + SHORT_TTL_SECONDS * 1000 + EXPIRY_MARGIN_MS;
  await delay(Math.max(0, allExpiredMs - Date.now()));
  await waitHolds(members, model);
  for (const member of members) {
    const info = await member.client.info();
    assert.equal(info.get("counter_keys"), String(model.counters.size), member.node.nodeId);
    assert.equal(info.get("replication_messages_malformed"), "0", member.node.nodeId);
  }
  await assertRootsAgree(members);
  await syncEveryPair(members, /^pulled=0 pushed=0 /);
}

async function assertRootsAgree(members: Member[]): Promise<void> {
  const roots = await Promise.all(members.map((member) => member.client.hash()));
  const named = members.map((member, n) => `${member.node.nodeId} (${member.build}) ${roots[n]}`);
  assert.ok(roots.every((root) => root === roots[0]), `Merkle roots: ${named.join(", ")}`);
}

async function syncEveryPair(members: Member[], expected: RegExp): Promise<void> {
  for (const [from, member] of members.entries()) {
    for (const [to, peer] of members.entries()) {
      if (from === to) continue;
      const reply = await member.client.sync("127.0.0.1", peer.node.port);
      assert.match(reply, expected, `SYNC ${from} -> ${to}: ${reply}`);
    }
  }
}

Deno.test({
  name:
    "a cluster of the previous release restarted one node at a time onto the current code keeps every key, counter sum and expiry, with changes moving both ways while it is mixed",
  fn: async () => {
    const broker = await Mosquitto.start();
    const dirs = await Promise.all([0, 1, 2].map(() => Deno.makeTempDir()));
    let members: Member[] = [];
    try {
      members = await startReleaseCluster(broker, dirs);
      await waitConnected(members);
      const model = new Model();
      let round = 0;
      await writeRound(members, [0, 1, 2], round++, model);
      // Through replication: no loop runs (sessions start only on SYNC and on connecting).
      await waitHolds(members, model);
      for (const index of [0, 1, 2]) {
        await upgrade(members, index);
        await waitConnected(members);
        // Back from its data directory, what the broker kept for it and the session it starts
        // on connecting (the data directory alone is checked by the next test).
        await waitHolds([at(members, index)], model);
        // Release -> current and current -> release by replication.
        await writeRound(members, [0, 1, 2], round++, model);
        await waitHolds(members, model);
        // Equal entries give equal Merkle roots on both builds, or they would sync forever.
        if (MIXED_CLUSTER.releaseReadsCurrent) await assertRootsAgree(members);
        if (index < 2) {
          round = await antiEntropyBothWays(
            broker,
            members,
            { release: 2, current: index },
            round,
            model,
          );
        }
      }
      await assertConverged(members, model);
      for (const member of members) {
        await member.client.close();
        assert.equal((await member.node.stop("SIGTERM")).code, 0);
      }
      assertLogs(members);
    } catch (error) {
      for (const member of members) {
        console.error(
          `--- ${member.node.nodeId}:\n${
            member.pastLogs.map((run) => run.text).join("")
          }${member.node.stderr()}`,
        );
      }
      throw error;
    } finally {
      for (const member of members) {
        await member.client.close().catch(() => {});
        await member.node.cleanup();
      }
      await broker.cleanup();
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  },
});

/** `dir`'s files whose names start with `prefix`, with their sizes. */
async function filesIn(dir: string, prefix: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(prefix)) {
      files.set(entry.name, (await Deno.stat(`${dir}/${entry.name}`)).size);
    }
  }
  return files;
}

/** The `persistence_loaded` line a node logged at start-up. */
function persistenceLoaded(node: NodeProcess): Record<string, unknown> {
  const line = node.stderr().split("\n").find((text) => text.includes(`"persistence_loaded"`));
  assert.ok(line !== undefined, `no persistence_loaded line:\n${node.stderr()}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/**
 * One release node alone (no broker, no peers) writes rounds until its log is compacted into
 * a snapshot, takes a backup with SNAPSHOT, writes one more round (log after the snapshot),
 * and stops. Returns the node, the model at the end and at the backup, and the backup's path.
 */
async function releaseDataDir(dir: string) {
  const node = await NodeProcess.start({
    script: RELEASE,
    nodeId: "node-0",
    dataDir: dir,
    toml: "[persistence]\nlog_rewrite_min_bytes = 4096",
  });
  const member: Member = { node, client: await node.connect(), build: "release", pastLogs: [] };
  const model = new Model();
  let round = 0;
  const persistence = async () => {
    const info = await member.client.info();
    return {
      done: info.get("persistence_snapshots"),
      busy: info.get("persistence_snapshot_in_progress"),
    };
  };
  // A round at a time, each snapshot finished before the next round: the log after the last
  // one stays far below the rewrite rule (max(min, 2 x snapshot)), so it keeps its records.
  while ((await persistence()).done === "0") {
    assert.ok(round < 50, "the release compacted its log into a snapshot");
    await writeRound([member], [0], round++, model);
    await waitUntil(
      "no snapshot being written",
      async () => (await persistence()).busy === "0",
      CONVERGE_TIMEOUT_MS,
    );
  }
  const [backupReply] = await member.client.request("SNAPSHOT");
  assert.match(backupReply ?? "", /^OK \//);
  const backup = (backupReply ?? "").slice("OK ".length);
  const atBackup = model.clone();
  await writeRound([member], [0], round++, model);
  const hash = await member.client.hash();
  await member.client.close();
  assert.equal((await node.stop("SIGTERM")).code, 0);
  return { node, model, atBackup, backup, hash };
}

Deno.test("the current code starts from a data directory the previous release wrote alone, a snapshot and log after it, or a backup it took with SNAPSHOT, with every key back", async () => {
  const dir = await Deno.makeTempDir();
  const restored = await Deno.makeTempDir();
  const nodes: NodeProcess[] = [];
  try {
    const release = await releaseDataDir(dir);
    nodes.push(release.node);
    const snapshots = await filesIn(dir, "snapshot.");
    const logs = [...(await filesIn(dir, "log.")).values()];
    assert.equal(snapshots.size, 1, `one snapshot: ${[...snapshots.keys()]}`);
    assert.ok(logs.some((bytes) => bytes > 64), `a log with records after the snapshot: ${logs}`);

    await release.node.restart(MAIN);
    const loaded = persistenceLoaded(release.node);
    assert.ok(
      Number(loaded.snapshot_entries) > 0 && Number(loaded.entries_read) > 0,
      JSON.stringify(loaded),
    );
    const current: Member = {
      node: release.node,
      client: await release.node.connect(),
      build: "current",
      pastLogs: [],
    };
    // No broker and no peer: all it holds came from the release's files.
    assert.deepEqual(await differences(current, release.model), []);
    // The same entries give the same Merkle root, so a mixed cluster agrees on equal data.
    assert.equal(await current.client.hash(), release.hash);
    await current.client.close();
    assert.equal((await release.node.stop("SIGTERM")).code, 0);

    // Restore (docs/backup.md): the backup as the only snapshot of an empty data directory.
    await Deno.copyFile(release.backup, `${restored}/snapshot.0000000001`);
    // In conflicts mode "record", which the cluster may turn on once every node is upgraded.
    const fromBackup = await NodeProcess.start({
      nodeId: "node-0",
      dataDir: restored,
      toml: `[conflicts]\nmode = "record"`,
    });
    nodes.push(fromBackup);
    const member: Member = {
      node: fromBackup,
      client: await fromBackup.connect(),
      build: "current",
      pastLogs: [],
    };
    assert.deepEqual(await differences(member, release.atBackup), []);
    await member.client.close();
  } finally {
    for (const node of nodes) await node.cleanup();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(restored, { recursive: true });
  }
});

Deno.test("the release bundle runs from a directory of its own with an empty Deno cache (no node_modules, no network)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(RELEASE, `${dir}/release.js`);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "release.js", "--version"],
      cwd: dir,
      env: { DENO_DIR: `${dir}/cache`, NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    assert.equal(code, 0, decoder.decode(stderr));
    assert.equal(decoder.decode(stdout), "merklekv 0.1.0\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
