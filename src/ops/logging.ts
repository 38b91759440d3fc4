/**
 * Where the logs go: every line, whatever its level, is one JSON object on stdout, written in
 * batches so that the access log does not cost a write per request. The start and stop lines
 * (`scoreboard.start`) are always written, whatever LOG_LEVEL says.
 */
import {
  configure,
  dispose,
  getStreamSink,
  jsonLinesFormatter,
  type LogLevel,
} from "@logtape/logtape";

/** Sends the service's logs to stdout from `level` up (warning: no access log). */
export async function configureLogging(level: LogLevel): Promise<void> {
  await configure({
    sinks: {
      stdout: getStreamSink(Deno.stdout.writable, {
        formatter: jsonLinesFormatter,
        nonBlocking: { bufferSize: 1000, flushInterval: 50 },
      }),
    },
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
}

/** Writes out what is buffered; call before the process exits. */
export async function flushLogs(): Promise<void> {
  await dispose();
}
