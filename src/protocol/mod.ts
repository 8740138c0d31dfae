/**
 * Protocol v1 (see README, Protocol v1): line framing, the command table and parser, the hot
 * path for GET and SET, and reply formatting. Pure.
 */

export type { Command, CommandCategory, CommandKind, ParseResult } from "./command.ts";
export { LINE_TOO_LONG, LineFramer } from "./framer.ts";
export {
  COMMAND_KIND_INDEX,
  COMMAND_KINDS,
  COMMAND_NAMES,
  commandHelp,
  commandRow,
  type FramedLine,
  type LineSource,
  parseCommand,
  parseInt64,
  type ParseLimits,
} from "./parse.ts";
export { getAndSetKeys, getKeyEnd, parseFramed } from "./hot_path.ts";
export * from "./reply.ts";
