import assert from "node:assert/strict";
import { type Key, KeyDecoder, LineEditor } from "../../src/cli/line_editor.ts";

const PROMPT = "127.0.0.1:7878> ";

/** Feeds terminal input through the decoder and editor; returns the lines entered. */
function type(editor: LineEditor, input: string): { lines: string[]; end?: string } {
  const lines: string[] = [];
  for (const key of new KeyDecoder().feed(input)) {
    const pressed = editor.press(key);
    if (pressed.end !== undefined) return { lines, end: pressed.end };
    if (pressed.line !== undefined) {
      lines.push(pressed.line);
      editor.start();
    }
  }
  return { lines };
}

function editor(): LineEditor {
  const editor = new LineEditor(PROMPT, 3);
  editor.start();
  return editor;
}

Deno.test("KeyDecoder reads text, control keys and escape sequences", () => {
  const keys: Key[] = new KeyDecoder().feed(
    "ab\x1b[A\x1b[B\x1b[C\x1b[D\x1bOH\x1b[3~\x7f\x03\x04\r",
  );
  assert.deepEqual(keys.map((key) => key.kind === "text" ? key.text : key.kind), [
    "ab",
    "up",
    "down",
    "right",
    "left",
    "home",
    "delete",
    "backspace",
    "interrupt",
    "end_of_input",
    "enter",
  ]);
});

Deno.test("KeyDecoder waits for an escape sequence split across reads, and skips unknown ones", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.feed("x\x1b["), [{ kind: "text", text: "x" }]);
  assert.deepEqual(decoder.feed("A"), [{ kind: "up" }]);
  assert.deepEqual(decoder.feed("\x1b[1;5Cy"), [{ kind: "text", text: "y" }]);
  assert.deepEqual(decoder.feed("\r\n"), [{ kind: "enter" }]);
});

Deno.test("LineEditor returns the line on Enter and draws it after the prompt", () => {
  const e = new LineEditor(PROMPT, 3);
  assert.equal(e.start(), `\r${PROMPT}\x1b[K`);
  assert.equal(e.press({ kind: "text", text: "GET k" }).output, `\r${PROMPT}GET k\x1b[K`);
  assert.equal(e.press({ kind: "left" }).output, `\r${PROMPT}GET k\x1b[K\x1b[1D`);
  const entered = e.press({ kind: "enter" });
  assert.equal(entered.line, "GET k");
  assert.ok(entered.output.endsWith("\r\n"));
});

Deno.test("LineEditor edits in the middle: left, right, home, end, backspace, delete, Ctrl-U", () => {
  assert.deepEqual(type(editor(), "ET k\x1b[HG\r").lines, ["GET k"]);
  assert.deepEqual(type(editor(), "GEX\x7fT k\r").lines, ["GET k"]);
  assert.deepEqual(type(editor(), "GET kk\x1b[D\x1b[3~\r").lines, ["GET k"]);
  assert.deepEqual(type(editor(), "GET x\x1b[D\x1b[D\x1b[D\x1b[C\x1b[F\x7fk\r").lines, ["GET k"]);
  assert.deepEqual(type(editor(), "junk\x15GET k\r").lines, ["GET k"]);
  assert.deepEqual(type(editor(), "é\x1b[Dx\r").lines, ["xé"]);
});

Deno.test("LineEditor walks the history with up and down, keeping the line being typed", () => {
  const e = editor();
  type(e, "SET a 1\rGET a\r");
  assert.deepEqual(e.history, ["SET a 1", "GET a"]);
  assert.deepEqual(type(e, "\x1b[A\x1b[A\r").lines, ["SET a 1"]);
  assert.deepEqual(type(e, "draft\x1b[A\x1b[B\r").lines, ["draft"]);
  // Up past the oldest line stays on it; down past the newest returns to the draft.
  assert.deepEqual(type(e, "\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\r").lines, ["GET a"]);
});

Deno.test("LineEditor keeps a bounded history, without blank lines or repeats in a row", () => {
  const e = editor();
  type(e, "one\rone\r  \rtwo\rthree\rfour\r");
  assert.deepEqual(e.history, ["two", "three", "four"]);
});

Deno.test("LineEditor ends on Ctrl-D or Ctrl-C on an empty line; Ctrl-C drops a typed line", () => {
  assert.equal(type(editor(), "\x04").end, "end_of_input");
  assert.equal(type(editor(), "\x03").end, "interrupt");
  const e = editor();
  assert.deepEqual(type(e, "GET x\x03PING\r"), { lines: ["PING"] });
  assert.deepEqual(type(e, "ab\x1b[D\x04\r"), { lines: ["a"] });
});
