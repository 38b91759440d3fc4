/**
 * `deno task bench`: the four scenarios of the performance targets, one after another (so that
 * no two loads share the 2 cores), each against real server processes with its reference measured
 * in the same run. Prints the table, writes bench/results.json, and puts the table in
 * bench/README.md between its markers.
 *
 *   deno task bench                 (ONLY=completions,reads,fan-out,logins to pick some)
 */
import { run as completions } from "./completions.ts";
import type { Row } from "./lib.ts";
import { run as fanOut } from "./live.ts";
import { run as logins } from "./logins.ts";
import { run as reads } from "./reads.ts";

const SCENARIOS: Record<string, () => Promise<Row>> = {
  completions,
  reads,
  "fan-out": fanOut,
  logins,
};

const only = Deno.env.get("ONLY")?.split(",") ?? Object.keys(SCENARIOS);
const rows: Row[] = [];
for (const name of only) {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`no scenario ${name} (${Object.keys(SCENARIOS).join(", ")})`);
  console.log(`\n== ${name}`);
  const started = performance.now();
  rows.push(await scenario());
  console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

function cpuModel(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return /model name\s*:\s*(.+)/.exec(info)?.[1] ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

const machine = `${navigator.hardwareConcurrency} cores (${cpuModel()}), ` +
  `${Math.round(Deno.systemMemoryInfo().total / 2 ** 30)} GiB, Deno ${Deno.version.deno}, ` +
  `${new Date().toISOString().slice(0, 10)}`;
const cell = (text: string) => text.replaceAll("|", "\\|");
const table = [
  "| scenario | figure | reference in the same run | result | target | met |",
  "|---|---|---|---|---|---|",
  ...rows.map((row) =>
    `| ${row.scenario} | ${cell(row.figure)} | ${cell(row.reference)} | ${cell(row.result)} | ` +
    `${cell(row.target)} | ${row.met === null ? "—" : row.met ? "yes" : "no"} |`
  ),
].join("\n");
console.log(`\n${machine}\n\n${table}`);

const here = new URL("./", import.meta.url);
await Deno.writeTextFile(
  new URL("results.json", here),
  JSON.stringify({ machine, at: new Date().toISOString(), rows }, null, 2) + "\n",
);
const readme = new URL("README.md", here);
const text = await Deno.readTextFile(readme);
const [start, end] = ["<!-- results -->", "<!-- /results -->"];
if (text.includes(start) && text.includes(end) && only.length === Object.keys(SCENARIOS).length) {
  await Deno.writeTextFile(
    readme,
    text.slice(0, text.indexOf(start) + start.length) + `\n\n${machine}\n\n${table}\n\n` +
      text.slice(text.indexOf(end)),
  );
  // Aligned as `deno fmt` wants it, so that the gate stays green.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", readme.pathname] }).output();
}
