// page_test.js — the web page end to end in headless Chromium (Debian's
// chromium package, driven by playwright-core; no browser is downloaded):
// search "Star Wars", rate 5 films, 10 recommendations appear, a film's
// facts and neighbours show; the page makes no request off the server and
// logs no error. Saves a screenshot.
// Usage: node page_test.js URL SCREENSHOT.png
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const [url, shot] = process.argv.slice(2);
if (!url || !shot) {
  console.error("usage: node page_test.js URL SCREENSHOT.png");
  process.exit(2);
}
const origin = new URL(url).origin;

function fail(msg) {
  console.error("FAIL: " + msg);
  process.exitCode = 1;
  throw new Error(msg);
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "factorlens-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const offsite = [], problems = [];
  try {
    // Anything not on the server is refused and remembered: the page must
    // need no CDN and fetch nothing from elsewhere.
    await context.route("**/*", (route) => {
      const u = route.request().url();
      if (u.startsWith(origin + "/")) return route.continue();
      offsite.push(u);
      return route.abort();
    });
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.setDefaultTimeout(20000);

    await page.goto(url);
    await page.waitForSelector("#results li");
    await page.fill("#search", "Star Wars");
    await page.waitForFunction(() => {
      const t = document.querySelector("#results li .title");
      return t && t.textContent.includes("Star Wars") && document.getElementById("search-hint").textContent.includes("Star Wars");
    });
    await page.click("#results li:first-child .star[data-value='5']");
    await page.waitForSelector("#recs li");

    // Four more, from the most rated films.
    await page.fill("#search", "");
    await page.waitForFunction(() => document.getElementById("search-hint").textContent === "Most rated films:");
    const want = [5, 4, 5, 3];
    let given = 0;
    for (const row of await page.$$("#results li")) {
      if (given === want.length) break;
      const on = await row.$$(".star.on");
      if (on.length) continue; // already rated (Star Wars is among the most rated)
      await (await row.$(`.star[data-value='${want[given]}']`)).click();
      given++;
    }
    if (given !== 4) fail(`rated ${given + 1} films, wanted 5`);
    await page.waitForFunction(() => document.querySelectorAll("#rated li").length === 5 &&
      document.getElementById("recs-hint").textContent.startsWith("From your 5 ratings"));
    await page.waitForFunction(() => document.querySelectorAll("#recs li").length === 10);
    const recs = await page.$$eval("#recs li .title", (ts) => ts.map((t) => t.textContent));
    const ratedTitles = await page.$$eval("#rated li .title", (ts) => ts.map((t) => t.textContent));
    if (recs.some((t) => !t)) fail("a recommendation without a title");
    if (recs.some((t) => ratedTitles.includes(t))) fail("a rated film is recommended back");
    console.log("ok: 5 films rated, 10 recommendations: " + recs.slice(0, 3).join(" | ") + " ...");

    // A film's facts and neighbours.
    await page.fill("#search", "Star Wars");
    await page.waitForFunction(() => document.getElementById("search-hint").textContent.includes("Star Wars"));
    await page.click("#results li:first-child .title");
    await page.waitForFunction(() => !document.getElementById("detail").hidden &&
      document.querySelectorAll("#similar li").length === 10);
    const facts = await page.$eval(".facts", (d) => d.textContent);
    if (!/stars/.test(facts) || /unknown/.test(facts)) fail(`facts of Star Wars: ${facts}`);
    console.log("ok: detail panel: " + facts.replace(/\s+/g, " ").trim());

    await page.screenshot({ path: shot, fullPage: true });
    console.log("ok: screenshot " + shot);
    if (offsite.length) fail("requests off the server: " + offsite.join(", "));
    if (problems.length) fail(problems.join("; "));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch((e) => {
  if (!process.exitCode) console.error("FAIL: " + (e && e.stack ? e.stack : e));
  process.exitCode = 1;
});
