import assert from "node:assert/strict";
import { SlabToucher } from "../../src/persistence/slab_toucher.ts";
import { SLAB_BYTES } from "../../src/store/value_heap.ts";

/** Waits until `done()` holds, up to `timeoutMs`; false if it never did. */
async function until(done: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

Deno.test("the slab toucher's worker touches at most 16 slabs past those taken, and follows take()", async () => {
  const toucher = new SlabToucher(40);
  try {
    assert.ok(await until(() => toucher.touched === 16), `touched ${toucher.touched}`);
    // Nothing taken: it waits 16 slabs ahead.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(toucher.touched, 16);
    for (let i = 0; i < 10; i++) assert.equal(toucher.take()?.byteLength, SLAB_BYTES);
    assert.equal(toucher.taken, 10);
    assert.ok(await until(() => toucher.touched === 26), `touched ${toucher.touched}`);
  } finally {
    toucher.close();
  }
  assert.equal(toucher.take(), undefined, "closed: no slab");
});

Deno.test("what the loader writes into a slab before or while the worker touches it stays", async () => {
  const slabs = 24;
  const toucher = new SlabToucher(slabs);
  try {
    const taken: SharedArrayBuffer[] = [];
    for (let slab = 0; slab < slabs; slab++) {
      const buffer = toucher.take();
      assert.ok(buffer !== undefined);
      // The first word of every page: the very words the worker adds 0 to.
      const words = new Int32Array(buffer);
      for (let word = 0; word < words.length; word += 1024) words[word] = slab * 100_000 + word;
      taken.push(buffer);
    }
    assert.equal(toucher.take(), undefined, "every slab given");
    assert.ok(await until(() => toucher.touched === slabs), `touched ${toucher.touched}`);
    for (const [slab, buffer] of taken.entries()) {
      const words = new Int32Array(buffer);
      for (let word = 0; word < words.length; word += 1024) {
        assert.equal(words[word], slab * 100_000 + word);
      }
    }
  } finally {
    toucher.close();
  }
});

Deno.test("a process whose toucher is closed while its worker waits for the loader exits", async () => {
  const module = new URL("../../src/persistence/slab_toucher.ts", import.meta.url).href;
  const script = `
    import { SlabToucher } from ${JSON.stringify(module)};
    const toucher = new SlabToucher(1000);
    while (toucher.touched < 16) await new Promise((resolve) => setTimeout(resolve, 5));
    toucher.close();
    console.log("closed", toucher.touched);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A worker left running keeps the process alive: close() must end it.
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const output = await child.output().finally(() => clearTimeout(timer));
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `exit code ${output.code}, signal ${output.signal}: ${stderr}`);
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "closed 16");
});
