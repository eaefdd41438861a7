import { clone, create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../kernel/ports/clock.js';
import type { Signer } from '../kernel/ports/signer.js';
import {
  AdaptationCommandSchema,
  CommandSeedOperationSchema,
  CommandType,
  SeedOperation,
  type AdaptationCommand,
} from '../leyline/index.js';
import { toDeterministicBinary } from '../leyline/deterministic.js';
import {
  CommandVerifier,
  SIGNATURE_ANNOTATION,
  commandSigningPayload,
  signCommand,
  type CommandVerifierOptions,
} from './command-signing.js';
import { SecurityConfigError } from './errors.js';
import { NonceLedger } from './nonce-ledger.js';
import { LeylineSigner } from './signer.js';

const signer = new LeylineSigner('command-test-secret');

function germinate(annotations: Record<string, string> = { risk: 'low' }): AdaptationCommand {
  return create(AdaptationCommandSchema, {
    version: 1,
    commandType: CommandType.COMMAND_SEED,
    targetSeedId: 'seed-1',
    issuedBy: 'tamiyo',
    payload: {
      case: 'seedOperation',
      value: create(CommandSeedOperationSchema, { operation: SeedOperation.SEED_OP_GERMINATE, blueprintId: 'bp-demo', parameters: { alpha: 0.5 } }),
    },
    annotations,
  });
}

function setup(overrides: Partial<CommandVerifierOptions> = {}) {
  const clock = new ManualClock();
  let n = 0;
  const idFactory = () => `cmd-${++n}`;
  const verifier = new CommandVerifier({ signer, clock, ...overrides });
  const sign = (command: AdaptationCommand = germinate(), at: ManualClock = clock) => signCommand(command, signer, { clock: at, idFactory });
  return { clock, verifier, sign };
}

describe('signCommand', () => {
  it('assigns id and issued_at, signs, and leaves the input untouched', () => {
    const clock = new ManualClock(1_767_225_600_250);
    const input = germinate({ risk: 'low', [SIGNATURE_ANNOTATION]: 'stale-signature' });
    const before = clone(AdaptationCommandSchema, input);
    const signed = signCommand(input, signer, { clock, idFactory: () => 'cmd-fixed' });

    expect(equals(AdaptationCommandSchema, input, before)).toBe(true);
    expect(signed).not.toBe(input);
    expect(signed.commandId).toBe('cmd-fixed');
    expect(signed.issuedAt).toEqual(timestampFromMs(1_767_225_600_250));
    const signature = signed.annotations[SIGNATURE_ANNOTATION]!;
    expect(signature).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(signature).not.toBe('stale-signature');

    // The signature covers the deterministic encoding of the command without its signature.
    const unsigned = clone(AdaptationCommandSchema, signed);
    delete unsigned.annotations[SIGNATURE_ANNOTATION];
    const bytes = toDeterministicBinary(AdaptationCommandSchema, unsigned);
    expect(signer.sign(bytes)).toBe(signature);
    expect(commandSigningPayload(signed)).toEqual(bytes);
  });

  it('uses a random UUID v4 command id by default', () => {
    const a = signCommand(germinate(), signer, { clock: new ManualClock() });
    const b = signCommand(germinate(), signer, { clock: new ManualClock() });
    expect(a.commandId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.commandId).not.toBe(b.commandId);
  });

  it('gives the same signature whatever the annotation insertion order', () => {
    const clock = new ManualClock();
    const forward = signCommand(germinate({ a: '1', b: '2', c: '3', d: '4', risk: 'low' }), signer, { clock, idFactory: () => 'same' });
    const reverse = signCommand(germinate({ risk: 'low', d: '4', c: '3', b: '2', a: '1' }), signer, { clock, idFactory: () => 'same' });
    expect(forward.annotations[SIGNATURE_ANNOTATION]).toBe(reverse.annotations[SIGNATURE_ANNOTATION]);
  });

  it('keeps the signed §2.5 command fixture small and round-trippable', () => {
    const signed = signCommand(germinate(), signer, { clock: new ManualClock() });
    const bytes = toBinary(AdaptationCommandSchema, signed);
    // 36-char UUID + 44-char signature on top of the reference's < 280 B unsigned fixture.
    expect(bytes.length).toBeLessThan(280);
    expect(equals(AdaptationCommandSchema, fromBinary(AdaptationCommandSchema, bytes), signed)).toBe(true);
  });
});

describe('cross-implementation vector', () => {
  // Bytes from the C++ protobuf runtime, computed once with
  //   protoc --deterministic_output --encode=esper.leyline.v1.AdaptationCommand leyline.proto < cmd.txtpb | base64
  // (the textproto lists map entries out of order), and the signature with
  //   openssl dgst -sha256 -hmac 'command-test-secret' -binary | base64
  const EXPECTED_BYTES_B64 =
    'CAESCGNtZC0wMDAxGAEiBnNlZWQtMTILCIDy1soGEIDlmnc6BnRhbWl5b1ImCAESB2JwLWRlbW8aDAoFYWxwaGEVAAAAPxoLCgRiZXRhFQAAgD6iAQYKAWESATGiAQsKBHJpc2sSA2xvd6IBBwoBehICMjY=';
  const EXPECTED_SIGNATURE = 'iDxYdyXK7qVy/RTVpnrKOPjdxvuh63kHzr7ZNUf4O+I=';

  function vectorCommand(): AdaptationCommand {
    return create(AdaptationCommandSchema, {
      version: 1,
      commandId: 'cmd-0001',
      commandType: CommandType.COMMAND_SEED,
      targetSeedId: 'seed-1',
      issuedAt: timestampFromMs(1_767_225_600_250),
      issuedBy: 'tamiyo',
      payload: {
        case: 'seedOperation',
        value: create(CommandSeedOperationSchema, { operation: SeedOperation.SEED_OP_GERMINATE, blueprintId: 'bp-demo', parameters: { beta: 0.25, alpha: 0.5 } }),
      },
      annotations: { z: '26', [SIGNATURE_ANNOTATION]: 'whatever', risk: 'low', a: '1' },
    });
  }

  it('signs exactly the bytes protoc produces deterministically', () => {
    expect(Buffer.from(commandSigningPayload(vectorCommand())).toString('base64')).toBe(EXPECTED_BYTES_B64);
    expect(signer.sign(commandSigningPayload(vectorCommand()))).toBe(EXPECTED_SIGNATURE);
  });

  it('signCommand and CommandVerifier agree with the vector', () => {
    const clock = new ManualClock(1_767_225_600_250);
    const signed = signCommand(vectorCommand(), signer, { clock, idFactory: () => 'cmd-0001' });
    expect(signed.annotations[SIGNATURE_ANNOTATION]).toBe(EXPECTED_SIGNATURE);
    const received = vectorCommand();
    received.annotations[SIGNATURE_ANNOTATION] = EXPECTED_SIGNATURE;
    expect(new CommandVerifier({ signer, clock }).verify(received)).toEqual({ ok: true });
  });
});

describe('CommandVerifier', () => {
  it('accepts a freshly signed command once', () => {
    const { verifier, sign } = setup();
    const command = sign();
    expect(verifier.verify(command)).toEqual({ ok: true });
    expect(verifier.verify(command)).toEqual({ ok: false, reason: 'nonce_replayed' });
  });

  it('survives a wire round trip and annotation reordering', () => {
    const { verifier, sign } = setup();
    const signed = sign(germinate({ z: '26', a: '1', risk: 'low' }));
    const received = fromBinary(AdaptationCommandSchema, toBinary(AdaptationCommandSchema, signed));
    const reordered = { ...received, annotations: Object.fromEntries(Object.entries(received.annotations).reverse()) };
    expect(verifier.verify(reordered)).toEqual({ ok: true });
  });

  it('does not mutate the command it verifies', () => {
    const { verifier, sign } = setup();
    const command = sign();
    const snapshot = clone(AdaptationCommandSchema, command);
    const annotationKeys = Object.keys(command.annotations);
    verifier.verify(command);
    verifier.verify(command);
    expect(equals(AdaptationCommandSchema, command, snapshot)).toBe(true);
    expect(Object.keys(command.annotations)).toEqual(annotationKeys);
  });

  describe('rejection reasons', () => {
    it('missing_signature: no annotation, or an empty one', () => {
      const { verifier, sign } = setup();
      const signed = sign();
      const { [SIGNATURE_ANNOTATION]: _dropped, ...rest } = signed.annotations;
      expect(verifier.verify({ ...signed, annotations: rest })).toEqual({ ok: false, reason: 'missing_signature' });
      expect(verifier.verify({ ...signed, annotations: { ...rest, [SIGNATURE_ANNOTATION]: '' } })).toEqual({
        ok: false,
        reason: 'missing_signature',
      });
    });

    it('invalid_signature: tampered field, tampered annotation, wrong secret, garbage', () => {
      const { clock, verifier, sign } = setup();
      const signed = sign();
      expect(verifier.verify({ ...signed, targetSeedId: 'seed-2' })).toEqual({ ok: false, reason: 'invalid_signature' });
      expect(verifier.verify({ ...signed, annotations: { ...signed.annotations, risk: 'high' } })).toEqual({
        ok: false,
        reason: 'invalid_signature',
      });
      expect(verifier.verify({ ...signed, annotations: { ...signed.annotations, extra: 'x' } })).toEqual({
        ok: false,
        reason: 'invalid_signature',
      });
      const foreign = signCommand(germinate(), new LeylineSigner('other-secret'), { clock });
      expect(verifier.verify(foreign)).toEqual({ ok: false, reason: 'invalid_signature' });
      expect(verifier.verify({ ...signed, annotations: { ...signed.annotations, [SIGNATURE_ANNOTATION]: 'not base64 !' } })).toEqual({
        ok: false,
        reason: 'invalid_signature',
      });
    });

    it('missing_command_id: a validly signed command without an id', () => {
      const { clock, verifier } = setup();
      const signed = signCommand(germinate(), signer, { clock, idFactory: () => '' });
      expect(verifier.verify(signed)).toEqual({ ok: false, reason: 'missing_command_id' });
    });

    it('missing_timestamp: a validly signed command without issued_at', () => {
      const { verifier, sign } = setup();
      const command = sign();
      command.issuedAt = undefined;
      command.annotations[SIGNATURE_ANNOTATION] = signer.sign(commandSigningPayload(command));
      expect(verifier.verify(command)).toEqual({ ok: false, reason: 'missing_timestamp' });
    });

    it('issued_in_future: beyond 5 s ahead; exactly 5 s is accepted', () => {
      const { clock, verifier, sign } = setup();
      const ahead = new ManualClock(clock.nowMs() + 5_001);
      expect(verifier.verify(sign(germinate(), ahead))).toEqual({ ok: false, reason: 'issued_in_future' });
      expect(verifier.verify(sign(germinate(), new ManualClock(clock.nowMs() + 30_000)))).toEqual({ ok: false, reason: 'issued_in_future' });
      expect(verifier.verify(sign(germinate(), new ManualClock(clock.nowMs() + 5_000)))).toEqual({ ok: true });
    });

    it('stale_command: older than 60 s; exactly 60 s is accepted', () => {
      const { clock, verifier, sign } = setup();
      const edge = sign();
      const late = sign();
      clock.advance(60_000);
      expect(verifier.verify(edge)).toEqual({ ok: true });
      clock.advance(1);
      expect(verifier.verify(late)).toEqual({ ok: false, reason: 'stale_command' });
      clock.advance(60_000);
      expect(verifier.verify(sign(germinate(), new ManualClock(clock.nowMs() - 120_000)))).toEqual({ ok: false, reason: 'stale_command' });
    });

    it('nonce_replayed: the same id within the nonce window, even re-signed with a new timestamp', () => {
      const { clock, verifier } = setup();
      const first = signCommand(germinate(), signer, { clock, idFactory: () => 'dup' });
      expect(verifier.verify(first)).toEqual({ ok: true });
      clock.advance(30_000);
      const second = signCommand(germinate(), signer, { clock, idFactory: () => 'dup' });
      expect(verifier.verify(second)).toEqual({ ok: false, reason: 'nonce_replayed' });
      clock.advance(270_000); // 300 s after the first: the ledger forgets 'dup'
      const third = signCommand(germinate(), signer, { clock, idFactory: () => 'dup' });
      expect(verifier.verify(third)).toEqual({ ok: true });
    });
  });

  describe('nonce recording', () => {
    it('a forged command does not burn the legitimate id', () => {
      const { verifier, sign } = setup();
      const legit = sign();
      const forged = { ...legit, targetSeedId: 'seed-evil' };
      expect(verifier.verify(forged)).toEqual({ ok: false, reason: 'invalid_signature' });
      expect(verifier.verify(legit)).toEqual({ ok: true });
    });

    it('a future-dated command does not burn its id and is accepted once it is in range', () => {
      const { clock, verifier, sign } = setup();
      const early = sign(germinate(), new ManualClock(clock.nowMs() + 10_000));
      expect(verifier.verify(early)).toEqual({ ok: false, reason: 'issued_in_future' });
      clock.advance(5_000);
      expect(verifier.verify(early)).toEqual({ ok: true });
      expect(verifier.verify(early)).toEqual({ ok: false, reason: 'nonce_replayed' });
    });

    it('uses the injected ledger, shared across verifiers', () => {
      const clock = new ManualClock();
      const nonceLedger = new NonceLedger({ clock });
      const a = new CommandVerifier({ signer, clock, nonceLedger });
      const b = new CommandVerifier({ signer, clock, nonceLedger });
      const command = signCommand(germinate(), signer, { clock });
      expect(a.verify(command)).toEqual({ ok: true });
      expect(b.verify(command)).toEqual({ ok: false, reason: 'nonce_replayed' });
      expect(nonceLedger.has(command.commandId)).toBe(true);
    });
  });

  it('works with any Signer implementation (the kernel port)', () => {
    const clock = new ManualClock();
    const calls: string[] = [];
    const spy: Signer = {
      sign: (bytes) => {
        calls.push('sign');
        return signer.sign(bytes);
      },
      verify: (bytes, signature) => {
        calls.push('verify');
        return signer.verify(bytes, signature);
      },
    };
    const verifier = new CommandVerifier({ signer: spy, clock });
    expect(verifier.verify(signCommand(germinate(), spy, { clock }))).toEqual({ ok: true });
    expect(calls).toEqual(['sign', 'verify']);
  });

  it('applies custom windows', () => {
    const clock = new ManualClock();
    const verifier = new CommandVerifier({ signer, clock, freshnessWindowMs: 1_000, maxFutureSkewMs: 0 });
    expect(verifier.verify(signCommand(germinate(), signer, { clock: new ManualClock(clock.nowMs() + 1) }))).toEqual({
      ok: false,
      reason: 'issued_in_future',
    });
    const command = signCommand(germinate(), signer, { clock });
    clock.advance(1_001);
    expect(verifier.verify(command)).toEqual({ ok: false, reason: 'stale_command' });
  });

  it.each([
    ['a nonce window shorter than freshness + skew', { nonceLedger: new NonceLedger({ clock: new ManualClock(), windowMs: 64_999 }) }],
    ['a non-positive freshness window', { freshnessWindowMs: 0 }],
    ['a negative future skew', { maxFutureSkewMs: -1 }],
  ])('refuses %s with ESPER_SECURITY_CONFIG_INVALID', (_label, options) => {
    expect(() => new CommandVerifier({ signer, clock: new ManualClock(), ...options })).toThrow(SecurityConfigError);
  });
});
