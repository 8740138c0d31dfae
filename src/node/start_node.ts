/**
 * start_node wires the parts: store -> recovery from disk -> TCP server -> anti-entropy ->
 * replication, and returns a handle whose close() stops them in reverse order.
 */

import { type Config, ConfigError } from "../config/mod.ts";
import { type Clock, SEGMENT_COUNT, Store, type StoreOptions } from "../store/mod.ts";
import { systemClock } from "../clock.ts";
import {
  type ServerHandle,
  type ServerOptions,
  type ServerTls,
  startServer,
} from "../server/mod.ts";
import { type ChangeLog, openChangeLog } from "../persistence/mod.ts";
import { type ReplicationContext, type Replicator, startReplication } from "../replication/mod.ts";
import {
  type AntiEntropy,
  type AntiEntropyContext,
  startAntiEntropy,
} from "../anti_entropy/mod.ts";
import { NodeCore } from "./core.ts";
import { loadAccess } from "../auth/mod.ts";
import { RemoteMerge } from "./remote_merge.ts";
import { NodeObserver } from "./observer.ts";
import { type HttpListener, startHttpListener } from "../http/mod.ts";
import type { Logger } from "../log.ts";
import { type ConfigSource, LiveConfig, NO_CONFIG_FILE } from "./live_config.ts";
import { readTlsFiles, type TlsFiles } from "./tls_files.ts";
import { ConflictKeeper, ModeAgreement } from "../conflicts/mod.ts";
import type { ConflictParts } from "./core.ts";

/** Segments swept for purgeable tombstones per tick: the whole tree every ~64 s. */
const PURGE_SEGMENTS_PER_TICK = 1024;
const PURGE_TICK_MS = 1000;
/**
 * Entries visited per tick by the value heap's compaction (see docs/performance.md, Values
 * outside the heap): about a millisecond's work; 1M keys in about a minute.
 */
const COMPACT_ENTRIES_PER_TICK = 16_384;

export interface NodeHandle {
  readonly config: Config;
  readonly core: NodeCore;
  /** The bound client port (useful with bind_port = 0). */
  readonly port: number;
  /** The bound port of the operators' HTTP listener; null when http.port is unset. */
  readonly httpPort: number | null;
  /** CONFIG GET/SET/RELOAD and SIGHUP (see docs/operations.md, Live configuration). */
  readonly liveConfig: LiveConfig;
  /** Settles when a client asked for SHUTDOWN. */
  readonly shutdownRequested: Promise<void>;
  close(): Promise<void>;
}

export async function startNode(
  config: Config,
  log: Logger,
  clock: Clock = systemClock,
  source: ConfigSource = NO_CONFIG_FILE,
): Promise<NodeHandle> {
  // Kept: the store reads its options at use, so a reload changes them in place.
  const storeOptions = storeOptionsOf(config, clock);
  const store = new Store(storeOptions);
  const liveConfig = new LiveConfig(config, source, log, () => clock.nowMs());
  const closers: (() => Promise<void>)[] = [];
  // A bad users, password or tls.* file stops the start, before anything listens.
  const auth = { ...await loadAccess(config.auth, log), log };
  const observer = new NodeObserver(config, () => clock.nowMs(), auth);
  const tlsFiles = { current: readTlsFiles(config.tls) };
  try {
    // Before recovery, so that /readyz says 503 while the data directory loads.
    const http = startHttp(config, tlsFiles.current.server, observer, log, closers);
    if (http !== null) onNewCertificate(liveConfig, tlsFiles, http, log);
    // Nothing listens yet without the HTTP listener: recovery then runs without pauses.
    const pauseBetweenFiles = http !== null;
    const changeLog = await openChangeLog({ config, store, log, pauseBetweenFiles });
    if (changeLog !== null) closers.push(() => changeLog.close());
    // After recovery: what it merges again was recorded when first detected (conflicts file).
    const conflicts = await startConflicts(config, { store, log, clock, liveConfig }, closers);
    // The listener opens first: the parts that announce this node need its port.
    const options = serverOptions(config, tlsFiles.current.server);
    const server = await startServer(options, log);
    // Connections still busy after the grace period are cut (see docs/operations.md, Limits).
    closers.push(() => server.close(config.limits.shutdownGraceMs));
    const remote = new RemoteMerge(store, changeLog, config.limits);
    const { agreement } = conflicts;
    const logged = changeLog === null ? undefined : () => loggedSoFar(changeLog);
    const context = { config, store, remote, log, clientPort: server.port, agreement, logged };
    const peers = startPeerParts({ ...context, peerTls: () => tlsFiles.current.peers }, closers);
    watchConfig(liveConfig, config, log, { storeOptions, options, server, peers, tlsFiles });
    startPurging(store, closers);
    let requestShutdown = () => {};
    const shutdownRequested = new Promise<void>((resolve) => requestShutdown = resolve);
    const core = new NodeCore(config, store, {
      changeLog,
      ...peers,
      connectionCount: server.connectionCount,
      tlsHandshakeFailures: server.tlsHandshakeFailures,
      requestShutdown: () => requestShutdown(),
      auth: { ...auth, otherFailures: () => observer.authFailures },
      liveConfig,
      conflicts,
    });
    server.serve(core);
    observer.serving(core, server);
    const running = { replication: peers.replicator !== null, persistence: changeLog !== null };
    log.info("node_started", startedFields(config, store, server.port, running, http, options));
    return {
      config,
      core,
      liveConfig,
      port: server.port,
      httpPort: http?.port ?? null,
      shutdownRequested,
      close: () => {
        observer.closing();
        return closeAll(closers, log);
      },
    };
  } catch (error) {
    await closeAll(closers, log);
    throw error;
  }
}

/** The node_started log's fields: who, where, how many keys, which parts run. */
function startedFields(
  config: Config,
  store: Store,
  port: number,
  running: { replication: boolean; persistence: boolean },
  http: HttpListener | null,
  options: ServerOptions,
) {
  return {
    node_id: config.nodeId,
    address: `${config.bindAddress}:${port}`,
    keys: store.countLive(),
    ...running,
    http: http === null ? null : `${config.http.bindAddress}:${http.port}`,
    tls: options.tls !== null,
  };
}

function storeOptionsOf(config: Config, clock: Clock): StoreOptions {
  return {
    nodeId: config.nodeId,
    clock,
    tombstoneGraceMs: config.antiEntropy.tombstoneGraceMs,
    maxClockSkewMs: config.replication.maxClockSkewMs,
    // Version vectors and losers only where they are used: lww keeps today's formats.
    trackCausality: config.conflicts.mode !== "lww",
    keepSiblings: config.conflicts.mode === "siblings",
  };
}

/** A reload re-reads the tls.* files first (see checkTlsFiles), then changes the parts. */
function watchConfig(
  liveConfig: LiveConfig,
  config: Config,
  log: Logger,
  parts: Parameters<typeof applyChanges>[2],
): void {
  liveConfig.checkWith((candidate) => checkTlsFiles(candidate, parts.tlsFiles));
  liveConfig.onChange(() => applyChanges(config, log, parts));
}

/**
 * A reload or CONFIG SET changed `config` in place: the parts that copied a value at start
 * take the new one (see docs/operations.md, Live configuration). The others read it at use.
 */
function applyChanges(
  config: Config,
  log: Logger,
  parts: {
    storeOptions: StoreOptions;
    options: ServerOptions;
    server: ServerHandle;
    peers: { antiEntropy: AntiEntropy; replicator: Replicator | null };
    tlsFiles: { current: TlsFiles };
  },
): void {
  log.setLevel(config.logLevel);
  parts.storeOptions.tombstoneGraceMs = config.antiEntropy.tombstoneGraceMs;
  parts.storeOptions.maxClockSkewMs = config.replication.maxClockSkewMs;
  const previousMaxLineBytes = parts.options.maxLineBytes;
  Object.assign(parts.options, serverOptions(config, parts.tlsFiles.current.server));
  parts.server.maxLineBytesChanged(previousMaxLineBytes);
  if (parts.options.tls !== null) parts.server.tlsChanged();
  parts.peers.antiEntropy.configChanged();
  parts.peers.replicator?.setMaxPendingPublishes(config.replication.maxPendingPublishes);
}

/**
 * Re-reads the tls.* files of a config about to apply: they must be valid, and TLS on the
 * client port stays on or off (the listener is made for one or the other). The new files serve
 * the connections from then on; open ones keep theirs.
 */
function checkTlsFiles(candidate: Config, tlsFiles: { current: TlsFiles }): () => void {
  const next = readTlsFiles(candidate.tls);
  const wasOn = tlsFiles.current.server !== null;
  if ((next.server !== null) !== wasOn) {
    throw new ConfigError(
      `Cannot ${wasOn ? "unset" : "set"} tls.cert_file and tls.key_file on a running node: ` +
        `TLS on the client port is turned ${wasOn ? "off" : "on"} by a restart`,
    );
  }
  return () => tlsFiles.current = next;
}

/** HTTPS follows the client port's certificate when a reload or CONFIG SET changes it. */
function onNewCertificate(
  liveConfig: LiveConfig,
  tlsFiles: { current: TlsFiles },
  http: HttpListener,
  log: Logger,
): void {
  let served = tlsFiles.current.server;
  liveConfig.onChange(() => {
    const next = tlsFiles.current.server;
    if (served === null || next === null) return;
    if (next.cert === served.cert && next.key === served.key) return;
    served = next;
    http.replaceCertificate(next.cert, next.key).then(
      () => log.info("http_certificate_replaced", {}),
      (error) => log.error("http_certificate_failed", { message: String(error) }),
    );
  });
}

function startHttp(
  config: Config,
  tls: ServerTls | null,
  observer: NodeObserver,
  log: Logger,
  closers: (() => Promise<void>)[],
): HttpListener | null {
  const { bindAddress, port } = config.http;
  if (port === null) return null;
  const certificate = tls === null ? {} : { cert: tls.cert, key: tls.key };
  const http = startHttpListener({ hostname: bindAddress, port, ...certificate }, observer, log);
  closers.push(() => http.close());
  return http;
}

function serverOptions(config: Config, tls: ServerTls | null): ServerOptions {
  return {
    host: config.bindAddress,
    port: config.bindPort,
    ...config.limits,
    // A peer greets at once and gives up after its own request timeout anyway.
    peerGreetingTimeoutMs: config.antiEntropy.requestTimeoutMs,
    tls,
  };
}

/** Resolves once `changeLog` holds every change made so far, whether it could log them or not. */
function loggedSoFar(changeLog: ChangeLog): Promise<void> {
  return new Promise((resolve) => changeLog.whenLogged({ logged: () => resolve() }));
}

/** Anti-entropy, then replication (which asks anti-entropy to sync after a reconnect). */
function startPeerParts(
  context: AntiEntropyContext & ReplicationContext,
  closers: (() => Promise<void>)[],
): { antiEntropy: AntiEntropy; replicator: Replicator | null } {
  let replicator: Replicator | null = null;
  const antiEntropy = startAntiEntropy(context, {
    discoveredPeers: () => replicator?.discoveredPeers() ?? [],
  });
  closers.push(() => antiEntropy.close());
  replicator = startReplication(context, { onReconnect: () => antiEntropy.syncSoon() });
  const started = replicator;
  // The changes the log holds but has not handed on yet go to the outbox before it drains.
  if (started !== null) {
    closers.push(() => context.logged?.().then(() => started.close()) ?? started.close());
  }
  return { antiEntropy, replicator };
}

/**
 * Record mode: the store's conflict hook appends to the conflict log, read from data_dir
 * first (see docs/consistency.md, Record mode). Every mode: the peers' mode check.
 */
async function startConflicts(
  config: Config,
  parts: { store: Store; log: Logger; clock: Clock; liveConfig: LiveConfig },
  closers: (() => Promise<void>)[],
): Promise<ConflictParts> {
  const { store, log, clock } = parts;
  const agreement = new ModeAgreement(config.conflicts.mode, log, () => clock.nowMs());
  if (config.conflicts.mode !== "record") return { keeper: null, agreement };
  const { dataDir, fsync } = config;
  const keeper = await ConflictKeeper.open({ conflicts: config.conflicts, dataDir, fsync, log });
  closers.push(() => keeper.close());
  store.onConflict = (key, winner, loser) => {
    const pair = { winner: `${winner.node}@${winner.hlc}`, loser: `${loser.node}@${loser.hlc}` };
    log.debug("conflict_detected", { key, ...pair });
    keeper.record(key, winner, loser, clock.nowMs());
  };
  parts.liveConfig.onChange(() => keeper.setMaxEntries(config.conflicts.logMaxEntries));
  return { keeper, agreement };
}

function startPurging(store: Store, closers: (() => Promise<void>)[]): void {
  let nextSegment = 0;
  const timer = setInterval(() => {
    store.purge(nextSegment, PURGE_SEGMENTS_PER_TICK);
    store.compact(COMPACT_ENTRIES_PER_TICK);
    nextSegment = (nextSegment + PURGE_SEGMENTS_PER_TICK) % SEGMENT_COUNT;
  }, PURGE_TICK_MS);
  closers.push(() => Promise.resolve(clearInterval(timer)));
}

/** Closes parts in reverse order of start; one failing does not stop the others. */
async function closeAll(closers: (() => Promise<void>)[], log: Logger): Promise<void> {
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch (error) {
      log.error("close_failed", { message: String(error) });
    }
  }
  closers.length = 0;
}
