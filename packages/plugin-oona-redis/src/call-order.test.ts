import { describe, expect, it } from 'vitest';
import { CallOrder, type Lane } from './call-order.js';

/** Records which calls started; `answer(name)` ends one. */
function harness() {
  const order = new CallOrder();
  const started: string[] = [];
  const call = (lane: Lane, name: string): void =>
    order.run(lane, () => {
      order.begin();
      started.push(name);
    });
  return { order, started, call, answer: () => order.end() };
}

describe('CallOrder', () => {
  it('runs calls of one lane together and holds the other lane until they are answered', () => {
    const { started, call, answer } = harness();
    call('append', 'a1');
    call('append', 'a2');
    call('command', 'c1');
    call('command', 'c2');
    call('append', 'a3');
    expect(started).toEqual(['a1', 'a2']);
    answer();
    expect(started).toEqual(['a1', 'a2']);
    answer();
    // Consecutive waiters of one lane start together; a3 waits behind them.
    expect(started).toEqual(['a1', 'a2', 'c1', 'c2']);
    answer();
    answer();
    expect(started).toEqual(['a1', 'a2', 'c1', 'c2', 'a3']);
  });

  it('a call of the running lane waits while an earlier call of the other lane waits (call order)', () => {
    const { started, call, answer } = harness();
    call('command', 'c1');
    call('append', 'a1');
    call('command', 'c2');
    expect(started).toEqual(['c1']);
    answer();
    expect(started).toEqual(['c1', 'a1']);
    answer();
    expect(started).toEqual(['c1', 'a1', 'c2']);
  });

  it('tryBegin starts at once only when nothing of the other lane is running or waiting', () => {
    const { order, started, call, answer } = harness();
    expect(order.tryBegin('command')).toBe(true);
    expect(order.tryBegin('command')).toBe(true);
    expect(order.tryBegin('append')).toBe(false);
    call('append', 'a1');
    expect(order.tryBegin('command')).toBe(false);
    answer();
    answer();
    expect(started).toEqual(['a1']);
  });

  it('a start that sends nothing, or whose call fails at once, lets the next lane go on', () => {
    const order = new CallOrder();
    const started: string[] = [];
    order.run('command', () => {
      order.begin();
      started.push('c1');
    });
    order.run('append', () => {
      // A write on a lost connection fails inside start().
      order.begin();
      started.push('a1');
      order.end();
    });
    order.run('command', () => started.push('c2 (sends nothing)'));
    order.run('append', () => {
      order.begin();
      started.push('a2');
    });
    order.end();
    expect(started).toEqual(['c1', 'a1', 'c2 (sends nothing)', 'a2']);
  });
});
