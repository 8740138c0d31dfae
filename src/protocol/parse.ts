/**
 * Request parsing: one line (binary string, no line end) -> Command or an error message.
 * Pure. Arity, aliases and what HELP says of each word live in one table, COMMAND_TABLE
 * (command_table.ts); how each command's arguments are read is in arguments.ts.
 */

import type { Command, ParseResult } from "./command.ts";
import { type Args, checkKey, checkValue, invalid, type ParseLimits } from "./arguments.ts";
import { BY_WORD, type CommandSpec, unknownCommand } from "./command_table.ts";
import { assert } from "../assert.ts";

export { parseInt64, type ParseLimits } from "./arguments.ts";
export {
  COMMAND_KIND_INDEX,
  COMMAND_KINDS,
  COMMAND_NAMES,
  commandHelp,
  commandRow,
  commandWords,
} from "./command_table.ts";

/**
 * Where a line came from, so that the strings a command keeps (keys and values it writes) can
 * be fresh copies of the received bytes rather than slices of the line: a slice keeps its
 * whole line alive in V8, about 50 bytes more per stored key.
 */
export interface LineSource {
  /** A new string of bytes start..end (offsets in the line just framed). */
  copy(start: number, end: number): string;
}

const SLICING: LineSource = { copy: () => "" };

/** A framed line still in the received bytes: `bytes[start, end)`, line end excluded. */
export interface FramedLine extends LineSource {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
  /** The whole line as a new binary string. */
  text(): string;
}

/** Copies text[start, end) from the source; `offset` is where text starts in the line. */
function copier(text: string, offset: number, source: LineSource) {
  return source === SLICING
    ? (start: number, end: number) => text.slice(start, end)
    : (start: number, end: number) => source.copy(offset + start, offset + end);
}

/** splitWords, but each word a copy (for words the store keeps: MSET's keys and values). */
function copyWords(text: string, copy: (start: number, end: number) => string): string[] {
  const words: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(" ", start);
    if (end === -1) end = text.length;
    if (end > start) words.push(copy(start, end));
    start = end + 1;
  }
  return words;
}

function splitWords(text: string): string[] {
  return text.split(" ").filter((word) => word.length > 0);
}

/** Parses one request line (without its line end). */
export function parseCommand(
  line: string,
  limits: ParseLimits,
  source: LineSource = SLICING,
): ParseResult | Command {
  const space = line.indexOf(" ");
  const word = space === -1 ? line : line.slice(0, space);
  let found = BY_WORD.get(word);
  if (found === undefined) found = BY_WORD.get(word.toUpperCase());
  if (found === undefined) {
    if (word.length === 0) {
      return invalid(line.length === 0 ? "empty command" : 'unknown command ""');
    }
    return unknownCommand(word);
  }
  const [name, spec] = found;
  const text = space === -1 ? null : line.slice(space + 1);
  return parseArguments(name, spec, text, limits, source, space + 1);
}

function parseArguments(
  name: string,
  spec: CommandSpec,
  text: string | null,
  limits: ParseLimits,
  source: LineSource,
  textOffset: number,
): ParseResult {
  const args: Args = { name, key: "", value: "", words: [], text, limits };
  const arityError = () => invalid(`wrong number of arguments for ${name}`);
  switch (spec.shape) {
    case "none":
      if (text !== null && text.trim() !== "") return arityError();
      break;
    case "key": {
      if (text === null) return arityError();
      // The common case, one key and nothing else, costs no split.
      if (text.indexOf(" ") === -1) args.key = text;
      else {
        const [key, extra] = splitWords(text);
        if (key === undefined || extra !== undefined) return arityError();
        args.key = key;
      }
      break;
    }
    case "key_value": {
      if (text === null) return arityError();
      const start = skipSpaces(text, 0);
      const space = text.indexOf(" ", start);
      if (space === -1) return arityError();
      const copy = copier(text, textOffset, source);
      args.key = copy(start, space);
      args.value = copy(space + 1, text.length);
      const valueError = checkValue(args.value, limits);
      if (valueError !== null) return invalid(valueError);
      break;
    }
    case "words": {
      const words = text === null
        ? []
        : spec.keepsWords
        ? copyWords(text, copier(text, textOffset, source))
        : splitWords(text);
      if (words.length < (spec.minWords ?? 0) || words.length > (spec.maxWords ?? 0)) {
        return arityError();
      }
      args.words = words;
      break;
    }
    case "text":
      break;
    default: {
      const unreachable: never = spec.shape;
      assert(false, `every argument shape is read, not ${unreachable}`);
    }
  }
  if (spec.shape === "key" || spec.shape === "key_value") {
    const keyError = checkKey(args.key, limits);
    if (keyError !== null) return invalid(keyError);
  }
  return spec.build(args);
}

function skipSpaces(text: string, start: number): number {
  while (start < text.length && text.charCodeAt(start) === 32) start++;
  return start;
}
