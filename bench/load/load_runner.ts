/**
 * The closed-loop load engine behind bench/load/load.ts: `conns` connections each keep `depth`
 * requests outstanding; when replies arrive, the next requests go out together in one write.
 * Steps: connect, preload (optional), warmup, measured window, drain. Every reply is checked
 * against the request that asked for it (see load_protocol.ts, KeySpace).
 */

import { LatencyHistogram } from "./histogram.ts";
import {
  createReplyParser,
  createRequestEncoder,
  KeySpace,
  type Reply,
  type ReplyParser,
  type RequestEncoder,
  SET_END,
} from "./load_protocol.ts";
import { LoadTransport, openConnection, type RequestBuffer } from "./load_transport.ts";
import {
  authLine,
  type LoadChecks,
  type LoadOptions,
  type LoadResult,
  parseMix,
  type RequestKind,
} from "./load_options.ts";
import { cpuSeconds, machineBusySeconds } from "../harness/processes.ts";
import { assert } from "../../src/assert.ts";

const CONNECT_TIMEOUT_MS = 5_000;
const DRAIN_TIMEOUT_MS = 5_000;
/** Problems printed to stderr in full; the rest are only counted. */
const PROBLEMS_SHOWN = 5;

// Kinds of outstanding requests.
const SET = 1;
const GET = 2;
const MGET = 3;
const VERIFY_SET = 4;
const VERIFY_GET = 5;
const PRELOAD = 6;
const KIND_NAMES = ["", "SET", "GET", "MGET", "verify SET", "verify GET", "preload"];

type Phase = "connect" | "preload" | "warmup" | "measure" | "drain" | "done";

/** mulberry32: a small seeded generator, so a seed gives the same request sequence. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Outstanding requests of one connection, oldest first, in preallocated arrays. */
class PendingRing {
  readonly capacity: number;
  readonly kinds: Uint8Array;
  /** Key number (SET, GET, first preload key) or offset into mgetKeys (MGET). */
  readonly keys: Int32Array;
  /** Keys in a preload request. */
  readonly counts: Int32Array;
  readonly sentAtMs: Float64Array;
  readonly mgetKeys: Int32Array;
  readonly keysPerMget: number;
  head = 0;
  size = 0;

  constructor(capacity: number, keysPerMget: number) {
    this.capacity = capacity;
    this.kinds = new Uint8Array(capacity);
    this.keys = new Int32Array(capacity);
    this.counts = new Int32Array(capacity);
    this.sentAtMs = new Float64Array(capacity);
    this.keysPerMget = keysPerMget;
    this.mgetKeys = new Int32Array(capacity * keysPerMget);
  }

  /** The slot for a new request (the caller fills it). */
  push(kind: number, sentAtMs: number): number {
    if (this.size === this.capacity) throw new Error("pending ring overflow");
    const slot = (this.head + this.size) % this.capacity;
    this.kinds[slot] = kind;
    this.sentAtMs[slot] = sentAtMs;
    this.size++;
    return slot;
  }

  shift(): void {
    this.head = (this.head + 1) % this.capacity;
    this.size--;
  }
}

export class LoadRun {
  readonly options: LoadOptions;
  readonly keySpace: KeySpace;
  readonly histogram = new LatencyHistogram();
  readonly checks: LoadChecks = {
    errors: 0,
    unexpected: 0,
    wrongValues: 0,
    misses: 0,
    verifyOk: 0,
    verifyFailed: 0,
    disconnects: 0,
  };
  readonly #mix: { kind: number; upTo: number }[];
  readonly #connections: LoadConnection[] = [];
  readonly #incomplete: string[] = [];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  phase: Phase = "connect";
  ops = 0;
  #problemsShown = 0;
  #preloadStartMs = 0;
  #preloadSeconds: number | null = null;
  #preloadTimer: ReturnType<typeof setTimeout> | null = null;
  /** The measured window: its ends, and CPU seconds (client, server, machine) at each. */
  #window = {
    startMs: 0,
    endMs: 0,
    cpuStart: [0, 0, 0] as (number | null)[],
    cpuEnd: [] as (number | null)[],
  };
  #finished!: (result: LoadResult) => void;

  constructor(options: LoadOptions) {
    this.options = options;
    this.keySpace = new KeySpace(options.keyBytes, options.valueBytes, options.keys);
    const mix = parseMix(options.mix);
    const total = mix.reduce((sum, [, weight]) => sum + weight, 0);
    let upTo = 0;
    this.#mix = mix.map(([kind, weight]) => {
      upTo += weight / total;
      return { kind: kindCode(kind), upTo };
    });
  }

  /** Runs every step; resolves with the result (never rejects). */
  run(): Promise<LoadResult> {
    const done = new Promise<LoadResult>((resolve) => this.#finished = resolve);
    this.#start().catch((error) => this.fail(`run failed: ${(error as Error).message}`));
    return done;
  }

  async #start(): Promise<void> {
    const options = this.options;
    const deadlineSeconds = options.preloadTimeoutSeconds + options.warmupSeconds +
      options.seconds + (CONNECT_TIMEOUT_MS + DRAIN_TIMEOUT_MS) / 1000;
    this.#after(deadlineSeconds * 1000, () => this.fail("the run passed its deadline"));
    const tlsCa = options.tlsCa === "" ? "" : await Deno.readTextFile(options.tlsCa);
    const transport = {
      host: options.host,
      port: options.port,
      tlsCa,
      tlsServername: options.tlsServername,
      authLine: authLine(options),
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    };
    const conns = await Promise.all(
      Array.from({ length: options.conns }, () => openConnection(transport)),
    );
    for (const [index, conn] of conns.entries()) {
      this.#connections.push(new LoadConnection(this, index, new LoadTransport(conn)));
    }
    if (this.phase === "done") return;
    if (options.preload || options.preloadOnly) this.#startPreload();
    else this.#startWarmup();
  }

  #startPreload(): void {
    this.phase = "preload";
    this.#preloadStartMs = performance.now();
    const timer = this.#after(this.options.preloadTimeoutSeconds * 1000, () => {
      this.fail(`preload did not finish within ${this.options.preloadTimeoutSeconds} s`);
    });
    const share = Math.ceil(this.options.keys / this.#connections.length);
    for (const connection of this.#connections) {
      const first = Math.min(this.options.keys, connection.index * share);
      connection.preloadRange(first, Math.min(this.options.keys, first + share));
    }
    this.#preloadTimer = timer;
    this.preloadProgress();
  }

  /** Called when a connection may have finished its preload share. */
  preloadProgress(): void {
    if (this.phase !== "preload") return;
    if (!this.#connections.every((connection) => connection.preloadDone())) return;
    this.#preloadSeconds = (performance.now() - this.#preloadStartMs) / 1000;
    if (this.#preloadTimer !== null) this.#clear(this.#preloadTimer);
    if (this.options.preloadOnly) this.#finish();
    else this.#startWarmup();
  }

  #startWarmup(): void {
    this.phase = "warmup";
    this.#after(this.options.warmupSeconds * 1000, () => this.#startMeasure());
    for (const connection of this.#connections) connection.fill(performance.now());
  }

  #startMeasure(): void {
    this.phase = "measure";
    this.histogram.reset();
    this.ops = 0;
    this.#window.cpuStart = this.#cpuNow();
    this.#window.startMs = performance.now();
    this.#after(this.options.seconds * 1000, () => this.#startDrain());
  }

  #startDrain(): void {
    this.#window.endMs = performance.now();
    this.#window.cpuEnd = this.#cpuNow();
    this.phase = "drain";
    this.#after(
      DRAIN_TIMEOUT_MS,
      () => this.fail(`replies still missing after ${DRAIN_TIMEOUT_MS} ms`),
    );
    this.drainProgress();
  }

  /** Called after replies were handled while draining. */
  drainProgress(): void {
    if (this.phase !== "drain") return;
    if (this.#connections.every((connection) => connection.pending.size === 0)) this.#finish();
  }

  #cpuNow(): (number | null)[] {
    const serverPid = this.options.serverPid;
    return [
      cpuSeconds(Deno.pid),
      serverPid > 0 ? cpuSeconds(serverPid) : null,
      machineBusySeconds(),
    ];
  }

  /** The first few problems in full on stderr; all of them in the counters. */
  problem(what: string, kind: number, reply: Reply | null): void {
    if (this.#problemsShown >= PROBLEMS_SHOWN) return;
    this.#problemsShown++;
    const shown = reply === null ? "none" : JSON.stringify(reply).slice(0, 300);
    console.error(`problem: ${what} (request ${KIND_NAMES[kind] ?? kind}, reply ${shown})`);
  }

  /** Ends the run as incomplete (exit 3). */
  fail(reason: string): void {
    if (this.phase === "done") return;
    this.#incomplete.push(reason);
    this.#finish();
  }

  randomKind(random: number): number {
    for (const part of this.#mix) if (random < part.upTo) return part.kind;
    const last = this.#mix.at(-1);
    assert(last !== undefined, "a mix has at least one part (validated with the options)");
    return last.kind;
  }

  #after(ms: number, action: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      action();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #clear(timer: ReturnType<typeof setTimeout>): void {
    clearTimeout(timer);
    this.#timers.delete(timer);
  }

  #finish(): void {
    if (this.phase === "done") return;
    const measured = this.phase === "drain";
    this.phase = "done";
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const connection of this.#connections) connection.close();
    this.#finished(this.#result(measured));
  }

  #result(measured: boolean): LoadResult {
    const seconds = measured ? (this.#window.endMs - this.#window.startMs) / 1000 : 0;
    const failures = [...this.#incomplete, ...checkFailures(this.checks, this.options, measured)];
    const histogram = this.histogram;
    return {
      ok: failures.length === 0,
      failures,
      exitCode: this.#incomplete.length > 0 ? 3 : failures.length > 0 ? 1 : 0,
      ops: measured ? this.ops : 0,
      seconds,
      opsPerSecond: seconds > 0 ? Math.round(this.ops / seconds) : 0,
      latencyUs: {
        p50: histogram.percentileUs(50),
        p90: histogram.percentileUs(90),
        p99: histogram.percentileUs(99),
        p999: histogram.percentileUs(99.9),
        max: histogram.maxUs(),
        mean: Math.round(histogram.meanUs() * 10) / 10,
      },
      preloadSeconds: this.#preloadSeconds,
      checks: this.checks,
      cpu: measured ? cpuShares(this.#window.cpuStart, this.#window.cpuEnd, seconds) : {
        clientPct: null,
        serverPct: null,
        machinePct: null,
        otherPct: null,
      },
      settings: { ...this.options, password: this.options.password === "" ? "" : "***" },
      runtime: `deno ${Deno.version.deno}`,
    };
  }
}

function kindCode(kind: RequestKind): number {
  return kind === "set" ? SET : kind === "get" ? GET : MGET;
}

function checkFailures(checks: LoadChecks, options: LoadOptions, measured: boolean): string[] {
  const failures: string[] = [];
  if (checks.errors > 0) failures.push(`${checks.errors} error replies`);
  if (checks.unexpected > 0) failures.push(`${checks.unexpected} unexpected replies`);
  if (checks.wrongValues > 0) failures.push(`${checks.wrongValues} wrong values read`);
  if (checks.verifyFailed > 0) {
    failures.push(`${checks.verifyFailed} write-then-read checks failed`);
  }
  if (measured && checks.verifyOk === 0) failures.push("no write-then-read check succeeded");
  if (checks.misses > 0 && options.preload) {
    failures.push(`${checks.misses} misses after preload (lost writes)`);
  }
  if (checks.disconnects > 0) failures.push(`${checks.disconnects} connections closed by server`);
  return failures;
}

function cpuShares(start: (number | null)[], end: (number | null)[], seconds: number) {
  const share = (index: number) =>
    start[index] === null || end[index] === null || seconds <= 0
      ? null
      : Math.round(((end[index] as number) - (start[index] as number)) / seconds * 1000) / 10;
  const clientPct = share(0);
  const serverPct = share(1);
  const machinePct = share(2);
  const otherPct = machinePct === null || clientPct === null
    ? null
    : Math.max(0, Math.round((machinePct - clientPct - (serverPct ?? 0)) * 10) / 10);
  return { clientPct, serverPct, machinePct, otherPct };
}

/** One connection: sends requests, matches replies to them in order, checks them. */
class LoadConnection {
  readonly index: number;
  readonly pending: PendingRing;
  readonly #run: LoadRun;
  readonly #transport: LoadTransport;
  readonly #parser: ReplyParser;
  readonly #encoder: RequestEncoder;
  readonly #random: () => number;
  readonly #verifyKey: string;
  #verifyValue: string | null = null;
  #verifyCount = 0;
  #sinceVerify: number;
  #preloadNext = 0;
  #preloadEnd = 0;

  constructor(run: LoadRun, index: number, transport: LoadTransport) {
    const options = run.options;
    this.index = index;
    this.#run = run;
    this.#transport = transport;
    this.#parser = createReplyParser(options.proto);
    this.#encoder = createRequestEncoder(options.proto);
    this.#random = seededRandom(options.seed * 1_000_003 + index * 7_919 + 1);
    this.#verifyKey = `vfy_${Deno.pid}_${index}`;
    // First thing on each connection: a write-then-read of its own key.
    this.#sinceVerify = options.verifyEvery;
    this.pending = new PendingRing(
      Math.max(options.depth, options.preloadDepth) + 4,
      options.mgetKeys,
    );
    transport.receive(
      (chunk) => this.#receive(chunk),
      (error) => {
        if (run.phase === "done") return;
        if (error !== null) run.problem(`socket error: ${error.message}`, 0, null);
        run.checks.disconnects++;
        run.fail(`connection ${index} closed by the server`);
      },
    );
  }

  preloadRange(first: number, end: number): void {
    this.#preloadNext = first;
    this.#preloadEnd = end;
    this.fill(performance.now());
  }

  preloadDone(): boolean {
    return this.#preloadNext >= this.#preloadEnd && this.pending.size === 0;
  }

  close(): void {
    this.#transport.close();
  }

  #receive(chunk: Uint8Array): void {
    const run = this.#run;
    if (run.phase === "done") return;
    const nowMs = performance.now();
    this.#parser.push(chunk);
    try {
      for (;;) {
        const reply = this.#parser.next();
        if (reply === null) break;
        this.#complete(reply, nowMs);
      }
    } catch (error) {
      run.fail(`connection ${this.index}: ${(error as Error).message}`);
      return;
    }
    if (run.phase === "preload") run.preloadProgress();
    else if (run.phase === "drain") run.drainProgress();
    this.fill(performance.now());
  }

  /** Queues requests up to the depth of the current step and writes them in one go. */
  fill(nowMs: number): void {
    const run = this.#run;
    const out = this.#transport.requests;
    if (run.phase === "preload") this.#preloadRequests(out, nowMs);
    else if (run.phase === "warmup" || run.phase === "measure") {
      const depth = run.options.depth;
      while (this.pending.size < depth) this.#nextRequest(out, nowMs);
    }
    this.#transport.send();
  }

  /** A SET of a key's own value: the filler is copied in as bytes, never built as a string. */
  #set(out: RequestBuffer, key: string): void {
    const keySpace = this.#run.keySpace;
    out.text(this.#encoder.setHead(key, keySpace.valueBytes));
    out.text(keySpace.valueHead(key));
    if (keySpace.valueBytes > key.length) out.bytes(keySpace.fillerBytes);
    out.text(SET_END);
  }

  #preloadRequests(out: RequestBuffer, nowMs: number): void {
    const { keySpace, options } = this.#run;
    while (this.pending.size < options.preloadDepth && this.#preloadNext < this.#preloadEnd) {
      const first = this.#preloadNext;
      const count = Math.min(options.preloadBatch, this.#preloadEnd - first);
      const slot = this.pending.push(PRELOAD, nowMs);
      this.pending.keys[slot] = first;
      this.pending.counts[slot] = count;
      this.#preloadNext += count;
      if (options.preloadBatch === 1) this.#set(out, keySpace.key(first));
      else {
        const keys: string[] = [];
        for (let index = first; index < first + count; index++) keys.push(keySpace.key(index));
        out.text(this.#encoder.mset(keys, keys.map((key) => keySpace.value(key))));
      }
    }
  }

  #nextRequest(out: RequestBuffer, nowMs: number): void {
    const { keySpace, options } = this.#run;
    if (this.#sinceVerify >= options.verifyEvery && this.#verifyValue === null) {
      return this.#verifyRequests(out, nowMs);
    }
    this.#sinceVerify++;
    const kind = this.#run.randomKind(this.#random());
    const slot = this.pending.push(kind, nowMs);
    if (kind === MGET) {
      const count = options.mgetKeys;
      const offset = slot * count;
      const keys: string[] = [];
      for (let i = 0; i < count; i++) {
        const index = Math.floor(this.#random() * options.keys);
        this.pending.mgetKeys[offset + i] = index;
        keys.push(keySpace.key(index));
      }
      this.pending.keys[slot] = offset;
      return out.text(this.#encoder.mget(keys));
    }
    const index = Math.floor(this.#random() * options.keys);
    this.pending.keys[slot] = index;
    const key = keySpace.key(index);
    if (kind === SET) this.#set(out, key);
    else out.text(this.#encoder.get(key));
  }

  /** A fresh value SET on this connection's own key, then read back on the same connection. */
  #verifyRequests(out: RequestBuffer, nowMs: number): void {
    this.#sinceVerify = 0;
    this.#verifyCount++;
    const value = `${this.#run.options.seed}.${this.#verifyCount}.` +
      Math.floor(this.#random() * 1e12).toString(36);
    this.#verifyValue = value;
    this.pending.push(VERIFY_SET, nowMs);
    this.pending.push(VERIFY_GET, nowMs);
    out.text(this.#encoder.set(this.#verifyKey, value) + this.#encoder.get(this.#verifyKey));
  }

  #complete(reply: Reply, nowMs: number): void {
    const run = this.#run;
    const pending = this.pending;
    if (pending.size === 0) {
      run.checks.unexpected++;
      run.problem("reply with no request outstanding", 0, reply);
      return;
    }
    // pending.size > 0: its head is a slot in use, below the ring's capacity (no check per
    // reply here, nor in the checks below that read the same slot).
    const slot = pending.head;
    const kind = pending.kinds[slot]!;
    if (run.phase === "measure" && kind !== PRELOAD) {
      run.ops++;
      run.histogram.record(nowMs - pending.sentAtMs[slot]!);
    }
    this.#check(kind, slot, reply);
    pending.shift();
  }

  #check(kind: number, slot: number, reply: Reply): void {
    const { keySpace } = this.#run;
    const pending = this.pending;
    switch (kind) {
      case SET:
      case PRELOAD:
        this.#expectOk(kind, reply);
        return;
      case GET:
        this.#expectValue(kind, reply, keySpace.key(pending.keys[slot]!));
        return;
      case MGET:
        this.#checkMget(slot, reply);
        return;
      case VERIFY_SET:
        this.#expectOk(kind, reply);
        return;
      case VERIFY_GET:
        this.#checkVerify(reply);
        return;
    }
  }

  #expectOk(kind: number, reply: Reply): void {
    if (reply.kind === "status" && reply.text === "OK") return;
    this.#wrongKind(kind, reply);
  }

  #expectValue(kind: number, reply: Reply, key: string): void {
    const run = this.#run;
    if (reply.kind === "value") {
      if (run.keySpace.matches(key, reply.value)) return;
      run.checks.wrongValues++;
      run.problem(`wrong value for ${key}`, kind, reply);
    } else if (reply.kind === "missing") {
      run.checks.misses++;
      if (run.options.preload) run.problem(`miss for ${key} after preload`, kind, reply);
    } else this.#wrongKind(kind, reply);
  }

  #checkMget(slot: number, reply: Reply): void {
    const { keySpace, options } = this.#run;
    const offset = this.pending.keys[slot]!;
    if (reply.kind !== "array" || reply.items.length !== options.mgetKeys) {
      this.#wrongKind(MGET, reply);
      return;
    }
    // An MGET's slot holds options.mgetKeys keys from `offset`, as many as the reply's items.
    for (let i = 0; i < reply.items.length; i++) {
      const key = keySpace.key(this.pending.mgetKeys[offset + i]!);
      if (reply.keys !== null && reply.keys[i] !== key) {
        this.#run.checks.unexpected++;
        this.#run.problem(`MGET line ${i} names ${reply.keys[i]}, expected ${key}`, MGET, null);
        return;
      }
      this.#expectValue(MGET, reply.items[i]!, key);
    }
  }

  #checkVerify(reply: Reply): void {
    const run = this.#run;
    const expected = this.#verifyValue;
    this.#verifyValue = null;
    if (reply.kind === "value" && reply.value === expected) {
      run.checks.verifyOk++;
      return;
    }
    if (reply.kind === "error") run.checks.errors++;
    run.checks.verifyFailed++;
    run.problem(`read of ${this.#verifyKey} did not return ${expected}`, VERIFY_GET, reply);
  }

  #wrongKind(kind: number, reply: Reply): void {
    const run = this.#run;
    if (reply.kind === "error") run.checks.errors++;
    else run.checks.unexpected++;
    run.problem("unexpected reply", kind, reply);
  }
}
