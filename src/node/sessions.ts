/**
 * Who each connection is: the node's side of users and permissions (see docs/security.md).
 * A session per connection holds its user (null until it authenticates); AUTH changes it,
 * every command of an enforcing node is checked against it, and ACL LOAD closes the sessions
 * of users that are gone or turned off. AUTH failures are counted and logged, at most one
 * line per AUTH_LOG_INTERVAL_MS, with the client's address and never the password.
 */

import {
  type AccessControl,
  NOAUTH,
  UNAUTHENTICATED_MAX_LINE_BYTES,
  type User,
  WRONGPASS,
} from "../auth/mod.ts";
import { type Command, errorReply, OK } from "../protocol/mod.ts";
import type { ClientInfo, ConnectionControl } from "../server/mod.ts";
import type { Logger } from "../log.ts";

const AUTH_LOG_INTERVAL_MS = 1_000;

export interface Session {
  /** null: not authenticated (only AUTH and QUIT run). */
  user: User | null;
  readonly control: ConnectionControl | null;
}

export class Sessions {
  readonly access: AccessControl;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  #maxLineBytes: number;
  readonly #reload: () => Promise<string | null>;
  readonly #sessions = new Map<ClientInfo, Session>();
  authFailures = 0;
  #lastAuthLogMs = -Infinity;
  #failuresNotLogged = 0;

  constructor(
    access: AccessControl,
    parts: {
      log: Logger;
      nowMs: () => number;
      maxLineBytes: number;
      reload: () => Promise<string | null>;
    },
  ) {
    this.access = access;
    this.#log = parts.log;
    this.#nowMs = parts.nowMs;
    this.#maxLineBytes = parts.maxLineBytes;
    this.#reload = parts.reload;
  }

  /** limits.max_line_bytes changed: the cap an authenticated session gets from now on. */
  setMaxLineBytes(bytes: number): void {
    this.#maxLineBytes = bytes;
  }

  /** A new connection: refused by protected mode, or its session starts. */
  opened(client: ClientInfo, control: ConnectionControl | null): string | null {
    const refusal = this.access.connectRefusal(client.isLoopback);
    if (refusal !== null) return refusal;
    if (this.access.enforced) this.#start(client, control);
    return null;
  }

  closed(client: ClientInfo): void {
    this.#sessions.delete(client);
  }

  /** The connection's session (one made now for a caller that did not open it: tools, tests). */
  of(client: ClientInfo): Session {
    return this.#sessions.get(client) ?? this.#start(client, null);
  }

  #start(client: ClientInfo, control: ConnectionControl | null): Session {
    const session: Session = { user: this.access.userAtConnect(), control };
    if (session.user === null) {
      control?.setMaxLineBytes(Math.min(UNAUTHENTICATED_MAX_LINE_BYTES, this.#maxLineBytes));
    }
    this.#sessions.set(client, session);
    return session;
  }

  /** The ERROR line that refuses the command to this session, or null to run it. */
  refusal(session: Session, command: Command, word: () => string): string | null {
    const user = session.user;
    if (user === null) return command.kind === "auth" || command.kind === "quit" ? null : NOAUTH;
    return this.access.refusal(user, command, word);
  }

  /** AUTH: OK (the session is the user now) or WRONGPASS. */
  authenticate(client: ClientInfo, name: string | null, password: string): string {
    const user = this.access.authenticate(name, password);
    if (user === null) {
      this.#authFailed(client, name);
      return WRONGPASS;
    }
    if (this.access.enforced) {
      const session = this.of(client);
      if (session.user === null) session.control?.setMaxLineBytes(this.#maxLineBytes);
      session.user = user;
    }
    return OK;
  }

  /**
   * Credentials sent another way (HTTP Basic, docs/observability.md): the user they prove, or
   * null, counted and logged as a failed AUTH. No session is kept.
   */
  verify(client: ClientInfo, name: string | null, password: string): User | null {
    const user = this.access.authenticate(name, password);
    if (user === null) this.#authFailed(client, name);
    return user;
  }

  whoami(client: ClientInfo): string {
    const user = this.access.enforced ? this.of(client).user : this.access.userAtConnect();
    return "USER " + (user?.name ?? "default") + "\r\n";
  }

  /** ACL LOAD: the new users, and the sessions of removed or disabled users closed. */
  async load(): Promise<string> {
    const error = await this.reloadUsers();
    return error === null ? OK : errorReply(error);
  }

  /** ACL LOAD and a config reload: the error, or null once the new users are in place. */
  async reloadUsers(): Promise<string | null> {
    const error = await this.#reload();
    if (error !== null) return error;
    const users = this.access.users;
    for (const session of this.#sessions.values()) {
      if (session.user === null) continue;
      const name = session.user.name;
      const now = users.get(name);
      if (now === undefined || !now.enabled) {
        session.user = null;
        session.control?.close(`user ${name} was removed or turned off by ACL LOAD`);
      } else session.user = now;
    }
    this.#log.info("users_loaded", { users: users.size });
    return null;
  }

  #authFailed(client: ClientInfo, name: string | null): void {
    this.authFailures++;
    const nowMs = this.#nowMs();
    if (nowMs - this.#lastAuthLogMs < AUTH_LOG_INTERVAL_MS) {
      this.#failuresNotLogged++;
      return;
    }
    this.#log.warn("auth_failed", {
      client: client.remoteAddress,
      // A name that is no user may be a password typed in the wrong place: never logged.
      user: this.access.users.has(name ?? "default") ? name ?? "default" : "(unknown)",
      failures_not_logged: this.#failuresNotLogged,
    });
    this.#lastAuthLogMs = nowMs;
    this.#failuresNotLogged = 0;
  }
}
