// Drives Debian's Chromium through Imagegram's web client, as a person
// would: sign in, post a multi-megabyte photo through tus with the network
// cut mid-upload and restored, see the post published through the event
// stream, comment and delete the comment, hear of someone else's comment,
// scroll the feed past a page, and reload mid-upload to carry on.
// Run by tests/it/web_client.rs, which starts the server and passes:
//   BASE       the server's base URL
//   IMAGE      a multi-megabyte PNG
//   SHOTS      where to save screenshots
//   BOB_TOKEN  another user's token, to comment on the new post
//   CHROMIUM   the browser (Debian's /usr/bin/chromium)
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const { BASE, IMAGE, SHOTS, BOB_TOKEN } = process.env;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
mkdirSync(SHOTS, { recursive: true });

const step = (text) => console.log(`step: ${text}`);
function check(ok, text) {
  if (!ok) throw new Error(`failed: ${text}`);
}
/** Waits (at most 30 s) until `done()` holds. */
async function until(done, what) {
  const deadline = Date.now() + 30000;
  while (!done()) {
    check(Date.now() < deadline, `waited 30 s for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
const outside = [];
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  page.on("request", (r) => {
    if (!r.url().startsWith(BASE)) outside.push(r.url());
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // The cut makes the browser report failed loads; nothing else may err.
    if (m.type() === "error" && !/ERR_INTERNET_DISCONNECTED|ERR_FAILED|Failed to load resource/.test(m.text())) {
      problems.push(`console: ${m.text()}`);
    }
  });

  step("open the page and sign in with development sign-in");
  await page.goto(BASE);
  await page.getByLabel("Your name").fill("ann");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText("Signed in as").waitFor();
  check((await page.locator("#who-name").textContent()) === "ann", "signed in as ann");

  step("a file that is not an image is refused before any upload");
  await page.getByLabel("Choose a photo, or drop it here").setInputFiles({
    name: "notes.png",
    mimeType: "image/png",
    buffer: Buffer.from("these are notes, not a picture"),
  });
  await page.getByRole("button", { name: "Post" }).click();
  await page.getByText("That file is not a PNG, JPEG or BMP image.").waitFor();
  check(!(await page.locator("#upload").isVisible()), "nothing was uploaded");

  step("post a photo; cut the network mid-upload, then restore it");
  // The first two 1 MiB chunks go through; then the network is cut (every
  // request to the upload fails) for a few seconds, and restored.
  let patches = 0;
  let cut = 0;
  await page.route("**/v1/uploads/**", (route) => {
    if (route.request().method() === "PATCH") patches += 1;
    if (patches > 2) {
      cut += 1;
      return route.abort("internetdisconnected");
    }
    return route.continue();
  });
  const caption = `Harbour at dusk ${Date.now()}`;
  await page.getByLabel("Choose a photo, or drop it here").setInputFiles(IMAGE);
  await page.getByLabel("Caption").fill(caption);
  await page.getByRole("button", { name: "Post" }).click();
  await until(() => cut > 0, "the cut to begin");
  await page.waitForTimeout(2500);
  const during = Number(await page.locator("#progress").getAttribute("value"));
  await page.unroute("**/v1/uploads/**");
  check(cut > 0, "requests were cut");
  check(during > 0 && during < 100, `the cut came mid-upload (${during}%)`);
  await page.waitForFunction(() => Number(document.getElementById("progress").value) === 100);
  step(`progress reached 100% after ${cut} cut requests (it stood at ${during}%)`);
  await page.getByText("Posted.").waitFor();
  check((await page.evaluate(() => document.body.dataset.lastEvent)) === "post.published", "told by the event stream");
  await page.locator("#result-image").waitFor();
  await page.waitForFunction(() => document.getElementById("result-image").naturalWidth === 600);

  step("comment on the new post and delete the comment");
  const card = page.locator(".card", { hasText: caption });
  await card.waitFor();
  const postId = await card.getAttribute("data-id");
  await card.getByLabel("Add a comment").fill("What a light!");
  await card.getByLabel("Add a comment").press("Enter");
  await card.getByText("1 comment", { exact: true }).waitFor();
  await card.locator(".comments", { hasText: "What a light!" }).waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/desktop.png`, clip: { x: 0, y: 0, width: 1280, height: 1100 }, fullPage: true });
  await card.getByRole("button", { name: /Delete your comment/ }).click();
  await card.getByText("0 comments", { exact: true }).waitFor();

  step("someone else's comment shows as a notification");
  const answer = await fetch(`${BASE}/v1/posts/${postId}/comments`, {
    method: "POST",
    headers: { Authorization: `Bearer ${BOB_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ content: "Lovely colours" }),
  });
  check(answer.status === 201, `bob's comment answered ${answer.status}`);
  await page.locator(".toast", { hasText: "bob commented on your post" }).waitFor();
  await card.getByText("1 comment", { exact: true }).waitFor();

  step("scroll the feed past its first page");
  const first = await page.locator(".card").count();
  await page.locator("#more").scrollIntoViewIfNeeded();
  await page.getByText("That is everything.").waitFor();
  const all = await page.locator(".card").count();
  check(all > first, `the feed grew past its first page (${first} → ${all})`);
  const images = await page.locator(".card .photo").evaluateAll((imgs) =>
    imgs.every((i) => i.getAttribute("width") === "600" && i.getAttribute("height") === "600" && i.loading === "lazy" && i.alt),
  );
  check(images, "every image has its size, lazy loading and alt text");

  step("reload mid-upload, choose the file again, carry on where it stopped");
  const left = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("tus::")));
  check(left.length === 0, `a finished upload leaves no address to resume (${left.join(", ")})`);
  let sent = 0;
  await page.route("**/v1/uploads/**", (route) => {
    if (route.request().method() === "PATCH" && ++sent > 1) return route.abort("internetdisconnected");
    return route.continue();
  });
  await page.getByLabel("Choose a photo, or drop it here").setInputFiles(IMAGE);
  await page.getByLabel("Caption").fill(`${caption} again`);
  await page.getByRole("button", { name: "Post" }).click();
  await until(() => sent > 1, "the second chunk to be cut");
  const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("tus::")).length);
  check(stored === 1, `tus keeps the upload's address for a reload (${stored} kept)`);
  await page.reload();
  await page.unroute("**/v1/uploads/**");
  await page.getByText("Choose the same file again").waitFor();
  const offsets = [];
  page.on("request", (r) => {
    if (r.method() === "PATCH") offsets.push(Number(r.headers()["upload-offset"]));
  });
  await page.getByLabel("Choose a photo, or drop it here").setInputFiles(IMAGE);
  await page.getByRole("button", { name: "Post" }).click();
  await page.getByText("Posted.").waitFor();
  // The first 1 MiB chunk reached the server before the cut: it is kept.
  check(offsets[0] === 1048576, `the upload carried on from byte ${offsets[0]}, not from the first chunk's end`);
  step(`after the reload the upload carried on from byte ${offsets[0]}`);

  step("a phone-sized screen");
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  const small = await phone.newPage();
  await small.goto(BASE);
  await small.getByLabel("Your name").fill("ann");
  await small.getByRole("button", { name: "Sign in", exact: true }).click();
  await small.getByText("Signed in as").waitFor();
  await small.locator(".card .photo").first().waitFor();
  await small.waitForFunction(() => document.querySelector(".card .photo")?.complete);
  const wide = await small.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `nothing wider than the screen (${wide} px)`);
  await small.screenshot({ path: `${SHOTS}/phone.png` });

  check(outside.length === 0, `requests left the origin: ${outside.join(", ")}`);
  check(problems.length === 0, problems.join("\n"));
  console.log("ok");
} catch (failure) {
  // What the page showed when it failed, for whoever reads the log.
  for (const context of browser.contexts()) {
    for (const [i, page] of context.pages().entries()) {
      await page.screenshot({ path: `${SHOTS}/failure-${i}.png`, fullPage: true }).catch(() => {});
      console.log(`page ${i} status: ${await page.locator("#post-status").textContent().catch(() => "?")}`);
    }
  }
  throw failure;
} finally {
  await browser.close();
}
