/**
 * Which slot a new connection gets, or why it is refused (see docs/operations.md, Limits).
 * Bookkeeping only: no sockets, so every case is tested without ports.
 *
 * - `client`: one of `maxConnections`, for anyone.
 * - `peer`: one of `reservedPeerConnections` beyond them, taken only when the client slots are
 *   full; the connection is provisional until its first line shows an anti-entropy peer
 *   (`SYNC HELLO ...`), else it is refused then.
 * - A non-loopback address holds at most `maxConnectionsPerAddress` slots of either kind;
 *   loopback is exempt (local tools, tests and same-host peers).
 */

export interface AdmissionLimits {
  maxConnections: number;
  reservedPeerConnections: number;
  maxConnectionsPerAddress: number;
}

export type Slot = "client" | "peer";

export type Admission = { slot: Slot } | { refusal: string };

export const MAX_CONNECTIONS = "max connections";
export const MAX_CONNECTIONS_PER_ADDRESS = "max connections per address";

export class Admissions {
  readonly #limits: AdmissionLimits;
  #clients = 0;
  #peers = 0;
  /** Open slots by non-loopback address; an address leaves the map at zero. */
  readonly #byAddress = new Map<string, number>();

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** Connections holding a slot of either kind. */
  get count(): number {
    return this.#clients + this.#peers;
  }

  /** Takes a slot for a connection from `address`, or says why not. */
  admit(address: string, isLoopback: boolean): Admission {
    const limits = this.#limits;
    const fromAddress = isLoopback ? 0 : this.#byAddress.get(address) ?? 0;
    if (fromAddress >= limits.maxConnectionsPerAddress) {
      return { refusal: MAX_CONNECTIONS_PER_ADDRESS };
    }
    let slot: Slot;
    if (this.#clients < limits.maxConnections) {
      slot = "client";
      this.#clients++;
    } else if (this.#peers < limits.reservedPeerConnections) {
      slot = "peer";
      this.#peers++;
    } else return { refusal: MAX_CONNECTIONS };
    if (!isLoopback) this.#byAddress.set(address, fromAddress + 1);
    return { slot };
  }

  /** Gives back a slot that admit() returned. */
  release(slot: Slot, address: string, isLoopback: boolean): void {
    if (slot === "client") this.#clients--;
    else this.#peers--;
    if (this.#clients < 0 || this.#peers < 0) throw new Error("bug: a slot released twice");
    if (isLoopback) return;
    const fromAddress = (this.#byAddress.get(address) ?? 0) - 1;
    if (fromAddress < 0) throw new Error(`bug: no slot held by ${address}`);
    if (fromAddress === 0) this.#byAddress.delete(address);
    else this.#byAddress.set(address, fromAddress);
  }
}

/**
 * Whether a provisional peer's first line opens a sync session: `SYNC HELLO ` (any case), or
 * `AUTH ` from a peer that must authenticate first (see docs/security.md).
 */
export function isPeerGreeting(firstBytes: string): boolean {
  return /^(SYNC HELLO |AUTH )/i.test(firstBytes);
}
