/** A small Server-Sent Events client for tests: reads a stream's events one by one. */

/** One event, or a comment (`event` "comment"). */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
  retry?: number;
}

/** An open stream. */
export interface SseStream {
  readonly response: Response;
  /** The next event; rejects when none comes within `ms` or the stream ends. */
  next(ms?: number): Promise<SseEvent>;
  /** Reads events until `match` holds for one, which it returns. */
  until(match: (event: SseEvent) => boolean, ms?: number): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended(ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens `url` and checks that it is an event stream. */
export async function openStream(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  return await readStream(response, () => controller.abort());
}

/** Reads the events of a stream's response (from `fetch` or an in-process app). */
export async function readStream(response: Response, abort = () => {}): Promise<SseStream> {
  if (!response.ok || !response.body) {
    throw new Error(`stream: ${response.status} ${await response.text()}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const queue: SseEvent[] = [];
  let buffered = "";
  let done = false;
  let pending: Promise<ReadableStreamReadResult<string>> | undefined;

  function parse(block: string): SseEvent | undefined {
    const event: SseEvent = { event: "message", data: "" };
    const data: string[] = [];
    let comment = true;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      comment = false;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") data.push(value);
      else if (field === "event") event.event = value;
      else if (field === "id") event.id = value;
      else if (field === "retry") event.retry = Number(value);
    }
    if (comment) return { event: "comment", data: block };
    event.data = data.join("\n");
    return event;
  }

  async function pull(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
    });
    try {
      // A read that times out is kept for the next pull: its chunk must not be lost.
      pending ??= reader.read();
      const { value, done: end } = await Promise.race([pending, timeout]);
      pending = undefined;
      if (end) {
        done = true;
        return;
      }
      buffered += value;
      let split;
      while ((split = buffered.indexOf("\n\n")) >= 0) {
        const event = parse(buffered.slice(0, split));
        buffered = buffered.slice(split + 2);
        if (event) queue.push(event);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async function next(ms = 5000): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    while (queue.length === 0) {
      if (done) throw new Error("the stream ended");
      await pull(Math.max(1, deadline - Date.now()));
    }
    return queue.shift()!;
  }

  return {
    response,
    next,
    async until(match, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const event = await next(Math.max(1, deadline - Date.now()));
        if (match(event)) return event;
      }
    },
    async ended(ms = 5000) {
      const deadline = Date.now() + ms;
      while (!done) {
        queue.length = 0;
        await pull(Math.max(1, deadline - Date.now()));
      }
    },
    async close() {
      abort();
      await reader.cancel().catch(() => {});
    },
  };
}
