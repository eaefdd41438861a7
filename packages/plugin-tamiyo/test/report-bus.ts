// The field-report tests' bus: an Oona client on an in-process broker with fault injection, and a
// second client (group "reader") that lists every report published on it.
import type { ManualClock } from '@esper/core';
import { FieldReportSchema } from '@esper/core/leyline';
import { FaultInjectingBackend, OonaClient } from '@esper/core/oona';
import { MemoryBroker } from '@esper/plugin-oona-memory';

/**
 * `oona` publishes through `faults`; `published()` lists every report id on the bus, in order.
 * Both clients are pushed onto `open` for the caller's afterEach to close.
 */
export async function reportBus(clock: ManualClock, open: { push(c: { close(): Promise<void> }): unknown }) {
  const broker = new MemoryBroker(clock);
  const faults = new FaultInjectingBackend(broker.backend());
  const settings = { group: 'tamiyo', consumer: 'c1', retryBackoffMs: 0, publishRetryBufferSize: 0, messageTtlMs: null };
  const oona = new OonaClient({ backend: faults, clock, settings });
  const reader = new OonaClient({ backend: broker.backend(), clock, settings: { ...settings, group: 'reader' } });
  await oona.ensureGroups();
  await reader.ensureGroups();
  open.push(oona);
  open.push(reader);
  const seen: string[] = [];
  const published = async (): Promise<string[]> => {
    while ((await reader.consume(FieldReportSchema, (r) => void seen.push(r.reportId), { count: 100 })) > 0);
    return [...seen];
  };
  return { oona, faults, published };
}
