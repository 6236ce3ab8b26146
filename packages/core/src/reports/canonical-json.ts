/** Canonical JSON: object keys sorted by code unit and no whitespace, so equal data always gives identical text. */

/**
 * JSON text of a JSON-safe value with every object's keys sorted, so two peers holding equal derived state produce
 * byte-identical text whatever order their objects were built in. Follows `JSON.stringify` for everything else.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
    // fromEntries defines own properties, so even a key named "__proto__" survives.
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, (v as Record<string, unknown>)[k]]),
    );
  });
}
