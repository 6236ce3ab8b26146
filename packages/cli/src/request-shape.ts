/**
 * The shape of each request the control socket accepts: another program (or an older command) may send any JSON, and
 * a field of the wrong type must be refused by name, not fail somewhere inside the operation.
 */
import { UsageError } from "./errors.js";
import type { Op, Request } from "./operations.js";

/** What one field holds; `?` marks a field that may be left out. */
type Kind =
  | "string"
  | "string?"
  | "number"
  | "number?"
  | "boolean?"
  | "strings"
  | "strings?"
  | "object"
  | "object?"
  | "numbers?"
  | "approval"
  | "allowance?"
  | "card?"
  | "cards";

/** Every field of every request, named: the compiler holds this table to the `Request` type. */
type Shapes = { readonly [K in Op]: { readonly [F in Exclude<keyof Extract<Request, { op: K }>, "op">]-?: Kind } };

const council = "string?" as const;
const federation = "string?" as const;

const SHAPES: Shapes = {
  ping: {},
  "council.create": { name: "string", charter: "object", founders: "strings?" },
  "council.list": {},
  invite: { council },
  propose: { input: "object", council },
  vote: {
    proposal: "string",
    choice: "string?",
    ranking: "strings?",
    scores: "numbers?",
    dots: "numbers?",
    council,
  },
  "fund.create": { fund: "string", type: "string", description: "string?", council },
  donate: { fund: "string", amount: "number", from: "string?", council },
  spend: { fund: "string", amount: "number", payee: "string", approval: "approval", memo: "string?", council },
  swap: { fund: "string", provider: "string", minutes: "number", note: "string?", council },
  "mandate.issue": {
    delegate: "string",
    body: "string",
    instructions: "string",
    positions: "object",
    allowance: "allowance?",
    startsAt: "number",
    expiresAt: "number",
    recall: "object?",
    closesAt: "number?",
    title: "string?",
    council,
  },
  "mandate.recall": { mandate: "string", closesAt: "number?", council },
  tick: { council },
  "device.add": { device: "string", label: "string?", council },
  "device.revoke": { device: "string", force: "boolean?", council },
  "device.list": { council },
  "council.fetch": { council },
  "federation.create": { name: "string", with: "cards", council },
  "federation.list": {},
  "federation.leave": { federation },
  "federation.invite": { federation },
  "federation.fetch": { federation },
  "federation.propose": {
    title: "string",
    text: "string?",
    topic: "string?",
    closesAt: "number?",
    council,
    admit: "card?",
    federation,
  },
  "federation.tick": { council, federation },
  "federation.vote": {
    proposal: "string",
    position: "string",
    mandate: "string?",
    council,
    federation,
  },
  "federation.status": { federation },
  "federation.alert": { what: "string", needs: "string", council, federation },
  "federation.converge": {
    title: "string",
    text: "string?",
    actions: "strings",
    startsAt: "number",
    endsAt: "number",
    topic: "string?",
    closesAt: "number?",
    council,
    federation,
  },
  "federation.ratify": { convergence: "string", action: "string", mandate: "string?", council, federation },
  "federation.respond": { alert: "string", offer: "string", council, federation },
  state: { council },
  status: { council },
  export: { format: "string", table: "string", council },
  "apply.deliver": { record: "string" },
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === "string");

/** Another council as its delegate's token names it: stored as it comes, so every field must be there. */
function isCard(v: unknown): boolean {
  return (
    isObject(v) &&
    typeof v.council === "string" &&
    typeof v.url === "string" &&
    typeof v.peer === "string" &&
    isStrings(v.addresses)
  );
}

function fits(kind: Kind, value: unknown): boolean {
  switch (kind.replace("?", "")) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "strings":
      return isStrings(value);
    case "object":
      return isObject(value);
    case "approval":
      return (
        isObject(value) &&
        (value.kind === "petty" ||
          ((value.kind === "budget" || value.kind === "mandate") && typeof value.id === "string"))
      );
    case "allowance":
      return isObject(value) && typeof value.fund === "string" && fits("number", value.amount);
    case "card":
      return isCard(value);
    case "cards":
      return Array.isArray(value) && value.every(isCard);
    default:
      return isObject(value) && Object.values(value).every((v) => typeof v === "number" && Number.isFinite(v));
  }
}

const DESCRIBED: Record<string, string> = {
  string: "a string",
  number: "a finite number",
  boolean: "true or false",
  strings: "an array of strings",
  object: "an object",
  approval: '{ kind: "petty" } or { kind: "budget" or "mandate", id }',
  allowance: "{ fund, amount }",
  card: "a council's card { council, url, peer, addresses }",
  cards: "an array of council cards { council, url, peer, addresses }",
  numbers: "an object of numbers",
};

/** Refuses a request whose `op` is unknown or whose fields do not have their types (extra fields are ignored). */
export function checkRequest(request: unknown): asserts request is Request {
  const op = isObject(request) ? request.op : undefined;
  if (typeof op !== "string" || !Object.hasOwn(SHAPES, op)) throw new UsageError(`unknown request "${String(op)}"`);
  const fields = SHAPES[op as Op] as Readonly<Record<string, Kind>>;
  for (const [field, kind] of Object.entries(fields)) {
    const value = (request as Record<string, unknown>)[field];
    if (value === undefined && kind.endsWith("?")) continue;
    if (!fits(kind, value))
      throw new UsageError(`request "${op}": field "${field}" must be ${DESCRIBED[kind.replace("?", "")]}`);
  }
}
