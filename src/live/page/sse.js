// A Server-Sent Events parser (the event-stream format of the HTML standard), fed text chunks
// as they arrive from fetch(); no DOM, so that it also runs under `deno test`.

/**
 * @typedef {{ type: string, data: string, id: string }} SseEvent
 * @typedef {{
 *   onEvent(event: SseEvent): void,
 *   onRetry?(ms: number): void,
 *   onComment?(text: string): void,
 * }} SseHandlers
 */

/**
 * A parser that calls `handlers` as complete lines arrive; chunks may split lines (and a CRLF
 * pair) anywhere.
 * @param {SseHandlers} handlers
 */
export function createSseParser(handlers) {
  let buffer = "";
  let started = false;
  let type = "";
  /** @type {string[]} */
  let data = [];
  let lastId = "";

  function dispatch() {
    if (data.length > 0) {
      handlers.onEvent({ type: type || "message", data: data.join("\n"), id: lastId });
    }
    type = "";
    data = [];
  }

  /** @param {string} line */
  function field(line) {
    if (line === "") return dispatch();
    if (line.startsWith(":")) return handlers.onComment?.(line.slice(1).trimStart());
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") type = value;
    else if (name === "data") data.push(value);
    else if (name === "id" && !value.includes("\0")) lastId = value;
    else if (name === "retry" && /^\d+$/.test(value)) handlers.onRetry?.(Number(value));
  }

  return {
    /** @param {string} chunk */
    push(chunk) {
      buffer += chunk;
      if (!started && buffer.length > 0) {
        started = true;
        if (buffer.startsWith("\uFEFF")) buffer = buffer.slice(1);
      }
      let start = 0;
      while (start < buffer.length) {
        const cr = buffer.indexOf("\r", start);
        const lf = buffer.indexOf("\n", start);
        let end;
        let next;
        if (cr >= 0 && (lf < 0 || cr < lf)) {
          // A CR last in the chunk may be the first half of a CRLF: wait for the next chunk.
          if (cr === buffer.length - 1) break;
          end = cr;
          next = buffer[cr + 1] === "\n" ? cr + 2 : cr + 1;
        } else if (lf >= 0) {
          end = lf;
          next = lf + 1;
        } else break;
        field(buffer.slice(start, end));
        start = next;
      }
      buffer = buffer.slice(start);
    },
  };
}
