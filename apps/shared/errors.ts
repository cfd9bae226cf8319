// The catalog of errors the apps report: stable codes, HTTP statuses and
// WebSocket close codes. Codes are never reused for another meaning.

export const ERRORS = Object.freeze({
  BAD_REQUEST: { status: 400, close: 4000 },
  BAD_ID: { status: 400, close: 4002 },
  BAD_FRAME: { status: 400, close: 4005 },
  UNAUTHENTICATED: { status: 401, close: 4001 },
  FORBIDDEN: { status: 403, close: 4003 },
  NOT_FOUND: { status: 404, close: 4004 },
  PAYLOAD_TOO_LARGE: { status: 413, close: 1009 },
  // Refused before any upgrade: no socket is ever closed with these two.
  HEADERS_TOO_LARGE: { status: 431, close: 1009 },
  UPGRADE_REQUIRED: { status: 426, close: 1002 },
  RATE_LIMITED: { status: 429, close: 4008 },
  RESUME_AHEAD: { status: 409, close: 4009 },
  UNAVAILABLE: { status: 503, close: 1013 },
  INTERNAL: { status: 500, close: 1011 },
} as const);

export type ErrorCode = keyof typeof ERRORS;

/** An error meant for the client: a stable code and a message that says what to change. */
export class ChatError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ChatError";
    this.status = ERRORS[code].status;
  }

  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}
