// `bver up`'s /mcp endpoint checked by the official MCP conformance runner
// (@modelcontextprotocol/conformance 0.1.13, the newest that runs on Node
// 20; pinned in tests/mcp/package-lock.json, installed by
// scripts/npm_test_deps.sh, never downloaded here). Run by CTest:
// node tests/mcp/conformance_test.mjs BVER_EXE from the source root.
//
// The scenarios that need no fixture tools or resources (docs/mcp.md);
// each must pass: the runner exits non-zero on a failed check.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { startServer, stopServer } from "./serve.mjs";

const kScenarios = ["server-initialize", "ping", "tools-list", "resources-list", "dns-rebinding-protection"];

const here = path.dirname(fileURLToPath(import.meta.url));
const exe = process.argv[2] && path.resolve(process.argv[2]);
assert.ok(exe && fs.existsSync(exe), `usage: node conformance_test.mjs BVER_EXE (got ${exe})`);
const runner = path.join(here, "node_modules", ".bin", "conformance");
assert.ok(fs.existsSync(runner), `${runner} is missing: run scripts/npm_test_deps.sh`);

const project = fs.mkdtempSync(path.join(os.tmpdir(), "bver-mcp-conformance-"));
fs.copyFileSync(path.join(here, "..", "..", "examples", "substation", "bver.yaml"), path.join(project, "bver.yaml"));
const env = { ...process.env };
delete env.BVER_API_KEY;
delete env.BVER_STORE;

let passed = 0;
let failed = 0;
let server;
try {
  // resources-list looks at the resources listed: have one.
  const made = spawnSync(exe, ["ref", "create", "site", "--data", '{"name":"North"}'], { cwd: project, env });
  assert.equal(made.status, 0, `bver ref create: ${made.stderr}`);
  server = await startServer(exe, project, env);
  for (const scenario of kScenarios) {
    const run = spawnSync(
      runner,
      ["server", "--url", `${server.url}/mcp`, "--scenario", scenario, "-o", path.join(project, "results")],
      { encoding: "utf8", timeout: 120000 },
    );
    const ok = run.status === 0;
    const summary = `${run.stdout}\n${run.stderr}`.match(/Passed: \d+\/\d+, \d+ failed, \d+ warnings/);
    console.log(`${ok ? "ok  " : "FAIL"} ${scenario}: ${summary ? summary[0] : `exit ${run.status}`}`);
    if (ok) {
      passed++;
    } else {
      failed++;
      console.log(run.stdout, run.stderr, run.error ?? "");
    }
  }
  const code = await stopServer(server);
  server = undefined;
  if (code !== 0) {
    failed++;
    console.log(`FAIL bver up exited with ${code} after SIGTERM`);
  }
} catch (e) {
  failed++;
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
} finally {
  if (server) server.child.kill("SIGKILL");
  fs.rmSync(project, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === kScenarios.length ? 0 : 1);
