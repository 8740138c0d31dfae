/**
 * A node whose data directory is on a read-only file system (or a full disk) stops at start
 * with one sentence that names the directory and what to do. The directory is a tmpfs mounted read-only: as
 * root, chmod does not stop writes. Where mounting is not permitted, the tests are skipped.
 */

import assert from "node:assert/strict";
import { fillFilesystem } from "../persistence/support.ts";
import { runUntilExit } from "../_support/node_process.ts";

/** Mounts an empty tmpfs on `dir` (read-only by default); the reason it failed, or null. */
async function mountTmpfs(dir: string, options = "ro,size=1m"): Promise<string | null> {
  try {
    const result = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", options, "tmpfs", dir],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (result.success) return null;
    return new TextDecoder().decode(result.stderr).trim() || `exit code ${result.code}`;
  } catch (error) {
    return String(error);
  }
}

async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).output();
}

/** Whether this machine lets the tests mount a read-only tmpfs (probed once, then unmounted). */
async function mountRefusal(): Promise<string | null> {
  const probe = await Deno.makeTempDir({ prefix: "merklekv-ro-probe-" });
  const refusal = await mountTmpfs(probe);
  if (refusal === null) await unmount(probe);
  await Deno.remove(probe);
  return refusal;
}

const refusal = await mountRefusal();
if (refusal !== null) {
  console.warn(`read-only data directory tests skipped: mount -t tmpfs -o ro refused: ${refusal}`);
}

async function withTmpfs(
  options: string,
  test: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "merklekv-ro-" });
  const mountFailure = await mountTmpfs(dir, options);
  assert.equal(mountFailure, null, "the probe mounted, this mount must too");
  try {
    await test(dir);
  } finally {
    await unmount(dir);
    await Deno.remove(dir);
  }
}

const REMEDY = "; remount it read-write, or set data_dir to a directory on a writable file system";

Deno.test({
  name: "a node on a read-only data directory exits 1 with a sentence naming it and what to do",
  ignore: refusal !== null,
  fn: () =>
    withTmpfs("ro,size=1m", async (dir) => {
      const { code, stderr } = await runUntilExit(dir);
      assert.equal(code, 1);
      // The first file a node opens for writing is the lock (src/persistence/dir_lock.ts).
      const sentence = `merklekv: Cannot start: data directory ${dir} is not writable: ` +
        `read-only file system (EROFS) at open '${dir}/LOCK'${REMEDY}`;
      assert.ok(stderr.split("\n").includes(sentence), stderr);
      assert.match(stderr, /"event":"start_failed".*"message":"Cannot start: data directory /);
    }),
});

Deno.test({
  name: "a node whose data directory would be created on a read-only file system says so",
  ignore: refusal !== null,
  fn: () =>
    withTmpfs("ro,size=1m", async (dir) => {
      const { code, stderr } = await runUntilExit(`${dir}/node-a`);
      assert.equal(code, 1);
      const sentence = `merklekv: Cannot start: data directory ${dir}/node-a is not writable: ` +
        `read-only file system (EROFS) at mkdir '${dir}/node-a'${REMEDY}`;
      assert.ok(stderr.split("\n").includes(sentence), stderr);
    }),
});

Deno.test({
  name: "a node whose data directory is on a full disk says so and what to do",
  ignore: refusal !== null,
  fn: () =>
    withTmpfs("size=4k", async (dir) => {
      fillFilesystem(dir);
      const { code, stderr } = await runUntilExit(dir);
      assert.equal(code, 1);
      assert.match(
        stderr,
        new RegExp(
          `^merklekv: Cannot start: data directory ${dir} is not writable: disk full \\(ENOSPC\\)` +
            ".*; free space on its disk, or set data_dir to a directory on a disk with room$",
          "m",
        ),
      );
    }),
});
