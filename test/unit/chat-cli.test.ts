import { describe, expect, it } from "vitest";

import { printable } from "../../apps/ops/chat.ts";

describe("chatctl chat output", () => {
  it("shows control characters instead of letting a sender drive the terminal", () => {
    const hostile = "evil\u001b]0;pwned\u0007\u001b[2J\rfake\nline\u2028x";
    const shown = printable(hostile);
    expect(shown).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028]/);
    expect(shown).toBe(
      "evil\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{d}fake\\u{a}line\\u{2028}x",
    );
  });

  it("leaves ordinary text, accents and emoji alone", () => {
    expect(printable("héllo wörld 👋")).toBe("héllo wörld 👋");
  });
});
