import type { ChangeLog, PartContext } from "../node/components.ts";

/** Opens the data directory and recovers the store from it; null when data_dir is unset. */
export function openChangeLog(context: PartContext): Promise<ChangeLog | null> {
  if (context.config.dataDir === null) return Promise.resolve(null);
  return Promise.reject(new Error("data_dir is not supported yet"));
}
