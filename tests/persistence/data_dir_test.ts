import assert from "node:assert/strict";
import { unwritableDataDirMessage } from "../../src/persistence/data_dir.ts";

/** An error shaped like node:fs's: code, syscall and path. */
function fsError(code: string, syscall = "open", path = "/data/log.0000000001"): Error {
  return Object.assign(new Error(`${code}: something, ${syscall} '${path}'`), {
    code,
    syscall,
    path,
  });
}

Deno.test("an unwritable data directory gets one sentence naming it, the cause and what to do", () => {
  assert.equal(
    unwritableDataDirMessage("/data", fsError("EROFS")),
    "Cannot start: data directory /data is not writable: read-only file system (EROFS) at " +
      "open '/data/log.0000000001'; remount it read-write, or set data_dir to a directory on a " +
      "writable file system",
  );
  assert.equal(
    unwritableDataDirMessage("/data", fsError("EACCES", "mkdir", "/data")),
    "Cannot start: data directory /data is not writable: permission denied (EACCES) at " +
      "mkdir '/data'; give the node's user write access to it, or set data_dir to a directory " +
      "it can write",
  );
  assert.match(
    unwritableDataDirMessage("/data", fsError("ENOSPC")) ?? "",
    /^Cannot start: data directory \/data is not writable: disk full \(ENOSPC\) at open .*; free space on its disk, or set data_dir/,
  );
  assert.match(unwritableDataDirMessage("/data", fsError("EPERM")) ?? "", /\(EPERM\)/);
  assert.match(unwritableDataDirMessage("/data", fsError("EDQUOT")) ?? "", /quota/);
});

Deno.test("other errors at start-up are not called an unwritable data directory", () => {
  assert.equal(unwritableDataDirMessage("/data", fsError("ENOENT")), null);
  assert.equal(unwritableDataDirMessage("/data", new Error("damaged log")), null);
  assert.equal(unwritableDataDirMessage("/data", undefined), null);
});

Deno.test("an unwritable data directory without the failing call still gets its sentence", () => {
  const error = Object.assign(new Error("read-only"), { code: "EROFS" });
  assert.equal(
    unwritableDataDirMessage("/data", error),
    "Cannot start: data directory /data is not writable: read-only file system (EROFS); " +
      "remount it read-write, or set data_dir to a directory on a writable file system",
  );
});
