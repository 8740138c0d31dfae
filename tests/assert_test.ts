import { strict as expect } from "node:assert";
import { assert, AssertionError } from "../src/assert.ts";

Deno.test("assert() passes a condition that holds and throws an AssertionError naming one that does not", () => {
  assert(1 + 1 === 2, "arithmetic");
  expect.throws(
    () => assert(false, "one reply per request"),
    (error: Error) =>
      error instanceof AssertionError && error.name === "AssertionError" &&
      error.message === "invariant broken: one reply per request",
  );
});
