import { COMMANDS } from './ids';

/** The status bar's menu, in order (data without vscode, so a unit test can check it). */
export const QUICK_ACTIONS = [
  { label: '$(rocket) Deploy HEAD', command: COMMANDS.deployHead },
  { label: '$(git-commit) Deploy Commit…', command: COMMANDS.deployCommit },
  { label: '$(history) Roll Back…', command: COMMANDS.rollback },
  { label: '$(output) Show Logs', command: COMMANDS.showLogs },
  { label: '$(link-external) Open in Browser', command: COMMANDS.openInBrowser },
  { label: '$(graph-line) Show Resource Use', command: COMMANDS.showResources },
  { label: '$(terminal) Open Shell', command: COMMANDS.openShell },
  { label: '$(run) Run Command…', command: COMMANDS.runCommand },
  { label: '$(refresh) Refresh', command: COMMANDS.refresh },
  { label: '$(gear) Open Configuration', command: COMMANDS.openConfiguration },
] as const;
