/**
 * The merge path for entries from peers (replication and anti-entropy): each entry is checked
 * against this node's limits, merged by version (store.applyRemote, LWW), and the ones that
 * won go to the log.
 */

import type { LimitsConfig } from "../config/mod.ts";
import type { ChangeLog } from "../persistence/mod.ts";
import {
  type ApplyCounts,
  type Entry,
  isValidKey,
  type RemoteApplier,
  type Store,
  valueProblem,
} from "../store/mod.ts";

export class RemoteMerge implements RemoteApplier {
  readonly #store: Store;
  readonly #changeLog: ChangeLog | null;
  readonly #limits: Pick<LimitsConfig, "maxKeyBytes" | "maxValueBytes">;

  constructor(
    store: Store,
    changeLog: ChangeLog | null,
    limits: Pick<LimitsConfig, "maxKeyBytes" | "maxValueBytes">,
  ) {
    this.#store = store;
    this.#changeLog = changeLog;
    this.#limits = limits;
  }

  applyRemote(entries: readonly Entry[]): ApplyCounts {
    const counts: ApplyCounts = { applied: 0, stale: 0, future: 0, invalid: 0 };
    const won: Entry[] = [];
    const { maxKeyBytes, maxValueBytes } = this.#limits;
    for (const entry of entries) {
      // Whatever a peer sends must also be something a client could have written here.
      if (!isValidKey(entry.key, maxKeyBytes) || hasInvalidValue(entry, maxValueBytes)) {
        counts.invalid++;
        continue;
      }
      const outcome = this.#store.applyRemote(entry);
      counts[outcome]++;
      if (outcome === "applied") won.push(entry);
    }
    if (won.length > 0) this.#changeLog?.append(won);
    return counts;
  }
}

/** Whether the entry's value, or a sibling's (conflicts mode siblings), breaks the value rule. */
function hasInvalidValue(entry: Entry, maxValueBytes: number): boolean {
  if (entry.value !== null && valueProblem(entry.value, maxValueBytes) !== null) return true;
  const losers = entry.causality?.losers ?? [];
  for (const loser of losers) {
    if (typeof loser.value === "string" && valueProblem(loser.value, maxValueBytes) !== null) {
      return true;
    }
  }
  return false;
}
