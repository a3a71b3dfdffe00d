// Activation: wires the engine client, the controller, the sidebar, the status bar and the commands.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { Controller } from './controller.ts';
import { EngineClient } from '../engine/client.ts';
import { SECTION, readSettings } from './settings.ts';
import { SidebarProvider, VIEW_ID } from './viewProvider.ts';
import { StatusBar } from './statusBar.ts';
import { checkPickedModel, HF_TOKEN_SECRET, MODEL_PRESETS, modelChoices, type ModelChoice } from './models.ts';
import { listLocalModels } from '../model/localModels.ts';
import { modelKey } from '../model/stores.ts';
import { registerCudaSetup } from './cudaSetup.ts';
import { BuildConfirmation } from './confirmBuild.ts';
import { ConversationStore } from './conversations.ts';
import { failureOf } from './errors.ts';
import { showFailure } from './failureActions.ts';
import { focusQuestion, showHistory } from './conversationCommands.ts';
import { selectionQuote, workspacePath } from './editorQuote.ts';
import { ContextView } from './contextView.ts';
import { confirmClearWorkspace, showCacheList } from './cacheList.ts';

/** What activate returns, so extension-host tests can reach the live objects. */
export interface KvzipApi {
  controller: Controller;
  sidebar: SidebarProvider;
  engine: EngineClient;
  cacheDir: string;
}

let engine: EngineClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<KvzipApi> {
  const output = vscode.window.createOutputChannel('KVzip Code');
  const log = (line: string) => output.appendLine(`[${new Date().toISOString()}] ${line}`);
  const cacheDir = context.globalStorageUri.fsPath;
  await mkdir(cacheDir, { recursive: true });

  engine = new EngineClient(path.join(context.extensionPath, 'dist', 'engine.js'), log);
  // The workspace's own storage (VS Code's, not the repository): there is none with no folder open.
  const conversations = context.storageUri ? new ConversationStore(path.join(context.storageUri.fsPath, 'conversations')) : undefined;
  const controller = new Controller(engine, cacheDir, context.workspaceState, log, context.secrets, conversations);
  const confirmation = new BuildConfirmation(controller, log);
  controller.confirmBuild = () => confirmation.confirm();
  const sidebar = new SidebarProvider(context.extensionUri, controller, log);
  const statusBar = new StatusBar();
  statusBar.update(controller.current);

  const withFolder =
    <T>(f: (folder: vscode.WorkspaceFolder) => Thenable<T>) =>
    async (): Promise<T | undefined> => {
      const folder = controller.folder;
      if (!folder) {
        void vscode.window.showWarningMessage('KVzip: open a folder first. The cache is built from the workspace.');
        return undefined;
      }
      return f(folder);
    };

  // A first build (no cache yet) asks first when it downloads or takes long; a refresh of a stale cache does not.
  const build = withFolder(async () => {
    if (controller.current.state === 'none' && !(await confirmation.confirm())) return undefined;
    return runBuild();
  });
  const runBuild = () =>
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'KVzip: building the workspace cache', cancellable: true },
      async (progress, token) => {
        try {
          const r = await controller.build(progress, token);
          if (r) log(`build: ${r.contextTokens} tokens, ${r.kvBytesCompressed}/${r.kvBytesFull} bytes, ${r.device}, ${r.buildMs} ms`);
          return r;
        } catch (err) {
          // The controller recorded the failure for the sidebar and the status bar.
          void showFailure('the cache build failed.', failureOf(err));
          return undefined;
        }
      },
    );

  // The editor's text as it is now goes to the engine, which adds it when the cache lacks the file or holds an
  // older version of it: the answer's header then says so.
  const askSelection = withFolder(async (folder) => {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) return void vscode.window.showInformationMessage('KVzip: select some code first.');
    const question = await vscode.window.showInputBox({ prompt: 'Ask about the selected code', value: 'What does this code do?' });
    if (!question) return;
    // The engine cuts the selection by lines to fit the model's window, and the answer says when it did.
    await sidebar.ask(question, selectionQuote(folder, editor));
  });

  const explainFile = withFolder(async (folder) => {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc) return void vscode.window.showInformationMessage('KVzip: open a file first.');
    const rel = workspacePath(folder, doc);
    await sidebar.ask(`Explain the file ${rel}: what it does and how it fits in this repository.`, {
      path: rel,
      text: doc.getText(),
      language: doc.languageId,
    });
  });

  // A cache can take an hour to build: Clear says what goes, and how long it took, before it deletes anything.
  const clear = withFolder(async () => {
    try {
      if (!(await confirmClearWorkspace(controller))) return undefined;
      const removed = await controller.clear();
      void vscode.window.showInformationMessage(
        `KVzip: removed ${removed} cache ${removed === 1 ? 'entry' : 'entries'} for this workspace.`,
      );
      return removed;
    } catch (err) {
      void showFailure('could not clear the cache.', controller.fail('Clearing the cache failed.', err));
      return undefined;
    }
  });

  // Presets, then the models found on this machine (read while the pick is open), then a file or folder to browse
  // for; a picked model is checked before the setting changes.
  const chooseModel = async (): Promise<string | undefined> => {
    const current = readSettings().model;
    type Item = vscode.QuickPickItem & { choice?: ModelChoice };
    const separator = (label: string): Item => ({ label, kind: vscode.QuickPickItemKind.Separator });
    const items = listLocalModels({ extra: [current] })
      .catch((err: unknown) => {
        log(`choose model: could not list the local models: ${failureOf(err).message}`);
        return [];
      })
      .then((local) => {
        const choices = modelChoices(current, local);
        const item = (c: ModelChoice): Item => ({ label: c.label, description: c.description, detail: c.detail, choice: c });
        const of = (g: ModelChoice['group']) => choices.filter((c) => c.group === g).map(item);
        const found = of('local');
        return [
          separator('Presets (downloaded on first use unless in the Hugging Face cache)'),
          ...of('preset'),
          separator(
            found.length
              ? 'On this machine (Ollama, LM Studio, Hugging Face cache)'
              : 'No models found in Ollama, LM Studio or the Hugging Face cache',
          ),
          ...found,
          separator('Elsewhere'),
          ...of('browse'),
        ];
      });
    const pick = await vscode.window.showQuickPick<Item>(items, {
      title: 'KVzip: choose the model',
      placeHolder: current,
      matchOnDescription: true,
      matchOnDetail: true,
    });
    const choice = pick?.choice;
    if (!choice) return undefined;
    let model: string;
    if (choice.browse) {
      const uris = await vscode.window.showOpenDialog(
        choice.browse === 'file'
          ? {
              canSelectFiles: true,
              canSelectFolders: false,
              filters: { 'GGUF models': ['gguf'], 'All files': ['*'] },
              openLabel: 'Use this model',
            }
          : { canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model' },
      );
      if (!uris?.[0]) return undefined;
      model = uris[0].fsPath;
      const problem = await checkPickedModel(model);
      if (problem) {
        void vscode.window.showErrorMessage(`KVzip: ${problem}`);
        return undefined;
      }
    } else if (choice.unusable) {
      void vscode.window.showErrorMessage(`KVzip: ${choice.setting} cannot be used: ${choice.unusable}`);
      return undefined;
    } else model = choice.setting!;
    // A gated preset needs a token to download, not when the Hugging Face cache has it.
    const downloads = modelKey(model)?.startsWith('preset:') ?? false;
    if (downloads && MODEL_PRESETS.find((p) => p.id === model)?.gated && !(await context.secrets.get(HF_TOKEN_SECRET))) {
      const token = await vscode.window.showInputBox({
        title: `KVzip: ${model} is gated on the Hugging Face Hub`,
        prompt: "Accept its license on huggingface.co, then paste an access token. It is kept in VS Code's secret storage.",
        password: true,
        ignoreFocusOut: true,
      });
      if (token) await context.secrets.store(HF_TOKEN_SECRET, token.trim());
    }
    await vscode.workspace.getConfiguration(SECTION).update('model', model, vscode.ConfigurationTarget.Global);
    return model;
  };

  // The same preview as `kvzip-code context`, in a read-only tab whose paths open the files: what goes in by rank,
  // what is left out and why.
  const contextView = new ContextView();
  const showContext = withFolder((folder) =>
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'KVzip: reading the workspace context', cancellable: true },
      async (_progress, token) => {
        try {
          const preview = await controller.previewContext(token);
          if (!preview) return undefined;
          await contextView.show(preview, folder.name);
          return preview;
        } catch (err) {
          void showFailure('could not preview the context.', controller.fail('The context preview failed.', err));
          return undefined;
        }
      },
    ),
  );

  const showInfo = async () => {
    try {
      return await showCacheList(controller, cacheDir);
    } catch (err) {
      void showFailure('could not read the cache.', failureOf(err));
      return undefined;
    }
  };

  context.subscriptions.push(
    output,
    controller,
    contextView,
    sidebar,
    statusBar,
    { dispose: () => engine?.dispose() },
    controller.onDidChangeStatus((s) => statusBar.update(s)),
    vscode.window.registerWebviewViewProvider(VIEW_ID, sidebar, { webviewOptions: { retainContextWhenHidden: true } }),
    vscode.commands.registerCommand('kvzipCode.build', build),
    vscode.commands.registerCommand('kvzipCode.askSelection', askSelection),
    vscode.commands.registerCommand('kvzipCode.explainFile', explainFile),
    vscode.commands.registerCommand('kvzipCode.clear', clear),
    vscode.commands.registerCommand('kvzipCode.chooseModel', chooseModel),
    vscode.commands.registerCommand('kvzipCode.showInfo', showInfo),
    vscode.commands.registerCommand('kvzipCode.showContext', showContext),
    vscode.commands.registerCommand('kvzipCode.stop', () => controller.stop()),
    vscode.commands.registerCommand('kvzipCode.newConversation', () => controller.newConversation()),
    vscode.commands.registerCommand('kvzipCode.showOutput', () => output.show(true)),
    // The view's gear: KVzip's settings alone, in the order package.json gives them (model and device first).
    vscode.commands.registerCommand('kvzipCode.openSettings', () =>
      vscode.commands.executeCommand('workbench.action.openSettings', `@ext:${context.extension.id}`),
    ),
    vscode.commands.registerCommand('kvzipCode.focusQuestion', () => focusQuestion(sidebar, controller.folder)),
    vscode.commands.registerCommand('kvzipCode.history', () => showHistory(controller)),
    registerCudaSetup(engine, log),
    // A failure is explained, with its buttons, in the sidebar.
    vscode.commands.registerCommand('kvzipCode.statusBarClick', () =>
      ['none', 'stale'].includes(controller.current.state) && !controller.current.failure
        ? build()
        : vscode.commands.executeCommand(`${VIEW_ID}.focus`),
    ),
  );
  return { controller, sidebar, engine, cacheDir };
}

export function deactivate(): void {
  engine?.dispose();
  engine = undefined;
}
