/**
 * The hub's streams attached to a node socket (HTTP_SERVER=node), on their own: the server attaches
 * the socket after the response has started, and what happened meanwhile counts.
 */
import assert from "node:assert/strict";
import { openLocalFeed } from "../src/leaderboard/feed.ts";
import { systemClock, windowAt } from "../src/leaderboard/periods.ts";
import { ATTACH, type AttachableBody, type NodeSink } from "../src/http/node_server.ts";
import { createLiveHub } from "../src/live/hub.ts";

/** A hub over a local feed whose board's one entry has `points()` points. */
function hubOf(points: () => number) {
  const feed = openLocalFeed(() => {});
  const hub = createLiveHub({
    feed,
    clock: systemClock,
    top: (period) =>
      Promise.resolve({
        window: windowAt(period, Date.now()),
        total: 1,
        entries: [{ rank: 1, accountId: 1, username: "ann", totalPoints: points() }],
      }),
    intervalMs: 10,
    heartbeatMs: 60_000,
    retryMs: 1000,
    lifetimeMs: 0,
    maxClients: 10,
    maxBufferedBytes: 1 << 20,
    attach: true,
    onStreams() {},
    onBroadcast() {},
    onRefused() {},
    onSlowReader() {},
    onError() {},
  });
  return { hub, feed };
}

/** A socket that keeps what is written to it. */
function socket() {
  const decoder = new TextDecoder();
  const sink = {
    text: "",
    ended: false,
    pending: 0,
    write(bytes: Uint8Array) {
      sink.text += decoder.decode(bytes);
    },
    end() {
      sink.ended = true;
    },
    onClose() {},
  };
  return sink satisfies NodeSink;
}

Deno.test("[hub] a stream attached after the board was sent again starts from the newer board", async () => {
  let points = 1;
  const { hub, feed } = hubOf(() => points);
  try {
    // One stream open already, so that the board is sent again on a change.
    const watching = socket();
    ((await hub.open("all")) as unknown as AttachableBody)[ATTACH](watching);
    const body = (await hub.open("all")) as unknown as AttachableBody;
    points = 2;
    feed.announce();
    for (let i = 0; i < 100 && !watching.text.includes('"totalPoints":2'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.match(watching.text, /"totalPoints":2/);
    const late = socket();
    body[ATTACH](late);
    assert.match(late.text, /"totalPoints":2/);
    assert.doesNotMatch(late.text, /"totalPoints":1/);
  } finally {
    hub.close();
    await feed.close();
  }
});

Deno.test("[hub] a stream attached once the hub is closing is ended, not kept", async () => {
  const { hub, feed } = hubOf(() => 1);
  try {
    const body = (await hub.open("all")) as unknown as AttachableBody;
    hub.close();
    const late = socket();
    body[ATTACH](late);
    assert.equal(late.ended, true);
    assert.equal(hub.size, 0);
  } finally {
    await feed.close();
  }
});
