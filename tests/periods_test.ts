import assert from "node:assert/strict";
import { isCurrent, windowAt } from "../src/leaderboard/periods.ts";

const at = (iso: string) => Date.parse(iso);
const bounds = (period: "day" | "week" | "month", iso: string) => {
  const window = windowAt(period, at(iso));
  return [window.start!.toISOString(), window.end!.toISOString(), window.id];
};

Deno.test("[periods] a day turns at 00:00 UTC: 23:59:59.999 is the day before", () => {
  assert.deepEqual(bounds("day", "2026-11-24T23:59:59.999Z"), [
    "2026-11-24T00:00:00.000Z",
    "2026-11-25T00:00:00.000Z",
    "day:2026-11-24",
  ]);
  assert.deepEqual(bounds("day", "2026-11-25T00:00:00.000Z")[2], "day:2026-11-25");
  // An offset is only another way of writing the same instant.
  assert.deepEqual(bounds("day", "2026-11-25T01:30:00+02:00")[2], "day:2026-11-24");
});

Deno.test("[periods] weeks are ISO weeks: Sunday 23:59:59.999 belongs to the week of Monday before", () => {
  // 2026-11-29 is a Sunday, 2026-11-30 a Monday.
  assert.deepEqual(bounds("week", "2026-11-29T23:59:59.999Z"), [
    "2026-11-23T00:00:00.000Z",
    "2026-11-30T00:00:00.000Z",
    "week:2026-11-23",
  ]);
  assert.deepEqual(bounds("week", "2026-11-30T00:00:00.000Z"), [
    "2026-11-30T00:00:00.000Z",
    "2026-12-07T00:00:00.000Z",
    "week:2026-11-30",
  ]);
  // A week across a year's end starts in the old year.
  assert.equal(bounds("week", "2027-01-01T12:00:00Z")[2], "week:2026-12-28");
});

Deno.test("[periods] months turn on the 1st; a leap day is a day of February", () => {
  assert.deepEqual(bounds("month", "2026-12-31T23:59:59.999Z"), [
    "2026-12-01T00:00:00.000Z",
    "2027-01-01T00:00:00.000Z",
    "month:2026-12-01",
  ]);
  assert.equal(bounds("month", "2027-01-01T00:00:00.000Z")[2], "month:2027-01-01");
  assert.deepEqual(bounds("day", "2028-02-29T12:00:00Z"), [
    "2028-02-29T00:00:00.000Z",
    "2028-03-01T00:00:00.000Z",
    "day:2028-02-29",
  ]);
  assert.deepEqual(bounds("month", "2028-02-29T23:59:59.999Z"), [
    "2028-02-01T00:00:00.000Z",
    "2028-03-01T00:00:00.000Z",
    "month:2028-02-01",
  ]);
});

Deno.test("[periods] all time is one window without bounds; isCurrent follows the clock", () => {
  const all = windowAt("all", at("2026-11-25T00:00:00Z"));
  assert.deepEqual([all.start, all.end, all.id], [null, null, "all"]);
  assert.ok(isCurrent(all, 0));
  const day = windowAt("day", at("2026-11-25T10:00:00Z"));
  assert.ok(isCurrent(day, at("2026-11-25T23:59:59.999Z")));
  assert.ok(!isCurrent(day, at("2026-11-26T00:00:00Z")));
  assert.ok(!isCurrent(day, at("2026-11-24T23:59:59.999Z")));
});
