/**
 * The node's request path: parse -> execute -> store, then the chunk's changes go to the log
 * and to replication. No sockets here: the server calls handleLine/endOfChunk, and the parts
 * are handed in when the core is built. Entries from peers take remote_merge.ts instead.
 */

import type { Config } from "../config/mod.ts";
import {
  COMMAND_KIND_INDEX,
  COMMAND_KINDS,
  commandRow,
  errorReply,
  type FramedLine,
  getAndSetKeys,
  getKeyEnd,
  type InfoField,
  infoReply,
  parseCommand,
  parseFramed,
  type ParseLimits,
  type PiecewiseReply,
} from "../protocol/mod.ts";
import { MAX_PREFETCH_KEYS, type Store } from "../store/mod.ts";
import type { ClientInfo, LineHandler, LogWaiter } from "../server/mod.ts";
import type { AntiEntropy } from "../anti_entropy/mod.ts";
import type { ChangeLog } from "../persistence/mod.ts";
import type { Replicator } from "../replication/mod.ts";
import {
  CLOSE_CONNECTION,
  execute,
  type ExecuteContext,
  getReply,
  type Services,
} from "./execute.ts";
import { assert } from "../assert.ts";

export const VERSION = "0.1.0";

const GET_INDEX = COMMAND_KIND_INDEX.get;
/** "E" of "ERROR ": the one check that tells an error reply from another string reply. */
const ERROR_FIRST_CHAR = 69;

/**
 * Requests by kind of command (indexed by COMMAND_KIND_INDEX), read at scrape time: one
 * typed-array increment per request (see docs/observability.md).
 */
export interface CommandCounters {
  readonly commands: Float64Array;
  /** Requests whose reply was an ERROR line. */
  readonly errors: Float64Array;
  /** Lines that named no command or broke its arity: `ERROR` replies with no kind. */
  invalid: number;
}

/** The node's parts, given to the core when it is built (see start_node.ts). */
export interface CoreParts {
  readonly changeLog: ChangeLog | null;
  readonly replicator: Replicator | null;
  readonly antiEntropy: AntiEntropy | null;
  readonly connectionCount: () => number;
  /** Asks the process to shut down gracefully (SHUTDOWN command). */
  readonly requestShutdown: () => void;
}

export class NodeCore implements LineHandler {
  readonly store: Store;
  readonly config: Config;
  readonly parts: CoreParts;
  readonly #limits: ParseLimits & { maxValueBytes: number };
  readonly #context: ExecuteContext;
  readonly #startedAtMs: number;
  #commandsProcessed = 0;
  readonly counters: CommandCounters = {
    commands: new Float64Array(COMMAND_KINDS.length),
    errors: new Float64Array(COMMAND_KINDS.length),
    invalid: 0,
  };
  /** Key offsets for beforeLines(), as pairs. */
  readonly #keyRanges = new Int32Array(2 * MAX_PREFETCH_KEYS);
  #client: ClientInfo | null = null;

  constructor(config: Config, store: Store, parts: CoreParts) {
    this.config = config;
    this.store = store;
    this.parts = parts;
    this.#limits = config.limits;
    this.#startedAtMs = store.nowMs();
    this.#context = {
      store,
      services: this.#services(),
      maxValueBytes: config.limits.maxValueBytes,
      scanPageKeys: config.limits.scanPageKeys,
      maxReplyBytes: config.limits.maxReplyBytes,
      changes: [],
    };
  }

  /**
   * With two or more GET and SET lines waiting (a pipelining client), asks the store to
   * prefetch their keys (up to MAX_PREFETCH_KEYS): their lookups then overlap their cache
   * misses (see README, Performance). Returns where the last key hinted ends if the hint is
   * full (the lines after it want one of their own), else `end`.
   */
  beforeLines(bytes: Uint8Array, start: number, end: number): number {
    const ranges = this.#keyRanges;
    const count = getAndSetKeys(bytes, start, end, this.#limits.maxKeyBytes, ranges);
    if (count > 1) this.store.prefetchKeys(bytes, ranges, count);
    if (count !== MAX_PREFETCH_KEYS) return end;
    const lastKeyEnd = ranges[2 * count - 1];
    assert(lastKeyEnd !== undefined, "the key ranges hold MAX_PREFETCH_KEYS pairs");
    return lastKeyEnd;
  }

  /** Runs one request: a line as the framer holds it, or as a string (tools and tests). */
  handleLine(
    line: FramedLine | string,
    client: ClientInfo,
  ): string | Promise<string> | PiecewiseReply | null {
    this.#commandsProcessed++;
    if (typeof line !== "string") {
      // The commonest request: its key is looked up in the received bytes, never decoded.
      const keyEnd = getKeyEnd(line, this.#limits);
      if (keyEnd !== -1) {
        this.counters.commands[GET_INDEX]!++;
        return getReply(this.store.readBytes(line.bytes, line.start + 4, keyEnd));
      }
    }
    const command = typeof line === "string"
      ? parseCommand(line, this.#limits)
      : parseFramed(line, this.#limits);
    if (command.kind === "invalid") {
      this.counters.invalid++;
      return errorReply(command.message);
    }
    const kindIndex = COMMAND_KIND_INDEX[command.kind];
    this.counters.commands[kindIndex]!++;
    if (commandRow(command.kind).writes) {
      const refusal = this.parts.changeLog?.writeError() ?? null;
      if (refusal !== null) {
        this.counters.errors[kindIndex]!++;
        return errorReply(`write refused: ${refusal}`);
      }
    }
    this.#client = client;
    const result = execute(command, this.#context);
    if (typeof result === "string") {
      if (result.charCodeAt(0) === ERROR_FIRST_CHAR) this.counters.errors[kindIndex]!++;
    } else if (result instanceof Promise) this.#countDeferredError(result, kindIndex);
    return result === CLOSE_CONNECTION ? null : result;
  }

  /** SYNC and the like answer later; their ERROR is counted when it comes. */
  #countDeferredError(reply: Promise<string>, kindIndex: number): void {
    reply.then((text) => {
      if (text.charCodeAt(0) === ERROR_FIRST_CHAR) this.counters.errors[kindIndex]!++;
    }, () => {});
  }

  /**
   * Hands the chunk's changes to the log and replication. Returns true when the log holds the
   * chunk's replies: `waiter` is then told when they may go.
   */
  endOfChunk(waiter: LogWaiter): boolean {
    const changes = this.#context.changes;
    if (changes.length === 0) return false;
    const { changeLog, replicator } = this.parts;
    this.#context.changes = [];
    replicator?.publish(changes);
    if (changeLog === null) return false;
    changeLog.append(changes);
    changeLog.whenLogged(waiter);
    return true;
  }

  #services(): Services {
    return {
      version: VERSION,
      info: () => infoReply(this.infoFields()),
      runSync: (host, port) => {
        const antiEntropy = this.parts.antiEntropy;
        if (antiEntropy === null) return Promise.resolve(errorReply("anti-entropy is off"));
        return antiEntropy.runSession(host, port);
      },
      answerSync: (verb, args) => {
        const antiEntropy = this.parts.antiEntropy;
        return antiEntropy === null
          ? errorReply("anti-entropy is off")
          : antiEntropy.answer(verb, args);
      },
      shutdown: () => {
        const client = this.#client;
        if (client !== null && !client.isLoopback && !this.config.allowRemoteShutdown) {
          return errorReply("SHUTDOWN is accepted from loopback clients only");
        }
        this.parts.requestShutdown();
        return "OK\r\n";
      },
    };
  }

  /** What INFO prints, as [name, value] pairs (metrics read them too). */
  infoFields(): InfoField[] {
    const memory = Deno.memoryUsage();
    const store = this.store;
    const fields: InfoField[] = [
      ["version", VERSION],
      ["node_id", this.config.nodeId],
      ["uptime_seconds", Math.floor((store.nowMs() - this.#startedAtMs) / 1000)],
      ["keys", store.countLive()],
      ["entries", store.size],
      ["tombstones", store.tombstoneCount],
      ["connections", this.parts.connectionCount()],
      ["commands_processed", this.#commandsProcessed],
      ["memory_rss_bytes", memory.rss],
      ["memory_heap_used_bytes", memory.heapUsed],
      ["merkle_root", store.rootHex()],
      ["hlc", store.hlc.last],
    ];
    const { changeLog, replicator, antiEntropy } = this.parts;
    if (changeLog !== null) fields.push(...changeLog.infoFields());
    else fields.push(["persistence", "off"]);
    if (replicator !== null) fields.push(...replicator.infoFields());
    else fields.push(["replication", "off"]);
    if (antiEntropy !== null) fields.push(...antiEntropy.infoFields());
    return fields;
  }
}
