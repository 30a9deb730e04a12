import { test } from "node:test";
import assert from "node:assert/strict";
import { createProgress, formatDuration, formatLoss } from "../../lab/progress.js";

function fakeSink(isTTY: boolean, columns?: number) {
  return { isTTY, columns, text: "", write(s: string) { this.text += s; } };
}

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

test("progress formatting helpers", () => {
  assert.equal(formatLoss(NaN), "NaN");
  assert.equal(formatLoss(Infinity), "Inf");
  assert.equal(formatLoss(1.23456), "1.2346");
  assert.equal(formatLoss(123456), "1.235e+5");
  assert.equal(formatDuration(2.04), "2.0s");
  assert.equal(formatDuration(75), "1m15s");
  assert.equal(formatDuration(NaN), "?");
});

test("progress on a TTY: one line redrawn in place with step, loss, steps/s and ETA", () => {
  const sink = fakeSink(true, 200);
  const c = clock();
  const p = createProgress(sink, { now: c.now, redrawMs: 100 });
  const run = p.start("exp-a", "depth=4 norm=pre-LN", 100);
  assert.ok(sink.text.startsWith("\r\x1b[2K[exp-a]  depth=4 norm=pre-LN  step   0/100"));
  c.advance(2000);
  run.update(50, 1.5);
  const last = sink.text.slice(sink.text.lastIndexOf("\r\x1b[2K"));
  assert.match(last, /step  50\/100  loss 1\.5000  25\.0 steps\/s  ETA 2\.0s$/);
  assert.ok(!sink.text.includes("\n"), "no newline while the run is live");

  // redraws are rate-limited: an update 10 ms later does not draw
  const before = sink.text.length;
  c.advance(10);
  run.update(51, 1.4);
  assert.equal(sink.text.length, before);

  // a log line clears the progress line, prints, then redraws it
  p.log("hello");
  assert.ok(sink.text.endsWith("\r\x1b[2Khello\n\r\x1b[2K[exp-a]  depth=4 norm=pre-LN  step  51/100  loss 1.4000  25.4 steps/s  ETA 1.9s"), JSON.stringify(sink.text.slice(-120)));

  c.advance(1990);
  run.update(100, 0.25);
  run.end("diverged");
  assert.match(sink.text, /\r\x1b\[2K\[exp-a\]  depth=4 norm=pre-LN  step 100\/100  loss 0\.2500  25\.0 steps\/s  took 4\.0s  diverged\n$/);
  // after end, updates are ignored
  const n = sink.text.length;
  run.update(5, 9);
  assert.equal(sink.text.length, n);
});

test("progress on a TTY: lines are cut to the terminal width", () => {
  const sink = fakeSink(true, 40);
  const p = createProgress(sink, { now: clock().now });
  p.start("an-experiment-with-a-long-name", "a very long configuration description", 1000);
  const line = sink.text.replace("\r\x1b[2K", "");
  assert.equal(line.length, 39);
  assert.ok(line.endsWith("…"));
});

test("progress without a TTY: plain periodic lines, no control characters", () => {
  const sink = fakeSink(false);
  const c = clock();
  const p = createProgress(sink, { now: c.now, plainMinMs: 1000, plainMaxMs: 5000 });
  const run = p.start("exp-b", "lr=0.01", 1000);
  for (let s = 1; s <= 1000; s++) {
    c.advance(10); // 10 s in all: each 10% takes 1 s
    run.update(s, 2 - s / 1000);
  }
  run.end();
  assert.ok(!/[\r\x1b]/.test(sink.text));
  const lines = sink.text.trimEnd().split("\n");
  // one line at each 10% from 10% to 90% (100% is the end line), then the end line
  assert.equal(lines.length, 10, sink.text);
  assert.match(lines[0], /^\[exp-b\]  lr=0\.01  step  100\/1000  loss 1\.9000  100 steps\/s  ETA 9\.0s$/);
  assert.match(lines[8], /step  900\/1000/);
  assert.match(lines[9], /^\[exp-b\]  lr=0\.01  step 1000\/1000  loss 1\.0000  100 steps\/s  took 10s$/);
});

test("progress without a TTY: a fast run prints only its end line; a slow one prints after a silence", () => {
  const sink = fakeSink(false);
  const c = clock();
  const p = createProgress(sink, { now: c.now, plainMinMs: 1000, plainMaxMs: 5000 });
  const fast = p.start("e", "fast", 100);
  for (let s = 1; s <= 100; s++) fast.update(s, 1); // no time passes
  fast.end("ok");
  assert.equal(sink.text.split("\n").length - 1, 1);
  assert.match(sink.text, /step 100\/100 .* ok\n$/);

  sink.text = "";
  const slow = p.start("e", "slow", 1000);
  slow.update(1, 3);
  c.advance(6000); // still in the first 10%, but 6 s without a line
  slow.update(2, 2.9);
  assert.match(sink.text, /^\[e\]  slow  step    2\/1000  loss 2\.9000/);
  p.log("a message");
  assert.ok(sink.text.endsWith("a message\n"));
});

test("progress picks the mode from the sink's isTTY", () => {
  const tty = fakeSink(true, 100);
  createProgress(tty, { now: clock().now }).start("e", "c", 10).end();
  assert.ok(tty.text.includes("\x1b[2K"));
  const plain = fakeSink(false);
  createProgress(plain, { now: clock().now }).start("e", "c", 10).end();
  assert.ok(!plain.text.includes("\x1b"));
});
