/**
 * The TCP edge (see docs/development.md): accepts clients, frames their bytes into lines,
 * hands each line to the node and writes the replies, bounded everywhere.
 */

export {
  type ClientInfo,
  type ConnectionControl,
  type LineHandler,
  type LogWaiter,
  type ReplyBytes,
  type ServerCounters,
  type ServerHandle,
  type ServerOptions,
  startServer,
} from "./server.ts";
export type { ServerTls } from "./tls_listener.ts";
