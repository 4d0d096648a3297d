"use strict";

const assert = require("node:assert/strict");
const path = require("node:path");

const { tempDir, cleanup, fakeServer, fresh, recipeDocument, settle } = require("./helpers");

// A 1×1 PNG.
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const MODEL = "/work/models/digits_cnn.onnx";
const MODEL_ANSWER = {
  model: MODEL,
  how: "modeline",
  exists: true,
  project: "/work/models/digits_cnn.onnx.prunekit.json",
  layers: 4,
  sensitivity_source: "one-shot loss profile 'quick' (kl divergence)",
  message: null,
};
const NO_MODEL_ANSWER = {
  model: null,
  how: null,
  exists: false,
  project: null,
  layers: null,
  sensitivity_source: null,
  message: "This recipe names no model: add a line `# prunekit: model=PATH.onnx` or set prunekit.model.",
};

describe("the extension", () => {
  let t;
  let savedPath;

  beforeEach(() => {
    t = fresh();
    savedPath = process.env.PATH;
    t.server = fakeServer(tempDir());
    t.vs.state.config["prunekit.server.path"] = t.server;
  });

  afterEach(async () => {
    process.env.PATH = savedPath;
    await t.extension.deactivate();
    cleanup();
  });

  function answer(table) {
    t.lc.state.handler = (method, params) => {
      const reply = table[method];
      if (reply instanceof Error) throw reply;
      if (typeof reply === "function") return reply(params);
      if (reply === undefined) throw new Error(`unexpected request ${method}`);
      return reply;
    };
  }

  const statusItem = () => t.vs.state.statusItems[0];
  const command = (id) => {
    const callback = t.vs.state.commands.get(id);
    assert.ok(callback, `command ${id} is registered`);
    return callback();
  };

  describe("activate()", () => {
    it("builds a stdio client with id prunekit for both recipe languages and starts it", async () => {
      t.vs.state.config["prunekit.model"] = "models/digits_cnn.onnx";
      t.vs.state.config["prunekit.framework"] = "keras";
      t.vs.state.config["prunekit.server.extraEnv"] = { RUST_LOG: "info" };
      await t.extension.activate(t.context);

      assert.equal(t.lc.state.clients.length, 1);
      const client = t.lc.state.clients[0];
      assert.equal(client.id, "prunekit");
      assert.equal(client.name, "prunekit recipes");
      assert.equal(client.starts, 1);
      assert.equal(client.running, true);

      const { run, debug } = client.serverOptions;
      assert.equal(run.command, t.server);
      assert.equal(run.transport, 0, "TransportKind.stdio");
      assert.equal(debug.transport, 0);
      assert.equal(run.options.env.RUST_LOG, "info");

      const selector = client.clientOptions.documentSelector;
      for (const language of ["prunekit-recipe", "prunekit-recipe-markdown"]) {
        for (const scheme of ["file", "untitled"]) {
          assert.ok(
            selector.some((s) => s.language === language && s.scheme === scheme),
            `${scheme}:${language} in ${JSON.stringify(selector)}`,
          );
        }
      }
      assert.deepEqual(client.clientOptions.synchronize, { configurationSection: "prunekit" });
      assert.deepEqual(client.clientOptions.initializationOptions, {
        model: "models/digits_cnn.onnx",
        framework: "keras",
      });
    });

    it("defaults the initialization options when nothing is set", async () => {
      await t.extension.activate(t.context);
      assert.deepEqual(t.lc.state.clients[0].clientOptions.initializationOptions, {
        model: "",
        framework: "pytorch",
      });
    });

    it("logs the binary it uses and its version in the prunekit output channel", async () => {
      await t.extension.activate(t.context);
      const channel = t.vs.state.channels.find((c) => c.name === "prunekit");
      assert.ok(channel, "an output channel named prunekit");
      assert.equal(t.lc.state.clients[0].clientOptions.outputChannel, channel);
      const line = channel.lines.find((l) => l.includes(t.server));
      assert.ok(line, channel.lines.join("\n"));
      assert.match(line, /prunekit\.server\.path/);
      assert.match(line, /prunekit-lsp 0\.1\.0/);
    });

    it("uses the bundled server when the setting is empty", async () => {
      t.vs.state.config["prunekit.server.path"] = "";
      const bundled = fakeServer(path.join(t.extensionDir, "server"));
      process.env.PATH = tempDir();
      await t.extension.activate(t.context);
      assert.equal(t.lc.state.clients[0].serverOptions.run.command, bundled);
    });

    it("without any server shows one error whose Open Setting button opens prunekit.server.path", async () => {
      t.vs.state.config["prunekit.server.path"] = "";
      process.env.PATH = tempDir();
      t.vs.state.choose = (level, text, items) => items[0];
      await t.extension.activate(t.context);
      await settle();

      assert.equal(t.lc.state.clients.length, 0, "no client without a binary");
      const errors = t.vs.state.messages.filter((m) => m.level === "error");
      assert.equal(errors.length, 1, JSON.stringify(t.vs.state.messages));
      assert.equal(
        errors[0].text,
        "prunekit: the recipe server (prunekit-lsp) was not found: set prunekit.server.path or put prunekit-lsp on PATH.",
      );
      assert.deepEqual(errors[0].items, ["Open Setting"]);
      assert.deepEqual(
        t.vs.state.executed.find((e) => e.id === "workbench.action.openSettings"),
        { id: "workbench.action.openSettings", args: ["prunekit.server.path"] },
      );
      // The commands still exist and say what is wrong rather than throwing.
      await t.vs.setActive(recipeDocument(t.vs));
      await command("prunekit.showSensitivity");
      assert.equal(t.vs.state.messages.at(-1).text, errors[0].text);
    });

    it("names the path and the setting when the setting points nowhere", async () => {
      const missing = path.join(tempDir(), "gone", "prunekit-lsp");
      t.vs.state.config["prunekit.server.path"] = missing;
      await t.extension.activate(t.context);
      const errors = t.vs.state.messages.filter((m) => m.level === "error");
      assert.equal(errors.length, 1);
      assert.ok(errors[0].text.includes(missing), errors[0].text);
      assert.match(errors[0].text, /prunekit\.server\.path/);
    });

    it("registers the three commands", async () => {
      await t.extension.activate(t.context);
      for (const id of ["prunekit.restartServer", "prunekit.showSensitivity", "prunekit.openProjectFile"]) {
        assert.ok(t.vs.state.commands.has(id), id);
      }
    });

    it("deactivate() stops the client", async () => {
      await t.extension.activate(t.context);
      const client = t.lc.state.clients[0];
      await t.extension.deactivate();
      assert.equal(client.stops, 1);
      assert.equal(client.running, false);
    });
  });

  describe("the status bar item", () => {
    it("names the model, with its path, how it was found and the sensitivity source", async () => {
      answer({ "prunekit/model": MODEL_ANSWER });
      t.vs.vscode.window.activeTextEditor = { document: recipeDocument(t.vs) };
      await t.extension.activate(t.context);

      const item = statusItem();
      assert.equal(item.text, "$(circuit-board) digits_cnn.onnx");
      assert.equal(item.visible, true);
      assert.equal(item.command, "prunekit.showSensitivity");
      assert.ok(item.tooltip.includes(MODEL), item.tooltip);
      assert.ok(item.tooltip.includes("'# prunekit: model=' line"), item.tooltip);
      assert.ok(item.tooltip.includes("one-shot loss profile 'quick' (kl divergence)"), item.tooltip);

      const request = t.lc.state.clients[0].requests[0];
      assert.equal(request.method, "prunekit/model");
      assert.deepEqual(request.params, { uri: recipeDocument(t.vs).uri.toString() });
    });

    it("says the sensitivities are approximate without a source", async () => {
      answer({ "prunekit/model": { ...MODEL_ANSWER, how: "same stem", sensitivity_source: null } });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      assert.match(statusItem().tooltip, /approximated/);
    });

    it("shows a warning with the server's message when there is no usable model", async () => {
      answer({ "prunekit/model": NO_MODEL_ANSWER });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      const item = statusItem();
      assert.equal(item.text, "$(warning) no model");
      assert.equal(item.tooltip, NO_MODEL_ANSWER.message);
      assert.equal(item.visible, true);
    });

    it("treats a named model that is missing as no model", async () => {
      const message = "/work/models/gone.onnx does not exist; check the modeline.";
      answer({ "prunekit/model": { ...MODEL_ANSWER, model: "/work/models/gone.onnx", exists: false, project: null, message } });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      assert.equal(statusItem().text, "$(warning) no model");
      assert.equal(statusItem().tooltip, message);
    });

    it("shows only for recipes, and for Markdown recipe cards too", async () => {
      answer({ "prunekit/model": MODEL_ANSWER });
      await t.extension.activate(t.context);
      assert.equal(statusItem().visible, false, "no editor yet");
      await t.vs.setActive({ uri: t.vs.vscode.Uri.file("/w/train.py"), languageId: "python" });
      assert.equal(statusItem().visible, false);
      await t.vs.setActive(recipeDocument(t.vs, "/w/card.recipe.md", "prunekit-recipe-markdown"));
      assert.equal(statusItem().visible, true);
      assert.equal(statusItem().text, "$(circuit-board) digits_cnn.onnx");
      await t.vs.setActive(undefined);
      assert.equal(statusItem().visible, false);
    });

    it("asks again on save and on a change of the prunekit settings", async () => {
      let answers = 0;
      answer({
        "prunekit/model": () => {
          answers += 1;
          return answers === 1 ? MODEL_ANSWER : { ...MODEL_ANSWER, model: "/work/models/other.onnx" };
        },
      });
      t.vs.vscode.window.activeTextEditor = { document: recipeDocument(t.vs) };
      await t.extension.activate(t.context);
      assert.equal(statusItem().text, "$(circuit-board) digits_cnn.onnx");

      await t.vs.events.save.fire(recipeDocument(t.vs));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(answers, 2);
      assert.equal(statusItem().text, "$(circuit-board) other.onnx");

      await t.vs.changeConfiguration("prunekit.model");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(answers, 3);
      assert.equal(t.lc.state.clients.length, 1, "a model change does not restart the server");
    });
  });

  describe("prunekit.showSensitivity", () => {
    const CHART = {
      png: PNG,
      width: 640,
      height: 360,
      title: "Layer sensitivity of digits_cnn.onnx",
      model: MODEL,
      source: "one-shot loss profile 'quick' (kl divergence)",
    };

    it("shows the server's PNG in one webview panel, updated on each run", async () => {
      answer({ "prunekit/model": MODEL_ANSWER, "prunekit/sensitivityChart": CHART });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      await command("prunekit.showSensitivity");

      assert.equal(t.vs.state.panels.length, 1);
      const panel = t.vs.state.panels[0];
      assert.equal(panel.title, "Sensitivity: digits_cnn.onnx");
      assert.equal(panel.options.enableScripts, false);
      const html = panel.webview.html;
      assert.ok(html.includes(`src="data:image/png;base64,${PNG}"`), html);
      assert.match(html, /width="640"/);
      assert.match(html, /height="360"/);
      assert.ok(html.includes("one-shot loss profile &#39;quick&#39; (kl divergence)"), html);
      assert.match(
        html,
        /Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline';"/,
      );
      assert.doesNotMatch(html, /<script/);
      const request = t.lc.state.clients[0].requests.find((r) => r.method === "prunekit/sensitivityChart");
      assert.deepEqual(request.params, { uri: recipeDocument(t.vs).uri.toString() });

      answer({ "prunekit/sensitivityChart": { ...CHART, model: "/m/other.onnx", width: 500 } });
      await command("prunekit.showSensitivity");
      assert.equal(t.vs.state.panels.length, 1, "the panel is reused");
      assert.equal(panel.title, "Sensitivity: other.onnx");
      assert.match(panel.webview.html, /width="500"/);
      assert.equal(panel.reveals, 1);

      panel.dispose();
      await command("prunekit.showSensitivity");
      assert.equal(t.vs.state.panels.length, 2, "a closed panel is replaced");
    });

    it("works from the chart panel too (no active editor): it uses the last recipe", async () => {
      answer({ "prunekit/model": MODEL_ANSWER, "prunekit/sensitivityChart": CHART });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs, "/w/a.recipe.yaml"));
      await t.vs.setActive(undefined);
      await command("prunekit.showSensitivity");
      const request = t.lc.state.clients[0].requests.find((r) => r.method === "prunekit/sensitivityChart");
      assert.equal(request.params.uri, t.vs.vscode.Uri.file("/w/a.recipe.yaml").toString());
    });

    it("shows the server's error sentence and no panel", async () => {
      const sentence = "digits_cnn.onnx could not be loaded: the file is truncated; export the model again.";
      answer({ "prunekit/model": MODEL_ANSWER, "prunekit/sensitivityChart": Object.assign(new Error(sentence), { code: -32603 }) });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      await command("prunekit.showSensitivity");
      assert.equal(t.vs.state.panels.length, 0);
      assert.deepEqual(t.vs.state.messages.at(-1), { level: "error", text: sentence, items: [] });
    });

    it("refuses an answer that is not base64", async () => {
      answer({ "prunekit/model": MODEL_ANSWER, "prunekit/sensitivityChart": { ...CHART, png: '"><script>x</script>' } });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      await command("prunekit.showSensitivity");
      assert.equal(t.vs.state.panels.length, 0);
      assert.equal(t.vs.state.messages.at(-1).level, "error");
    });

    it("asks for a recipe when none was opened", async () => {
      await t.extension.activate(t.context);
      await command("prunekit.showSensitivity");
      assert.equal(t.vs.state.panels.length, 0);
      assert.match(t.vs.state.messages.at(-1).text, /open a recipe/);
    });
  });

  describe("prunekit.openProjectFile", () => {
    it("opens the model's project file", async () => {
      answer({ "prunekit/model": MODEL_ANSWER });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      await command("prunekit.openProjectFile");
      assert.equal(t.vs.state.shown.length, 1);
      assert.equal(t.vs.state.shown[0].document.uri.fsPath, MODEL_ANSWER.project);
    });

    it("says how to create it when the model has none", async () => {
      answer({ "prunekit/model": { ...MODEL_ANSWER, project: null } });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      await command("prunekit.openProjectFile");
      assert.equal(t.vs.state.shown.length, 0);
      assert.deepEqual(t.vs.state.messages.at(-1), {
        level: "info",
        text: "digits_cnn.onnx has no project file yet: run `profile loss` in the prunekit kernel to create one.",
        items: [],
      });
    });

    it("shows the server's message when the recipe has no model", async () => {
      answer({ "prunekit/model": NO_MODEL_ANSWER });
      await t.extension.activate(t.context);
      await t.vs.setActive(recipeDocument(t.vs));
      await command("prunekit.openProjectFile");
      assert.equal(t.vs.state.shown.length, 0);
      assert.equal(t.vs.state.messages.at(-1).text, NO_MODEL_ANSWER.message);
    });
  });

  describe("prunekit.restartServer", () => {
    it("stops the client and starts a new one with the binary resolved again", async () => {
      await t.extension.activate(t.context);
      const first = t.lc.state.clients[0];
      const other = fakeServer(tempDir(), "prunekit-lsp-2");
      t.vs.state.config["prunekit.server.path"] = other;
      await command("prunekit.restartServer");
      assert.equal(first.stops, 1);
      assert.equal(t.lc.state.clients.length, 2);
      const second = t.lc.state.clients[1];
      assert.equal(second.running, true);
      assert.equal(second.serverOptions.run.command, other);
    });

    it("restarts by itself when prunekit.server.path changes", async () => {
      await t.extension.activate(t.context);
      await t.vs.changeConfiguration("prunekit.server.path");
      await settle();
      assert.equal(t.lc.state.clients.length, 2);
      assert.equal(t.lc.state.clients[0].running, false);
      assert.equal(t.lc.state.clients[1].running, true);
    });

    it("reports a server that fails to start, and a later restart recovers", async () => {
      t.lc.state.startError = new Error("spawn EACCES");
      await t.extension.activate(t.context);
      assert.match(t.vs.state.messages.at(-1).text, /did not start: spawn EACCES/);
      t.lc.state.startError = undefined;
      await command("prunekit.restartServer");
      assert.equal(t.lc.state.clients.at(-1).running, true);
    });
  });
});
