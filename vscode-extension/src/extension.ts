// The prunekit extension: a thin client of prunekit-lsp for SparseML recipe files, a status bar
// item naming the recipe's model, the layer sensitivity chart and the model's project file.

import { execFile } from "node:child_process";
import * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

import { resolveServer, SETTING, type Source } from "./serverPath";
import { type Chart, chartHtml, fileName, type ModelInfo, statusView } from "./view";

export const LANGUAGES = ["prunekit-recipe", "prunekit-recipe-markdown"];
export const COMMANDS = {
  restart: "prunekit.restartServer",
  chart: "prunekit.showSensitivity",
  project: "prunekit.openProjectFile",
};

const SOURCE_TEXT: Record<Source, string> = {
  setting: "the setting prunekit.server.path",
  bundled: "the extension's server/ folder",
  PATH: "PATH",
};

function isRecipe(document: vscode.TextDocument | undefined): document is vscode.TextDocument {
  return document !== undefined && LANGUAGES.includes(document.languageId);
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  if (typeof error === "object" && error !== null && "message" in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

/** `<binary> --version`, or why it could not be read. */
function readVersion(binary: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    execFile(binary, ["--version"], { env, timeout: 5000 }, (error, stdout, stderr) => {
      const text = String(stdout).trim();
      if (error || text === "") {
        resolve(`unknown (--version failed: ${String(stderr).trim() || errorText(error)})`);
      } else {
        resolve(text.split("\n")[0]);
      }
    });
  });
}

class Extension implements vscode.Disposable {
  client: LanguageClient | undefined;
  /** Why there is no client, when there is none. */
  problem: string | undefined;
  readonly output: vscode.LogOutputChannel;
  readonly status: vscode.StatusBarItem;
  panel: vscode.WebviewPanel | undefined;
  /** The recipe most recently active, so that the commands work from the chart's panel too. */
  lastRecipe: vscode.Uri | undefined;
  private refreshes = 0;
  private restarting: Promise<void> = Promise.resolve();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel("prunekit", { log: true });
    this.status = vscode.window.createStatusBarItem(
      "prunekit.model",
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.status.name = "prunekit model";
    this.status.command = COMMANDS.chart;
  }

  register(): void {
    const subscriptions = this.context.subscriptions;
    subscriptions.push(
      this,
      this.output,
      this.status,
      vscode.commands.registerCommand(COMMANDS.restart, () => this.restart()),
      vscode.commands.registerCommand(COMMANDS.chart, () => this.showSensitivity()),
      vscode.commands.registerCommand(COMMANDS.project, () => this.openProjectFile()),
      vscode.window.onDidChangeActiveTextEditor(() => this.refreshStatus()),
      vscode.workspace.onDidSaveTextDocument((document) => {
        if (isRecipe(document)) {
          this.scheduleRefresh();
        }
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (
          event.affectsConfiguration("prunekit.server.path") ||
          event.affectsConfiguration("prunekit.server.extraEnv")
        ) {
          this.output.info("the server settings changed; restarting the server");
          void this.restart();
        } else if (event.affectsConfiguration("prunekit")) {
          // The client forwards the change to the server first; ask again after it.
          this.scheduleRefresh();
        }
      }),
    );
  }

  async startClient(): Promise<void> {
    const config = vscode.workspace.getConfiguration("prunekit");
    const found = resolveServer({
      setting: config.get<string>("server.path"),
      extensionPath: this.context.extensionUri.fsPath,
      platform: process.platform,
      env: process.env,
    });
    if (!found.ok) {
      this.problem = found.message;
      this.output.error(found.message);
      void vscode.window.showErrorMessage(found.message, "Open Setting").then((choice) => {
        if (choice === "Open Setting") {
          void vscode.commands.executeCommand("workbench.action.openSettings", SETTING);
        }
      });
      return;
    }
    this.problem = undefined;

    const extraEnv = config.get<Record<string, unknown>>("server.extraEnv") ?? {};
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(extraEnv)) {
      env[key] = String(value);
    }
    const version = await readVersion(found.path, env);
    this.output.info(`server: ${found.path} (from ${SOURCE_TEXT[found.source]}), version ${version}`);

    const serverOptions: ServerOptions = {
      run: { command: found.path, transport: TransportKind.stdio, options: { env } },
      debug: {
        command: found.path,
        transport: TransportKind.stdio,
        options: { env: { RUST_LOG: "debug", ...env } },
      },
    };
    const documentSelector = LANGUAGES.flatMap((language) => [
      { scheme: "file", language },
      { scheme: "untitled", language },
    ]);
    const clientOptions: LanguageClientOptions = {
      documentSelector,
      synchronize: { configurationSection: "prunekit" },
      initializationOptions: {
        model: config.get<string>("model") ?? "",
        framework: config.get<string>("framework") ?? "pytorch",
      },
      outputChannel: this.output,
    };
    const client = new LanguageClient("prunekit", "prunekit recipes", serverOptions, clientOptions);
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      this.problem = `prunekit: the recipe server (${found.path}) did not start: ${errorText(error)}`;
      this.output.error(this.problem);
      void vscode.window.showErrorMessage(this.problem);
      try {
        await client.dispose();
      } catch {
        // it never ran
      }
    }
  }

  async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      try {
        await client.dispose();
      } catch (error) {
        this.output.warn(`stopping the server: ${errorText(error)}`);
      }
    }
  }

  /** Stops the server and starts it again, resolving the binary anew; restarts never overlap. */
  restart(): Promise<void> {
    this.restarting = this.restarting.then(async () => {
      await this.stopClient();
      await this.startClient();
      await this.refreshStatus();
    });
    return this.restarting;
  }

  /** The recipe the commands act on: the active editor's, else the last active one. */
  recipe(): vscode.Uri | undefined {
    const document = vscode.window.activeTextEditor?.document;
    if (isRecipe(document)) {
      this.lastRecipe = document.uri;
    }
    return this.lastRecipe;
  }

  private request<T>(method: string, uri: vscode.Uri): Promise<T> {
    if (this.client === undefined) {
      return Promise.reject(
        new Error(this.problem ?? "prunekit: the recipe server is not running."),
      );
    }
    return this.client.sendRequest<T>(method, { uri: uri.toString() });
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer !== undefined) {
      clearTimeout(this.refreshTimer);
    }
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refreshStatus();
    }, 150);
  }

  /** Shows the status item for the active recipe, hides it elsewhere. Resolves when done. */
  refreshStatus(): Promise<void> {
    const document = vscode.window.activeTextEditor?.document;
    const ticket = ++this.refreshes;
    if (!isRecipe(document)) {
      this.status.hide();
      return Promise.resolve();
    }
    this.lastRecipe = document.uri;
    if (this.client === undefined) {
      this.status.text = "$(warning) no server";
      this.status.tooltip = this.problem ?? "prunekit: the recipe server is not running.";
      this.status.command = {
        title: "Open Setting",
        command: "workbench.action.openSettings",
        arguments: [SETTING],
      };
      this.status.show();
      return Promise.resolve();
    }
    return this.request<ModelInfo>("prunekit/model", document.uri).then(
      (info) => {
        if (ticket !== this.refreshes) {
          return; // a newer refresh is under way
        }
        const view = statusView(info);
        this.status.text = view.text;
        this.status.tooltip = view.tooltip;
        this.status.command = COMMANDS.chart;
        this.status.show();
      },
      (error) => {
        if (ticket !== this.refreshes) {
          return;
        }
        this.status.text = "$(warning) no model";
        this.status.tooltip = errorText(error);
        this.status.command = COMMANDS.chart;
        this.status.show();
      },
    );
  }

  async showSensitivity(): Promise<void> {
    const uri = this.recipe();
    if (uri === undefined) {
      void vscode.window.showInformationMessage(
        "prunekit: open a recipe (*.recipe.yaml, *.recipe.md) to show its model's sensitivity chart.",
      );
      return;
    }
    let html: string;
    let chart: Chart;
    try {
      chart = await this.request<Chart>("prunekit/sensitivityChart", uri);
      html = chartHtml(chart);
    } catch (error) {
      void vscode.window.showErrorMessage(errorText(error));
      return;
    }
    const title = `Sensitivity: ${fileName(chart.model)}`;
    if (this.panel === undefined) {
      const panel = vscode.window.createWebviewPanel(
        "prunekit.sensitivity",
        title,
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: false, localResourceRoots: [] },
      );
      panel.onDidDispose(() => {
        if (this.panel === panel) {
          this.panel = undefined;
        }
      });
      this.panel = panel;
    } else {
      this.panel.reveal(undefined, true);
    }
    this.panel.title = title;
    this.panel.webview.html = html;
  }

  async openProjectFile(): Promise<void> {
    const uri = this.recipe();
    if (uri === undefined) {
      void vscode.window.showInformationMessage(
        "prunekit: open a recipe (*.recipe.yaml, *.recipe.md) to open its model's project file.",
      );
      return;
    }
    let info: ModelInfo;
    try {
      info = await this.request<ModelInfo>("prunekit/model", uri);
    } catch (error) {
      void vscode.window.showErrorMessage(errorText(error));
      return;
    }
    if (info.project) {
      const document = await vscode.workspace.openTextDocument(vscode.Uri.file(info.project));
      await vscode.window.showTextDocument(document, { preview: false });
      return;
    }
    if (!info.model || !info.exists) {
      void vscode.window.showWarningMessage(statusView(info).tooltip);
      return;
    }
    void vscode.window.showInformationMessage(
      `${fileName(info.model as string)} has no project file yet: run \`profile loss\` in the prunekit kernel to create one.`,
    );
  }

  dispose(): void {
    if (this.refreshTimer !== undefined) {
      clearTimeout(this.refreshTimer);
    }
    this.panel?.dispose();
  }
}

let extension: Extension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extension = new Extension(context);
  extension.register();
  await extension.startClient();
  await extension.refreshStatus();
}

export async function deactivate(): Promise<void> {
  const current = extension;
  extension = undefined;
  await current?.stopClient();
}
