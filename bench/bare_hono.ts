/**
 * The reads benchmark's reference: a bare Hono app on Deno.serve that answers GET /leaderboard
 * with the bytes in the file `Deno.args[0]`, on port `Deno.args[1]`. Nothing else.
 */
import { Hono } from "hono";

const body = await Deno.readFile(Deno.args[0]);
const app = new Hono();
app.get("/leaderboard", (c) => c.body(body, 200, { "content-type": "application/json" }));
Deno.serve({
  port: Number(Deno.args[1]),
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, app.fetch);
