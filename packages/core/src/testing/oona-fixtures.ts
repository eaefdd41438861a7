/**
 * Entries as the Python reference client writes them (reference §1.4), produced by a
 * stand-alone Python script with the standard library only (hand-encoded protobuf, `hmac`,
 * `base64`): the bytes and signature do not come from this code base.
 */

/** Secret the fixture was signed with (`ESPER_LEYLINE_SECRET`). */
export const PYTHON_FIXTURE_SECRET = 'esper-reference-secret';

/**
 * `BusEnvelope{message_type: EMERGENCY_SIGNAL(10), payload: EmergencySignal{version 1, level
 * HALT(4), reason "loss_spike", origin "tolaria", triggered_at 1767225600.5 s, monotonic_time_ms
 * 123456789, run_id "run-42", attributes {epoch: "3", mode: "automatic"}}, attributes {origin,
 * reason, level: "4"}}`, hex.
 */
export const PYTHON_EMERGENCY_ENVELOPE_HEX = '080a1253080110041a0a6c6f73735f7370696b652207746f6c617269612a0c0880f2d6ca061080cab5ee0130959aef3a3a0672756e2d3432420a0a0565706f636812013342110a046d6f646512096175746f6d617469631a110a066f726967696e1207746f6c617269611a140a06726561736f6e120a6c6f73735f7370696b651a0a0a056c6576656c120134';

/** Base64 HMAC-SHA256 of the envelope bytes with {@link PYTHON_FIXTURE_SECRET}. */
export const PYTHON_EMERGENCY_SIGNATURE = '1BwZk3fsBitGCdH+NfRBhThETlJXkjzIGud/V6u1GAw=';
