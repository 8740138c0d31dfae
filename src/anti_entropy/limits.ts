/**
 * The fixed limits of sync protocol v2, in one place (see docs/anti-entropy.md, Limits). The
 * tunable ones (interval, timeouts, keys per session, grace, queued SYNC commands) are config,
 * in src/config.
 */

/** Every request carries it; a peer that speaks another version answers ERROR. */
export const SYNC_PROTOCOL_VERSION = 2;

/** Branches per `SYNC SEGMENTS` request: a reply is at most 16 x 2.7 KiB. */
export const MAX_BRANCHES_PER_REQUEST = 16;
/** Segments per `SYNC DIGESTS` request. */
export const MAX_SEGMENTS_PER_REQUEST = 64;
/**
 * A segment asked for in `SYNC DIGESTS` goes with its sub-bucket hashes when it holds at least
 * this many entries here: below it, the peer's digests of the whole segment take fewer bytes
 * than the 172 characters of hashes.
 */
export const MIN_ENTRIES_FOR_SUB_HASHES = 8;
/** Keys per `SYNC GET` request. */
export const MAX_KEYS_PER_GET = 256;
/** Entries per `SYNC PUSH` request. */
export const MAX_ENTRIES_PER_PUSH = 256;
/**
 * A `SYNC GET` or `SYNC PUSH` line is kept under this, and under the peer's max_line_bytes
 * (which it states in its HELLO reply). An entry that alone does not fit is not pushed.
 */
export const MAX_REQUEST_LINE_BYTES = 256 * 1024;
/**
 * A DIGESTS or ENTRIES reply stops adding segments or entries once past this; it always holds
 * at least one, so one segment or entry larger than this still goes, alone.
 */
export const MAX_SYNC_REPLY_BYTES = 1024 * 1024;
/** Requests pipelined in one round trip. */
export const MAX_REQUESTS_PER_ROUND = 64;
/** Round trips in one session; past it the session ends incomplete (the rest next session). */
export const MAX_ROUNDS_PER_SESSION = 64;
/** Peers tried in one loop round before waiting for the next interval. */
export const MAX_PEERS_PER_ROUND = 3;
/** Peers remembered for INFO (last session each) and addresses known to be this node. */
export const MAX_TRACKED_PEERS = 64;
