// The curl example on every card of /docs/reference, pasted into a shell
// against a real `bver up` on the substation example, in page order. A
// placeholder word (ID, VERSION, JOB_ID, ...) is replaced by what an earlier
// example created, as a reader would; "..." values are left as printed.
//
// Every example must answer a status its card documents (a listed code, or
// the card's `default` problem), never 5xx, with a JSON body (a problem
// with its code for an error); and every example of the sites repo --
// create, get, replace, patch, history, versions, diff, delete, list, in
// the page's order -- must succeed as pasted, one after another.
//
// Run by CTest: node tests/docs_ui/curl_examples_test.mjs BVER_EXE from the
// source root. Needs curl and sh (scripts/deps.sh).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { startServer, stopServer } from "../mcp/serve.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const exe = process.argv[2] && path.resolve(process.argv[2]);
assert.ok(exe && fs.existsSync(exe), `usage: node curl_examples_test.mjs BVER_EXE (got ${exe})`);

const project = fs.mkdtempSync(path.join(os.tmpdir(), "bver-curl-examples-"));
process.on("exit", () => fs.rmSync(project, { recursive: true, force: true }));
fs.copyFileSync(path.join(here, "..", "..", "examples", "substation", "bver.yaml"), path.join(project, "bver.yaml"));
const env = { ...process.env };
delete env.BVER_API_KEY;
delete env.BVER_STORE;

function unescapeHtml(s) {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

// Runs a pasted command; its status and body.
function paste(command) {
  const bodyFile = path.join(project, "answer.json");
  const r = spawnSync("sh", ["-c", `${command} -o '${bodyFile}' -w '%{http_code}'`], { encoding: "utf8", timeout: 60000 });
  const status = Number(r.stdout.trim().slice(-3));
  const text = fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile, "utf8") : "";
  fs.rmSync(bodyFile, { force: true });
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status, text, body, err: r.stderr };
}

const server = await startServer(exe, project, env);
let failures = [];
try {
  const page = await (await fetch(`${server.url}/docs/reference`)).text();
  const cards = [...page.matchAll(/<section class="op"[^>]*>([\s\S]*?)<\/section>/g)].map((m) => m[1]);
  assert.ok(cards.length > 50, `only ${cards.length} cards`);

  // What earlier examples created, by placeholder word; ids per repo path.
  const filled = { VERSION: "1", FROM: "1", TO: "1" };
  const idOf = {};
  const siteRuns = [];
  let succeeded = 0;
  for (const card of cards) {
    const example = card.match(/<h4>Example<\/h4><pre>([\s\S]*?)<\/pre>/);
    assert.ok(example, "a card without an example");
    let command = unescapeHtml(example[1]);
    assert.ok(command.includes(server.url), `the example names another server: ${command}`);
    assert.ok(!command.includes("Authorization"), `an Authorization header with auth off: ${command}`);
    const documented = [...card.matchAll(/<summary><code>([0-9a-z]+)<\/code>/g)].map((m) => m[1]);
    const target = command.match(/'(http:\/\/[^']+)'/)[1].slice(server.url.length);
    const repo = target.match(/^\/v1\/refs\/[^/?]+\/[^/?]+/);
    if (repo && idOf[repo[0]]) command = command.replace(`${repo[0]}/ID`, `${repo[0]}/${idOf[repo[0]]}`);
    for (const [word, value] of Object.entries(filled)) command = command.replace(new RegExp(`\\b${word}\\b`, "g"), value);

    const a = paste(command);
    const line = command.split("\n")[0];
    const ok = a.status >= 200 && a.status < 300;
    if (ok) succeeded++;
    if (!(documented.includes(String(a.status)) || (!ok && documented.includes("default")))) {
      failures.push(`${line}: ${a.status} is not documented on its card (${documented.join(", ")})`);
    }
    if (!(a.status >= 200 && a.status < 500)) failures.push(`${line}: ${a.status} ${a.text.slice(0, 200)} ${a.err}`);
    if (a.status !== 204 && a.body === undefined) failures.push(`${line}: not JSON: ${a.text.slice(0, 200)}`);
    if (!ok && !(a.body && a.body.code)) failures.push(`${line}: an error without a problem code: ${a.text.slice(0, 200)}`);
    if (repo && repo[0] === "/v1/refs/sites/site") siteRuns.push({ line, ok, status: a.status, detail: a.body && a.body.detail });

    // What a reader would carry on to the next examples.
    if (ok && a.body) {
      if (repo && a.body.id && !idOf[repo[0]]) idOf[repo[0]] = a.body.id;
      if (a.body.job_id) filled.JOB_ID = a.body.job_id;
      if (a.body.run_id) filled.RUN_ID = a.body.run_id;
      if (a.body.pointer && !filled.POINTER) filled.POINTER = a.body.pointer;
    }
  }
  console.log(`${cards.length} examples pasted, ${succeeded} succeeded`);
  assert.ok(siteRuns.length >= 9, `only ${siteRuns.length} site examples`);
  for (const r of siteRuns) if (!r.ok) failures.push(`${r.line}: the sites example failed as pasted: ${r.status} ${r.detail}`);
} finally {
  const code = await stopServer(server);
  if (code !== 0) failures.push(`bver up exited with ${code}`);
}
if (failures.length) {
  for (const f of failures) console.log(`FAIL ${f}`);
  process.exit(1);
}
console.log("curl examples test: every example answered as its card documents");
