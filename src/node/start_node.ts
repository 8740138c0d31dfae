/**
 * start_node wires the parts: store -> recovery from disk -> TCP server -> anti-entropy ->
 * replication, and returns a handle whose close() stops them in reverse order.
 */

import type { Config } from "../config/mod.ts";
import { type Clock, SEGMENT_COUNT, Store, type StoreOptions } from "../store/mod.ts";
import { systemClock } from "../clock.ts";
import { type ServerHandle, type ServerOptions, startServer } from "../server/mod.ts";
import { openChangeLog } from "../persistence/mod.ts";
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

/** Segments swept for purgeable tombstones per tick: the whole tree every ~64 s. */
const PURGE_SEGMENTS_PER_TICK = 1024;
const PURGE_TICK_MS = 1000;

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
  // A bad users or password file stops the start, before anything listens.
  const auth = { ...await loadAccess(config.auth, log), log };
  const observer = new NodeObserver(config, () => clock.nowMs(), auth);
  try {
    // Before recovery, so that /readyz says 503 while the data directory loads.
    const http = startHttp(config, observer, log);
    if (http !== null) closers.push(() => http.close());
    const changeLog = await openChangeLog({ config, store, log });
    if (changeLog !== null) closers.push(() => changeLog.close());
    // The listener opens first: the parts that announce this node need its port.
    const options = serverOptions(config);
    const server = await startServer(options, log);
    // Connections still busy after the grace period are cut (see docs/operations.md, Limits).
    closers.push(() => server.close(config.limits.shutdownGraceMs));
    const remote = new RemoteMerge(store, changeLog, config.limits);
    const peers = startPeerParts({ config, store, remote, log, clientPort: server.port }, closers);
    liveConfig.onChange(() => applyChanges(config, log, { storeOptions, options, server, peers }));
    const purgeTimer = startPurging(store);
    closers.push(() => Promise.resolve(clearInterval(purgeTimer)));
    let requestShutdown = () => {};
    const shutdownRequested = new Promise<void>((resolve) => requestShutdown = resolve);
    const core = new NodeCore(config, store, {
      changeLog,
      ...peers,
      connectionCount: server.connectionCount,
      requestShutdown: () => requestShutdown(),
      auth: { ...auth, otherFailures: () => observer.authFailures },
      liveConfig,
    });
    server.serve(core);
    observer.serving(core, server);
    log.info("node_started", {
      node_id: config.nodeId,
      address: `${config.bindAddress}:${server.port}`,
      keys: store.countLive(),
      replication: peers.replicator !== null,
      persistence: changeLog !== null,
      http: http === null ? null : `${config.http.bindAddress}:${http.port}`,
    });
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

function storeOptionsOf(config: Config, clock: Clock): StoreOptions {
  return {
    nodeId: config.nodeId,
    clock,
    tombstoneGraceMs: config.antiEntropy.tombstoneGraceMs,
    maxClockSkewMs: config.replication.maxClockSkewMs,
  };
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
  },
): void {
  log.setLevel(config.logLevel);
  parts.storeOptions.tombstoneGraceMs = config.antiEntropy.tombstoneGraceMs;
  parts.storeOptions.maxClockSkewMs = config.replication.maxClockSkewMs;
  const previousMaxLineBytes = parts.options.maxLineBytes;
  Object.assign(parts.options, serverOptions(config));
  parts.server.maxLineBytesChanged(previousMaxLineBytes);
  parts.peers.antiEntropy.configChanged();
  parts.peers.replicator?.setMaxPendingPublishes(config.replication.maxPendingPublishes);
}

function startHttp(config: Config, observer: NodeObserver, log: Logger): HttpListener | null {
  const { bindAddress, port } = config.http;
  if (port === null) return null;
  return startHttpListener({ hostname: bindAddress, port }, observer, log);
}

function serverOptions(config: Config): ServerOptions {
  return {
    host: config.bindAddress,
    port: config.bindPort,
    ...config.limits,
    // A peer greets at once and gives up after its own request timeout anyway.
    peerGreetingTimeoutMs: config.antiEntropy.requestTimeoutMs,
  };
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
  if (started !== null) closers.push(() => started.close());
  return { antiEntropy, replicator };
}

function startPurging(store: Store): ReturnType<typeof setInterval> {
  let nextSegment = 0;
  return setInterval(() => {
    store.purge(nextSegment, PURGE_SEGMENTS_PER_TICK);
    nextSegment = (nextSegment + PURGE_SEGMENTS_PER_TICK) % SEGMENT_COUNT;
  }, PURGE_TICK_MS);
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
