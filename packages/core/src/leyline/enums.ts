import type { DescEnum, EnumShape } from '@bufbuild/protobuf';

// Name <-> number lookups from the generated descriptors, for the places that move Leyline
// enum names as strings (telemetry priority indicators, Urza's tier column, JSON mirrors).

const byName = new WeakMap<DescEnum, ReadonlyMap<string, number>>();

/**
 * The proto name of an enum number (`enumName(SeedLifecycleStageSchema, 3)` →
 * `'SEED_STAGE_TRAINING'`), or `undefined` for a number the enum does not define.
 */
export function enumName<Desc extends DescEnum>(schema: Desc, value: EnumShape<Desc> | number): string | undefined {
  return schema.value[value]?.name;
}

/**
 * The number of an enum value by its full proto name (`enumValue(MessagePrioritySchema,
 * 'MESSAGE_PRIORITY_HIGH')` → `MessagePriority.HIGH`), or `undefined` for an unknown name.
 * Names are matched exactly (case-sensitive, with the type prefix).
 */
export function enumValue<Desc extends DescEnum>(schema: Desc, name: string): EnumShape<Desc> | undefined {
  let names = byName.get(schema);
  if (names === undefined) {
    names = new Map(schema.values.map((v) => [v.name, v.number]));
    byName.set(schema, names);
  }
  return names.get(name) as EnumShape<Desc> | undefined;
}
