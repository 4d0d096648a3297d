// What the extension shows, computed from the server's answers: the status bar item's text and
// tooltip, and the sensitivity chart's HTML. No vscode API here.

import * as path from "node:path";

/** The answer to `prunekit/model`. */
export interface ModelInfo {
  model: string | null;
  how: "modeline" | "setting" | "same stem" | null;
  exists: boolean;
  project: string | null;
  layers: number | null;
  sensitivity_source: string | null;
  message: string | null;
}

/** The answer to `prunekit/sensitivityChart`. */
export interface Chart {
  png: string;
  width: number;
  height: number;
  title: string;
  model: string;
  source: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  usable: boolean;
}

/** The file name of a path written with either separator. */
export function fileName(file: string): string {
  return path.win32.basename(file);
}

const HOW: Record<string, string> = {
  modeline: "named by the recipe's '# prunekit: model=' line",
  setting: "from the setting prunekit.model",
  "same stem": "the .onnx file with the recipe's name",
};

export function usable(info: ModelInfo): boolean {
  return info.model !== null && info.model !== "" && info.exists && info.message === null;
}

export function statusView(info: ModelInfo): StatusView {
  if (!usable(info)) {
    const tooltip =
      info.message ??
      (info.model ? `${info.model} does not exist.` : "This recipe names no model.");
    return { text: "$(warning) no model", tooltip, usable: false };
  }
  const model = info.model as string;
  const lines = [model];
  if (info.how !== null) {
    lines.push(`Found: ${HOW[info.how] ?? info.how}.`);
  }
  if (info.layers !== null) {
    lines.push(`${info.layers} prunable layer${info.layers === 1 ? "" : "s"}.`);
  }
  lines.push(
    info.sensitivity_source !== null
      ? `Sensitivity: ${info.sensitivity_source}.`
      : "Sensitivity: approximated from the layer shapes (no loss profile yet).",
  );
  lines.push("Click to show the layer sensitivity chart.");
  return { text: `$(circuit-board) ${fileName(model)}`, tooltip: lines.join("\n"), usable: true };
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The webview's HTML for a chart; throws when the answer is not a usable PNG. */
export function chartHtml(chart: Chart): string {
  const png = (chart.png ?? "").replace(/\s+/g, "");
  if (png === "" || !BASE64.test(png)) {
    throw new Error("prunekit: the server's chart is not a base64 PNG.");
  }
  const width = Math.max(1, Math.round(Number(chart.width) || 0));
  const height = Math.max(1, Math.round(Number(chart.height) || 0));
  const title = escapeHtml(chart.title ?? "");
  const caption = escapeHtml(
    `${fileName(chart.model ?? "")}: ${chart.source ?? "approximated sensitivities"}`,
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${title}</title>
<style>
  body { margin: 16px; color: var(--vscode-foreground); font-family: var(--vscode-font-family); }
  figure { margin: 0; }
  img { display: block; max-width: 100%; height: auto; background: #fff; border-radius: 4px; }
  figcaption { margin-top: 8px; color: var(--vscode-descriptionForeground); font-size: 0.9em; }
</style>
</head>
<body>
<figure>
<img src="data:image/png;base64,${png}" width="${width}" height="${height}" alt="${title}">
<figcaption>${caption}</figcaption>
</figure>
</body>
</html>
`;
}
