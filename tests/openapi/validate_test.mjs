// The OpenAPI document of `bver up`, checked by two independent tools
// (issue 4 item 1): @apidevtools/swagger-parser must validate it, and
// `redocly lint` (recommended ruleset, tests/openapi/redocly.yaml) must find
// no error and no warning. Run by CTest from the source root:
//   node tests/openapi/validate_test.mjs BVER_EXE
// The tools come from tests/openapi/node_modules (scripts/npm_test_deps.sh);
// a missing tool fails the test. As a control, a copy of the document with
// a dangling $ref must be rejected by both, so a tool that silently accepts
// everything cannot pass this test.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const exe = process.argv[2];
assert.ok(exe && fs.existsSync(exe), `usage: node validate_test.mjs BVER_EXE (got ${exe})`);

const SwaggerParser = require("@apidevtools/swagger-parser");
const redoclyCli = path.join(here, "node_modules", "@redocly", "cli", "bin", "cli.js");
assert.ok(fs.existsSync(redoclyCli), `missing ${redoclyCli}: run scripts/npm_test_deps.sh`);

const project = fs.mkdtempSync(path.join(os.tmpdir(), "bver-openapi-"));
fs.copyFileSync(path.join(here, "..", "..", "examples", "substation", "bver.yaml"), path.join(project, "bver.yaml"));

// Starts `bver up` on a free loopback port; resolves with its port.
function startServer() {
  const env = { ...process.env };
  delete env.BVER_STORE;
  const child = spawn(exe, ["-C", project, "up", "--listen", "127.0.0.1:0"], { env, stdio: ["ignore", "pipe", "inherit"] });
  const port = new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`bver up printed no address in 60 s: ${out}`)), 60000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /^listening on http:\/\/127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`bver up exited with ${code} before listening: ${out}`));
    });
  });
  return { child, port };
}

function redoclyLint(file) {
  const r = spawnSync(
    process.execPath,
    [redoclyCli, "lint", file, "--config", path.join(here, "redocly.yaml"), "--format=json", "--max-problems=1000"],
    { encoding: "utf8", env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" } },
  );
  let report = null;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    // reported below with the raw output
  }
  return { code: r.status, report, raw: `${r.stdout}\n${r.stderr}` };
}

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

const { child, port: portPromise } = startServer();
const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
try {
  const port = await portPromise;
  const res = await fetch(`http://127.0.0.1:${port}/v1/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  const text = await res.text();
  const doc = JSON.parse(text);
  const file = path.join(project, "openapi.json");
  fs.writeFileSync(file, text);

  await step("the document describes every operation", async () => {
    assert.equal(doc.openapi, "3.1.1");
    const ids = [];
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) ids.push(op.operationId);
    }
    assert.ok(ids.includes("refs.site.create") && ids.includes("ops.refs.site.create"), ids.join(" "));
    assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
  });

  await step("swagger-parser validates it", async () => {
    // validate() dereferences in place: give it a copy.
    await SwaggerParser.validate(structuredClone(doc));
  });

  await step("redocly lint: no errors, no warnings", async () => {
    const { code, report, raw } = redoclyLint(file);
    assert.ok(report, `no JSON report from redocly:\n${raw}`);
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`);
    assert.deepEqual(problems, []);
    assert.equal(report.totals.errors, 0);
    assert.equal(report.totals.warnings, 0);
    assert.equal(code, 0, raw);
  });

  await step("control: both tools reject a dangling $ref", async () => {
    const broken = structuredClone(doc);
    const op = broken.paths["/v1/refs/sites/site"].post;
    op.responses["201"].content["application/json"].schema = { $ref: "#/components/schemas/NoSuchSchema" };
    const brokenFile = path.join(project, "broken.json");
    fs.writeFileSync(brokenFile, JSON.stringify(broken));
    await assert.rejects(SwaggerParser.validate(structuredClone(broken)));
    const { code, report } = redoclyLint(brokenFile);
    assert.notEqual(code, 0);
    assert.ok(report && report.totals.errors > 0);
  });

  await step("SIGTERM stops the server with exit code 0", async () => {
    child.kill("SIGTERM");
    const { code, signal } = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
  });
} catch (e) {
  failed = true;
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
} finally {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  fs.rmSync(project, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
