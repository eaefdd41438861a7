import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isEsperError } from '../errors.js';
import { SigningSecretMissingError } from './errors.js';
import { LEYLINE_SECRET_ENV, LEYLINE_SIGNATURE_HEADER, LeylineSigner } from './signer.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const SECRET = 'super-secret-value-9f3a';

describe('LeylineSigner known answers', () => {
  // Expected values computed once with: printf '<msg>' | openssl dgst -sha256 -hmac '<key>' -binary | base64
  const vectors: ReadonlyArray<readonly [key: string, message: string, expected: string]> = [
    ['key', 'The quick brown fox jumps over the lazy dog', '97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg='],
    ['esper-test-secret', '', 'M2iKwyDEQ1h1vn9gfBSUnlINOzJJqkor0UYegNGB60c='],
    ['clé-ß', 'leyline', 'SfLKtmHWPCxEJ7B4/AQKV8i5r0A7ehHPJHm8riWEIio='],
  ];

  it.each(vectors)('HMAC-SHA256(%j, %j) matches openssl', (key, message, expected) => {
    const signer = new LeylineSigner(key);
    expect(signer.sign(utf8(message))).toBe(expected);
    // Independent computation with node:crypto directly.
    expect(createHmac('sha256', Buffer.from(key, 'utf8')).update(message, 'utf8').digest('base64')).toBe(expected);
    expect(signer.verify(utf8(message), expected)).toBe(true);
  });

  it('uses the UTF-8 bytes of the secret, not a hex decoding', () => {
    const hexLooking = 'deadbeef';
    expect(new LeylineSigner(hexLooking).sign(utf8('x'))).toBe(
      createHmac('sha256', Buffer.from(hexLooking, 'utf8')).update('x').digest('base64'),
    );
    expect(new LeylineSigner(hexLooking).sign(utf8('x'))).not.toBe(
      createHmac('sha256', Buffer.from(hexLooking, 'hex')).update('x').digest('base64'),
    );
  });

  it('accepts raw key bytes equal to the string form', () => {
    expect(new LeylineSigner(utf8('key')).sign(utf8('m'))).toBe(new LeylineSigner('key').sign(utf8('m')));
  });

  it('produces standard padded Base64 of 32 bytes', () => {
    const sig = new LeylineSigner(SECRET).sign(utf8('payload'));
    expect(sig).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });
});

describe('LeylineSigner.verify', () => {
  const signer = new LeylineSigner(SECRET);
  const message = utf8('envelope bytes');
  const good = signer.sign(message);

  it('detects a tampered message', () => {
    const tampered = Uint8Array.from(message);
    tampered[0] = tampered[0]! ^ 1;
    expect(signer.verify(tampered, good)).toBe(false);
  });

  it('detects a tampered signature', () => {
    const flipped = (good[0] === 'A' ? 'B' : 'A') + good.slice(1);
    expect(signer.verify(message, flipped)).toBe(false);
  });

  it('rejects a signature made with another secret', () => {
    expect(new LeylineSigner('other-secret').verify(message, good)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['truncated', good.slice(0, -1)],
    ['unpadded', good.replace(/=+$/, '')],
    ['too long', `${good}AAAA`],
    ['not base64', '!'.repeat(44)],
    ['URL-safe alphabet', good.replace(/\+/g, '-').replace(/\//g, '_')],
    ['non-ASCII same length', `Ł${good.slice(1)}`],
  ])('returns false (never throws) for a %s signature', (_label, signature) => {
    if (signature === good) return; // URL-safe form of a signature without + or / is identical
    expect(signer.verify(message, signature)).toBe(false);
  });

  it('returns false instead of throwing for non-string or non-bytes input', () => {
    expect(signer.verify(message, undefined as unknown as string)).toBe(false);
    expect(signer.verify(null as unknown as Uint8Array, good)).toBe(false);
  });
});

describe('LeylineSigner secrets', () => {
  it('fromEnv reads ESPER_LEYLINE_SECRET', () => {
    expect(LEYLINE_SECRET_ENV).toBe('ESPER_LEYLINE_SECRET');
    expect(LEYLINE_SIGNATURE_HEADER).toBe('X-Leyline-Signature');
    const fromEnv = LeylineSigner.fromEnv({ ESPER_LEYLINE_SECRET: SECRET });
    expect(fromEnv.sign(utf8('m'))).toBe(new LeylineSigner(SECRET).sign(utf8('m')));
    expect(fromEnv.headerName).toBe('X-Leyline-Signature');
  });

  it.each([
    ['absent', {}],
    ['empty', { ESPER_LEYLINE_SECRET: '' }],
    ['blank', { ESPER_LEYLINE_SECRET: '   ' }],
  ])('fromEnv with the variable %s throws ESPER_SECURITY_SECRET_MISSING with a fix', (_label, env) => {
    let caught: unknown;
    try {
      LeylineSigner.fromEnv(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SigningSecretMissingError);
    expect(isEsperError(caught, 'ESPER_SECURITY_SECRET_MISSING')).toBe(true);
    expect((caught as Error).message).toMatch(/Set the environment variable ESPER_LEYLINE_SECRET/);
  });

  it('rejects an empty secret in the constructor without echoing it', () => {
    expect(() => new LeylineSigner('')).toThrow(SigningSecretMissingError);
    expect(() => new LeylineSigner(new Uint8Array())).toThrow(SigningSecretMissingError);
    const blank = ' \t ';
    try {
      new LeylineSigner(blank);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain(blank);
    }
  });

  it('never shows the secret in toString, util.inspect, JSON or template strings', () => {
    const signer = new LeylineSigner(SECRET);
    const forms = [
      String(signer),
      `${signer}`,
      signer.toString(),
      inspect(signer),
      inspect(signer, { showHidden: true, depth: Infinity, getters: true }),
      inspect({ nested: { signer } }, { depth: Infinity }),
      JSON.stringify(signer),
      JSON.stringify({ signer }),
      Object.keys(signer).join(','),
    ];
    for (const form of forms) {
      expect(form).not.toContain(SECRET);
      expect(form).not.toContain(Buffer.from(SECRET).toString('base64'));
      expect(form).not.toContain(Buffer.from(SECRET).toString('hex'));
    }
    expect(inspect(signer)).toContain('[redacted]');
    expect(JSON.parse(JSON.stringify(signer))).toEqual({ algorithm: 'HMAC-SHA256', header: 'X-Leyline-Signature', secret: '[redacted]' });
  });

  it('does not leak the secret through errors raised while verifying', () => {
    const signer = new LeylineSigner(SECRET);
    // verify swallows internal errors; sign surfaces node's own error, which must not carry the key.
    try {
      signer.sign(42 as unknown as Uint8Array);
    } catch (error) {
      expect(String(error)).not.toContain(SECRET);
      expect(inspect(error)).not.toContain(SECRET);
    }
  });
});
