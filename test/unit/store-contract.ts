import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LimitPolicy } from '../../src/config/types.js';
import type { LimitStore } from '../../src/limit/stores/store.js';

export const policy = (id: string, rate: number, burst: number): LimitPolicy => ({
  id,
  rate,
  burst,
  key: [{ kind: 'ip' }],
  headers: { legacy: true, draft: true },
});

export interface ContractStore {
  store: LimitStore;
  /** Moves the store's clock forward. */
  advance(ms: number): Promise<void> | void;
  close(): Promise<void>;
}

/**
 * The semantics every store must share, run against each store (memory now, a
 * networked store later): same decisions, same header numbers.
 */
export function runStoreContract(name: string, newStore: () => Promise<ContractStore>): void {
  const take = async (s: LimitStore, p: LimitPolicy, key: string) => s.consume(p, key);

  test(`${name}: burst passes, then 429 numbers match the token bucket`, async () => {
    const { store, close } = await newStore();
    const p = policy('contract-a', 5, 3);
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await take(store, p, 'client'));
    assert.deepEqual(seen.map((d) => d.allowed), [true, true, true, false]);
    assert.deepEqual(seen.map((d) => d.remaining), [2, 1, 0, 0]);
    assert.equal(seen[3]!.retryAfterSeconds, 1);
    assert.equal(seen[2]!.resetSeconds, 1); // 3 tokens at 5/s = 0.6 s
    await close();
  });

  test(`${name}: clients and policies are isolated`, async () => {
    const { store, close } = await newStore();
    const p = policy('contract-b', 1, 1);
    const q = policy('contract-c', 1, 1);
    assert.equal((await take(store, p, 'alice')).allowed, true);
    assert.equal((await take(store, p, 'alice')).allowed, false);
    assert.equal((await take(store, p, 'bob')).allowed, true, 'another client has its own bucket');
    assert.equal((await take(store, q, 'alice')).allowed, true, 'another policy has its own bucket');
    await close();
  });

  test(`${name}: refill over time`, async () => {
    const { store, advance, close } = await newStore();
    const p = policy('contract-d', 2, 2);
    await take(store, p, 'c');
    await take(store, p, 'c');
    assert.equal((await take(store, p, 'c')).allowed, false);
    await advance(500);
    const d = await take(store, p, 'c');
    assert.equal(d.allowed, true);
    assert.equal(d.remaining, 0);
    await close();
  });
}
