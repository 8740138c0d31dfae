/** Helpers for the persistence tests: stores, a capturing logger, temporary data dirs. */

import { Logger } from "../../src/log.ts";
import type { Clock } from "../../src/store/hlc.ts";
import { Store } from "../../src/store/store.ts";
import type { Entry } from "../../src/store/entry.ts";
import { LogSegment } from "../../src/persistence/log_file.ts";
import { encodeRecords } from "../../src/persistence/record_codec.ts";
export { storeContents as contents } from "../_support/store_contents.ts";

export const DAY_MS = 24 * 60 * 60 * 1000;

export function newStore(nodeId = "node-a", clock: Clock = { nowMs: () => Date.now() }): Store {
  return new Store({ nodeId, clock, tombstoneGraceMs: DAY_MS, maxClockSkewMs: 60_000 });
}

export interface CapturedLog {
  log: Logger;
  events: Record<string, unknown>[];
}

export function captureLog(): CapturedLog {
  const events: Record<string, unknown>[] = [];
  const log = new Logger("debug", (line) => events.push(JSON.parse(line)));
  return { log, events };
}

export function tempDir(): Promise<string> {
  return Deno.makeTempDir({ prefix: "merklekv-persistence-" });
}

/**
 * Writes log.<sequence> with one record per list of entries; returns the offset at which each
 * record starts and the file size.
 */
export async function writeLog(
  dir: string,
  sequence: number,
  records: Entry[][],
): Promise<{ starts: number[]; size: number; path: string }> {
  const segment = LogSegment.create(dir, sequence);
  const starts: number[] = [];
  for (const entries of records) {
    starts.push(segment.size);
    segment.write(encodeRecords(entries).bytes);
  }
  const size = segment.size;
  await segment.close(true);
  return { starts, size, path: segment.path };
}

/** A tmpfs of `sizeBytes` mounted on a new directory, or null where mounting is not allowed. */
export async function mountSmallFilesystem(
  sizeBytes: number,
): Promise<{ dir: string; unmount: () => Promise<void> } | null> {
  const dir = await tempDir();
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  if (mount === null || !mount.success) {
    await Deno.remove(dir, { recursive: true });
    return null;
  }
  return {
    dir,
    unmount: async () => {
      await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).output();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Writes a file until the file system is full; returns its path. */
export function fillFilesystem(dir: string): string {
  const path = `${dir}/filler`;
  const fd = Deno.openSync(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(4096);
  try {
    for (;;) fd.writeSync(block);
  } catch (error) {
    if (!(error instanceof Error) || !/No space left|ENOSPC|os error 28/i.test(error.message)) {
      throw error;
    }
  } finally {
    fd.close();
  }
  return path;
}
