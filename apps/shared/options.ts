// Merging options over defaults: an option left undefined keeps its default
// (a plain spread would let `{ x: undefined }` erase it); 0 and "" are kept.
export function withDefaults<O extends object>(
  defaults: { readonly [K in keyof O]?: O[K] },
  options: O | undefined,
): Required<O> {
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(options ?? {})) if (v !== undefined) out[k] = v;
  return out as Required<O>;
}
