import type { BlueprintMetadataSource } from '@esper/core';

/**
 * A metadata source that asks `primary` first and `fallback` for the ids `primary` does not
 * know (a metadata file with BSDS and graph blocks for some blueprints, the run's
 * BlueprintCatalog descriptors for the rest). A failure of `primary` is not hidden.
 */
export function layeredBlueprintMetadata(primary: BlueprintMetadataSource, fallback: BlueprintMetadataSource | undefined): BlueprintMetadataSource {
  if (fallback === undefined) return primary;
  return {
    async lookup(blueprintId, options) {
      return (await primary.lookup(blueprintId, options)) ?? fallback.lookup(blueprintId, options);
    },
  };
}
