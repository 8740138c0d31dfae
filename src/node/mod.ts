/**
 * The node (see docs/development.md): `startNode()` wires the parts (store, recovery, TCP
 * server, anti-entropy, replication) and `execute()` runs each request. Only main.ts enters
 * this folder: nothing below it imports it.
 */

export { type NodeHandle, startNode } from "./start_node.ts";
export { VERSION } from "./core.ts";
export { type ConfigSource, NO_CONFIG_FILE } from "./live_config.ts";
