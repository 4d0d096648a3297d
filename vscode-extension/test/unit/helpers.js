"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { current } = require("./hook");
const { createVscode } = require("./fakes/vscode");
const { createLanguageClient } = require("./fakes/languageclient");

const OUT = path.resolve(__dirname, "../../out");
const temps = [];

/** A new temporary folder, removed after the test. */
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prunekit-ext-"));
  temps.push(dir);
  return dir;
}

function cleanup() {
  for (const dir of temps.splice(0)) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A fake prunekit-lsp at dir/name that answers --version; mode 0755 unless told. */
function fakeServer(dir, name = "prunekit-lsp", mode = 0o755) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, '#!/bin/sh\necho "prunekit-lsp 0.1.0"\n');
  fs.chmodSync(file, mode);
  return file;
}

/** Fresh fakes and a freshly loaded extension (module state and all). */
function fresh() {
  const vs = createVscode();
  const lc = createLanguageClient();
  current.vscode = vs.vscode;
  current.languageclient = lc.module;
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(OUT + path.sep)) {
      delete require.cache[key];
    }
  }
  const extension = require(path.join(OUT, "extension.js"));
  const extensionDir = tempDir();
  const context = {
    subscriptions: [],
    extensionUri: vs.vscode.Uri.file(extensionDir),
    extensionPath: extensionDir,
  };
  return { extension, vs, lc, context, extensionDir };
}

function recipeDocument(vs, file = "/work/models/digits_cnn.recipe.yaml", languageId = "prunekit-recipe") {
  return { uri: vs.vscode.Uri.file(file), languageId, fileName: file };
}

/** Lets pending promise callbacks run. */
function settle() {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

module.exports = { tempDir, cleanup, fakeServer, fresh, recipeDocument, settle, OUT };
