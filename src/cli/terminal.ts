/**
 * The prompt on a terminal: stdin in raw mode, keys through the line editor, its output to
 * stdout. Yields each line entered; ends on Ctrl-D or Ctrl-C on an empty line, or at the end
 * of stdin. The terminal's mode is restored however the generator ends.
 */

import { KeyDecoder, type LineEditor } from "./line_editor.ts";
import { writeText } from "./output.ts";

const READ_CHUNK_BYTES = 4096;

export async function* terminalLines(editor: LineEditor): AsyncGenerator<string> {
  const keys = new KeyDecoder();
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(READ_CHUNK_BYTES);
  Deno.stdin.setRaw(true);
  try {
    await writeText(editor.start());
    for (;;) {
      const count = await Deno.stdin.read(chunk);
      if (count === null) return;
      for (const key of keys.feed(decoder.decode(chunk.subarray(0, count), { stream: true }))) {
        const pressed = editor.press(key);
        await writeText(pressed.output);
        if (pressed.end !== undefined) return;
        if (pressed.line === undefined) continue;
        yield pressed.line;
        await writeText(editor.start());
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
  }
}
