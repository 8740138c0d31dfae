/**
 * The load client's connections: Deno's own TCP (and TLS) streams, not `node:net`. Under Deno
 * 2.9.6 a `node:net` socket cost the client about 60 µs of CPU per unpipelined 16 KiB SET (its
 * write path and the copies behind it), so one client process could not send Redis more than
 * about 16,000 such SETs a second; `Deno.Conn` with prebuilt request bytes sent over 80,000 (see
 * docs/performance.md, The load client).
 *
 * Requests are built as bytes in reusable buffers (RequestBuffer): small parts (commands, keys,
 * lengths) are encoded into it, large fixed parts (a value's filler) are copied in as bytes, so no
 * request is ever a 16 KiB string.
 */

const TEXT = new TextEncoder();
/** Bytes read at a time. */
const READ_BYTES = 64 * 1024;
/** Request buffers start this large: a 16 KiB SET fits at depth 1 without growing one. */
const INITIAL_REQUEST_BYTES = 64 * 1024;

/** Where and how to connect. */
export interface TransportOptions {
  host: string;
  port: number;
  /** PEM of the CA that signed the server's certificate; "" for plain TCP. */
  tlsCa: string;
  /** The name the server's certificate must carry (SNI too); "" for `host`. */
  tlsServername: string;
  /** The line sent first (AUTH), whose one-line reply must be OK/+OK; null for none. */
  authLine: string | null;
  connectTimeoutMs: number;
}

/** Opens a connection (TLS when `tlsCa` is set), AUTHed when asked. */
export async function openConnection(options: TransportOptions): Promise<Deno.Conn> {
  const { host, port, connectTimeoutMs } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no connection to ${host}:${port} within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
  });
  let conn: Deno.Conn | null = null;
  try {
    const opened = (async () => {
      const tcp = await Deno.connect({ hostname: host, port });
      tcp.setNoDelay(true);
      conn = tcp;
      if (options.tlsCa !== "") {
        const tls = await Deno.startTls(tcp, {
          hostname: options.tlsServername === "" ? host : options.tlsServername,
          caCerts: [options.tlsCa],
        });
        conn = tls;
        await tls.handshake();
      }
      if (options.authLine !== null) await authenticate(conn, options.authLine);
      return conn;
    })();
    return await Promise.race([opened, late]);
  } catch (error) {
    try {
      (conn as Deno.Conn | null)?.close();
    } catch {
      // already closed
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends the AUTH line and reads its one-line reply before the run's requests, so the hot loop
 * never sees it. Nothing else is in flight, so the reply is all that arrives.
 */
async function authenticate(conn: Deno.Conn, line: string): Promise<void> {
  await writeAll(conn, TEXT.encode(line));
  const buffer = new Uint8Array(1024);
  let received = "";
  for (;;) {
    const count = await conn.read(buffer);
    if (count === null) throw new Error("the server closed the connection after AUTH");
    received += String.fromCharCode(...buffer.subarray(0, count));
    const end = received.indexOf("\n");
    if (end === -1) continue;
    const reply = received.slice(0, end).replace(/\r$/, "");
    // MerkleKV answers OK, Redis +OK; the reply never holds the password.
    if (reply === "OK" || reply === "+OK") return;
    throw new Error(`the server refused AUTH: ${reply.slice(0, 200)}`);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Receives chunks until the peer closes or close() is called; writes whole requests in order. */
export class LoadTransport {
  readonly #conn: Deno.Conn;
  readonly #queue: Uint8Array[] = [];
  readonly #requests = new RequestBuffer();
  #writing = false;
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Where the next requests are built; send() takes what was built. */
  get requests(): RequestBuffer {
    return this.#requests;
  }

  /**
   * Reads until the end: `onChunk` gets each chunk, `onEnd` the reason reading stopped (null:
   * the peer closed; an Error: it failed), unless close() was called first. Reads alternate
   * between two buffers, so a chunk stays intact while the next one is read: a reply parser
   * may keep the last chunk it was given (unconsumed bytes), and copies it out when it is given
   * the next (load_protocol.ts, BufferedParser.push), never any older one.
   */
  async receive(
    onChunk: (chunk: Uint8Array) => void,
    onEnd: (error: Error | null) => void,
  ): Promise<void> {
    let buffer = new Uint8Array(READ_BYTES);
    let other = new Uint8Array(READ_BYTES);
    try {
      for (;;) {
        [buffer, other] = [other, buffer];
        const count = await this.#conn.read(buffer);
        if (this.#closed) return;
        if (count === null) return onEnd(null);
        onChunk(buffer.subarray(0, count));
      }
    } catch (error) {
      if (!this.#closed) onEnd(error as Error);
    }
  }

  /** Sends what was built in `requests` since the last send (nothing if empty). */
  send(): void {
    const bytes = this.#requests.take();
    if (bytes === null) return;
    this.#queue.push(bytes);
    if (!this.#writing) this.#pump();
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      for (let bytes = this.#queue.shift(); bytes !== undefined; bytes = this.#queue.shift()) {
        await writeAll(this.#conn, bytes);
        this.#requests.release(bytes);
      }
    } catch {
      // A failed write shows as the end of reading (the peer closed or reset).
    } finally {
      this.#writing = false;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Request bytes under construction: ASCII text is encoded in place, byte runs copied in. The
 * bytes handed out by take() stay untouched until release() gives their memory back.
 */
export class RequestBuffer {
  #bytes = new Uint8Array(INITIAL_REQUEST_BYTES);
  #length = 0;
  readonly #free: ArrayBuffer[] = [];

  get length(): number {
    return this.#length;
  }

  /** Appends ASCII text (keys, commands, lengths: never a multi-byte character). */
  text(value: string): void {
    this.#reserve(value.length);
    TEXT.encodeInto(value, this.#bytes.subarray(this.#length));
    this.#length += value.length;
  }

  bytes(value: Uint8Array): void {
    this.#reserve(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
  }

  /** What was built, or null if nothing; the next requests go to other memory. */
  take(): Uint8Array | null {
    if (this.#length === 0) return null;
    const taken = this.#bytes.subarray(0, this.#length);
    const spare = this.#free.pop();
    this.#bytes = spare === undefined ? new Uint8Array(this.#bytes.length) : new Uint8Array(spare);
    this.#length = 0;
    return taken;
  }

  /** Gives back the memory of bytes from take() once they are written. */
  release(taken: Uint8Array): void {
    if (taken.buffer instanceof ArrayBuffer) this.#free.push(taken.buffer);
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#bytes.length * 2));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}
