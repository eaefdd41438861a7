import { join } from 'node:path';
import { Tokens, type HookContext, type SetupContext } from '@esper/core';
import type { TamiyoConfig } from '../config.js';
import { FieldReportLifecycle, oonaFieldReportPublisher } from './lifecycle.js';

/** The options the glue reads (the plugin's options have more). */
type Options = Pick<TamiyoConfig, 'fieldReports'> & { readonly controller: string };

/**
 * Opens the run's field-report lifecycle at `start`: the log at `tamiyo.fieldReports.walPath`
 * (default `<run.dir>/tamiyo/field_reports.log`), publishing through the run's Oona and telemetry
 * through its Telemetry hub. Without an Oona port in the run there is nowhere to publish, so no
 * reports are recorded (a log that only grows would be the result) and `undefined` is returned.
 */
export async function openFieldReports<O extends Options>(ctx: SetupContext<O>, hc: HookContext<O>): Promise<FieldReportLifecycle | undefined> {
  const oona = hc.tryResolve(Tokens.Oona);
  if (oona === undefined) {
    ctx.logger.info('tamiyo: no Oona in this run; field reports are not recorded');
    return undefined;
  }
  const { walPath, ...settings } = ctx.options.fieldReports;
  const path = walPath ?? join(ctx.run.dir, 'tamiyo', 'field_reports.log');
  const lifecycle = await FieldReportLifecycle.open({
    path,
    settings,
    publisher: oonaFieldReportPublisher(oona),
    telemetry: hc.resolve(Tokens.Telemetry),
    clock: ctx.clock,
    logger: ctx.logger,
    policyVersion: () => ctx.options.controller,
  });
  ctx.logger.info('tamiyo: field reports', { path, pending: lifecycle.stats().pending });
  return lifecycle;
}
