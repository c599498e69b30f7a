import type * as vscode from 'vscode';
import { knownSecretValues, SecretMask } from '../core/config/secret-mask';
import type { Config } from '../core/config/types';
import type { Logger } from '../core/ports';

/**
 * The core's Logger on the editor's log output channel. Every line is masked, as the CLI masks
 * what it prints: release and build output, a failed container's last lines, errors.
 */
export class OutputLogger implements Logger {
  constructor(
    private readonly channel: Pick<vscode.LogOutputChannel, 'debug' | 'info' | 'warn' | 'error'>,
    /** Shared with notifications and progress messages, which must not show a secret either. */
    readonly secrets: SecretMask = new SecretMask(),
  ) {}

  /** Adds every secret of the app that can be read now (before an operation sends them anywhere). */
  async learnSecrets(config: Config | undefined, env: NodeJS.ProcessEnv = process.env): Promise<void> {
    if (config) this.secrets.add(await knownSecretValues(config, env));
  }

  mask(text: string): string {
    return this.secrets.mask(text);
  }

  debug(message: string): void {
    this.channel.debug(this.mask(message));
  }
  info(message: string): void {
    this.channel.info(this.mask(message));
  }
  warn(message: string): void {
    this.channel.warn(this.mask(message));
  }
  error(message: string): void {
    this.channel.error(this.mask(message));
  }
}
