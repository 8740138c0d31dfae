import assert from "node:assert/strict";
import { SessionTurns, type TurnPriority } from "../../src/anti_entropy/turns.ts";

/** Takes a turn and records, once it is given, who got it. */
function take(turns: SessionTurns, who: string, priority: TurnPriority, order: string[]) {
  return turns.take(priority).then(() => order.push(who));
}

/** Lets every pending promise callback run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("SessionTurns gives one turn at a time: loop rounds first, then operators in order", async () => {
  const turns = new SessionTurns();
  const order: string[] = [];
  await take(turns, "running", "operator", order);
  const waiting = [
    take(turns, "op-1", "operator", order),
    take(turns, "op-2", "operator", order),
    take(turns, "loop", "loop", order),
    take(turns, "op-3", "operator", order),
  ];
  assert.equal(turns.operatorsWaiting, 3);
  await settle();
  assert.deepEqual(order, ["running"], "nobody else runs while a turn is taken");
  for (let given = 2; given <= 5; given++) {
    turns.release();
    await settle();
    assert.equal(order.length, given, "each release gives exactly one turn");
  }
  await Promise.all(waiting);
  assert.deepEqual(order, ["running", "loop", "op-1", "op-2", "op-3"]);
  assert.equal(turns.operatorsWaiting, 0);
  turns.release();
  await take(turns, "free again", "operator", order);
  assert.equal(order.at(-1), "free again", "a free turn is given at once");
  turns.release();
});

Deno.test("SessionTurns.release() without a turn taken is a bug and throws", () => {
  assert.throws(() => new SessionTurns().release(), /Bug: SessionTurns.release/);
});
