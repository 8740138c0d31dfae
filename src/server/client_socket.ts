/**
 * What a Connection and the acceptor use of a client's socket: the part of node:net's Socket
 * that the plain TCP port's sockets have, and that ConnSocket (conn_socket.ts) gives a
 * Deno.Conn (the TLS port's, from Deno.listenTls). Same meanings as node:net's.
 */
export interface ClientSocket {
  readonly remoteAddress?: string | undefined;
  /** Bytes read from and written to the client (after TLS: the protocol's bytes). */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Bytes written but not yet taken by the connection (kernel or TLS layer). */
  readonly writableLength: number;
  /** A write returned false and "drain" has not come yet. */
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
  setNoDelay(noDelay?: boolean): unknown;
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "drain" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  /** No "data" until resume(); returns the socket. */
  pause(): this;
  resume(): this;
  /** Queues the bytes (held by reference until written); false: past the high-water mark. */
  write(bytes: Uint8Array | string): boolean;
  /** Ends our side once everything queued is written; with `bytes`, after writing them. */
  end(): unknown;
  end(bytes: string): unknown;
  /** Closes at once, dropping what is queued. */
  destroy(): unknown;
}
