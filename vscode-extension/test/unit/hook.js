// Loaded by mocha before the tests: `require("vscode")` and `require("vscode-languageclient/node")`
// get the fakes of the current test (see helpers.js), so the compiled extension runs under Node.
"use strict";

const Module = require("node:module");

const current = { vscode: undefined, languageclient: undefined };
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === "vscode") {
    if (!current.vscode) throw new Error("no fake vscode installed (use helpers.fresh())");
    return current.vscode;
  }
  if (request === "vscode-languageclient/node") {
    if (!current.languageclient) throw new Error("no fake languageclient installed");
    return current.languageclient;
  }
  return load.call(this, request, parent, isMain);
};

module.exports = { current };
