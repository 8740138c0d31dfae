/**
 * The node's request path: parse -> execute -> store, then the chunk's changes go to the log
 * and to replication. No sockets here: the server calls handleLine/endOfChunk, and the parts
 * are handed in when the core is built. Entries from peers take remote_merge.ts instead.
 */

import type { AuthConfig, Config } from "../config/mod.ts";
import {
  type Command,
  COMMAND_KIND_INDEX,
  COMMAND_KINDS,
  commandRow,
  conflictsReply,
  errorReply,
  type FramedLine,
  getAndSetKeys,
  getKeyEnd,
  type InfoField,
  infoReply,
  NOT_FOUND,
  parseCommand,
  parseFramed,
  type ParseLimits,
  type PiecewiseReply,
  setCommand,
  setKeyEnd,
  valueReply,
} from "../protocol/mod.ts";
import { MAX_PREFETCH_KEYS, type Store } from "../store/mod.ts";
import { COMMAND_BOUNDS_SECONDS, HistogramSet } from "../metrics/mod.ts";
import type {
  ClientInfo,
  ConnectionControl,
  LineHandler,
  LogWaiter,
  ReplyBytes,
} from "../server/mod.ts";
import {
  AccessControl,
  type AccessState,
  keyAllowed,
  keyBytesAllowed,
  NOAUTH,
  openDefaultUser,
  readAccess,
  sha256Hex,
} from "../auth/mod.ts";
import { silentLogger } from "../log.ts";
import { type Session, Sessions } from "./sessions.ts";
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
import { LiveConfig, NO_CONFIG_FILE } from "./live_config.ts";
import type { ConflictKeeper, ModeAgreement } from "../conflicts/mod.ts";

export const VERSION = "0.1.0";

const GET_INDEX = COMMAND_KIND_INDEX.get;
const SET_INDEX = COMMAND_KIND_INDEX.set;
/** What a GET reply starts with: `VALUE `, then the value, then CR LF. */
const VALUE_PREFIX = new Uint8Array([0x56, 0x41, 0x4c, 0x55, 0x45, 0x20]);
const CR = 13;
const LF = 10;
/** Where lines that named no command are counted in `durations` (after every kind). */
export const INVALID_INDEX = COMMAND_KINDS.length;
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
  /**
   * From a line's arrival to its reply queued, by kind (INVALID_INDEX: no command), as the
   * connection measures it per chunk (see repliesQueued()).
   */
  readonly durations: HistogramSet;
}

/** The node's parts, given to the core when it is built (see start_node.ts). */
export interface CoreParts {
  readonly changeLog: ChangeLog | null;
  readonly replicator: Replicator | null;
  readonly antiEntropy: AntiEntropy | null;
  readonly connectionCount: () => number;
  /** TLS handshakes failed on the client port so far; null: the port speaks plain TCP. */
  readonly tlsHandshakeFailures?: () => number | null;
  /** Asks the process to shut down gracefully (SHUTDOWN command). */
  readonly requestShutdown: () => void;
  /** Users and permissions (see docs/security.md); absent: `default` only, open. */
  readonly auth?: AuthParts;
  /** CONFIG GET/SET/RELOAD; absent: no config file, changes by CONFIG SET only. */
  readonly liveConfig?: LiveConfig;
  /** The conflict log (null: conflicts.mode is lww) and the peers' mode check; absent: lww. */
  readonly conflicts?: ConflictParts;
}

export interface ConflictParts {
  readonly keeper: ConflictKeeper | null;
  readonly agreement: ModeAgreement;
}

export interface AuthParts {
  readonly access: AccessControl;
  /** Reads what auth.* configures, files included (ACL LOAD, reloads); throws AuthFileError. */
  readonly read: (auth: AuthConfig) => Promise<AccessState>;
  readonly log: typeof silentLogger;
  /** Failed logins counted elsewhere (the HTTP listener's Basic credentials): INFO adds them. */
  readonly otherFailures?: () => number;
}

/** Without auth parts (tools, tests) the node starts open; a config change reads auth.*. */
function openAuth(): AuthParts {
  const users = new Map([["default", openDefaultUser()]]);
  return {
    access: new AccessControl({ users, protectedMode: false, enforced: false }, sha256Hex),
    read: (auth) => readAccess(auth, silentLogger),
    log: silentLogger,
  };
}

/** The command word of a line, as typed (NOPERM names it). */
function firstWord(line: FramedLine | string): string {
  const text = typeof line === "string" ? line : line.text();
  const space = text.indexOf(" ");
  return space === -1 ? text : text.slice(0, space);
}

export class NodeCore implements LineHandler {
  readonly store: Store;
  readonly config: Config;
  readonly parts: CoreParts;
  readonly liveConfig: LiveConfig;
  readonly #limits: ParseLimits & { maxValueBytes: number };
  readonly #context: ExecuteContext;
  readonly #startedAtMs: number;
  #commandsProcessed = 0;
  readonly counters: CommandCounters = {
    commands: new Float64Array(COMMAND_KINDS.length),
    errors: new Float64Array(COMMAND_KINDS.length),
    invalid: 0,
    durations: new HistogramSet(COMMAND_BOUNDS_SECONDS, COMMAND_KINDS.length + 1),
  };
  /** The kind index the last handleLine() counted (INVALID_INDEX: none parsed), -1: none. */
  lastCommandKind = -1;
  /** Key offsets for beforeLines(), as pairs. */
  readonly #keyRanges = new Int32Array(2 * MAX_PREFETCH_KEYS);
  #client: ClientInfo | null = null;
  readonly #sessions: Sessions;
  /** Users or a password are configured: every line is checked (else one test of this). */
  #enforced: boolean;
  /** The chunk answered a peer's SYNC GET: its replies wait for the log (see endOfChunk()). */
  #answeredEntries = false;

  constructor(config: Config, store: Store, parts: CoreParts) {
    this.config = config;
    this.store = store;
    this.parts = parts;
    const auth = parts.auth ?? openAuth();
    this.#sessions = new Sessions(auth.access, {
      log: auth.log,
      nowMs: () => store.nowMs(),
      maxLineBytes: config.limits.maxLineBytes,
      read: auth.read,
      auth: config.auth,
    });
    this.#enforced = auth.access.enforced;
    this.#limits = config.limits;
    this.#startedAtMs = store.nowMs();
    this.#context = {
      store,
      services: this.#services(),
      maxValueBytes: config.limits.maxValueBytes,
      scanPageKeys: config.limits.scanPageKeys,
      maxReplyBytes: config.limits.maxReplyBytes,
      changes: [],
      scanFilter: null,
    };
    this.liveConfig = parts.liveConfig ??
      new LiveConfig(config, NO_CONFIG_FILE, silentLogger, () => store.nowMs());
    this.liveConfig.onChange(() => this.#applyConfig());
    this.liveConfig.reloadAuthWith(async (auth, origin) => {
      const prepared = await this.#sessions.prepare(auth);
      if ("error" in prepared) return prepared;
      return {
        install: () => {
          this.#sessions.install(prepared.state, origin);
          this.#enforced = prepared.state.enforced;
        },
      };
    });
  }

  /** The limits copied at construction, from the config changed in place (live_config.ts). */
  #applyConfig(): void {
    const { limits } = this.config;
    this.#context.maxValueBytes = limits.maxValueBytes;
    this.#context.scanPageKeys = limits.scanPageKeys;
    this.#context.maxReplyBytes = limits.maxReplyBytes;
    this.#sessions.setMaxLineBytes(limits.maxLineBytes);
  }

  /**
   * With two or more GET and SET lines waiting (a pipelining client), asks the store to
   * prefetch their keys (up to MAX_PREFETCH_KEYS): their lookups then overlap their cache
   * misses (see docs/performance.md). Returns where the last key hinted ends if the hint is
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
    out?: ReplyBytes,
  ): string | Promise<string> | PiecewiseReply | null {
    this.#commandsProcessed++;
    if (this.#enforced) return this.#handleChecked(line, client, this.#sessions.of(client), out);
    if (typeof line !== "string") {
      // The commonest request: its key is looked up in the received bytes, never decoded.
      const keyEnd = getKeyEnd(line, this.#limits);
      // Once a key holds siblings, GET takes the general path, which lists them.
      if (keyEnd !== -1 && this.store.causality.siblingKeys === 0) {
        this.counters.commands[GET_INDEX]!++;
        this.lastCommandKind = GET_INDEX;
        return this.#get(line.bytes, line.start + 4, keyEnd, out);
      }
    }
    const command = typeof line === "string"
      ? parseCommand(line, this.#limits)
      : parseFramed(line, this.#limits);
    if (command.kind === "invalid") {
      this.counters.invalid++;
      this.lastCommandKind = INVALID_INDEX;
      return errorReply(command.message);
    }
    return this.#run(command, client);
  }

  #run(command: Command, client: ClientInfo): string | Promise<string> | PiecewiseReply | null {
    const kindIndex = COMMAND_KIND_INDEX[command.kind];
    this.counters.commands[kindIndex]!++;
    this.lastCommandKind = kindIndex;
    if (commandRow(command.kind).writes) {
      const refusal = this.parts.changeLog?.writeError() ?? null;
      if (refusal !== null) {
        this.counters.errors[kindIndex]!++;
        return errorReply(`write refused: ${refusal}`);
      }
    }
    this.#client = client;
    if (command.kind === "sync_request" && command.verb === "GET") this.#answeredEntries = true;
    const result = execute(command, this.#context);
    this.#context.scanFilter = null;
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
   * GET of the key `bytes[start, end)`: a value in the store's value heap is copied from there
   * into `out`, never decoded (then the reply is ""); without `out`, or for a value the heap
   * does not hold, the reply is a string.
   */
  #get(bytes: Uint8Array, start: number, end: number, out: ReplyBytes | undefined): string {
    const store = this.store;
    const value = store.findValue(bytes, start, end);
    if (value === undefined) return NOT_FOUND;
    if (typeof value === "string") return valueReply(value);
    if (out === undefined) return getReply(store.readBytes(bytes, start, end));
    const length = store.valueLength(value);
    const target = out.room(VALUE_PREFIX.length + length + 2);
    target.set(VALUE_PREFIX, out.length);
    let offset = store.copyValueInto(value, target, out.length + VALUE_PREFIX.length);
    target[offset++] = CR;
    target[offset++] = LF;
    out.length = offset;
    return "";
  }

  /**
   * handleLine() when users or a password are configured: each command is checked first. GET
   * and SET lines are checked and run as the open path runs them, from the received bytes:
   * the kind's bit and the key against the user's globs, with no string made for the check.
   * Anything else, and any refusal, takes #checkAndRun().
   */
  #handleChecked(
    line: FramedLine | string,
    client: ClientInfo,
    session: Session,
    out: ReplyBytes | undefined,
  ): string | Promise<string> | PiecewiseReply | null {
    const user = session.user;
    if (user !== null && typeof line !== "string") {
      const allowed = user.allowedKinds;
      const keyEnd = getKeyEnd(line, this.#limits);
      if (keyEnd !== -1) {
        if (
          allowed[GET_INDEX] === 1 && this.store.causality.siblingKeys === 0 &&
          keyBytesAllowed(user, line.bytes, line.start + 4, keyEnd)
        ) {
          this.counters.commands[GET_INDEX]!++;
          this.lastCommandKind = GET_INDEX;
          return this.#get(line.bytes, line.start + 4, keyEnd, out);
        }
      } else {
        const setEnd = setKeyEnd(line, this.#limits);
        if (
          setEnd !== -1 && allowed[SET_INDEX] === 1 &&
          keyBytesAllowed(user, line.bytes, line.start + 4, setEnd)
        ) {
          return this.#run(setCommand(line, setEnd), client);
        }
      }
    }
    return this.#checkAndRun(line, client, session);
  }

  /** Parses the line, then runs the command if the session's user may, else refuses it. */
  #checkAndRun(
    line: FramedLine | string,
    client: ClientInfo,
    session: Session,
  ): string | Promise<string> | PiecewiseReply | null {
    const user = session.user;
    const command = typeof line === "string"
      ? parseCommand(line, this.#limits)
      : parseFramed(line, this.#limits);
    if (command.kind === "invalid") {
      this.counters.invalid++;
      this.lastCommandKind = INVALID_INDEX;
      return user === null ? NOAUTH : errorReply(command.message);
    }
    if (user === null || !this.#sessions.access.allows(user, command)) {
      const refusal = this.#sessions.refusal(session, command, () => firstWord(line));
      if (refusal !== null) {
        this.lastCommandKind = -1;
        return refusal;
      }
    }
    const listsKeys = command.kind === "scan" || command.kind === "conflicts_list";
    if (listsKeys && user !== null && !user.allKeys) {
      this.#context.scanFilter = (key) => keyAllowed(user, key);
    }
    return this.#run(command, client);
  }

  /** The replies of these commands (kind indexes) were queued `seconds` after their lines came. */
  repliesQueued(kinds: Int32Array, count: number, seconds: number): void {
    this.counters.durations.observeEach(kinds, count, seconds);
  }

  /** A connection was accepted (protected mode may refuse it); see Sessions. */
  opened(client: ClientInfo, control: ConnectionControl): string | null {
    return this.#sessions.opened(client, control);
  }

  closed(client: ClientInfo): void {
    this.#sessions.closed(client);
  }

  /**
   * Hands the chunk's changes to the log, which hands them to replication once it holds them
   * (see docs/consistency.md, Crashes). Returns true when the log holds the chunk's replies:
   * `waiter` is then told when they may go. Entries a peer asked for (SYNC GET) wait too, so
   * that no peer reads a total of this node's that its log may lose.
   */
  endOfChunk(waiter: LogWaiter): boolean {
    const changes = this.#context.changes;
    const answeredEntries = this.#answeredEntries;
    this.#answeredEntries = false;
    const { changeLog, replicator } = this.parts;
    if (changes.length > 0) {
      this.#context.changes = [];
      if (changeLog === null) {
        replicator?.publish(changes);
        return false;
      }
      changeLog.append(changes, replicator ?? undefined);
    } else if (!answeredEntries || changeLog === null || changeLog.writeError() !== null) {
      // While writes are refused, memory holds what the log missed anyway: waiting gains nothing.
      return false;
    }
    changeLog.whenLogged(waiter);
    return true;
  }

  #services(): Services {
    return {
      version: VERSION,
      conflictsMode: this.config.conflicts.mode,
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
      auth: (user, password) =>
        this.#sessions.authenticate(this.#client as ClientInfo, user, password),
      aclWhoami: () => this.#sessions.whoami(this.#client as ClientInfo),
      aclList: () => this.#sessions.access.listReply(),
      // Only with auth.users_file, so the node checks commands before and after.
      aclLoad: () => this.#sessions.load(),
      shutdown: () => {
        const client = this.#client;
        if (client !== null && !client.isLoopback && !this.config.allowRemoteShutdown) {
          return errorReply("SHUTDOWN is accepted from loopback clients only");
        }
        this.parts.requestShutdown();
        return "OK\r\n";
      },
      snapshot: async () => {
        const changeLog = this.parts.changeLog;
        if (changeLog === null) return errorReply("backups need a data directory (set data_dir)");
        const result = await changeLog.backup();
        return result.ok ? `OK ${result.path}\r\n` : errorReply(result.error);
      },
      config: (command) => this.liveConfig.answer(command),
      conflicts: (count, allowed) => {
        const keeper = this.parts.conflicts?.keeper ?? null;
        return keeper === null
          ? errorReply(notRecording(this.config.conflicts.mode))
          : conflictsReply(keeper.list(count, allowed));
      },
      clearConflicts: async () => {
        const keeper = this.parts.conflicts?.keeper ?? null;
        if (keeper === null) return errorReply(notRecording(this.config.conflicts.mode));
        try {
          await keeper.clear();
        } catch (error) {
          return errorReply(`conflict log cleared in memory, not on disk: ${error}`);
        }
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
      ["counter_keys", store.counterKeys],
      ["conflicts_detected", store.causality.conflictsDetected],
      ["siblings_held", store.causality.siblingKeys],
      ["connections", this.parts.connectionCount()],
      ["commands_processed", this.#commandsProcessed],
      ["auth_failures", this.#sessions.authFailures + (this.parts.auth?.otherFailures?.() ?? 0)],
      ...tlsFields(this.parts.tlsHandshakeFailures?.() ?? null),
      ["memory_rss_bytes", memory.rss],
      ["memory_heap_used_bytes", memory.heapUsed],
      ...valueHeapFields(store),
      ["merkle_root", store.rootHex()],
      ["hlc", store.hlc.last],
    ];
    const { changeLog, replicator, antiEntropy } = this.parts;
    if (changeLog !== null) fields.push(...changeLog.infoFields());
    else fields.push(["persistence", "off"]);
    if (replicator !== null) fields.push(...replicator.infoFields());
    else fields.push(["replication", "off"]);
    if (antiEntropy !== null) fields.push(...antiEntropy.infoFields());
    fields.push(...this.liveConfig.infoFields());
    fields.push(...conflictFields(this.config.conflicts.mode, this.parts.conflicts));
    return fields;
  }
}

/** What CONFLICTS answers outside record mode: nothing is recorded, which is not "no conflicts". */
function notRecording(mode: string): string {
  return `conflicts are not recorded: conflicts.mode is ${mode} (set it to record on every node)`;
}

/** conflicts_mode, conflict_log_entries, conflicts_mode_mismatches (see docs/observability.md). */
function conflictFields(mode: string, conflicts: ConflictParts | undefined): InfoField[] {
  return [
    ["conflicts_mode", mode],
    ["conflict_log_entries", conflicts?.keeper?.size ?? 0],
    ["conflicts_mode_mismatches", conflicts?.agreement.mismatches ?? 0],
  ];
}

/** The value heap's INFO fields (see docs/performance.md, Values outside the heap). */
function valueHeapFields(store: Store): InfoField[] {
  const heap = store.valueHeapStats();
  return [
    ["value_heap_slab_bytes", heap.slabBytes],
    ["value_heap_used_bytes", heap.usedBytes],
    ["value_heap_fragmentation_ratio", Math.round(heap.fragmentationRatio * 1000) / 1000],
    ["value_heap_evacuating_slabs", heap.evacuatingSlabs],
  ];
}

/** `tls:on` with the handshake failures, or `tls:off` (see docs/security.md, TLS). */
function tlsFields(handshakeFailures: number | null): InfoField[] {
  if (handshakeFailures === null) return [["tls", "off"]];
  return [["tls", "on"], ["tls_handshake_failures", handshakeFailures]];
}
