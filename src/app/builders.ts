/**
 * Which builder a deploy uses, decided in one place for the CLI and the editor:
 * - build.on "local" (default): the developer's `docker buildx` when the docker CLI has it (their
 *   builders, contexts, emulation), else the Engine API's BuildKit, else its legacy builder;
 * - build.on "server": the server's own engine over its SSH connection, through the developer's
 *   buildx when there is one (the only way a containerd-store engine before 27.5 takes a
 *   context, moby/moby#47717), else through the server's Engine API.
 * BAREMETAL_BUILDER=buildx|api forces one (troubleshooting, tests).
 */
import { BmError } from '../core/errors';
import type { Builder, BuildRequest, ImageInfo } from '../core/ports';
import { LocalBuilder } from '../drivers/docker/builder';
import { BuildxBuilder } from '../drivers/docker/buildx-builder';
import { dockerCliEnv, endpointLabel } from '../drivers/docker/local-engine';
import type { ConnectedServer } from '../drivers/server-pool';
import { localSocketFor, type LocalSocket } from '../drivers/ssh/local-socket';
import type { Readable } from 'node:stream';

export interface BuilderEnv {
  env: NodeJS.ProcessEnv;
  home: string;
}

type Choice = 'buildx' | 'api';

function forced(env: NodeJS.ProcessEnv): Choice | undefined {
  const v = env.BAREMETAL_BUILDER;
  if (!v || v === 'auto') return undefined;
  if (v === 'buildx' || v === 'api') return v;
  throw new BmError('ConfigInvalid', `BAREMETAL_BUILDER is "${v}"; expected auto, buildx or api.`);
}

/** Picks the real builder on first use (asking for the docker CLI costs a process start). */
class ChosenBuilder implements Builder {
  private chosen?: Promise<Builder>;
  constructor(private readonly pick: () => Promise<Builder>) {}
  private get(): Promise<Builder> {
    this.chosen ??= this.pick();
    this.chosen.catch(() => (this.chosen = undefined));
    return this.chosen;
  }
  async describe(): Promise<string> {
    const b = await this.get();
    return (await b.describe?.()) ?? 'the local Docker Engine';
  }
  async image(tag: string): Promise<ImageInfo | undefined> {
    return (await this.get()).image(tag);
  }
  async build(req: BuildRequest, onOutput: (line: string) => void, signal?: AbortSignal): Promise<ImageInfo> {
    return (await this.get()).build(req, onOutput, signal);
  }
  async save(tag: string, signal?: AbortSignal): Promise<Readable> {
    return (await this.get()).save(tag, signal);
  }
}

/** The developer's own engine, found as the docker CLI finds it. */
export function localBuilder({ env, home }: BuilderEnv): Builder {
  const api = LocalBuilder.connect(env, home);
  return new ChosenBuilder(async () => {
    const choice = forced(env);
    if (choice === 'api') return api;
    await api.ready(); // where the engine is (and a clear sentence when there is none)
    const cliEnv = api.endpoint ? dockerCliEnv(api.endpoint, env) : env;
    if (choice === 'buildx' || (await BuildxBuilder.available(cliEnv))) {
      return new BuildxBuilder({
        image: (t) => api.image(t),
        save: (t, s) => api.save(t, s),
        cliEnv: async () => cliEnv,
        where: async () => (api.endpoint ? endpointLabel(api.endpoint) : 'the local Docker Engine'),
      });
    }
    return api;
  });
}

/** The server's own engine (build.on "server"): the image is there once built. */
export function serverBuilder(server: ConnectedServer, { env }: BuilderEnv): Builder {
  const api = new LocalBuilder(server.engine.docker);
  api.endpoint = { host: `ssh://${server.address}`, source: `the server ${server.name}`, via: 'socket' };
  const openEngine = () =>
    server.transport === 'stream-local'
      ? server.connection.forwardStreamLocal(server.dockerSocket)
      : server.connection.execStream(['docker', '-H', `unix://${server.dockerSocket}`, 'system', 'dial-stdio']);
  return new ChosenBuilder(async () => {
    const choice = forced(env);
    const cliEnv = { ...env };
    delete cliEnv.DOCKER_CONTEXT;
    if (choice === 'api' || (choice !== 'buildx' && !(await BuildxBuilder.available(cliEnv)))) return api;
    let socket: LocalSocket | undefined;
    return new BuildxBuilder({
      image: (t) => server.engine.image(t),
      save: () => Promise.reject(new Error('an image built on the server is not saved: it is already there')),
      cliEnv: async () => {
        socket = await localSocketFor(openEngine);
        return { ...cliEnv, DOCKER_HOST: socket.host };
      },
      where: async () => `the server ${server.name}`,
      builder: 'default', // the server's engine itself, whatever builder the developer has selected
      done: async () => {
        await socket?.close();
        socket = undefined;
      },
    });
  });
}

/** The builder for a deploy of this config to this server. */
export function builderFor(server: ConnectedServer, on: 'local' | 'server', benv: BuilderEnv): Builder {
  return on === 'server' ? serverBuilder(server, benv) : localBuilder(benv);
}
