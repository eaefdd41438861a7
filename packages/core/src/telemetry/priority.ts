import {
  MessagePriority,
  MessagePrioritySchema,
  TelemetryLevel,
  type TelemetryPacket,
} from '../leyline/index.js';

/** Key of the `system_health.indicators` entry that carries a packet's routing priority (an enum name). */
export const PRIORITY_INDICATOR = 'priority';

/**
 * Routing priority of one event level: CRITICAL → CRITICAL, WARNING or ERROR → HIGH, anything
 * else (INFO, UNSPECIFIED, unknown numbers) → NORMAL.
 */
export function priorityForLevel(level: TelemetryLevel): MessagePriority {
  switch (level) {
    case TelemetryLevel.CRITICAL:
      return MessagePriority.CRITICAL;
    case TelemetryLevel.WARNING:
    case TelemetryLevel.ERROR:
      return MessagePriority.HIGH;
    default:
      return MessagePriority.NORMAL;
  }
}

/**
 * Routing priority of a packet from its event levels: the highest {@link priorityForLevel} over
 * all events, NORMAL when there are none. This is the one mapping every producer uses (it
 * replaces the reference's four copies, §5 item 11).
 */
export function priorityForEvents(levels: Iterable<TelemetryLevel>): MessagePriority {
  let priority = MessagePriority.NORMAL;
  for (const level of levels) {
    const p = priorityForLevel(level);
    if (p === MessagePriority.CRITICAL) return p;
    if (p > priority) priority = p;
  }
  return priority;
}

/** The Leyline name of a priority (`MESSAGE_PRIORITY_HIGH`), as written in the indicator. */
export function priorityName(priority: MessagePriority): string {
  return MessagePrioritySchema.value[priority]?.name ?? 'MESSAGE_PRIORITY_UNSPECIFIED';
}

/**
 * Parses a priority indicator value: a full Leyline enum name (`MESSAGE_PRIORITY_CRITICAL`).
 * Returns undefined for a missing, unknown or UNSPECIFIED name.
 */
export function parsePriorityName(name: string | undefined): MessagePriority | undefined {
  if (name === undefined) return undefined;
  const value = MessagePrioritySchema.values.find((v) => v.name === name);
  if (value === undefined || value.number === MessagePriority.UNSPECIFIED) return undefined;
  return value.number as MessagePriority;
}

/**
 * The priority a forwarder publishes a producer's packet with: the one named by its
 * `system_health.indicators.priority`; missing, unknown or UNSPECIFIED → NORMAL (the reference's
 * Weatherlight forwarding of Kasmina packets).
 */
export function priorityFromIndicator(packet: TelemetryPacket): MessagePriority {
  return parsePriorityName(packet.systemHealth?.indicators[PRIORITY_INDICATOR]) ?? MessagePriority.NORMAL;
}

/**
 * The priority for a packet whose indicator may be absent (the reference's Weatherlight/Tezzeret
 * rule): an indicator naming HIGH or CRITICAL wins; otherwise HIGH when the packet level is
 * WARNING, ERROR or CRITICAL; otherwise NORMAL. A LOW or NORMAL indicator yields to the level.
 */
export function priorityForPacket(packet: TelemetryPacket): MessagePriority {
  const indicated = priorityFromIndicator(packet);
  if (indicated >= MessagePriority.HIGH) return indicated;
  return priorityForLevel(packet.level) === MessagePriority.NORMAL ? MessagePriority.NORMAL : MessagePriority.HIGH;
}
