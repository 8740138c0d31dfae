/**
 * Conflicts (see docs/consistency.md, Record mode): the conflict log of record mode, its file
 * in data_dir, and the check that peers run the same conflicts.mode.
 */

export {
  type ConflictDot,
  ConflictLog,
  type ConflictRecord,
  formatConflict,
  parseConflict,
} from "./conflict_log.ts";
export { CONFLICT_FILE_HEADER, decodeConflictFile, encodeConflictFile } from "./file_codec.ts";
export { CONFLICT_FILE_NAME } from "./conflict_file.ts";
export { ConflictKeeper, type ConflictKeeperOptions } from "./keeper.ts";
export {
  MODE_MISMATCH,
  MODE_MISMATCH_WARNING_INTERVAL_MS,
  MODE_WHEN_UNSTATED,
  ModeAgreement,
} from "./mode_agreement.ts";
