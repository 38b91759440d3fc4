/** The batched stdout sink (src/ops/logging.ts), with a writer of the test's own. */
import assert from "node:assert/strict";
import { batchedStdoutSink } from "../src/ops/logging.ts";

/** A writer that keeps what it is given; `gate`, while pending, holds every write. */
function recorder() {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  let open: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  return {
    writes,
    hold() {
      gate = new Promise((resolve) => open = resolve);
    },
    release: () => open(),
    async write(bytes: Uint8Array): Promise<number> {
      await gate;
      // At most 1000 bytes a call, as a pipe may take: the sink must write the rest itself.
      const taken = bytes.subarray(0, 1000);
      writes.push(decoder.decode(taken, { stream: true }));
      return taken.length;
    },
  };
}

Deno.test("[logging] lines are written whole and in order, many in one write, and flushed on dispose", async () => {
  const out = recorder();
  const sink = batchedStdoutSink((bytes) => out.write(bytes));
  const lines = Array.from({ length: 50 }, (_, i) => `{"n":${i},"text":"é ✓ ${"x".repeat(i)}"}\n`);
  for (const line of lines) sink.line(line);
  assert.equal(out.writes.length, 0, "nothing is written before the batch's time");
  await sink[Symbol.asyncDispose]();
  assert.equal(out.writes.join(""), lines.join(""));
  assert.ok(out.writes.length <= 3, `${out.writes.length} writes for 50 lines`);
});

Deno.test("[logging] a batch is written by itself once the lines waited a few milliseconds", async () => {
  const out = recorder();
  const sink = batchedStdoutSink((bytes) => out.write(bytes));
  sink.line('{"a":1}\n');
  sink.line('{"b":2}\n');
  for (let i = 0; i < 100 && out.writes.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(out.writes.join(""), '{"a":1}\n{"b":2}\n');
  await sink[Symbol.asyncDispose]();
});

Deno.test("[logging] while stdout does not take lines, those past 8 MB are dropped and counted", async () => {
  const out = recorder();
  out.hold();
  const sink = batchedStdoutSink((bytes) => out.write(bytes));
  const line = `{"pad":"${"p".repeat(1000)}"}\n`;
  const sent = 10_000; // about 10 MB
  for (let i = 0; i < sent; i++) sink.line(line);
  out.release();
  await sink[Symbol.asyncDispose](); // what was kept is written out
  sink.line('{"last":true}\n');
  await sink[Symbol.asyncDispose]();
  const text = out.writes.join("");
  const kept = text.split(line).length - 1;
  assert.ok(kept > 7000 && kept < sent, `${kept} of ${sent} kept`);
  const notice = JSON.parse(text.split("\n").find((l) => l.includes("dropped"))!);
  assert.deepEqual(notice, { level: "WARN", message: `${sent - kept} log lines dropped` });
  assert.ok(text.endsWith('{"last":true}\n'));
});
