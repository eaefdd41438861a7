import { BlueprintTier } from '@esper/core/leyline';
import { describe, expect, test } from 'vitest';
import { BlueprintCatalogError } from '../errors.js';
import { DEFAULT_BLUEPRINTS, KasminaBlueprintCatalog } from './catalog.js';
import { residualMlp } from './residual-mlp.js';

describe('the blueprint catalogue', () => {
  test('serves Leyline descriptors by id, with the hidden width as the one allowed option', () => {
    const catalog = new KasminaBlueprintCatalog();
    expect(catalog.ids()).toEqual(['residual-mlp', 'residual-mlp-wide']);
    const d = catalog.get('residual-mlp')!;
    expect(d).toMatchObject({ blueprintId: 'residual-mlp', tier: BlueprintTier.SAFE, quarantineOnly: false });
    expect(d.allowedParameters.hidden).toMatchObject({ minValue: 1, maxValue: 4096 });
    expect(catalog.get('nope')).toBeUndefined();
    expect(catalog.list()).toHaveLength(2);
    expect(catalog.blueprint('residual-mlp-wide')).toBe(DEFAULT_BLUEPRINTS[1]);
  });

  test('rejects repeated and empty ids', () => {
    const a = residualMlp({ id: 'a', name: 'A', hiddenRatio: 1 });
    expect(() => new KasminaBlueprintCatalog([a, a])).toThrow(BlueprintCatalogError);
    expect(() => new KasminaBlueprintCatalog([residualMlp({ id: ' ', name: 'blank', hiddenRatio: 1 })])).toThrow(/empty blueprint id/);
  });
});

describe('residual-mlp', () => {
  test('sizes: ¼ of the slot for residual-mlp, the slot width for residual-mlp-wide, or the command\'s hidden', () => {
    const dims = (i: number, features: number, options = {}) => DEFAULT_BLUEPRINTS[i]!.parameters(features, options).map((p) => [p.name, p.dims]);
    expect(dims(0, 128)).toEqual([['down.w', [128, 32]], ['down.b', [32]], ['up.w', [32, 128]], ['up.b', [128]]]);
    expect(dims(1, 128)).toEqual([['down.w', [128, 128]], ['down.b', [128]], ['up.w', [128, 128]], ['up.b', [128]]]);
    expect(dims(0, 128, { hidden: 7 })[0]).toEqual(['down.w', [128, 7]]);
    expect(dims(0, 2)[0]).toEqual(['down.w', [2, 1]]);
  });

  test('the up-projection starts at zero, the down-projection is Kaiming', () => {
    const inits = Object.fromEntries(DEFAULT_BLUEPRINTS[0]!.parameters(16, {}).map((p) => [p.name, p.init.kind]));
    expect(inits).toEqual({ 'down.w': 'kaiming', 'down.b': 'zeros', 'up.w': 'zeros', 'up.b': 'zeros' });
  });
});
