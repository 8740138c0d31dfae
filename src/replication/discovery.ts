/**
 * The peers announced on `<prefix>/nodes/+` (see docs/replication.md, Discovery): who is announced, who
 * left recently, and, for signed announcements, the newest order seen of each node so that an
 * old message replayed changes nothing (see docs/replication-security.md, Announcements).
 * No I/O: the replicator passes the time in.
 */

import { type AnnouncementOrder, compareOrders } from "./codec.ts";

/** Announced nodes remembered; more are ignored (a cluster this large is not expected). */
export const MAX_DISCOVERED_NODES = 1024;
/** A cleared announcement keeps the peer in addresses() this long (see there). */
export const PEER_DEPARTED_GRACE_MS = 5000;

/** What an announcement or a "gone" did to the directory. */
export type DirectoryChange =
  | "announced"
  | "gone"
  | "unchanged"
  | "stale"
  | "full";

interface Peer {
  address: string;
  /** null for unsigned announcements (no order). */
  order: AnnouncementOrder | null;
  /** The conflicts.mode it announced; null: not stated (see ModeAgreement). */
  conflictsMode: string | null;
}

export class PeerDirectory {
  /** Announced nodes: node id -> client address and order. */
  readonly #peers = new Map<string, Peer>();
  /** Nodes whose announcement was cleared (a will or a clean close), bounded like #peers. */
  readonly #departed = new Map<string, Peer & { atMs: number }>();

  /**
   * The conflicts.mode a node announced (kept after it left): null when it stated none,
   * undefined when no announcement of it was seen.
   */
  conflictsModeOf(nodeId: string): string | null | undefined {
    return (this.#peers.get(nodeId) ?? this.#departed.get(nodeId))?.conflictsMode;
  }

  /** The address announced for nodeId, if any. */
  addressOf(nodeId: string): string | undefined {
    return this.#peers.get(nodeId)?.address;
  }

  /**
   * A node's announcement. Signed ones (with an order) older than, or as old as, what was
   * seen of the node are "stale" and ignored: a replay cannot bring back an old address.
   */
  announce(
    nodeId: string,
    address: string,
    order: AnnouncementOrder | null,
    conflictsMode: string | null = null,
  ): DirectoryChange {
    const known = this.#peers.get(nodeId) ?? this.#departed.get(nodeId);
    if (order !== null && known?.order != null && compareOrders(order, known.order) <= 0) {
      return this.#peers.get(nodeId)?.address === address ? "unchanged" : "stale";
    }
    const current = this.#peers.get(nodeId);
    if (current !== undefined && current.address === address) {
      current.order = order ?? current.order;
      current.conflictsMode = conflictsMode;
      return "unchanged";
    }
    if (current === undefined && !this.#departed.has(nodeId) && this.#isFull()) {
      // The departed node heard of longest ago makes room; only then is the directory full.
      const oldest = this.#departed.keys().next();
      if (oldest.done === true) return "full";
      this.#departed.delete(oldest.value);
    }
    this.#peers.set(nodeId, { address, order, conflictsMode });
    this.#departed.delete(nodeId);
    return "announced";
  }

  /**
   * A node is gone. A signed "gone" erases only an announcement of its order or before, so
   * that an old will replayed cannot erase the node's later connection.
   */
  depart(nodeId: string, order: AnnouncementOrder | null, nowMs: number): DirectoryChange {
    const peer = this.#peers.get(nodeId);
    if (peer === undefined) return "unchanged";
    if (order !== null && peer.order !== null && compareOrders(order, peer.order) < 0) {
      return "stale";
    }
    this.#peers.delete(nodeId);
    this.#departed.set(nodeId, { ...peer, order: order ?? peer.order, atMs: nowMs });
    return "gone";
  }

  #isFull(): boolean {
    return this.#peers.size + this.#departed.size >= MAX_DISCOVERED_NODES;
  }

  /**
   * Announced peers, plus those whose announcement was cleared while the broker is away or less
   * than PEER_DEPARTED_GRACE_MS before now (counting from the current connection at most): a
   * broker that shuts down publishes every client's will first, and anti-entropy needs the
   * peers most exactly then, until they announce themselves again.
   */
  addresses(connected: boolean, connectedAtMs: number, nowMs: number): Set<string> {
    const addresses = new Set<string>();
    for (const peer of this.#peers.values()) addresses.add(peer.address);
    for (const [nodeId, departure] of this.#departed) {
      const sinceMs = Math.max(departure.atMs, connectedAtMs);
      if (!connected || nowMs - sinceMs < PEER_DEPARTED_GRACE_MS) {
        addresses.add(departure.address);
      } else if (departure.order === null) {
        this.#departed.delete(nodeId);
      }
    }
    return addresses;
  }
}
