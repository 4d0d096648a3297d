// A small stand-in for the `vscode` module: enough API for the extension, recording what it does.
"use strict";

const path = require("node:path");

function emitter() {
  const listeners = [];
  const event = (listener) => {
    listeners.push(listener);
    return { dispose: () => listeners.splice(listeners.indexOf(listener), 1) };
  };
  event.fire = (value) => Promise.all(listeners.slice().map((l) => l(value)));
  return event;
}

function createVscode() {
  const state = {
    config: {},
    commands: new Map(),
    executed: [],
    messages: [],
    channels: [],
    statusItems: [],
    panels: [],
    shown: [],
    /** Which button a message "clicks": (level, message, items) => item or undefined. */
    choose: () => undefined,
  };

  class Uri {
    constructor(scheme, fsPath) {
      this.scheme = scheme;
      this.fsPath = fsPath;
      this.path = fsPath;
    }
    static file(p) {
      return new Uri("file", path.resolve(p));
    }
    static joinPath(base, ...parts) {
      return new Uri(base.scheme, path.join(base.fsPath, ...parts));
    }
    toString() {
      return `${this.scheme}://${this.fsPath}`;
    }
  }

  const events = {
    activeEditor: emitter(),
    save: emitter(),
    configuration: emitter(),
  };

  function message(level) {
    return (text, ...items) => {
      state.messages.push({ level, text, items });
      return Promise.resolve(state.choose(level, text, items));
    };
  }

  const window = {
    activeTextEditor: undefined,
    createOutputChannel(name, options) {
      const lines = [];
      const log = (level) => (text) => lines.push(`${level} ${text}`);
      const channel = {
        name,
        options,
        lines,
        append: (t) => lines.push(t),
        appendLine: (t) => lines.push(t),
        trace: log("trace"),
        debug: log("debug"),
        info: log("info"),
        warn: log("warn"),
        error: log("error"),
        show() {},
        hide() {},
        clear: () => lines.splice(0),
        dispose() {},
      };
      state.channels.push(channel);
      return channel;
    },
    createStatusBarItem(id, alignment, priority) {
      const item = {
        id,
        alignment,
        priority,
        text: "",
        tooltip: undefined,
        command: undefined,
        visible: false,
        show() {
          this.visible = true;
        },
        hide() {
          this.visible = false;
        },
        dispose() {
          this.visible = false;
        },
      };
      state.statusItems.push(item);
      return item;
    },
    showErrorMessage: message("error"),
    showWarningMessage: message("warning"),
    showInformationMessage: message("info"),
    createWebviewPanel(viewType, title, showOptions, options) {
      const disposed = emitter();
      const panel = {
        viewType,
        title,
        showOptions,
        options,
        reveals: 0,
        disposed: false,
        webview: { html: "", options },
        reveal() {
          this.reveals += 1;
        },
        onDidDispose: disposed,
        dispose() {
          this.disposed = true;
          disposed.fire();
        },
      };
      state.panels.push(panel);
      return panel;
    },
    showTextDocument(document, options) {
      state.shown.push({ document, options });
      return Promise.resolve({ document });
    },
    onDidChangeActiveTextEditor: events.activeEditor,
  };

  const workspace = {
    getConfiguration(section) {
      return {
        get(key, fallback) {
          const value = state.config[`${section}.${key}`];
          return value === undefined ? fallback : value;
        },
      };
    },
    openTextDocument(uri) {
      return Promise.resolve({ uri, languageId: "json" });
    },
    onDidSaveTextDocument: events.save,
    onDidChangeConfiguration: events.configuration,
  };

  const commands = {
    registerCommand(id, callback) {
      if (state.commands.has(id)) {
        throw new Error(`command ${id} registered twice`);
      }
      state.commands.set(id, callback);
      return { dispose: () => state.commands.delete(id) };
    },
    executeCommand(id, ...args) {
      state.executed.push({ id, args });
      const callback = state.commands.get(id);
      return Promise.resolve(callback ? callback(...args) : undefined);
    },
  };

  const vscode = {
    Uri,
    window,
    workspace,
    commands,
    StatusBarAlignment: { Left: 1, Right: 2 },
    ViewColumn: { Active: -1, Beside: -2, One: 1, Two: 2 },
    Disposable: class {
      constructor(f) {
        this.dispose = f;
      }
    },
  };

  /** Makes `document` the active editor's and tells the listeners. */
  function setActive(document) {
    window.activeTextEditor = document ? { document } : undefined;
    return events.activeEditor.fire(window.activeTextEditor);
  }

  /** A change of the settings under `section`. */
  function changeConfiguration(section) {
    return events.configuration.fire({
      affectsConfiguration: (s) => section === s || section.startsWith(`${s}.`),
    });
  }

  return { vscode, state, events, setActive, changeConfiguration };
}

module.exports = { createVscode };
