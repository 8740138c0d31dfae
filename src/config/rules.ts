/**
 * The formats config strings must have (see schema.ts): each says what it expects, for the
 * "must be ..." messages, and how --help shows it.
 */

import type { StringRule } from "./schema.ts";

export const NODE_ID_RULE: StringRule = {
  expected: "1 to 64 characters of A-Z a-z 0-9 . _ -",
  placeholder: "<id>",
  test: (text) => /^[A-Za-z0-9._-]{1,64}$/.test(text),
};

export const BIND_ADDRESS_RULE: StringRule = {
  expected: "a host name or IP address such as 127.0.0.1, 0.0.0.0 or ::",
  placeholder: "<host>",
  test: (text) => /^[A-Za-z0-9._:%-]{1,253}$/.test(text),
};

export const HOST_PORT_RULE: StringRule = {
  expected: '"host:port" with a port in 1..65535 (IPv6 as [::1]:7878)',
  placeholder: "<host:port>",
  test: isHostPort,
};

const BROKER_SCHEMES = ["tcp", "mqtt", "mqtts", "ssl", "tls"] as const;

export const BROKER_URL_RULE: StringRule = {
  expected:
    `a URL ${BROKER_SCHEMES.map((scheme) => `${scheme}://`).join(", ")} with host and port,` +
    " e.g. tcp://localhost:1883",
  placeholder: "<url>",
  test: isBrokerUrl,
};

export const PATH_RULE: StringRule = {
  expected: "a path without NUL characters",
  placeholder: "<path>",
  test: (text) => /^[^\0]{1,4096}$/.test(text),
};

// MQTT 3.1.1 §1.5.3: UTF-8 strings are at most 65535 bytes and must not contain U+0000.
export const MQTT_STRING_RULE: StringRule = {
  expected: "at most 65535 bytes of UTF-8 without NUL characters",
  placeholder: "<text>",
  test: (text) => !text.includes("\0") && new TextEncoder().encode(text).length <= 65_535,
};

export const CLIENT_ID_RULE: StringRule = {
  expected: "1 to 256 printable ASCII characters without spaces",
  placeholder: "<id>",
  test: (text) => /^[\x21-\x7e]{1,256}$/.test(text),
};

// Topic wildcards (+ #) and NUL are illegal in topic names; "$" topics are the broker's
// (MQTT 3.1.1 §4.7.1, §4.7.2).
export const TOPIC_PREFIX_RULE: StringRule = {
  expected: 'a topic of 1 to 256 characters without "+", "#" or NUL, not starting with "$"',
  placeholder: "<topic>",
  test: (text) => /^[^+#\0$][^+#\0]{0,255}$/.test(text),
};

/** "host:port" or "[v6]:port", port 1..65535. */
function isHostPort(text: string): boolean {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,253}):([0-9]{1,5})$/.exec(text);
  if (match === null) return false;
  const port = Number(match[2]);
  return port >= 1 && port <= 65_535;
}

/** "tcp://host:port", optionally with a trailing "/"; no user info, path or query. */
function isBrokerUrl(text: string): boolean {
  const match = /^([a-z]+):\/\/(.*?)\/?$/.exec(text);
  if (match === null) return false;
  // Both groups are required by the pattern, so a match has them.
  const [, schemeText, address] = match;
  if (schemeText === undefined || address === undefined) return false;
  const scheme = schemeText as (typeof BROKER_SCHEMES)[number];
  return BROKER_SCHEMES.includes(scheme) && isHostPort(address);
}
