/**
 * A JSON-RPC connection's reader and writer over a channel that carries whole messages (a
 * worker port, a string transport) instead of a framed byte stream: the language service's
 * worker thread (service-worker.ts) and the playground's string server (string-server.ts)
 * differ only in how a message leaves.
 */
import { AbstractMessageReader, AbstractMessageWriter, type DataCallback, type Disposable, type Message } from "vscode-languageserver";

/** Messages handed in by `deliver`; those that arrive before the connection listens are queued. */
export class DeliveredMessageReader extends AbstractMessageReader {
  private callback: DataCallback | undefined;
  private readonly queued: Message[] = [];

  deliver(m: Message): void {
    if (this.callback) this.callback(m);
    else this.queued.push(m);
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    for (const m of this.queued.splice(0)) callback(m);
    return { dispose: () => (this.callback = undefined) };
  }
}

/** Each message the connection writes, handed to `send`. */
export class SendingMessageWriter extends AbstractMessageWriter {
  constructor(private readonly send: (message: Message) => void) {
    super();
  }

  async write(msg: Message): Promise<void> {
    this.send(msg);
  }

  end(): void {}
}
