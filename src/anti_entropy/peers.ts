/**
 * Peer addresses and the choice of peer for each loop round. Pure: randomness is passed in, so
 * tests choose peers deterministically.
 */

export interface PeerAddress {
  host: string;
  port: number;
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,253}):([0-9]{1,5})$/;

/** "host:port" or "[v6]:port" (as config.antiEntropy.peers holds them), or null. */
export function parsePeerAddress(text: string): PeerAddress | null {
  const match = HOST_PORT.exec(text);
  if (match === null) return null;
  // Both groups are required by the pattern, so a match has them.
  const [, hostText, portText] = match;
  if (hostText === undefined || portText === undefined) return null;
  const port = Number(portText);
  if (port < 1 || port > 65_535) return null;
  const host = hostText.startsWith("[") ? hostText.slice(1, -1) : hostText;
  return { host, port };
}

export function formatPeerAddress(peer: PeerAddress): string {
  return peer.host.includes(":") ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}

/**
 * The peers a round may pick: configured first, then discovered, each once, in canonical
 * form, valid ones only, without the addresses known to be this node.
 */
export function peerCandidates(
  configured: readonly string[],
  discovered: readonly string[],
  excluded: ReadonlySet<string>,
): string[] {
  const candidates = new Set<string>();
  for (const text of [...configured, ...discovered]) {
    const peer = parsePeerAddress(text);
    if (peer === null) continue;
    const address = formatPeerAddress(peer);
    if (!excluded.has(address)) candidates.add(address);
  }
  return [...candidates];
}

/**
 * Whether an operator's SYNC target is among the configured or discovered peers. Hosts are
 * compared as written, ignoring case and IPv6 brackets; no name is resolved, so "localhost"
 * and "127.0.0.1" are different targets (see docs/anti-entropy.md, Who SYNC may reach).
 */
export function isKnownPeer(
  target: PeerAddress,
  configured: readonly string[],
  discovered: readonly string[],
): boolean {
  const wanted = comparableAddress(target);
  return [...configured, ...discovered].some((text) => {
    const peer = parsePeerAddress(text);
    return peer !== null && comparableAddress(peer) === wanted;
  });
}

/** "[::1]" and "::1" name the same host; so do "Node-B" and "node-b". */
export function withoutBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function comparableAddress(peer: PeerAddress): string {
  return formatPeerAddress({ host: withoutBrackets(peer.host).toLowerCase(), port: peer.port });
}

/** A new array in random order (Fisher-Yates with the given random in [0, 1)). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    // 0 <= j <= i < copy.length: both cells are taken (an item itself may be undefined, so
    // there is nothing to check them against).
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** The pause before the next round: the interval plus 0..jitterMs, whole milliseconds. */
export function nextDelayMs(intervalMs: number, jitterMs: number, random: () => number): number {
  return intervalMs + Math.floor(random() * (jitterMs + 1));
}
