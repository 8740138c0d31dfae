/**
 * Users and permissions, a subset of Redis ACL (see docs/security.md): the users file parser
 * and key globs (pure), the checks a node runs per connection and command, and the file
 * loading at the edge.
 */

export { compileGlob, globSource, type KeyMatcher } from "./glob.ts";
export {
  applyRule,
  CATEGORIES,
  describeUser,
  parseUserLine,
  parseUsersFile,
  type PasswordHasher,
  type User,
} from "./users.ts";
export {
  AccessControl,
  type AccessState,
  DEFAULT_USER,
  keyAllowed,
  keyBytesAllowed,
  NOAUTH,
  openDefaultUser,
  PROTECTED_MODE_REFUSAL,
  settleUsers,
  UNAUTHENTICATED_MAX_LINE_BYTES,
  WRONGPASS,
} from "./access.ts";
export {
  AuthFileError,
  loadAccess,
  readAccess,
  readUsersFile,
  sha256Hex,
  warnIfReadableByOthers,
} from "./files.ts";
