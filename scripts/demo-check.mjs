// Part of the demo: a headless Chromium buys on the demo shop, then this waits until the
// purchase reaches the emulated Amazon Events API and prints what Amazon received.
import { launch } from '../tests/js/harness.mjs';

const [pageUrl, amazon] = process.argv.slice(2);
const started = Date.now();
const browser = await launch();
const page = await browser.newPage();
await page.goto(pageUrl);
await page.click('#buy');
let purchase;
while (!purchase && Date.now() - started < 60_000) {
  await new Promise((r) => setTimeout(r, 500));
  const events = await (await fetch(`${amazon}/__emulator/events`)).json();
  purchase = (events.events ?? events).map((e) => e.event ?? e).find((e) => e.eventDescription?.conversionType === 'OFF_AMAZON_PURCHASES');
}
// The same visitor joins the newsletter audience; the Worker creates the Amazon audience
// and adds the hashed identity (flushed now, rather than after FLUSH_SECONDS).
await page.click('#newsletter');
await new Promise((r) => setTimeout(r, 500));
await fetch(`${new URL(pageUrl).searchParams.get('endpoint')}/v1/audiences/newsletter/flush`, {
  method: 'POST', headers: { authorization: `Bearer ${process.env.ADMIN_KEY || 'local-admin-key'}` },
});
let members = 0;
while (members === 0 && Date.now() - started < 90_000) {
  await new Promise((r) => setTimeout(r, 500));
  const audiences = await (await fetch(`${amazon}/__emulator/audiences`)).json();
  members = (audiences.audiences ?? audiences).reduce((n, a) => n + (a.members?.length ?? 0), 0);
}
await browser.close();
if (!purchase) {
  console.error('no purchase reached the emulator within a minute');
  process.exit(1);
}
if (members === 0) {
  console.error('the visitor did not reach the emulated Amazon audience');
  process.exit(1);
}
console.log(`purchase received by the emulated Amazon after ${((Date.now() - started) / 1000).toFixed(1)} s:`);
console.log(JSON.stringify(purchase, null, 2));
console.log(`and the visitor's hashed identity is a member of the emulated Amazon audience (${members} member).`);
