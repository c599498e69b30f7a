/** Label keys the product puts on images and containers; nothing secret ever goes here. */
export const LABEL = {
  app: 'dev.baremetal.app',
  commit: 'dev.baremetal.commit',
  subject: 'dev.baremetal.subject',
  author: 'dev.baremetal.author',
  built: 'dev.baremetal.built',
  deployId: 'dev.baremetal.deploy-id',
  dirty: 'dev.baremetal.dirty',
} as const;

export function imageRepo(app: string): string {
  return app;
}

export function imageTag(app: string, tag: string): string {
  return `${imageRepo(app)}:${tag}`;
}
