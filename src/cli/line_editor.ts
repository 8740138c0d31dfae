/**
 * The prompt's line editor, for a terminal in raw mode: keys in, what to draw out, and a line
 * when Enter is pressed; up and down walk a bounded history. Pure: the terminal (terminal.ts)
 * reads the keys and writes the output. Each code point is taken as one column wide.
 */

export type Key =
  | { kind: "text"; text: string }
  | {
    kind:
      | "enter"
      | "backspace"
      | "delete"
      | "left"
      | "right"
      | "home"
      | "end"
      | "up"
      | "down"
      | "clear_line"
      | "interrupt"
      | "end_of_input";
  };

/** Escape sequences of the keys we handle; other sequences are read and ignored. */
const SEQUENCES: Record<string, Key["kind"]> = {
  "\x1b[A": "up",
  "\x1b[B": "down",
  "\x1b[C": "right",
  "\x1b[D": "left",
  "\x1b[H": "home",
  "\x1b[F": "end",
  "\x1bOH": "home",
  "\x1bOF": "end",
  "\x1b[1~": "home",
  "\x1b[4~": "end",
  "\x1b[3~": "delete",
  "\x1bOA": "up",
  "\x1bOB": "down",
  "\x1bOC": "right",
  "\x1bOD": "left",
};

/** Control characters the editor understands. */
const CONTROLS: Record<string, Key["kind"]> = {
  "\r": "enter",
  "\n": "enter",
  "\x7f": "backspace",
  "\x08": "backspace",
  "\x01": "home",
  "\x05": "end",
  "\x15": "clear_line",
  "\x03": "interrupt",
  "\x04": "end_of_input",
};

/** The length of the escape sequence at text[start], or 0 if it is not complete yet. */
function escapeLength(text: string, start: number): number {
  if (start + 1 >= text.length) return 0;
  const second = text[start + 1];
  if (second === "O") return start + 2 < text.length ? 3 : 0;
  if (second !== "[") return 2;
  for (let i = start + 2; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A CSI sequence ends at its final byte, 0x40..0x7e.
    if (code >= 0x40 && code <= 0x7e) return i - start + 1;
  }
  return 0;
}

/** Text from the terminal -> keys; an escape sequence split across reads waits for its end. */
export class KeyDecoder {
  #pending = "";

  feed(input: string): Key[] {
    const text = this.#pending + input;
    this.#pending = "";
    const keys: Key[] = [];
    let plain = "";
    const flush = () => {
      if (plain !== "") keys.push({ kind: "text", text: plain });
      plain = "";
    };
    for (let i = 0; i < text.length; i++) {
      const char = text.charAt(i);
      if (char === "\x1b") {
        const length = escapeLength(text, i);
        flush();
        if (length === 0) {
          this.#pending = text.slice(i);
          break;
        }
        const kind = SEQUENCES[text.slice(i, i + length)];
        if (kind !== undefined) keys.push({ kind } as Key);
        i += length - 1;
      } else if (char in CONTROLS) {
        flush();
        // CR LF (a pasted line end) is one Enter.
        if (char === "\n" && text[i - 1] === "\r") continue;
        keys.push({ kind: CONTROLS[char] } as Key);
      } else if (char.charCodeAt(0) >= 0x20) plain += char;
    }
    flush();
    return keys;
  }
}

/** What a key press did: the output to draw, and a finished line or the end of input. */
export interface Pressed {
  output: string;
  line?: string;
  end?: "end_of_input" | "interrupt";
}

export class LineEditor {
  readonly prompt: string;
  readonly #maxHistoryLines: number;
  readonly #history: string[] = [];
  /** The line being edited, one code point per element. */
  #line: string[] = [];
  #cursor = 0;
  /** Which history line is shown; history.length means the line being typed. */
  #shown = 0;
  /** The line being typed, kept while walking the history. */
  #draft: string[] = [];

  constructor(prompt: string, maxHistoryLines: number) {
    this.prompt = prompt;
    this.#maxHistoryLines = maxHistoryLines;
  }

  /** A fresh, empty line: the output that draws its prompt. */
  start(): string {
    this.#line = [];
    this.#cursor = 0;
    this.#shown = this.#history.length;
    this.#draft = [];
    return this.#render();
  }

  get history(): readonly string[] {
    return this.#history;
  }

  press(key: Key): Pressed {
    switch (key.kind) {
      case "text":
        this.#line.splice(this.#cursor, 0, ...key.text);
        this.#cursor += [...key.text].length;
        break;
      case "enter":
        return this.#finish();
      case "backspace":
        if (this.#cursor === 0) return { output: "" };
        this.#line.splice(--this.#cursor, 1);
        break;
      case "end_of_input":
        if (this.#line.length === 0) return { output: "\r\n", end: "end_of_input" };
        this.#line.splice(this.#cursor, 1);
        break;
      case "interrupt":
        // As in a shell: ^C drops the line typed; on an empty line it leaves.
        if (this.#line.length === 0) return { output: "\r\n", end: "interrupt" };
        return { output: "^C\r\n" + this.start() };
      default:
        this.#move(key.kind);
    }
    return { output: this.#render() };
  }

  #move(kind: "delete" | "left" | "right" | "home" | "end" | "up" | "down" | "clear_line") {
    switch (kind) {
      case "delete":
        this.#line.splice(this.#cursor, 1);
        break;
      case "left":
        this.#cursor = Math.max(0, this.#cursor - 1);
        break;
      case "right":
        this.#cursor = Math.min(this.#line.length, this.#cursor + 1);
        break;
      case "home":
        this.#cursor = 0;
        break;
      case "end":
        this.#cursor = this.#line.length;
        break;
      case "clear_line":
        this.#line.splice(0, this.#cursor);
        this.#cursor = 0;
        break;
      case "up":
      case "down":
        this.#walkHistory(kind === "up" ? -1 : 1);
    }
  }

  #walkHistory(step: -1 | 1): void {
    const next = this.#shown + step;
    if (next < 0 || next > this.#history.length) return;
    if (this.#shown === this.#history.length) this.#draft = this.#line;
    this.#shown = next;
    this.#line = [...(this.#history[next] ?? this.#draft)];
    this.#cursor = this.#line.length;
  }

  #finish(): Pressed {
    const line = this.#line.join("");
    if (line.trim() !== "" && line !== this.#history.at(-1)) {
      this.#history.push(line);
      if (this.#history.length > this.#maxHistoryLines) this.#history.shift();
    }
    this.#cursor = this.#line.length;
    return { output: this.#render() + "\r\n", line };
  }

  /** Redraws the prompt and line in place, then puts the cursor where it belongs. */
  #render(): string {
    const back = this.#line.length - this.#cursor;
    return "\r" + this.prompt + this.#line.join("") + "\x1b[K" + (back > 0 ? `\x1b[${back}D` : "");
  }
}
