/**
 * The completion batcher's rules, on its own: alone when idle, together while busy, one key never
 * twice in flight, and a batch's row error reaching only its row. (That PostgreSQL writes a batch
 * exactly is in completions_test.ts.)
 */
import assert from "node:assert/strict";
import { type BatchOptions, createBatcher, TooLate } from "../src/actions/batches.ts";

interface Item {
  key: number;
  name: string;
}

/** A batcher whose `send` is held until the test lets it go: every batch sent, in order. */
function held(options: Partial<BatchOptions<Item, string>> = {}) {
  const sent: { names: string[]; release(error?: unknown): void }[] = [];
  const batcher = createBatcher<Item, string>({
    concurrency: 1,
    maxSize: 64,
    stallMs: 60_000,
    key: (item) => item.key,
    send: (items) =>
      new Promise((resolve, reject) => {
        sent.push({
          names: items.map((i) => i.name),
          release: (error) => error ? reject(error) : resolve(items.map((i) => `${i.name}!`)),
        });
      }),
    retryAlone: () => false,
    ...options,
  });
  return { batcher, sent };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("[batches] alone when idle; what arrives meanwhile goes together, in arrival order", async () => {
  const { batcher, sent } = held();
  const a = batcher.submit({ key: 1, name: "a" });
  assert.deepEqual(sent.map((s) => s.names), [["a"]], "sent at once, alone");
  const rest = ["b", "c", "d"].map((name, i) => batcher.submit({ key: 2 + i, name }));
  assert.equal(sent.length, 1, "nothing more is sent while one is in flight");
  assert.equal(batcher.waiting, 3);
  sent[0].release();
  assert.equal(await a, "a!");
  await tick();
  assert.deepEqual(sent.map((s) => s.names), [["a"], ["b", "c", "d"]]);
  sent[1].release();
  assert.deepEqual(await Promise.all(rest), ["b!", "c!", "d!"]);
  assert.equal(batcher.waiting, 0);
});

Deno.test("[batches] one key is never twice in a batch nor in flight twice; its items keep their order", async () => {
  const { batcher, sent } = held({ concurrency: 3 });
  const results = [
    batcher.submit({ key: 1, name: "1a" }),
    batcher.submit({ key: 1, name: "1b" }),
    batcher.submit({ key: 1, name: "1c" }),
    batcher.submit({ key: 2, name: "2a" }),
  ];
  // 1a alone at once; 1b must wait for it although there is room; 2a goes.
  assert.deepEqual(sent.map((s) => s.names), [["1a"], ["2a"]]);
  sent[1].release();
  await tick();
  assert.deepEqual(sent.map((s) => s.names), [["1a"], ["2a"]], "2a landing frees no key 1");
  sent[0].release();
  await tick();
  assert.deepEqual(sent.map((s) => s.names), [["1a"], ["2a"], ["1b"]]);
  sent[2].release();
  await tick();
  assert.deepEqual(sent.map((s) => s.names), [["1a"], ["2a"], ["1b"], ["1c"]]);
  sent[3].release();
  assert.deepEqual(await Promise.all(results), ["1a!", "1b!", "1c!", "2a!"]);
});

Deno.test("[batches] at most maxSize in one batch; the rest go in the next", async () => {
  const { batcher, sent } = held({ maxSize: 2 });
  const all = ["a", "b", "c", "d", "e"].map((name, i) => batcher.submit({ key: i, name }));
  sent[0].release();
  await tick();
  sent[1].release();
  await tick();
  sent[2].release();
  assert.deepEqual(await Promise.all(all), ["a!", "b!", "c!", "d!", "e!"]);
  assert.deepEqual(sent.map((s) => s.names), [["a"], ["b", "c"], ["d", "e"]]);
});

Deno.test("[batches] a row's error: each item is sent again alone, and only that one fails", async () => {
  const batches: string[][] = [];
  const batcher = createBatcher<Item, string>({
    concurrency: 1,
    maxSize: 64,
    stallMs: 60_000,
    key: (item) => item.key,
    send: async (items) => {
      batches.push(items.map((i) => i.name));
      await tick();
      if (items.some((i) => i.name === "bad")) throw new Error("out of range");
      return items.map((i) => `${i.name}!`);
    },
    retryAlone: (error) => (error as Error).message === "out of range",
  });
  const first = batcher.submit({ key: 0, name: "first" });
  const rest = ["x", "bad", "y"].map((name, i) =>
    batcher.submit({ key: i + 1, name }).catch((e: Error) => `failed: ${e.message}`)
  );
  assert.equal(await first, "first!");
  assert.deepEqual(await Promise.all(rest), ["x!", "failed: out of range", "y!"]);
  assert.deepEqual(batches, [["first"], ["x", "bad", "y"], ["x"], ["bad"], ["y"]]);
});

Deno.test("[batches] an error that is not a row's fails the whole batch, sent once", async () => {
  const { batcher, sent } = held();
  const first = batcher.submit({ key: 0, name: "first" });
  const rest = ["x", "y"].map((name, i) =>
    batcher.submit({ key: i + 1, name }).catch((e: Error) => `failed: ${e.message}`)
  );
  sent[0].release();
  await first;
  await tick();
  sent[1].release(new Error("connection closed"));
  assert.deepEqual(await Promise.all(rest), [
    "failed: connection closed",
    "failed: connection closed",
  ]);
  assert.equal(sent.length, 2);
  // and the batcher goes on
  const after = batcher.submit({ key: 1, name: "after" });
  sent[2].release();
  assert.equal(await after, "after!");
});

Deno.test("[batches] what still waits at its deadline is refused, not sent; what came later still goes", async () => {
  const { batcher, sent } = held();
  const first = batcher.submit({ key: 0, name: "first" });
  const until = performance.now() + 20;
  const stale = ["x", "y"].map((name, i) =>
    batcher.submit({ key: i + 1, name }, until).catch((e: unknown) => e)
  );
  const patient = batcher.submit({ key: 3, name: "z" }, performance.now() + 60_000);
  await new Promise((resolve) => setTimeout(resolve, 40)); // past x's and y's deadline
  const fresh = batcher.submit({ key: 1, name: "x2" });
  sent[0].release();
  assert.equal(await first, "first!");
  for (const error of await Promise.all(stale)) assert.ok(error instanceof TooLate, `${error}`);
  await tick();
  assert.deepEqual(sent.map((s) => s.names), [["first"], ["x2", "z"]]);
  sent[1].release();
  assert.deepEqual(await Promise.all([patient, fresh]), ["z!", "x2!"]);
  assert.equal(batcher.waiting, 0);
});

Deno.test("[batches] a batch in flight past stallMs no longer holds its place", async () => {
  const { batcher, sent } = held({ stallMs: 20 });
  const stuck = batcher.submit({ key: 0, name: "stuck" });
  const waiting = batcher.submit({ key: 1, name: "waiting" });
  assert.deepEqual(sent.map((s) => s.names), [["stuck"]]);
  await new Promise((resolve) => setTimeout(resolve, 60)); // "stuck" stalls: "waiting" goes
  assert.deepEqual(sent.map((s) => s.names), [["stuck"], ["waiting"]]);
  const again = batcher.submit({ key: 0, name: "stuck again" }); // its key is still in flight
  const other = batcher.submit({ key: 2, name: "other" });
  assert.deepEqual(sent.map((s) => s.names), [["stuck"], ["waiting"], ["other"]]);
  for (const s of sent) s.release();
  assert.deepEqual(await Promise.all([waiting, other]), ["waiting!", "other!"]);
  assert.equal(await stuck, "stuck!");
  await tick();
  sent.at(-1)!.release();
  assert.equal(await again, "stuck again!");
});
