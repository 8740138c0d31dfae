/**
 * Protocol v1 (see docs/protocol.md): line framing, the command table and parser, the hot
 * path for GET and SET, and reply formatting. Pure.
 */

export type {
  AuthCommand,
  Command,
  CommandCategory,
  CommandKind,
  ConfigCommand,
  ParseResult,
} from "./command.ts";
export { LINE_TOO_LONG, LineFramer } from "./framer.ts";
export {
  COMMAND_KIND_INDEX,
  COMMAND_KINDS,
  COMMAND_NAMES,
  commandHelp,
  commandRow,
  commandWords,
  type FramedLine,
  type LineSource,
  parseCommand,
  parseInt64,
  type ParseLimits,
} from "./parse.ts";
export { DEFAULT_CONFLICTS_LISTED, MAX_CONFLICTS_LISTED } from "./arguments.ts";
export { getAndSetKeys, getKeyEnd, parseFramed, setCommand, setKeyEnd } from "./hot_path.ts";
export * from "./reply.ts";
