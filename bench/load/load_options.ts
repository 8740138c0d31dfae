/**
 * Settings of one load-client run, its command-line form (both ways) and its result. Pure.
 */

import type { Protocol } from "./load_protocol.ts";
import { assert } from "../../src/assert.ts";
import { AUTH_WORD_RULE } from "../../src/config/mod.ts";

export interface LoadOptions {
  /** Loopback only: 127.0.0.0/8, localhost or ::1. */
  host: string;
  port: number;
  proto: Protocol;
  /** Connections, each keeping `depth` requests outstanding (closed loop). */
  conns: number;
  depth: number;
  /** Request mix as weights, e.g. "set:50,get:50" or "mget:100". Kinds: set, get, mget. */
  mix: string;
  /** Key numbers 0..keys-1, chosen uniformly at random. */
  keys: number;
  keyBytes: number;
  valueBytes: number;
  /** Keys in one MGET. */
  mgetKeys: number;
  /** SET every key before the warmup, so GETs hit and any miss afterwards is a lost write. */
  preload: boolean;
  /** Keys per preload request: 1 sends SET, more send MSET. */
  preloadBatch: number;
  /** Preload requests outstanding per connection. */
  preloadDepth: number;
  /** Preload, then report and exit without warmup or measurement. */
  preloadOnly: boolean;
  warmupSeconds: number;
  seconds: number;
  /** Same seed, same request sequence (up to timing). */
  seed: number;
  /** Each connection checks a write-then-read of its own key every this many requests. */
  verifyEvery: number;
  /** The server's PID, for its CPU use during the measured window; 0 = unknown. */
  serverPid: number;
  /** Preload must finish within this. */
  preloadTimeoutSeconds: number;
  /** AUTH as this user (needs `password`); "": the server's default user. */
  user: string;
  /** Sent in `AUTH` first on each connection, before the run; "": no AUTH. Shown as "***". */
  password: string;
  /** A PEM file with the CA that signed the server's certificate: connect with TLS; "": TCP. */
  tlsCa: string;
  /** The name the server's certificate must carry (sent as SNI); "": `host`. */
  tlsServername: string;
}

export const DEFAULT_LOAD_OPTIONS: Readonly<Omit<LoadOptions, "port" | "proto">> = Object.freeze({
  host: "127.0.0.1",
  conns: 50,
  depth: 1,
  mix: "set:50,get:50",
  keys: 100_000,
  keyBytes: 16,
  valueBytes: 100,
  mgetKeys: 10,
  preload: false,
  preloadBatch: 1,
  preloadDepth: 32,
  preloadOnly: false,
  warmupSeconds: 2,
  seconds: 10,
  seed: 1,
  verifyEvery: 1_000,
  serverPid: 0,
  preloadTimeoutSeconds: 300,
  user: "",
  password: "",
  tlsCa: "",
  tlsServername: "",
});

/** What the caller must give; everything else has a default. */
export type LoadRequest = Partial<LoadOptions> & { port: number; proto: Protocol };

export interface LoadChecks {
  /** `ERROR ...` / `-ERR ...` replies. */
  errors: number;
  /** Replies of the wrong kind, with no request outstanding, or MGET blocks out of order. */
  unexpected: number;
  /** Values read that differ from what every writer of that key writes. */
  wrongValues: number;
  /** NOT_FOUND / null; after a preload each one is a lost write. */
  misses: number;
  verifyOk: number;
  verifyFailed: number;
  /** Connections the server closed during the run. */
  disconnects: number;
}

export interface LoadResult {
  ok: boolean;
  /** Why `ok` is false, in words. */
  failures: string[];
  /** 0 all checks passed, 1 a check failed, 3 the run could not complete. */
  exitCode: number;
  /** Requests completed in the measured window (one MGET = one). */
  ops: number;
  /** The measured window as it actually ran. */
  seconds: number;
  opsPerSecond: number;
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  preloadSeconds: number | null;
  checks: LoadChecks;
  /** Shares of one core during the measured window (Linux /proc); null when unknown. */
  cpu: {
    clientPct: number | null;
    serverPct: number | null;
    machinePct: number | null;
    /** Machine minus client minus server: other programs (0 on a quiet machine). */
    otherPct: number | null;
  };
  settings: LoadOptions;
  runtime: string;
  /** The client's stderr (problems found), when the run was spawned and not ok. */
  stderr?: string;
}

export class UsageError extends Error {}

const NUMBER_FIELDS = [
  "port",
  "conns",
  "depth",
  "keys",
  "keyBytes",
  "valueBytes",
  "mgetKeys",
  "preloadBatch",
  "preloadDepth",
  "warmupSeconds",
  "seconds",
  "seed",
  "verifyEvery",
  "serverPid",
  "preloadTimeoutSeconds",
] as const;
const BOOLEAN_FIELDS = ["preload", "preloadOnly"] as const;
const STRING_FIELDS = [
  "host",
  "proto",
  "mix",
  "user",
  "password",
  "tlsCa",
  "tlsServername",
] as const;

/** camelCase field -> --kebab-case flag. */
function flagOf(field: string): string {
  return "--" + field.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase());
}

const FIELD_BY_FLAG = new Map<string, string>(
  [...NUMBER_FIELDS, ...BOOLEAN_FIELDS, ...STRING_FIELDS].map((field) => [flagOf(field), field]),
);

/** The command-line form of a request (only the settings that differ from the defaults). */
export function loadArgs(request: LoadRequest): string[] {
  const options = { ...DEFAULT_LOAD_OPTIONS, ...request } as LoadOptions;
  const args: string[] = [];
  const defaults = DEFAULT_LOAD_OPTIONS as Record<string, unknown>;
  for (const field of [...STRING_FIELDS, ...NUMBER_FIELDS]) {
    const value = options[field];
    if (value !== defaults[field]) args.push(flagOf(field), String(value));
  }
  for (const field of BOOLEAN_FIELDS) if (options[field]) args.push(flagOf(field));
  return args;
}

/** Parses the command line of bench/load/load.ts. Throws UsageError. */
export function parseLoadArgs(argv: readonly string[]): LoadOptions {
  const values: Record<string, unknown> = { ...DEFAULT_LOAD_OPTIONS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    assert(flag !== undefined, "i < argv.length");
    const field = FIELD_BY_FLAG.get(flag);
    if (field === undefined) throw new UsageError(`unknown option "${flag}"`);
    if ((BOOLEAN_FIELDS as readonly string[]).includes(field)) {
      values[field] = true;
      continue;
    }
    const text = argv[++i];
    if (text === undefined) throw new UsageError(`${argv[i - 1]} needs a value`);
    if ((STRING_FIELDS as readonly string[]).includes(field)) {
      values[field] = text;
      continue;
    }
    const number = Number(text);
    if (text.trim() === "" || !Number.isFinite(number) || number < 0) {
      throw new UsageError(`${argv[i - 1]} must be a number >= 0, got "${text}"`);
    }
    values[field] = number;
  }
  return validate(values);
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1)$/;

function validate(values: Record<string, unknown>): LoadOptions {
  const options = values as unknown as LoadOptions;
  if (values.port === undefined) throw new UsageError("--port is required");
  if (options.proto !== "merklekv" && options.proto !== "redis") {
    throw new UsageError(`--proto must be merklekv or redis, got "${values.proto}"`);
  }
  if (!LOOPBACK.test(options.host)) {
    throw new UsageError(`--host must be a loopback address, got "${options.host}"`);
  }
  for (const field of ["port", "conns", "depth", "keys", "keyBytes", "valueBytes"] as const) {
    if (!Number.isInteger(options[field]) || options[field] < 1) {
      throw new UsageError(`${flagOf(field)} must be an integer >= 1, got ${options[field]}`);
    }
  }
  for (const field of ["mgetKeys", "preloadBatch", "preloadDepth", "verifyEvery"] as const) {
    if (!Number.isInteger(options[field]) || options[field] < 1) {
      throw new UsageError(`${flagOf(field)} must be an integer >= 1, got ${options[field]}`);
    }
  }
  parseMix(options.mix);
  for (const field of ["user", "password"] as const) {
    // The server's rule for AUTH words (AUTH_WORD_RULE); the message never shows a password.
    if (options[field] !== "" && !AUTH_WORD_RULE.test(options[field])) {
      throw new UsageError(`${flagOf(field)} must be ${AUTH_WORD_RULE.expected}`);
    }
  }
  if (options.tlsServername !== "" && options.tlsCa === "") {
    throw new UsageError("--tls-servername needs --tls-ca");
  }
  if (options.user !== "" && options.password === "") {
    throw new UsageError("--user needs --password");
  }
  return options;
}

/** The AUTH line each connection sends first (inline: both protocols take it), or null. */
export function authLine(options: LoadOptions): string | null {
  if (options.password === "") return null;
  return options.user === ""
    ? `AUTH ${options.password}\r\n`
    : `AUTH ${options.user} ${options.password}\r\n`;
}

export type RequestKind = "set" | "get" | "mget";
const REQUEST_KINDS: readonly RequestKind[] = ["set", "get", "mget"];

/** "set:50,get:50" -> [[set, 50], [get, 50]]. Throws UsageError. */
export function parseMix(text: string): [RequestKind, number][] {
  const parts: [RequestKind, number][] = [];
  for (const part of text.split(",")) {
    const [kind, weightText] = part.split(":");
    const weight = Number(weightText);
    if (
      kind === undefined || !(REQUEST_KINDS as readonly string[]).includes(kind) || !(weight >= 0)
    ) {
      throw new UsageError(`--mix must look like "set:50,get:50" (set, get, mget), got "${text}"`);
    }
    parts.push([kind as RequestKind, weight]);
  }
  if (parts.reduce((sum, [, weight]) => sum + weight, 0) <= 0) {
    throw new UsageError(`--mix needs a weight above 0, got "${text}"`);
  }
  return parts;
}
