// Drives Debian's Chromium through `baton serve` and the HTML report, as a user
// would: each page, the key numbers, the clicks from runs to a run to a beat; no
// console error, no dialog, no request to another host. Started by
// crates/baton-cli/tests/serve.rs, which passes:
//   BATON_URL       the server's base URL (http://127.0.0.1:PORT)
//   BATON_EXPECT    JSON: {runsShown, runsTotal, beat, p50, shift, hostileBeats: [...]}
//   BATON_REPORT    the path of an HTML report file (opened from file://)
//   BATON_SHOTS     a directory for the screenshots
//   BATON_DOCS_SHOT optional: where to save the dashboard screenshot for the docs
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = new URL(process.env.BATON_URL);
const expect = JSON.parse(process.env.BATON_EXPECT);
const shots = process.env.BATON_SHOTS;
mkdirSync(shots, { recursive: true });
const problems = [];
const userDataDir = mkdtempSync(join(tmpdir(), "baton-chromium-"));

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1280, height: 900 },
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  let allowedOrigin = base.origin;
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on("dialog", async (dialog) => {
    problems.push(`a dialog opened on ${page.url()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    const ok = allowedOrigin === "file:" ? url.protocol === "file:" || url.protocol === "data:" : url.origin === allowedOrigin;
    if (!ok) problems.push(`request to another host: ${request.url()}`);
  });

  const text = async (selector) => (await page.locator(selector).first().textContent())?.trim();
  const check = (what, got, want) => {
    if (got !== want) problems.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };

  // Runs: the counts, then click the newest run.
  await page.goto(new URL("/runs", base).href);
  check("runs shown", await text("#runs-count"), String(expect.runsShown));
  check("runs in the history", await text("#runs-total"), String(expect.runsTotal));
  await page.screenshot({ path: join(shots, "runs.png"), fullPage: false });
  if (process.env.BATON_DOCS_SHOT) await page.screenshot({ path: process.env.BATON_DOCS_SHOT });
  // The oldest run shown is an imported one, which has the beat to follow.
  await page.locator("table.runs tbody tr a").last().click();
  await page.waitForSelector("#waterfall svg");
  check("run page has the beat table", (await page.locator("table.beats tbody tr").count()) > 0, true);
  await page.screenshot({ path: join(shots, "run.png"), fullPage: true });

  // Run → beat.
  await page.locator("table.beats td.beat a", { hasText: expect.beat }).first().click();
  await page.waitForSelector("#durations svg");
  check("beat p50", await text("#beat-p50"), expect.p50);
  const shifts = await page.locator("#changes .shift").allTextContents();
  check("beat change point shift", shifts.some((s) => s.startsWith(expect.shift)), true);
  await page.screenshot({ path: join(shots, "beat.png"), fullPage: true });

  // Pipelines: the regression with its shift.
  await page.goto(new URL("/pipelines", base).href);
  const regressions = await page.locator("table.regressions tr", { hasText: expect.beat }).locator(".shift").allTextContents();
  check("pipelines regression shift", regressions.some((s) => s.startsWith(expect.shift)), true);
  await page.screenshot({ path: join(shots, "pipelines.png"), fullPage: true });

  // Hostile beat names: their pages render them as text only.
  for (const [i, beat] of expect.hostileBeats.entries()) {
    const href = new URL(`/pipelines/${encodeURIComponent(expect.pipeline)}/beats/${encodeURIComponent(beat)}`, base).href;
    await page.goto(href);
    check(`hostile beat ${i} title`, (await text("main h1"))?.startsWith(beat), true);
    check(`hostile beat ${i} has no img`, await page.locator("main img").count(), 0);
  }

  // The HTML report from file://: no request anywhere else.
  allowedOrigin = "file:";
  await page.goto("file://" + process.env.BATON_REPORT);
  await page.waitForSelector("#waterfall svg");
  check("report beat rows", (await page.locator("table.beats tbody tr").count()) > 0, true);
  check("report has no img", await page.locator("img").count(), 0);
  await page.screenshot({ path: join(shots, "report.png"), fullPage: true });
} catch (err) {
  problems.push(`failed: ${err.message.split("\n")[0]}`);
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log("browser: every page checked");
