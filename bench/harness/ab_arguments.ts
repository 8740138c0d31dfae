/**
 * The command line of the A/B scripts (bench/*_ab.ts): `<other checkout> [rounds] [keys]`, the
 * other checkout's main.ts as A, this checkout as B. Exits with the usage line when the checkout
 * is missing.
 */

import * as path from "node:path";

export interface AbArguments {
  /** main.ts of the other checkout (A). */
  otherMain: string;
  rounds: number;
  keys: number;
}

export function abArguments(script: string, defaultRounds: number): AbArguments {
  const other = Deno.args[0];
  if (other === undefined) {
    console.error(`usage: deno run --allow-all bench/${script} <other checkout> [rounds] [keys]`);
    Deno.exit(2);
  }
  return {
    otherMain: path.resolve(other, "main.ts"),
    rounds: Number(Deno.args[1] ?? defaultRounds),
    keys: Number(Deno.args[2] ?? 1_000_000),
  };
}
