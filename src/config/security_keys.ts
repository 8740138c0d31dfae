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
