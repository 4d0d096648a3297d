"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const { tempDir, cleanup, fakeServer, OUT } = require("./helpers");
const { resolveServer, searchPath, NOT_FOUND } = require(path.join(OUT, "serverPath.js"));

describe("server binary resolution", () => {
  afterEach(cleanup);

  function input(overrides) {
    return {
      setting: "",
      extensionPath: tempDir(),
      platform: "linux",
      env: { PATH: tempDir() },
      ...overrides,
    };
  }

  it("uses the setting first, even with a bundled server and one on PATH", () => {
    const extensionPath = tempDir();
    fakeServer(path.join(extensionPath, "server"));
    const onPath = tempDir();
    fakeServer(onPath);
    const chosen = fakeServer(tempDir(), "my-lsp");
    const found = resolveServer(input({ setting: chosen, extensionPath, env: { PATH: onPath } }));
    assert.deepEqual(found, { ok: true, path: chosen, source: "setting" });
  });

  it("names the setting and the path when the setting's file does not exist", () => {
    const missing = path.join(tempDir(), "nope", "prunekit-lsp");
    const onPath = tempDir();
    fakeServer(onPath);
    const found = resolveServer(input({ setting: missing, env: { PATH: onPath } }));
    assert.equal(found.ok, false);
    assert.match(found.message, /prunekit\.server\.path/);
    assert.ok(found.message.includes(missing), found.message);
    assert.match(found.message, /does not exist/);
  });

  it("says the setting's file is not executable", () => {
    const file = fakeServer(tempDir(), "prunekit-lsp", 0o644);
    const found = resolveServer(input({ setting: file }));
    assert.equal(found.ok, false);
    assert.ok(found.message.includes(file));
    assert.match(found.message, /not an executable file/);
  });

  it("expands ~ in the setting", () => {
    const home = tempDir();
    const file = fakeServer(path.join(home, "bin"));
    const found = resolveServer(input({ setting: "~/bin/prunekit-lsp", home }));
    assert.deepEqual(found, { ok: true, path: file, source: "setting" });
  });

  it("uses the bundled server/prunekit-lsp before PATH", () => {
    const extensionPath = tempDir();
    const bundled = fakeServer(path.join(extensionPath, "server"));
    const onPath = tempDir();
    fakeServer(onPath);
    const found = resolveServer(input({ extensionPath, env: { PATH: onPath } }));
    assert.deepEqual(found, { ok: true, path: bundled, source: "bundled" });
  });

  it("looks for prunekit-lsp.exe in server/ on Windows", () => {
    const seen = [];
    const found = resolveServer(
      input({
        extensionPath: "C:\\ext",
        platform: "win32",
        env: { Path: "C:\\tools" },
        isExecutable: (file) => {
          seen.push(file);
          return file === "C:\\ext\\server\\prunekit-lsp.exe";
        },
      }),
    );
    assert.deepEqual(found, { ok: true, path: "C:\\ext\\server\\prunekit-lsp.exe", source: "bundled" });
    assert.deepEqual(seen, ["C:\\ext\\server\\prunekit-lsp.exe"]);
  });

  it("falls back to the first prunekit-lsp on PATH, skipping folders without one", () => {
    const empty = tempDir();
    const first = tempDir();
    const second = tempDir();
    const expected = fakeServer(first);
    fakeServer(second);
    const found = resolveServer(input({ env: { PATH: ["/does/not/exist", empty, first, second].join(":") } }));
    assert.deepEqual(found, { ok: true, path: expected, source: "PATH" });
  });

  it("skips a non-executable prunekit-lsp on PATH", () => {
    const a = tempDir();
    const b = tempDir();
    fakeServer(a, "prunekit-lsp", 0o644);
    const expected = fakeServer(b);
    assert.equal(searchPath({ PATH: `${a}:${b}` }, "linux", require(path.join(OUT, "serverPath.js")).isExecutableFile), expected);
  });

  it("uses PATHEXT on Windows", () => {
    const found = searchPath({ Path: "C:\\a;C:\\b", PATHEXT: ".COM;.EXE" }, "win32", (f) => f === "C:\\b\\prunekit-lsp.exe");
    assert.equal(found, "C:\\b\\prunekit-lsp.exe");
  });

  it("gives the one not-found message when there is none anywhere", () => {
    const found = resolveServer(input({ env: { PATH: `${tempDir()}:${tempDir()}` } }));
    assert.deepEqual(found, { ok: false, message: NOT_FOUND });
    assert.equal(
      NOT_FOUND,
      "prunekit: the recipe server (prunekit-lsp) was not found: set prunekit.server.path or put prunekit-lsp on PATH.",
    );
  });

  it("ignores a directory named prunekit-lsp", () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "prunekit-lsp"));
    const found = resolveServer(input({ env: { PATH: dir } }));
    assert.equal(found.ok, false);
  });
});
