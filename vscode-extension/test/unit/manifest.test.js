"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "../..");
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const contributes = manifest.contributes;
const readJson = (relative) => JSON.parse(fs.readFileSync(path.join(ROOT, relative), "utf8"));

describe("package.json", () => {
  it("identifies the extension as prunekit.prunekit for VS Code 1.91+", () => {
    assert.equal(manifest.name, "prunekit");
    assert.equal(manifest.publisher, "prunekit");
    assert.equal(manifest.displayName, "prunekit: SparseML recipes");
    assert.equal(manifest.license, "Apache-2.0");
    assert.ok(fs.existsSync(path.join(ROOT, "LICENSE")));
    assert.equal(manifest.engines.vscode, "^1.91.0");
    assert.equal(manifest.devDependencies["@types/vscode"], "1.91.0", "types pinned to the engine minimum");
    assert.equal(manifest.main, "./dist/extension.js");
    assert.deepEqual(manifest.activationEvents, []);
    assert.deepEqual(manifest.categories, ["Programming Languages", "Linters"]);
  });

  it("declares the two recipe languages with their file patterns", () => {
    const byId = Object.fromEntries(contributes.languages.map((l) => [l.id, l]));
    assert.deepEqual(Object.keys(byId).sort(), ["prunekit-recipe", "prunekit-recipe-markdown"]);
    assert.deepEqual(byId["prunekit-recipe"].filenamePatterns, ["*.recipe.yaml", "*.recipe.yml", "recipe.yaml"]);
    assert.deepEqual(byId["prunekit-recipe"].aliases, ["SparseML Recipe", "prunekit recipe"]);
    assert.deepEqual(byId["prunekit-recipe-markdown"].filenamePatterns, ["*.recipe.md"]);
    for (const language of contributes.languages) {
      const config = readJson(language.configuration);
      assert.equal(config.comments.lineComment, "#");
      assert.ok(config.autoClosingPairs.some((p) => p.open === '"'));
      assert.ok(config.brackets.length > 0);
    }
  });

  it("reuses YAML and Markdown highlighting through grammar includes", () => {
    const expected = {
      "prunekit-recipe": ["source.prunekit-recipe", "source.yaml"],
      "prunekit-recipe-markdown": ["text.prunekit-recipe-markdown", "text.html.markdown"],
    };
    assert.equal(contributes.grammars.length, 2);
    for (const grammar of contributes.grammars) {
      const [scopeName, include] = expected[grammar.language];
      assert.equal(grammar.scopeName, scopeName);
      const tm = readJson(grammar.path);
      assert.equal(tm.scopeName, scopeName);
      assert.deepEqual(tm.patterns, [{ include }]);
    }
  });

  it("contributes the recipe schema, which is in the repository, to yamlValidation", () => {
    assert.deepEqual(contributes.yamlValidation, [
      { fileMatch: ["*.recipe.yaml", "*.recipe.yml", "recipe.yaml"], url: "./schemas/recipe.schema.json" },
    ]);
    const schema = readJson("schemas/recipe.schema.json");
    assert.equal(typeof schema, "object");
    const ignore = fs.readFileSync(path.join(ROOT, ".vscodeignore"), "utf8").split("\n").map((l) => l.trim());
    assert.ok(!ignore.some((l) => /^schemas\b/.test(l)), ".vscodeignore keeps schemas/");
    assert.ok(!ignore.some((l) => /^server\b/.test(l)), ".vscodeignore keeps server/");
  });

  it("declares the settings with their scopes", () => {
    const p = contributes.configuration.properties;
    assert.equal(p["prunekit.server.path"].type, "string");
    assert.equal(p["prunekit.server.path"].scope, "machine");
    assert.equal(p["prunekit.server.extraEnv"].type, "object");
    assert.equal(p["prunekit.server.extraEnv"].scope, "machine");
    assert.equal(p["prunekit.model"].type, "string");
    assert.equal(p["prunekit.model"].scope, "resource");
    assert.deepEqual(p["prunekit.framework"].enum, ["pytorch", "keras", "tensorflow"]);
    assert.equal(p["prunekit.framework"].default, "pytorch");
    assert.equal(p["prunekit.framework"].scope, "resource");
    assert.deepEqual(p["prunekit.trace.server"].enum, ["off", "messages", "verbose"]);
    assert.equal(p["prunekit.trace.server"].default, "off");
    assert.deepEqual(Object.keys(p).sort(), [
      "prunekit.framework",
      "prunekit.model",
      "prunekit.server.extraEnv",
      "prunekit.server.path",
      "prunekit.trace.server",
    ]);
  });

  it("declares the three commands, offered only in recipe editors", () => {
    const titles = Object.fromEntries(contributes.commands.map((c) => [c.command, `${c.category}: ${c.title}`]));
    assert.deepEqual(titles, {
      "prunekit.restartServer": "prunekit: Restart the Recipe Server",
      "prunekit.showSensitivity": "prunekit: Show Layer Sensitivity Chart",
      "prunekit.openProjectFile": "prunekit: Open the Model's Project File",
    });
    const palette = contributes.menus.commandPalette;
    for (const id of Object.keys(titles)) {
      const entry = palette.find((m) => m.command === id);
      assert.ok(entry, id);
      assert.match(entry.when, /editorLangId == prunekit-recipe\b/);
      assert.match(entry.when, /editorLangId == prunekit-recipe-markdown\b/);
    }
  });

  it("pins every dependency to an exact version", () => {
    for (const [name, version] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
      assert.match(version, /^\d+\.\d+\.\d+$/, `${name}@${version}`);
    }
    assert.equal(manifest.dependencies["vscode-languageclient"], "11.0.0");
  });
});
