/** Errors of the client (see docs/client.md, Errors). */

/**
 * Anything the client refuses or cannot do: a key or value the server would refuse (nothing is
 * sent), a closed or timed-out connection, a reply it cannot read, or an `ERROR` from the server
 * (a ServerError).
 */
export class ClientError extends Error {
  /** "ClientError". */
  override name = "ClientError";
}

/** The server answered `ERROR <message>`; `message` is the server's, unchanged. */
export class ServerError extends ClientError {
  /** "ServerError". */
  override name = "ServerError";
}
