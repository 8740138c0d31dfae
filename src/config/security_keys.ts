/**
 * The keys of users, passwords and peer credentials (see docs/security.md), spliced into
 * KEY_SCHEMA after the anti_entropy keys; kept apart so that schema.ts stays one screenful
 * of rules per section.
 */

import type { CrossKeyRule, KeySpec, StringRule } from "./schema.ts";

/**
 * A password or user name on an AUTH line: one word of printable ASCII. Also the rule of every
 * tool that sends AUTH (src/client, merklekv cli, the cluster task, the load client).
 */
export const AUTH_WORD_RULE: StringRule = {
  expected: "1 to 128 printable ASCII characters without spaces",
  placeholder: "<word>",
  test: (text) => /^[\x21-\x7e]{1,128}$/.test(text),
};

const SECRET_PATH_RULE: StringRule = {
  expected: "a path without NUL characters",
  placeholder: "<path>",
  test: (text) => /^[^\0]{1,4096}$/.test(text),
};

export const SECURITY_KEYS: readonly KeySpec[] = [
  {
    path: "anti_entropy.username",
    reloadable: true,
    field: "antiEntropy.username",
    type: "string",
    rule: AUTH_WORD_RULE,
    nullable: true,
    description: "User this node AUTHs as to peers that require it (needs +@sync)",
  },
  {
    path: "anti_entropy.password",
    reloadable: true,
    field: "antiEntropy.password",
    type: "string",
    rule: AUTH_WORD_RULE,
    nullable: true,
    secret: true,
    description: "Password for anti_entropy.username, or for the peers' default user " +
      "(never printed)",
  },
  {
    path: "auth.users_file",
    reloadable: true,
    field: "auth.usersFile",
    type: "string",
    rule: SECRET_PATH_RULE,
    nullable: true,
    description: "Users and permissions in Redis ACL syntax (see docs/security.md); unset: " +
      "only the user default",
  },
  {
    path: "auth.password",
    reloadable: true,
    field: "auth.password",
    type: "string",
    rule: AUTH_WORD_RULE,
    nullable: true,
    secret: true,
    description: "Password of the user default, like Redis's requirepass (never printed)",
  },
  {
    path: "auth.password_file",
    reloadable: true,
    field: "auth.passwordFile",
    type: "string",
    rule: SECRET_PATH_RULE,
    nullable: true,
    description: "File whose first line is the password of the user default",
  },
  {
    path: "auth.protected_mode",
    reloadable: true,
    field: "auth.protectedMode",
    type: "boolean",
    nullable: false,
    description: "While the user default has no password, refuse clients from " +
      "non-loopback addresses",
  },
];

export const SECURITY_RULES: readonly CrossKeyRule[] = [
  {
    path: "auth.password_file",
    problem: ({ auth }) =>
      auth.password !== null && auth.passwordFile !== null
        ? "must be unset when auth.password is set (one source for the password), got a path"
        : null,
  },
  {
    // A user name alone would send no AUTH at all: say so rather than fail every session.
    path: "anti_entropy.password",
    problem: ({ antiEntropy }) =>
      antiEntropy.username !== null && antiEntropy.password === null
        ? "must be set when anti_entropy.username is set, got nothing"
        : null,
  },
];

const SERVER_NAME_RULE: StringRule = {
  expected: "a DNS name or IP address such as node1.example.com or 10.0.0.5",
  placeholder: "<name>",
  test: (text) => /^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252}[A-Za-z0-9])?$/.test(text),
};

/** The [tls] section (see docs/security.md, TLS): file paths only, never the keys themselves. */
export const TLS_KEYS: readonly KeySpec[] = [
  {
    path: "tls.cert_file",
    reloadable: true,
    field: "tls.certFile",
    type: "string",
    rule: SECRET_PATH_RULE,
    nullable: true,
    description: "This node's certificate chain (PEM); with tls.key_file the client port " +
      "and the HTTP listener speak TLS only",
  },
  {
    path: "tls.key_file",
    reloadable: true,
    field: "tls.keyFile",
    type: "string",
    rule: SECRET_PATH_RULE,
    nullable: true,
    description: "Private key of tls.cert_file (PEM; its contents are never printed)",
  },
  {
    path: "tls.ca_file",
    reloadable: true,
    field: "tls.caFile",
    type: "string",
    rule: SECRET_PATH_RULE,
    nullable: true,
    description: "CA certificates (PEM) trusted for the peers this node connects to and " +
      "for client certificates",
  },
  {
    path: "tls.require_client_cert",
    reloadable: true,
    field: "tls.requireClientCert",
    type: "boolean",
    nullable: false,
    description: "Mutual TLS: clients must present a certificate signed by tls.ca_file",
  },
  {
    path: "tls.server_name",
    reloadable: true,
    field: "tls.serverName",
    type: "string",
    rule: SERVER_NAME_RULE,
    nullable: true,
    description: "Name checked in peers' certificates instead of each peer's host; unset: " +
      "the host",
  },
];

export const TLS_RULES: readonly CrossKeyRule[] = [
  {
    path: "tls.key_file",
    problem: ({ tls }) =>
      tls.certFile !== null && tls.keyFile === null
        ? "must be set when tls.cert_file is set, got nothing"
        : null,
  },
  {
    path: "tls.cert_file",
    problem: ({ tls }) =>
      tls.keyFile !== null && tls.certFile === null
        ? "must be set when tls.key_file is set, got nothing"
        : null,
  },
  {
    path: "tls.require_client_cert",
    problem: ({ tls }) => {
      if (!tls.requireClientCert) return null;
      if (tls.caFile === null) return "needs tls.ca_file (the CA of client certificates), got true";
      return tls.certFile === null ? "needs tls.cert_file and tls.key_file, got true" : null;
    },
  },
];
