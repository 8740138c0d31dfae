import type { PartContext, Replicator } from "../node/components.ts";

export interface ReplicationHooks {
  onReconnect: () => void;
}

/** Connects to the broker; null when mqtt_broker_address is unset (standalone). */
export function startReplication(
  context: PartContext,
  _hooks: ReplicationHooks,
): Replicator | null {
  if (context.config.mqttBrokerAddress === null) return null;
  throw new Error("mqtt_broker_address is not supported yet");
}
