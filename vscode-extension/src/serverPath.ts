// Where the prunekit-lsp binary is: the setting, then the bundled server/ folder, then PATH.
// Pure apart from the file checks, which callers (and the unit tests) may replace.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const SETTING = "prunekit.server.path";
export const NOT_FOUND =
  "prunekit: the recipe server (prunekit-lsp) was not found: set prunekit.server.path or put prunekit-lsp on PATH.";

export type Source = "setting" | "bundled" | "PATH";

export type Resolution =
  | { ok: true; path: string; source: Source }
  | { ok: false; message: string };

export interface ResolveInput {
  /** The value of prunekit.server.path ("" or undefined when unset). */
  setting: string | undefined;
  /** The extension's folder (context.extensionUri.fsPath). */
  extensionPath: string;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** Whether `file` is a regular file this process may run. */
  isExecutable?: (file: string, platform: NodeJS.Platform) => boolean;
  /** Whether anything exists at `file`. */
  exists?: (file: string) => boolean;
  home?: string;
}

export function binaryName(platform: NodeJS.Platform): string {
  return platform === "win32" ? "prunekit-lsp.exe" : "prunekit-lsp";
}

export function isExecutableFile(file: string, platform: NodeJS.Platform): boolean {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    if (platform !== "win32") {
      fs.accessSync(file, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

function existsAt(file: string): boolean {
  return fs.existsSync(file);
}

/** `~` and `~/x` name the home folder. */
export function expandHome(value: string, home: string): string {
  if (value === "~") {
    return home;
  }
  if (value.startsWith("~/") || value.startsWith("~\\")) {
    return path.join(home, value.slice(2));
  }
  return value;
}

/** The first directory on PATH holding an executable `prunekit-lsp`, or undefined. */
export function searchPath(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform,
  isExecutable: (file: string, platform: NodeJS.Platform) => boolean,
): string | undefined {
  // Windows spells it Path; look the key up case-insensitively there.
  const key =
    platform === "win32"
      ? Object.keys(env).find((k) => k.toUpperCase() === "PATH") ?? "PATH"
      : "PATH";
  const dirs = (env[key] ?? "").split(platform === "win32" ? ";" : ":").filter((d) => d !== "");
  const names =
    platform === "win32"
      ? [
          "prunekit-lsp",
          ...(env.PATHEXT ?? ".EXE;.CMD;.BAT;.COM")
            .split(";")
            .filter((e) => e !== "")
            .map((e) => "prunekit-lsp" + e.toLowerCase()),
        ]
      : ["prunekit-lsp"];
  const join = platform === "win32" ? path.win32.join : path.posix.join;
  for (const dir of dirs) {
    for (const name of names) {
      const candidate = join(dir, name);
      if (isExecutable(candidate, platform)) {
        return candidate;
      }
    }
  }
  return undefined;
}

export function resolveServer(input: ResolveInput): Resolution {
  const isExecutable = input.isExecutable ?? isExecutableFile;
  const exists = input.exists ?? existsAt;
  const join = input.platform === "win32" ? path.win32.join : path.posix.join;

  const setting = (input.setting ?? "").trim();
  if (setting !== "") {
    const file = expandHome(setting, input.home ?? os.homedir());
    if (isExecutable(file, input.platform)) {
      return { ok: true, path: file, source: "setting" };
    }
    const why = exists(file) ? "which is not an executable file" : "which does not exist";
    return {
      ok: false,
      message: `prunekit: ${SETTING} is ${file}, ${why}: fix the setting or clear it to use the bundled server.`,
    };
  }

  const bundled = join(input.extensionPath, "server", binaryName(input.platform));
  if (isExecutable(bundled, input.platform)) {
    return { ok: true, path: bundled, source: "bundled" };
  }

  const onPath = searchPath(input.env, input.platform, isExecutable);
  if (onPath !== undefined) {
    return { ok: true, path: onPath, source: "PATH" };
  }
  return { ok: false, message: NOT_FOUND };
}
