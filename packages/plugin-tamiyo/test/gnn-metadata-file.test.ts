import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { ManualClock, catalogBlueprintMetadata, isEsperError, type BlueprintCatalog } from '@esper/core';
import { BlueprintDescriptorSchema, BlueprintTier, HandlingClass, HazardBand, Provenance } from '@esper/core/leyline';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { PolicyGraphBuilder } from '../src/graph/builder.js';
import { R } from '../src/graph/schema.js';
import { BlueprintMetadataFileError } from '../src/metadata/errors.js';
import { FileBlueprintMetadata, parseBlueprintMetadataFile } from '../src/metadata/file-source.js';
import { layeredBlueprintMetadata } from '../src/metadata/layered.js';
import { blueprintMetadataFromRecord } from '../src/metadata/record.js';
import { DORMANT, TRAINING, statePacket } from './gnn-harness.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tamiyo-metadata-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const graph = {
  layers: [
    { layer_id: 'enc', type: 'linear', depth: 0, parameter_count: 4096, output_channels: 64 },
    { layer_id: 'mid', type: 'linear', depth: 1 },
    { layer_id: 'dec', type: 'linear', depth: 2 },
  ],
  activations: [{ activation_id: 'act', type: 'gelu', saturation_rate: 0.1 }],
  parameters: [{ name: 'alpha', min: 0, max: 1 }],
  adjacency: { layer: [[0, 2], [2, 1, 0.5]] },
  monitored_layers: [[1, 2, 0.25]],
  capabilities: { allowed_blending_methods: ['linear'] },
  future_field: 'ignored',
};

/** `text` parsed as the file `name`, or the error it throws. */
function parseError(text: string, name = 'urza.json'): BlueprintMetadataFileError {
  try {
    parseBlueprintMetadataFile(text, join('/srv', name));
  } catch (error) {
    expect(error).toBeInstanceOf(BlueprintMetadataFileError);
    expect(isEsperError(error, 'ESPER_TAMIYO_BLUEPRINT_METADATA_FILE')).toBe(true);
    return error as BlueprintMetadataFileError;
  }
  throw new Error('expected a BlueprintMetadataFileError');
}

describe('blueprint metadata files (decision 0065)', () => {
  test('JSON: descriptor fields as Leyline, BSDS enums by name in any case, graph kept as written', () => {
    const records = parseBlueprintMetadataFile(
      JSON.stringify({
        schema_version: 1,
        blueprints: [
          {
            blueprint_id: 'BP001',
            tier: 'experimental',
            risk: 0.3,
            stage: 2,
            allowed_parameters: { alpha: { min: 0, max: 1 }, beta: { min: -1, max: 1 } },
            bsds: { risk_score: 0.65, hazard_band: 'HAZARD_BAND_HIGH', handling_class: 'quarantine', provenance: 'curated', issued_at: '2026-01-02T03:04:05Z' },
            graph,
          },
          { blueprint_id: 'BP002' },
        ],
      }),
      'urza.json',
    );
    expect([...records.keys()]).toEqual(['BP001', 'BP002']);
    const r = records.get('BP001')!;
    expect(r.descriptor).toMatchObject({ blueprintId: 'BP001', tier: BlueprintTier.EXPERIMENTAL, stage: 2, quarantineOnly: false });
    expect(r.descriptor.risk).toBeCloseTo(0.3);
    expect(r.descriptor.allowedParameters.beta).toMatchObject({ minValue: -1, maxValue: 1 });
    expect(r.bsds).toMatchObject({ riskScore: 0.65, hazardBand: HazardBand.HIGH, handlingClass: HandlingClass.QUARANTINE, provenance: Provenance.CURATED });
    expect(r.bsds?.issuedAt?.seconds).toBe(BigInt(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000));
    expect(records.get('BP002')!.descriptor).toMatchObject({ tier: 0, risk: 0, quarantineOnly: false });
    expect(records.get('BP002')!.bsds).toBeUndefined();

    const { metadata } = blueprintMetadataFromRecord(r);
    expect(metadata).toMatchObject({
      tier: 'BLUEPRINT_TIER_EXPERIMENTAL',
      tier_index: 2,
      risk: 0.65, // the BSDS score replaces the descriptor's risk (tamiyo §8.2)
      parameter_count: 2,
      allowed_parameters: { alpha: { min: 0, max: 1, span: 1 }, beta: { min: -1, max: 1, span: 2 } },
      bsds: { hazard_band: 'HIGH', handling_class: 'QUARANTINE', provenance: 'CURATED', risk_score: 0.65, issued_at: '2026-01-02T03:04:05.000Z' },
    });
    expect(metadata.candidate_score).toBeCloseTo(1 - 0.3 + 0.05 * 2 + 0.02 * 2, 6);
    expect(metadata.graph?.adjacency).toEqual({ layer: [[0, 2], [2, 1, 0.5]] });
    expect(metadata.graph?.monitored_layers).toEqual([[1, 2, 0.25]]);
    expect(metadata.graph).not.toHaveProperty('future_field');
  });

  test('graph metadata reaches the graph builder: layers, activations, parameters, adjacency and monitors (§17 item 6)', () => {
    const records = parseBlueprintMetadataFile(JSON.stringify([{ blueprint_id: 'BP001', risk: 0.2, graph_metadata: graph }]), 'urza.json');
    const { metadata } = blueprintMetadataFromRecord(records.get('BP001')!);
    const builder = new PolicyGraphBuilder({ maxLayers: 3, maxActivations: 1, maxParameters: 1 });
    const g = builder.build(statePacket([DORMANT, TRAINING], 1), 'BP001', metadata);
    expect(g.layerIds).toEqual(['enc', 'mid', 'dec']);
    expect(g.activationIds).toEqual(['act']);
    expect(g.parameterIds).toEqual(['run-gnn-alpha']);
    const connects = g.edges[R.connects]!;
    expect([...connects.src]).toEqual([0, 2]); // the record's adjacency, not the default chain 0→1→2
    expect([...connects.dst]).toEqual([2, 1]);
    const monitors = g.edges[R.monitors]!;
    expect([...monitors.src]).toEqual([1]); // the explicit monitor pair, not one per seed by depth
    expect([...monitors.dst]).toEqual([2]);
    expect(monitors.attr[2]).toBeCloseTo(0.25);
  });

  test('NDJSON: one record per line, blank and // lines skipped; errors name the line', () => {
    const text = ['// exported by urza', JSON.stringify({ blueprint_id: 'BP001', risk: 0.1 }), '', JSON.stringify({ blueprint_id: 'BP002', quarantine_only: true })].join('\n');
    const records = parseBlueprintMetadataFile(text, 'urza.ndjson');
    expect([...records.keys()]).toEqual(['BP001', 'BP002']);
    expect(records.get('BP002')!.descriptor.quarantineOnly).toBe(true);
    expect(parseError(`${JSON.stringify({ blueprint_id: 'BP001' })}\n{"blueprint_id": "BP002",`, 'urza.ndjson').message).toMatch(/line 2 is not valid JSON/);
    expect(parseError(`${JSON.stringify({ blueprint_id: 'BP001' })}\n${JSON.stringify({ blueprint_id: 'BP002', risk: 2 })}`, 'urza.jsonl').message).toMatch(/record at line 2 \("BP002"\) is invalid: risk:/);
  });

  test('bad files are typed errors that name the record and the field', () => {
    expect(parseError('{"blueprints": [').message).toMatch(/^Blueprint metadata file \/srv\/urza.json: the file is not valid JSON/);
    expect(parseError('{"blueprint": []}').message).toMatch(/expected \{"blueprints": \[\.\.\.\]\}/);
    expect(parseError(JSON.stringify([{ blueprint_id: 'BP001', quarantine_onyl: true }])).message).toMatch(/record at blueprints\[0\] \("BP001"\) is invalid: .*quarantine_onyl/);
    expect(parseError(JSON.stringify([{ blueprint_id: 'BP001', bsds: { hazard_band: 'severe' } }])).message).toMatch(/bsds\.hazard_band: "severe" is not one of LOW, MEDIUM, HIGH, CRITICAL/);
    expect(parseError(JSON.stringify([{ blueprint_id: 'BP001', graph: { adjacency: [[0]] } }])).message).toMatch(/graph\.adjacency/);
    expect(parseError(JSON.stringify([{ blueprint_id: 'BP001', allowed_parameters: { alpha: { min: 1, max: 0 } } }])).message).toMatch(/min must not exceed max/);
    expect(parseError(JSON.stringify([{ blueprint_id: ' ' }])).message).toMatch(/blueprint_id: must be a non-empty blueprint id/);
    expect(parseError(JSON.stringify([{ blueprint_id: 'BP001' }, { blueprint_id: 'BP001' }])).message).toMatch(/"BP001" appears twice \(again at blueprints\[1\]\)/);
    expect(parseError(JSON.stringify([{ blueprint_id: 'BP001', graph, graph_metadata: graph }])).message).toMatch(/both "graph" and "graph_metadata"/);
  });

  test('open: a missing file is a typed error; a changed file is re-read, and a broken change keeps the last good records', async () => {
    const clock = new ManualClock();
    await expect(FileBlueprintMetadata.open(join(dir, 'none.json'))).rejects.toMatchObject({ code: 'ESPER_TAMIYO_BLUEPRINT_METADATA_FILE', message: expect.stringMatching(/does not exist/) });
    const path = join(dir, 'urza.json');
    await writeFile(path, JSON.stringify([{ blueprint_id: 'BP001', risk: 0.1 }]));
    const errors: BlueprintMetadataFileError[] = [];
    const source = await FileBlueprintMetadata.open(path, { clock, recheckMs: 1000, onReloadError: (e) => errors.push(e) });
    expect(await source.lookup('BP002')).toBeUndefined();
    await writeFile(path, JSON.stringify([{ blueprint_id: 'BP001', risk: 0.1 }, { blueprint_id: 'BP002', risk: 0.9 }]));
    expect(await source.lookup('BP002')).toBeUndefined(); // not re-checked before recheckMs
    clock.advance(1000);
    expect((await source.lookup('BP002'))?.descriptor.risk).toBeCloseTo(0.9);
    await writeFile(path, '{"blueprints": [ broken');
    clock.advance(1000);
    expect((await source.lookup('BP002'))?.descriptor.risk).toBeCloseTo(0.9);
    expect(errors.map((e) => e.code)).toEqual(['ESPER_TAMIYO_BLUEPRINT_METADATA_FILE']);
    expect(source.ids()).toEqual(['BP001', 'BP002']);
  });

  test('layered: the file first, the BlueprintCatalog (catalogBlueprintMetadata) for ids it lacks', async () => {
    const path = join(dir, 'urza.ndjson');
    await writeFile(path, JSON.stringify({ blueprint_id: 'BP001', quarantine_only: true }));
    const descriptors = [create(BlueprintDescriptorSchema, { blueprintId: 'BP001', risk: 0.1 }), create(BlueprintDescriptorSchema, { blueprintId: 'BP002', risk: 0.2 })];
    const catalog: BlueprintCatalog = { get: (id) => descriptors.find((d) => d.blueprintId === id), list: () => descriptors };
    const source = layeredBlueprintMetadata(await FileBlueprintMetadata.open(path), catalogBlueprintMetadata(catalog));
    expect((await source.lookup('BP001'))?.descriptor.quarantineOnly).toBe(true);
    expect((await source.lookup('BP002'))?.descriptor.risk).toBeCloseTo(0.2);
    expect(await source.lookup('BP003')).toBeUndefined();
  });
});
