/**
 * Value slabs faulted in on the other core ahead of recovery (I/O edge; see docs/durability.md,
 * Recovery). On the virtual machines measured, the first write to a fresh 4 KiB page costs
 * 10-20 µs, and the value heap's slabs are about a third of the fresh memory a recovery writes.
 * The loader takes SharedArrayBuffers from here as its value heap needs slabs (Store.reserve);
 * a worker writes one word of each 4 KiB page of the next ones first, with an atomic add of 0,
 * which leaves alone a value the loader has written there already. The worker stays at most
 * TOUCH_AHEAD_SLABS past the slabs taken, so that a count estimated too high costs untouched
 * memory only. If the worker cannot start, the loader touches the pages itself, as before.
 */

import { SLAB_BYTES, type SlabSource } from "../store/mod.ts";

/** Slabs the worker touches ahead of the last one the loader took. */
const TOUCH_AHEAD_SLABS = 16;
/** The worker waits this long at most for the loader to take a slab before it looks again. */
const TOUCH_WAIT_MS = 50;
/** 4-byte words per 4 KiB page. */
const PAGE_WORDS = 1024;

/** What the worker is given. */
interface TouchJob {
  buffers: SharedArrayBuffer[];
  /** [0]: how many slabs the loader has taken, -1 once closed; [1]: how many were touched. */
  taken: Int32Array;
  ahead: number;
  pageWords: number;
  waitMs: number;
}

/**
 * The worker's code. It runs from its source text (see WORKER_URL), so it names nothing outside
 * itself: everything it needs comes in the job.
 */
function touchSlabs(event: MessageEvent<TouchJob>): void {
  const { buffers, taken, ahead, pageWords, waitMs } = event.data;
  for (let slab = 0; slab < buffers.length; slab++) {
    let seen = Atomics.load(taken, 0);
    while (seen >= 0 && slab - seen >= ahead) {
      Atomics.wait(taken, 0, seen, waitMs);
      seen = Atomics.load(taken, 0);
    }
    // -1: closed. Returning at once ends the worker promptly; left waiting, terminate() took
    // seconds to interrupt its Atomics.wait loop (measured: 4 s).
    if (seen < 0) return;
    const words = new Int32Array(buffers[slab]!);
    for (let word = 0; word < words.length; word += pageWords) Atomics.add(words, word, 0);
    Atomics.store(taken, 1, slab + 1);
  }
}

/** A data URL of the worker's code: `deno compile` and bundles need no file of it. */
const WORKER_URL = "data:application/javascript," +
  encodeURIComponent(`onmessage = ${touchSlabs.toString()};`);

export class SlabToucher implements SlabSource {
  readonly #buffers: SharedArrayBuffer[];
  readonly #taken = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  readonly #worker: Worker;
  #next = 0;

  /** Starts a worker touching, ahead of take(), up to `slabs` slabs. Call close() after. */
  constructor(slabs: number) {
    this.#buffers = Array.from({ length: slabs }, () => new SharedArrayBuffer(SLAB_BYTES));
    this.#worker = new Worker(WORKER_URL, { type: "module" });
    const job: TouchJob = {
      buffers: this.#buffers,
      taken: this.#taken,
      ahead: TOUCH_AHEAD_SLABS,
      pageWords: PAGE_WORDS,
      waitMs: TOUCH_WAIT_MS,
    };
    this.#worker.postMessage(job);
  }

  /** The next slab, touched by the worker unless the loader caught up with it. */
  take(): SharedArrayBuffer | undefined {
    const buffer = this.#buffers[this.#next];
    if (buffer === undefined) return undefined;
    this.#next++;
    Atomics.store(this.#taken, 0, this.#next);
    Atomics.notify(this.#taken, 0);
    return buffer;
  }

  /** Slabs taken so far. */
  get taken(): number {
    return this.#next;
  }

  /** Slabs the worker has touched so far (for tests). */
  get touched(): number {
    return Atomics.load(this.#taken, 1);
  }

  /** Stops the worker; slabs not taken are dropped. */
  close(): void {
    Atomics.store(this.#taken, 0, -1);
    Atomics.notify(this.#taken, 0);
    this.#worker.terminate();
    this.#buffers.length = 0;
  }
}
