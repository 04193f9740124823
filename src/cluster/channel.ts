import type { Serializable } from 'node:child_process';
import type { Worker } from 'node:cluster';
import type { MessagePort } from 'node:worker_threads';

/**
 * A two-way, ordered message link between one worker and the primary. The
 * store protocol needs nothing more, so it runs unchanged over node:cluster
 * IPC in the gateway and over a worker_threads MessageChannel in tests.
 * Messages are delivered in the order sent; a channel carries other
 * protocols' messages too, so listeners filter by their own tag.
 */
export interface Channel {
  /** Fire and forget: a message sent after the link is gone is dropped, never thrown (onClose reports the loss). */
  send(message: unknown): void;
  /** Returns the unsubscribe function. */
  onMessage(listener: (message: unknown) => void): () => void;
  /** Called once when the link is gone for good (at once, on a later tick, if it already is). */
  onClose(listener: () => void): void;
}

// An IPC send to a peer that just went away errors asynchronously; without a callback that error crashes the process.
const ignore = (): void => {};

/** The worker's end of node:cluster IPC. */
export function processChannel(): Channel {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('processChannel: this process has no IPC channel (not a cluster worker)');
  return {
    send(message) {
      if (process.connected) send(message, undefined, undefined, ignore);
    },
    onMessage(listener) {
      process.on('message', listener);
      return () => void process.off('message', listener);
    },
    onClose(listener) {
      if (!process.connected) setImmediate(listener);
      else process.once('disconnect', listener);
    },
  };
}

/** The primary's end of node:cluster IPC with one worker. */
export function workerChannel(worker: Worker): Channel {
  return {
    send(message) {
      if (worker.isConnected()) worker.send(message as Serializable, undefined, undefined, ignore);
    },
    onMessage(listener) {
      worker.on('message', listener);
      return () => void worker.off('message', listener);
    },
    onClose(listener) {
      // A worker that crashes may report exit without disconnect, or disconnect long before it exits.
      const once = onceOnly(listener);
      if (!worker.isConnected()) return void setImmediate(once);
      worker.once('disconnect', once);
      worker.once('exit', once);
    },
  };
}

/** One end of a worker_threads MessageChannel (tests); closing either end closes both. */
export function portChannel(port: MessagePort): Channel {
  return {
    send(message) {
      port.postMessage(message);
    },
    onMessage(listener) {
      port.on('message', listener);
      return () => void port.off('message', listener);
    },
    onClose(listener) {
      port.once('close', listener);
    },
  };
}

function onceOnly(listener: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    listener();
  };
}
