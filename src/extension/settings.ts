// Reads the kvzipCode.* settings into the engine's CacheSettings for the workspace (one folder or several).
import * as vscode from 'vscode';
import type { CacheSettings } from '../engine/protocol.ts';
import { isDevice, isLevel, isScoring, type Device, type Level, type Scoring } from '../core/choices.ts';

export const SECTION = 'kvzipCode';
export const DEFAULT_MODEL = 'Qwen2.5-Coder-1.5B-Instruct';

export interface ExtensionSettings {
  model: string;
  device: Device;
  ratio: number;
  level: Level;
  scoring: Scoring;
  include: string[];
  exclude: string[];
  /** Globs of files that rank first in the context. */
  pinned: string[];
  includeSecrets: boolean;
  /** Linear weights as int4 blocks: a fraction of the memory. */
  int4: boolean;
  maxContextTokens: number;
  cacheSizeCapMB: number;
  autoRefresh: boolean;
  maxAnswerTokens: number;
  /** 0: every position after the context. */
  conversationBudget: number;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
const positive = (v: unknown, fallback: number): number => (typeof v === 'number' && v > 0 && Number.isFinite(v) ? v : fallback);

/** Settings come from user JSON: anything malformed falls back to the default rather than reaching the engine. */
export function readSettings(scope?: vscode.Uri): ExtensionSettings {
  const c = vscode.workspace.getConfiguration(SECTION, scope);
  const device = c.get<string>('device');
  const level = c.get<string>('level');
  const scoring = c.get<string>('scoring');
  const model = c.get<string>('model');
  return {
    model: typeof model === 'string' && model.trim() ? model.trim() : DEFAULT_MODEL,
    device: device !== undefined && isDevice(device) ? device : 'auto',
    ratio: Math.min(1, positive(c.get('ratio'), 0.3)),
    level: level !== undefined && isLevel(level) ? level : 'pair',
    scoring: scoring !== undefined && isScoring(scoring) ? scoring : 'exact',
    include: strings(c.get('include')),
    exclude: strings(c.get('exclude')),
    pinned: strings(c.get('pinned')),
    includeSecrets: c.get('includeSecrets') === true,
    int4: c.get('int4') === true,
    maxContextTokens: positive(c.get('maxContextTokens'), 0),
    cacheSizeCapMB: positive(c.get('cacheSizeCapMB'), 4096),
    autoRefresh: c.get('autoRefresh') === true,
    maxAnswerTokens: positive(c.get('maxAnswerTokens'), 512),
    conversationBudget: Math.floor(positive(c.get('conversationBudget'), 0)),
  };
}

/** A multi-root workspace's folders with names unique among them (VS Code allows two folders of one name). */
export function contextFolders(folders: readonly vscode.WorkspaceFolder[]): { name: string; path: string }[] {
  const seen = new Set<string>();
  return folders.map((f) => {
    const base = f.name.replace(/\//g, '-') || 'folder';
    let name = base;
    for (let i = 2; seen.has(name); i++) name = `${base}-${i}`;
    seen.add(name);
    return { name, path: f.uri.fsPath };
  });
}

/**
 * The engine's settings for the workspace: `folder` names the cache entry; with several folders open, every
 * one goes into the context (paths prefixed with the folder's name) under one budget.
 */
export function cacheSettings(folder: vscode.WorkspaceFolder, cacheDir: string): CacheSettings {
  const s = readSettings(folder.uri);
  const all = vscode.workspace.workspaceFolders ?? [folder];
  return {
    workspace: folder.uri.fsPath,
    ...(all.length > 1 ? { folders: contextFolders(all) } : {}),
    model: s.model,
    cacheDir,
    device: s.device,
    ratio: s.ratio,
    level: s.level,
    ...(s.scoring === 'local' ? { scoring: s.scoring } : {}),
    ...(s.int4 ? { int4: true } : {}),
    ...(s.maxContextTokens > 0 ? { maxContextTokens: s.maxContextTokens } : {}),
    includeSecrets: s.includeSecrets,
    ...(s.include.length ? { include: s.include } : {}),
    ...(s.exclude.length ? { exclude: s.exclude } : {}),
    ...(s.pinned.length ? { pinned: s.pinned } : {}),
    cacheSizeCapMB: s.cacheSizeCapMB,
  };
}
