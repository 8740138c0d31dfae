/**
 * Who each connection is: the node's side of users and permissions (see docs/security.md).
 * A session per connection holds its user (null until it authenticates); AUTH changes it,
 * every command of an enforcing node is checked against it, and new users (ACL LOAD, or a
 * config change of auth.*) close the sessions of users that are gone or turned off. AUTH failures are counted and logged, at most one
 * line per AUTH_LOG_INTERVAL_MS, with the client's address and never the password.
 */

import {
  type AccessControl,
  type AccessState,
  AuthFileError,
  NOAUTH,
  UNAUTHENTICATED_MAX_LINE_BYTES,
  type User,
  WRONGPASS,
} from "../auth/mod.ts";
import { type Command, errorReply, OK } from "../protocol/mod.ts";
import type { ClientInfo, ConnectionControl } from "../server/mod.ts";
import type { AuthConfig } from "../config/mod.ts";
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
  readonly #read: (auth: AuthConfig) => Promise<AccessState>;
  /** The running auth.* keys (changed in place by a reload), for ACL LOAD. */
  readonly #auth: AuthConfig;
  readonly #sessions = new Map<ClientInfo, Session>();
  /** The last session of() gave: a pipelining client asks for it line after line. */
  #lastClient: ClientInfo | null = null;
  #lastSession: Session | null = null;
  authFailures = 0;
  #lastAuthLogMs = -Infinity;
  #failuresNotLogged = 0;

  constructor(
    access: AccessControl,
    parts: {
      log: Logger;
      nowMs: () => number;
      maxLineBytes: number;
      /** Reads what `auth` configures, files included; throws AuthFileError. */
      read: (auth: AuthConfig) => Promise<AccessState>;
      auth: AuthConfig;
    },
  ) {
    this.access = access;
    this.#log = parts.log;
    this.#nowMs = parts.nowMs;
    this.#maxLineBytes = parts.maxLineBytes;
    this.#read = parts.read;
    this.#auth = parts.auth;
  }

  /** limits.max_line_bytes changed: the cap an authenticated session gets from now on. */
  setMaxLineBytes(bytes: number): void {
    this.#maxLineBytes = bytes;
  }

  /**
   * A new connection: refused by protected mode, or its session starts (also on a node that
   * checks nothing: a password set later finds it authenticated as default, as in Redis).
   */
  opened(client: ClientInfo, control: ConnectionControl | null): string | null {
    const refusal = this.access.connectRefusal(client.isLoopback);
    if (refusal !== null) return refusal;
    this.#start(client, control);
    return null;
  }

  closed(client: ClientInfo): void {
    this.#sessions.delete(client);
    if (client === this.#lastClient) {
      this.#lastClient = null;
      this.#lastSession = null;
    }
  }

  /** The connection's session (one made now for a caller that did not open it: tools, tests). */
  of(client: ClientInfo): Session {
    if (client === this.#lastClient && this.#lastSession !== null) return this.#lastSession;
    const session = this.#sessions.get(client) ?? this.#start(client, null);
    this.#lastClient = client;
    this.#lastSession = session;
    return session;
  }

  #start(client: ClientInfo, control: ConnectionControl | null): Session {
    const session: Session = { user: this.access.userAtConnect(), control };
    if (session.user === null) {
      control?.setMaxLineBytes(Math.min(UNAUTHENTICATED_MAX_LINE_BYTES, this.#maxLineBytes));
    }
    this.#sessions.set(client, session);
    this.#lastClient = client;
    this.#lastSession = session;
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

  /** ACL LOAD: the users file again, all or nothing; OK or the ERROR naming file and line. */
  async load(): Promise<string> {
    if (this.#auth.usersFile === null) return errorReply("ACL LOAD needs auth.users_file");
    const prepared = await this.prepare(this.#auth);
    if ("error" in prepared) return errorReply(prepared.error);
    this.install(prepared.state, "ACL LOAD");
    return OK;
  }

  /** What `auth` configures, files read; or why not (a file that is missing or invalid). */
  async prepare(auth: AuthConfig): Promise<{ state: AccessState } | { error: string }> {
    try {
      return { state: await this.#read(auth) };
    } catch (error) {
      if (!(error instanceof AuthFileError)) throw error;
      return { error: error.message };
    }
  }

  /**
   * New users and auth.* settings in place. Sessions of users that are gone or turned off are
   * closed; the others keep their user with its new rules (a changed password does not log
   * anyone out, as in Redis). A session not yet authenticated becomes `default` when that
   * user needs no password now. Protected mode applies to connections accepted from now on.
   */
  install(state: AccessState, origin: string): void {
    this.access.replace(state);
    const users = state.users;
    const atConnect = this.access.userAtConnect();
    for (const session of this.#sessions.values()) {
      if (session.user === null) {
        if (atConnect === null) continue;
        session.user = atConnect;
        session.control?.setMaxLineBytes(this.#maxLineBytes);
        continue;
      }
      const name = session.user.name;
      const now = users.get(name);
      if (now === undefined || !now.enabled) {
        session.user = null;
        session.control?.close(`user ${name} was removed or turned off by ${origin}`);
      } else session.user = now;
    }
    this.#log.info("users_loaded", { users: users.size, origin });
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
