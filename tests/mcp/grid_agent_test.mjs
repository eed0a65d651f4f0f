// An agent's power-flow session with tools alone (issue 11 item 5): the
// official MCP TypeScript SDK client drives `bver mcp` (stdio) on the grid
// example, imports MATPOWER's case118, runs the power flow, and asks which
// buses are under 0.95 p.u. -- the answer checked against MATPOWER's own
// solution. Run by CTest: node tests/mcp/grid_agent_test.mjs BVER_EXE PACK_DIR.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const [exe, pack] = process.argv.slice(2).map((p) => (p ? path.resolve(p) : p));
assert.ok(exe && fs.existsSync(exe), `usage: node grid_agent_test.mjs BVER_EXE PACK_DIR (got ${exe})`);
assert.ok(pack && fs.existsSync(path.join(pack, "bver_plugin.yaml")), `no electrical pack in ${pack}`);
const root = path.join(here, "..", "..");
const shared = path.join(root, "..", "shared", "testdata", "matpower");

const project = fs.mkdtempSync(path.join(os.tmpdir(), "bver-grid-mcp-"));
// Removed however the script ends, also when a step before the try throws.
process.on("exit", () => fs.rmSync(project, { recursive: true, force: true }));
fs.copyFileSync(path.join(root, "examples", "grid", "bver.yaml"), path.join(project, "bver.yaml"));
execFileSync(exe, ["-C", project, "plugins", "install", pack], { stdio: "inherit" });

const env = { ...process.env };
delete env.BVER_API_KEY;
delete env.BVER_STORE;
const transport = new StdioClientTransport({ command: exe, args: ["mcp"], cwd: project, env, stderr: "inherit" });
const client = new Client({ name: "bver-grid-agent-test", version: "0.1.0" });

let failed = false;
async function step(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

async function call(name, args) {
  const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 120000 });
  assert.notEqual(r.isError, true, `${name}: ${JSON.stringify(r).slice(0, 800)}`);
  return r.structuredContent;
}

try {
  await client.connect(transport);
  let network, study;

  await step("the grid tools are listed", async () => {
    const names = [];
    let cursor;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
    } while (cursor);
    for (const n of ["jobs.import.start", "jobs.powerflow.start", "jobs.status", "refs.study.get", "resolve",
                     "jobs.check.start", "jobs.contingency.start", "jobs.shortcircuit.start", "jobs.evaluate.start",
                     "jobs.resolve.start", "jobs.substation.start", "orch.study_network.start"]) {
      assert.ok(names.includes(n), `${n} missing from ${names.join(" ")}`);
    }
  });

  await step("import case118 with jobs.import.start", async () => {
    const job = await call("jobs.import.start", { input: { file: path.join(shared, "m", "case118.m") }, wait: 60 });
    assert.equal(job.state, "succeeded", JSON.stringify(job).slice(0, 800));
    network = job.result.network;
    assert.equal(network, "bver://grid/network/case118");
  });

  await step("run the power flow with jobs.powerflow.start", async () => {
    const job = await call("jobs.powerflow.start", { input: { network }, wait: 60 });
    assert.equal(job.state, "succeeded", JSON.stringify(job).slice(0, 800));
    assert.equal(job.result.converged, true);
    study = job.result.study;
    assert.match(study, /^bver:\/\/grid\/study\//);
  });

  await step("which buses are under 0.95 p.u.? (resolve on the study)", async () => {
    const low = await call("resolve", { pointer: `${study}@summary.low_voltage_buses` });
    const value = low.value ?? low;
    const got = value.map((b) => b.number).sort((a, b) => a - b);
    const sol = JSON.parse(fs.readFileSync(path.join(shared, "solutions", "case118.json"), "utf8"));
    const want = sol.bus.filter((_, i) => sol.vm[i] < 0.95).sort((a, b) => a - b);
    assert.deepEqual(got, want);
    for (const b of value) assert.match(b.bus, /^bver:\/\/grid\/bus\/case118-bus-\d+~1$/);
  });

  await step("the study loop with tools alone: orch.study_network.start, then the network's mark", async () => {
    let run = await call("orch.study_network.start", { input: { network }, wait: 60 });
    for (let i = 0; i < 10 && !["succeeded", "failed", "cancelled"].includes(run.state); ++i) {
      run = await call("orch.study_network.get", { run_id: run.run_id ?? run.id, wait: 60 });
    }
    assert.equal(run.state, "succeeded", JSON.stringify(run).slice(0, 1500));
    const net = await call("refs.network.get", { pointer: network });
    const studied = (net.body ?? net).studied;
    assert.ok(studied, `no studied mark: ${JSON.stringify(net).slice(0, 800)}`);
    assert.equal(studied.passed, true);
    assert.equal(studied.metrics.n1_outages, 186 + 54);  // every branch and generator is in service
    assert.ok(studied.metrics.max_ik_ka > 0);
    assert.equal(studied.studies.length, 3);
  });

  await step("which equipment is 'line 8-5'? (jobs.resolve.start)", async () => {
    const job = await call("jobs.resolve.start", { input: { network, query: "branch 8-5" }, wait: 60 });
    assert.equal(job.state, "succeeded", JSON.stringify(job).slice(0, 800));
    assert.deepEqual(job.result.pointers, ["bver://grid/branch/case118-br-8-5-1"]);
  });

  await step("the study is a resource at its pointer", async () => {
    const res = await client.readResource({ uri: study });
    const body = JSON.parse(res.contents[0].text);
    assert.equal((body.body ?? body).converged, true);
  });
} finally {
  await client.close();
  fs.rmSync(project, { recursive: true, force: true });
}
if (failed) process.exit(1);
console.log("grid agent test: all steps passed");
