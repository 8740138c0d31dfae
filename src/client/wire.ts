/**
 * What the typed client puts on the wire, checked before anything is sent: keys, values and
 * words as binary strings (one code unit per byte, see docs/protocol.md), refused here with
 * a ClientError when the server would refuse them. Pure.
 *
 * Text is UTF-8 on the wire; a Uint8Array goes as its bytes.
 */

import { Buffer } from "node:buffer";
import { INVALID_KEY_BYTE, isValidKey, valueProblem, writeLatin1 } from "../store/mod.ts";
import { ClientError } from "./errors.ts";

/** The server's limits the client checks requests against (see ClientOptions). */
export interface WireLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  maxLineBytes: number;
  maxKeysPerCommand: number;
}

/** A value to store: text (sent as UTF-8) or bytes (sent as they are). */
export type Value = string | Uint8Array;

/** A code unit of 0x80 or above; text without one is its own UTF-8 and binary form. */
const BEYOND_ASCII = /[\u0080-\uffff]/;

/** UTF-8 text -> binary string (what goes on the wire). */
export function toBinary(text: string): string {
  return !BEYOND_ASCII.test(text) ? text : Buffer.from(text, "utf8").toString("latin1");
}

/** Binary string -> UTF-8 text; bytes that are not UTF-8 become U+FFFD. */
export function fromBinary(binary: string): string {
  return !BEYOND_ASCII.test(binary) ? binary : Buffer.from(binary, "latin1").toString("utf8");
}

/** Binary string -> new bytes. */
export function binaryToBytes(binary: string): Uint8Array {
  const bytes = new Uint8Array(binary.length);
  writeLatin1(binary, bytes, 0);
  return bytes;
}

function bytesToBinary(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** At most 64 characters of `text`, quoted, for messages. */
export function show(text: string): string {
  return JSON.stringify(text.length > 64 ? text.slice(0, 64) + "..." : text);
}

/**
 * Text as UTF-8, refusing a string that is not text: a lone surrogate has no UTF-8 form, and
 * encoding would silently store U+FFFD instead.
 */
function textToWire(text: unknown, what: string): string {
  if (typeof text !== "string") throw new ClientError(`${what} must be a string`);
  if (!text.isWellFormed()) {
    throw new ClientError(`${what} ${show(text)} is not well-formed UTF-16 (a lone surrogate)`);
  }
  return toBinary(text);
}

/** Why the server would refuse this key (binary string), as its parser says it, or null. */
function keyProblem(key: string, maxKeyBytes: number): string | null {
  if (isValidKey(key, maxKeyBytes)) return null;
  if (key.length === 0) return "key must not be empty";
  if (key.length > maxKeyBytes) return `key too long: ${key.length} bytes, max ${maxKeyBytes}`;
  return "key contains whitespace or control characters";
}

/** A key on the wire, or a ClientError saying why the server would refuse it. */
export function keyToWire(key: string, limits: WireLimits): string {
  const wire = textToWire(key, "key");
  const problem = keyProblem(wire, limits.maxKeyBytes);
  if (problem !== null) throw new ClientError(`invalid key ${show(key)}: ${problem}`);
  return wire;
}

/** Keys of MGET and EXISTS on the wire, at most maxKeysPerCommand of them. */
export function keysToWire(keys: readonly string[], limits: WireLimits): string[] {
  if (keys.length > limits.maxKeysPerCommand) {
    throw new ClientError(`too many keys: ${keys.length}, max ${limits.maxKeysPerCommand}`);
  }
  return keys.map((key) => keyToWire(key, limits));
}

/** A SCAN prefix: empty, or the bytes a key may hold. */
export function prefixToWire(prefix: string, limits: WireLimits): string {
  const wire = textToWire(prefix, "scan prefix");
  if (wire.length > limits.maxKeyBytes || INVALID_KEY_BYTE.test(wire)) {
    throw new ClientError(
      `invalid scan prefix ${show(prefix)}: no key holds whitespace or control characters ` +
        `or is longer than ${limits.maxKeyBytes} bytes`,
    );
  }
  return wire;
}

/**
 * A value on the wire: any byte but LF (the server's one value rule, valueProblem), within
 * maxValueBytes. CR is an ordinary byte: the client ends every line with CRLF, so a value that
 * ends in CR arrives whole.
 */
export function valueToWire(key: string, value: Value, limits: WireLimits): string {
  const wire = value instanceof Uint8Array ? bytesToBinary(value) : textToWire(value, "value");
  const problem = valueProblem(wire, limits.maxValueBytes);
  if (problem !== null) throw new ClientError(`invalid value for key ${show(key)}: ${problem}`);
  return wire;
}

/** An MSET value: MSET splits its words at spaces, so its values hold no space and are not empty. */
export function wordValueToWire(key: string, value: Value, limits: WireLimits): string {
  const wire = valueToWire(key, value, limits);
  if (wire.length === 0 || wire.includes(" ")) {
    throw new ClientError(
      `invalid value for key ${show(key)} in mset: MSET values hold no space and are not empty ` +
        `(use set)`,
    );
  }
  return wire;
}

/** Free text of PING, ECHO and SYNC: any byte but LF. */
export function messageToWire(message: string, what: string): string {
  const wire = textToWire(message, what);
  if (wire.includes("\n")) throw new ClientError(`invalid ${what} ${show(message)}: holds LF`);
  return wire;
}

/** The whole request line: the server closes the connection on a line over max_line_bytes. */
export function checkLine(line: string, limits: WireLimits): string {
  if (line.length > limits.maxLineBytes) {
    throw new ClientError(
      `request too long: ${line.length} bytes, max ${limits.maxLineBytes} (max_line_bytes)`,
    );
  }
  return line;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** An INC/DEC amount: a 64-bit integer, given as a bigint or a safe integer. */
export function amountToWire(amount: bigint | number): string {
  if (typeof amount === "number" && !Number.isSafeInteger(amount)) {
    throw new ClientError(`amount is not a safe integer: ${amount}`);
  }
  if (typeof amount !== "number" && typeof amount !== "bigint") {
    throw new ClientError("amount must be a bigint or a number");
  }
  const big = BigInt(amount);
  if (big < INT64_MIN || big > INT64_MAX) {
    throw new ClientError(`amount is not a 64-bit integer: ${amount}`);
  }
  return String(big);
}

/** EXPIRE's bound (see docs/protocol.md): beyond it the server refuses. */
const MAX_EXPIRE_SECONDS = 9_000_000_000_000;

export function secondsToWire(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || Math.abs(seconds) > MAX_EXPIRE_SECONDS) {
    throw new ClientError(
      `seconds must be an integer in ${-MAX_EXPIRE_SECONDS}..${MAX_EXPIRE_SECONDS}, got ${seconds}`,
    );
  }
  return String(seconds);
}

/** SYNC's target: a host word and a port. */
export function syncTargetToWire(host: string, port: number): string {
  const wire = messageToWire(host, "sync host");
  if (wire.length === 0 || wire.includes(" ")) {
    throw new ClientError(`invalid sync host ${show(host)}: one word`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ClientError(`invalid sync port: ${port}, must be 1..65535`);
  }
  return `${wire} ${port}`;
}
