/**
 * The TCP edge (see README, Architecture): accepts clients, frames their bytes into lines,
 * hands each line to the node and writes the replies, bounded everywhere.
 */

export {
  type ClientInfo,
  type LineHandler,
  type LogWaiter,
  type ServerCounters,
  type ServerHandle,
  type ServerOptions,
  startServer,
} from "./server.ts";
