import type { AntiEntropy, PartContext } from "../node/components.ts";
import { errorReply } from "../protocol/reply.ts";

export interface AntiEntropyHooks {
  discoveredPeers: () => string[];
}

export function startAntiEntropy(_context: PartContext, _hooks: AntiEntropyHooks): AntiEntropy {
  return {
    runSession: () => Promise.resolve(errorReply("anti-entropy is not available yet")),
    answer: () => errorReply("anti-entropy is not available yet"),
    syncSoon: () => {},
    infoFields: () => [],
    close: () => Promise.resolve(),
  };
}
