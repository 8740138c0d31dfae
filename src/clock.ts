/**
 * The system clock: the one place the product reads wall time for the store. The store takes
 * a Clock (src/store/hlc.ts) so that the core reads no clock of its own and tests of clocks,
 * TTL and purging pass in time they control.
 */

import type { Clock } from "./store/mod.ts";

export const systemClock: Clock = { nowMs: () => Date.now() };
