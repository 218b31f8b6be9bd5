/**
 * The LSP base protocol on a byte stream: `Content-Length: N\r\n\r\n` then N bytes of JSON.
 *
 * Our own reader rather than vscode-jsonrpc's because a client's mistake must never end the
 * conversation: that reader stops for good on one bad header (it keeps the bad bytes in
 * its buffer and reports the same error forever). Here a frame with a missing or malformed
 * `Content-Length`, an oversized frame, a body that is not JSON or not a JSON-RPC message is
 * reported (`onError`, with the request id when one can be read, so the caller can answer
 * it) and skipped; reading resumes at the next header.
 */
import type { Readable, Writable } from "node:stream";

/** A JSON-RPC message as it arrives: only checked to be an object with `jsonrpc: "2.0"`. */
export type RpcMessage = { readonly jsonrpc: "2.0"; readonly id?: number | string | null; readonly method?: string; readonly params?: unknown; readonly result?: unknown; readonly error?: unknown };

export interface FrameError {
  /** -32700 (parse error: bad header or not JSON) or -32600 (not a JSON-RPC message). */
  readonly code: number;
  readonly message: string;
  /** The request's id, when the body was JSON with an id (else the answer goes to id null). */
  readonly id: number | string | null;
}

/** Bodies above this are refused (and skipped) rather than buffered. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const HEADER_END = Buffer.from("\r\n\r\n");
const HEADER_START = /content-length[ \t]*:/i;
/** A header block longer than this cannot be a real one: resynchronise. */
const MAX_HEADER_BYTES = 8 * 1024;

export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);
  /** Bytes of an oversized body still to skip. */
  private skipping = 0;
  /** After a bad header: bytes are dropped up to the next `Content-Length`. */
  private resyncing = false;

  constructor(
    input: Readable,
    private readonly onMessage: (m: RpcMessage) => void,
    private readonly onError: (e: FrameError) => void,
  ) {
    input.on("data", (chunk: Buffer | string) => this.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk));
  }

  /** Feeds bytes; delivers every complete frame in them. */
  push(chunk: Buffer): void {
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, chunk.length);
      this.skipping -= n;
      chunk = chunk.subarray(n);
    }
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) if (!this.next()) break;
  }

  /** Handles one frame at the start of the buffer; false when more bytes are needed. */
  private next(): boolean {
    if (this.buffer.length === 0) return false;
    if (this.resyncing && !this.skipToHeader()) return false;
    const end = this.buffer.indexOf(HEADER_END);
    if (end < 0) {
      if (this.buffer.length > MAX_HEADER_BYTES) this.resync("header too long");
      return false;
    }
    const header = this.buffer.subarray(0, end).toString("latin1");
    const length = contentLength(header);
    if (typeof length === "string") {
      this.onError({ code: -32700, message: `bad frame header: ${length}`, id: null });
      const real = HEADER_START.exec(header);
      if (real && real.index > 0) {
        // Bytes before a real header (the tail of a body whose Content-Length was too
        // short): drop them and read the frame that follows.
        this.buffer = this.buffer.subarray(real.index);
      } else {
        // Skip this header block; its body (of unknown length) is skipped by resynchronising
        // on the next `Content-Length` header.
        this.buffer = this.buffer.subarray(end + HEADER_END.length);
        this.resyncing = true;
      }
      return true;
    }
    const start = end + HEADER_END.length;
    if (length > MAX_FRAME_BYTES) {
      this.onError({ code: -32700, message: `frame of ${length} bytes is larger than ${MAX_FRAME_BYTES}`, id: null });
      const available = this.buffer.length - start;
      this.skipping = Math.max(0, length - available);
      this.buffer = this.buffer.subarray(Math.min(this.buffer.length, start + length));
      return true;
    }
    if (this.buffer.length < start + length) return false;
    const body = this.buffer.subarray(start, start + length).toString("utf8");
    this.buffer = this.buffer.subarray(start + length);
    this.deliver(body);
    return true;
  }

  private deliver(body: string): void {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (e) {
      this.onError({ code: -32700, message: `the body is not JSON: ${e instanceof Error ? e.message : String(e)}`, id: null });
      return;
    }
    const id = idOf(value);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      // Batches are not part of LSP.
      this.onError({ code: -32600, message: "a message must be a JSON object", id: null });
      return;
    }
    const m = value as Record<string, unknown>;
    if (m.jsonrpc !== "2.0") {
      this.onError({ code: -32600, message: 'a message needs "jsonrpc": "2.0"', id });
      return;
    }
    if ("method" in m && typeof m.method !== "string") {
      this.onError({ code: -32600, message: "method must be a string", id });
      return;
    }
    if (!("method" in m) && !("id" in m)) {
      this.onError({ code: -32600, message: "a message needs a method or an id", id: null });
      return;
    }
    this.onMessage(m as RpcMessage);
  }

  private resync(why: string): void {
    this.onError({ code: -32700, message: `bad frame: ${why}`, id: null });
    this.buffer = this.buffer.subarray(1);
    this.resyncing = true;
  }

  /**
   * Drops bytes up to the next `Content-Length` header; true when one was found (else a
   * tail that may be the start of one is kept, and reading waits for more bytes).
   */
  private skipToHeader(): boolean {
    const m = HEADER_START.exec(this.buffer.toString("latin1"));
    if (!m) {
      this.buffer = this.buffer.subarray(Math.max(0, this.buffer.length - 20));
      return false;
    }
    this.buffer = this.buffer.subarray(m.index);
    this.resyncing = false;
    return true;
  }
}

/** The Content-Length of a header block, or why there is none. */
function contentLength(header: string): number | string {
  let length: number | string = "no Content-Length";
  for (const line of header.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) return `malformed header line ${JSON.stringify(line.slice(0, 60))}`;
    if (line.slice(0, colon).trim().toLowerCase() !== "content-length") continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d{1,15}$/.test(value)) return `Content-Length ${JSON.stringify(value.slice(0, 30))} is not a byte count`;
    length = Number(value);
  }
  return length;
}

function idOf(value: unknown): number | string | null {
  if (typeof value !== "object" || value === null || !("id" in value)) return null;
  const id = (value as { id: unknown }).id;
  return typeof id === "number" || typeof id === "string" ? id : null;
}

/** Writes messages as frames. Writes after the stream closed are dropped. */
export class FrameWriter {
  constructor(private readonly output: Writable) {}

  write(message: object): void {
    if (this.output.destroyed || this.output.writableEnded) return;
    const body = Buffer.from(JSON.stringify(message), "utf8");
    this.output.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]));
  }
}
