/** Every command the extension contributes; a unit test checks this against package.json. */
export const COMMANDS = {
  deployHead: 'baremetal.deployHead',
  deployCommit: 'baremetal.deployCommit',
  /** The same as deployCommit, titled "Deploy" on a commit's inline button. */
  deployThis: 'baremetal.deployThis',
  rollback: 'baremetal.rollback',
  /** The same as rollback, titled "Roll Back to This" in a deploy's context menu. */
  rollbackToThis: 'baremetal.rollbackToThis',
  showLogs: 'baremetal.showLogs',
  addServer: 'baremetal.addServer',
  trustServer: 'baremetal.trustServer',
  openConfiguration: 'baremetal.openConfiguration',
  refresh: 'baremetal.refresh',
  showCommit: 'baremetal.showCommit',
  copyCommitSha: 'baremetal.copyCommitSha',
  quickActions: 'baremetal.quickActions',
  showServerProblem: 'baremetal.showServerProblem',
  openInBrowser: 'baremetal.openInBrowser',
  showResources: 'baremetal.showResources',
  openShell: 'baremetal.openShell',
  runCommand: 'baremetal.runCommand',
  forgetPassphrases: 'baremetal.forgetPassphrases',
} as const;

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];
