/**
 * The TypeScript client (see docs/client.md): MerkleKVClient, typed methods for every command
 * of protocol v1, and the raw `request`/`pipeline` for tools and the anti-entropy peer link.
 */

export { type ClientOptions, MerkleKVClient } from "./client.ts";
export { ClientError, ServerError } from "./errors.ts";
export type { ClientTls } from "./connection.ts";
export { fromBinary, toBinary, type Value } from "./wire.ts";
export type { Sibling } from "./replies.ts";
