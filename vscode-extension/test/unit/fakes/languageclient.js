// A stand-in for `vscode-languageclient/node`: records the clients the extension builds and
// answers their requests with a handler the test sets.
"use strict";

function createLanguageClient() {
  const state = {
    clients: [],
    startError: undefined,
    /** (method, params) => answer, or throws like a JSON-RPC error. */
    handler: (method) => {
      throw new Error(`unexpected request ${method}`);
    },
  };

  class LanguageClient {
    constructor(id, name, serverOptions, clientOptions) {
      this.id = id;
      this.name = name;
      this.serverOptions = serverOptions;
      this.clientOptions = clientOptions;
      this.running = false;
      this.starts = 0;
      this.stops = 0;
      this.requests = [];
      state.clients.push(this);
    }
    async start() {
      this.starts += 1;
      if (state.startError) {
        throw state.startError;
      }
      this.running = true;
    }
    async stop() {
      this.stops += 1;
      this.running = false;
    }
    async dispose() {
      return this.stop();
    }
    async restart() {
      await this.stop();
      await this.start();
    }
    async sendRequest(method, params) {
      if (!this.running) {
        throw new Error("Client is not running");
      }
      this.requests.push({ method, params });
      return state.handler(method, params);
    }
  }

  const module = {
    LanguageClient,
    TransportKind: { stdio: 0, ipc: 1, pipe: 2, socket: 3 },
  };
  return { module, state };
}

module.exports = { createLanguageClient };
