export { ClientError, fromBinary, MerkleKVClient, toBinary } from "./client.ts";
export type { ClientOptions } from "./client.ts";
