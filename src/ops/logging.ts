/**
 * Where the logs go: every line, whatever its level, is one line on stdout — a JSON object for
 * machines (LOG_FORMAT=json, the default when stdout is not a terminal), or a readable line for a
 * person at a terminal (LOG_FORMAT=pretty). Lines are written in batches — one write for all the
 * lines of a few milliseconds — so that the access log does not cost a system call per request.
 * The start and stop lines (`scoreboard.start`) are always written, whatever LOG_LEVEL says.
 */
import {
  compareLogLevel,
  configure,
  dispose,
  getAnsiColorFormatter,
  getTextFormatter,
  jsonLinesFormatter,
  type LogLevel,
  type LogRecord,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";

/** How lines are written: JSON objects, or readable text. */
export type LogFormat = "json" | "pretty";

/** Readable lines: time, level, category, the message with its values; coloured or not. */
const PRETTY = { timestamp: "time", value: "bare", category: "." } as const;

/** How long a line may wait for others before it is written. */
const FLUSH_MS = 10;

/** Lines are kept as text and encoded once per batch; a batch is written at this many characters. */
const BATCH_CHARS = 64 * 1024;

/**
 * Past this many bytes waiting to be written (stdout does not keep up), new lines are dropped and
 * counted rather than held: the service must not run out of memory for its logs.
 */
const MAX_WAITING_BYTES = 8 * 1024 * 1024;

/** A sink that writes lines to stdout in batches; `line` adds a line formatted already. */
export function batchedStdoutSink(
  write: (bytes: Uint8Array) => Promise<number> = (bytes) => Deno.stdout.write(bytes),
  format: TextFormatter = jsonLinesFormatter,
): Sink & AsyncDisposable & { line(text: string): void } {
  const encoder = new TextEncoder();
  let batch: string[] = [];
  let chars = 0;
  let waiting = 0;
  let dropped = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> = Promise.resolve();

  async function writeAll(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length;) done += await write(bytes.subarray(done));
    waiting -= bytes.length;
  }

  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    if (chars === 0) return writing;
    // One encoding per batch, not one per line (each is a call out of JavaScript).
    const bytes = encoder.encode(batch.join(""));
    waiting += bytes.length;
    batch = [];
    chars = 0;
    writing = writing.then(() => writeAll(bytes)).catch(() => {});
    return writing;
  }

  function line(text: string): void {
    if (waiting + chars > MAX_WAITING_BYTES) {
      dropped++;
      return;
    }
    if (dropped > 0) {
      const notice = JSON.stringify({ level: "WARN", message: `${dropped} log lines dropped` });
      dropped = 0;
      line(notice + "\n");
    }
    batch.push(text);
    chars += text.length;
    if (chars >= BATCH_CHARS) flush();
    else timer ??= setTimeout(flush, FLUSH_MS);
  }

  const sink = (record: LogRecord) => line(format(record));
  return Object.assign(sink, { line, [Symbol.asyncDispose]: () => flush() });
}

/** One request of the access log (see access_log.ts). */
export interface AccessRecord {
  method: string;
  route: string;
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
  client: string;
}

/** Writes one access-log line. */
export type AccessLogWriter = (record: AccessRecord) => void;

/**
 * Sends the service's logs to stdout from `level` up, and returns the access log's writer, or
 * null when `level` is above info (warning: no access log). The access log is the one log of
 * every request: its lines are formatted here directly, in the shape of every other line
 * (logtape's JSON lines), at a fifth of the cost of going through a logger.
 */
export async function configureLogging(
  level: LogLevel,
  format: LogFormat = "json",
  color = false,
): Promise<AccessLogWriter | null> {
  const stdout = batchedStdoutSink(
    undefined,
    format === "json"
      ? jsonLinesFormatter
      : color
      ? getAnsiColorFormatter(PRETTY)
      : getTextFormatter({ ...PRETTY, level: "ABBR" }),
  );
  await configure({
    sinks: { stdout },
    loggers: [
      { category: ["scoreboard"], lowestLevel: level, sinks: ["stdout"] },
      {
        category: ["scoreboard", "start"],
        lowestLevel: "info",
        sinks: ["stdout"],
        parentSinks: "override",
      },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stdout"] },
    ],
  });
  if (compareLogLevel(level, "info") > 0) return null;
  return format === "json" ? accessLogWriter(stdout) : prettyAccessLogWriter(stdout, color);
}

/** The access log's writer into `sink`, as readable lines. */
function prettyAccessLogWriter(sink: { line(text: string): void }, color: boolean) {
  const dim = (text: string) => color ? `\x1b[2m${text}\x1b[0m` : text;
  return (r: AccessRecord) => {
    const time = new Date().toISOString().slice(11, 23);
    sink.line(
      `${dim(time)} ${color ? "INF" : "[INF]"} ${
        dim("scoreboard.http:")
      } ${r.method} ${r.path} ${r.status} ` +
        `${r.durationMs} ms (${r.client}, ${r.requestId})\n`,
    );
  };
}

/** The access log's writer into `sink`: each record formatted directly as a JSON line. */
export function accessLogWriter(sink: { line(text: string): void }): AccessLogWriter {
  // The timestamp's text, made once per millisecond.
  let stampedAt = 0;
  let stamp = "";
  return (r) => {
    const now = Date.now();
    if (now !== stampedAt) {
      stampedAt = now;
      stamp = new Date(now).toISOString();
    }
    const path = JSON.stringify(r.path);
    const method = JSON.stringify(r.method);
    sink.line(
      `{"@timestamp":"${stamp}","level":"INFO","message":${
        JSON.stringify(`${r.method} ${r.path} ${r.status}`)
      },"logger":"scoreboard.http","properties":{"method":${method},"route":${
        JSON.stringify(r.route)
      },"path":${path},"status":${r.status},"durationMs":${r.durationMs},"requestId":${
        JSON.stringify(r.requestId)
      },"client":${JSON.stringify(r.client)}}}\n`,
    );
  };
}

/** Writes out what is buffered; call before the process exits. */
export async function flushLogs(): Promise<void> {
  await dispose();
}
