// GET /docs in the system's headless Chromium against a real bver up: Swagger
// UI renders every operation from this server alone (no CDN, no script
// error, no CSP violation), and a request sent from the page ("Try it out",
// "Execute") succeeds; the curl it shows names this server and no key.
//   node docs_ui_test.mjs BASE_URL SCREENSHOT.png
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [, , baseUrl, screenshot] = process.argv;
const profile = mkdtempSync(join(tmpdir(), "bver-docs-ui-"));
const problems = [];
let failed = false;

async function step(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    failed = true;
  }
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  userDataDir: profile,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1600 });
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(baseUrl) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });

  await step("the page renders every operation from this server alone", async () => {
    const res = await page.goto(`${baseUrl}/docs`, { waitUntil: "networkidle0", timeout: 60000 });
    assert.equal(res.status(), 200);
    await page.waitForSelector(".opblock", { timeout: 60000 });
    const count = await page.$$eval(".opblock", (els) => els.length);
    assert.ok(count > 50, `only ${count} operations rendered`);
    assert.deepEqual(foreign, [], "requests to other hosts");
  });

  await step("a request sent from the page succeeds", async () => {
    // The GET /v1/refs/sites/site card (list sites), found again by its path
    // each time: React re-renders it as it opens.
    const inCard = async (selector, timeout = 30000) => {
      const lookup = (sel) => {
        const block = [...document.querySelectorAll(".opblock.opblock-get")].find(
          (b) => (b.querySelector(".opblock-summary-path")?.textContent || "").replace(/\u200b/g, "").trim() ===
                 "/v1/refs/sites/site");
        return block ? block.querySelector(sel) : null;
      };
      await page.waitForFunction(lookup, { timeout }, selector);
      return page.evaluateHandle(lookup, selector);
    };
    const summary = await inCard(".opblock-summary");
    await summary.click();
    await (await inCard(".try-out__btn")).click();
    await (await inCard(".execute")).click();
    const status = await (await inCard(".live-responses-table tr.response .response-col_status"))
        .evaluate((e) => e.textContent.trim());
    assert.equal(status, "200");
    const body = await (await inCard(".live-responses-table tr.response .response-col_description")).evaluate((e) => e.textContent);
    const curl = await (await inCard(".curl-command")).evaluate((e) => e.textContent);
    assert.ok(body.includes("bver://sites/site/docs-ui~1"), `the answer lists the site: ${body.slice(0, 300)} (sent: ${curl})`);
    assert.ok(curl.includes(`${baseUrl}/v1/refs/sites/site`), `the curl names this server: ${curl}`);
    assert.ok(!curl.includes("Authorization"), `no key is needed here: ${curl}`);
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  });

  await step("no script error and no CSP violation", async () => {
    assert.deepEqual(problems, []);
  });
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failed ? "docs ui test: FAILED" : "docs ui test: all steps passed");
process.exit(failed ? 1 : 0);
