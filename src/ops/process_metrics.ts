/**
 * The process's own health for /metrics: memory (resident, heap, external), CPU, start time and
 * event-loop delay. Written here rather than taken from prom-client's defaults, which read
 * /proc (outside the server's permissions: they report 0) and whose loop-delay monitor does not
 * see a blocked loop under Deno.
 */
import process from "node:process";
import client from "prom-client";

/** How often the event loop is asked to run a timer; lateness is the delay. */
const PROBE_MS = 50;

/** Registers the process metrics on `registry` under `prefix`; returns a stop function. */
export function processMetrics(registry: client.Registry, prefix: string): () => void {
  const registers = [registry];
  const memory = (name: string, help: string, read: (m: Deno.MemoryUsage) => number) =>
    new client.Gauge({
      name: `${prefix}${name}`,
      help,
      registers,
      collect() {
        this.set(read(Deno.memoryUsage()));
      },
    });
  memory("process_resident_memory_bytes", "Resident memory of the process.", (m) => m.rss);
  memory("process_heap_used_bytes", "V8 heap in use.", (m) => m.heapUsed);
  memory("process_heap_total_bytes", "V8 heap reserved.", (m) => m.heapTotal);
  memory("process_external_memory_bytes", "Memory of buffers outside the heap.", (m) => m.external);
  new client.Counter({
    name: `${prefix}process_cpu_seconds_total`,
    help: "CPU time of the process, user and system.",
    registers,
    collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
  new client.Gauge({
    name: `${prefix}process_start_time_seconds`,
    help: "When the process started, in seconds since the epoch.",
    registers,
  }).set(Math.round(Date.now() / 1000 - performance.now() / 1000));
  const delay = new client.Histogram({
    name: `${prefix}event_loop_delay_seconds`,
    help: `How late a timer asked for every ${PROBE_MS} ms ran: the event loop's delay.`,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    delay.observe(Math.max(0, now - last - PROBE_MS) / 1000);
    last = now;
  }, PROBE_MS);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
