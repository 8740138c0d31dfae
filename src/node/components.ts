/**
 * The contracts between the node and its optional parts: persistence, replication and
 * anti-entropy. Each part lives in its own folder and is started by start_node.ts.
 */

import type { Config } from "../config/types.ts";
import type { Entry } from "../store/entry.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "./log.ts";

/** One `name:value` line of INFO. */
export type InfoField = readonly [string, string | number];

/** How the parts hand entries learned from peers to the node (merge, then log). */
export interface RemoteApplier {
  /** Merges each entry into the store (store.applyRemote) and logs the ones that won. */
  applyRemote(entries: readonly Entry[]): ApplyCounts;
}

export interface ApplyCounts {
  applied: number;
  stale: number;
  /** Refused: version too far ahead of this node's clock (replication.max_clock_skew_ms). */
  future: number;
  /** Refused: key or value outside this node's limits, or a value with CR/LF. */
  invalid: number;
}

export interface PartContext {
  config: Config;
  store: Store;
  remote: RemoteApplier;
  log: Logger;
  /** The bound client port (differs from config.bindPort when that is 0); set once listening. */
  clientPort?: number;
}

/** Waits for the log to take the changes appended before it was handed over. */
export interface LogWaiter {
  /** null: they are logged as the fsync policy promises; else why not (nothing acknowledged). */
  logged(error: string | null): void;
}

/** The append-only log and snapshots (src/persistence). */
export interface ChangeLog {
  /**
   * Records changes, local or remote, in order; the changes of one event-loop turn are written
   * together at its end. Failures are kept and shown by writeError().
   */
  append(changes: readonly Entry[]): void;
  /**
   * Calls waiter.logged(), never before this call returns, once every change appended so far
   * is in the log file ("no", "everysec") or on disk ("always"): only then may the replies of
   * the writes that made them leave the process (see README, fsync policies).
   */
  whenLogged(waiter: LogWaiter): void;
  /** Why writes are refused now (for example a full disk), or null when they are accepted. */
  writeError(): string | null;
  infoFields(): InfoField[];
  close(): Promise<void>;
}

/** MQTT replication (src/replication). */
export interface Replicator {
  /** Publishes local changes (batched per tick; queued while the broker is away). */
  publish(changes: readonly Entry[]): void;
  /** Client addresses ("host:port") of nodes announced on the broker, this node excluded. */
  discoveredPeers(): string[];
  infoFields(): InfoField[];
  close(): Promise<void>;
}

/** The anti-entropy loop and sync protocol (src/anti_entropy). */
export interface AntiEntropy {
  /** SYNC <host> <port>: one session now; resolves to the full reply text (OK … or ERROR …). */
  runSession(host: string, port: number): Promise<string>;
  /** SYNC <VERB> <args> from a peer: the reply text. */
  answer(verb: string, args: string): string;
  /** Starts a session with some peer as soon as possible (after the broker comes back). */
  syncSoon(): void;
  infoFields(): InfoField[];
  close(): Promise<void>;
}
