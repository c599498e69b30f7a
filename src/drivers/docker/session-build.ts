import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { BuildRequest } from '../../core/ports';
import { openBuildSession, type BuildSession, type SessionDirs } from './build-session';
import { spoolContext, type SpooledContext } from './context-spool';

/**
 * `POST /build` with the context and the Dockerfile served over a BuildKit session (as the
 * docker CLI's own BuildKit client did before buildx), rather than uploaded in the body.
 * Returns the engine's progress stream and what to close once it is read.
 */
export async function startSessionBuild(docker: Docker, req: BuildRequest, signal?: AbortSignal): Promise<{ stream: Readable; session: BuildSession; close: () => Promise<void> }> {
  // The session first: an engine (or a connection to it) that takes none leaves the context
  // unread, for the caller to upload instead (SessionRefused).
  const dirs: SessionDirs = {};
  let session: BuildSession;
  try {
    session = await openBuildSession(docker, dirs, req.secrets ?? {});
  } catch (e) {
    throw new SessionRefused(e as Error);
  }
  let spool: SpooledContext | undefined;
  try {
    spool = await spoolContext(req.context);
    // The frontend reads the Dockerfile from a folder of its own, named by its base name there.
    const dockerfileDir = posix.dirname(req.dockerfile) === '.' ? '' : posix.dirname(req.dockerfile);
    dirs.context = { spool, entries: spool.entries };
    dirs.dockerfile = { spool, entries: reRooted(spool, dockerfileDir) };
    const stream = await new Promise<Readable>((resolve, reject) => {
      docker.modem.dial(
        {
          path: '/build?',
          method: 'POST',
          // The query only: a body (docker-modem would send the options as JSON) would hold back
          // the engine's whole output until it is read, which a session build never does.
          options: {
            _body: {},
            _query: {
            t: req.tag,
            dockerfile: posix.basename(req.dockerfile),
            buildargs: req.buildArgs,
            labels: req.labels,
            ...(req.target ? { target: req.target } : {}),
            ...(req.platform ? { platform: req.platform } : {}),
            rm: true,
            forcerm: true,
            version: '2',
            remote: 'client-session',
            session: session.id,
            },
          },
          abortSignal: signal,
          isStream: true,
          statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
        } as never,
        (err, s) => (err ? reject(err) : resolve(s as Readable)),
      );
    });
    const kept = spool;
    return {
      stream,
      session,
      close: async () => {
        session.close();
        await kept.close();
      },
    };
  } catch (e) {
    session.close();
    await spool?.close();
    throw e;
  }
}

/** The engine did not open a build session; the context was not read. */
export class SessionRefused extends Error {
  constructor(readonly reason: Error) {
    super(`no build session: ${reason.message}`);
  }
}

/** The entries of one folder of the context, with paths relative to it. */
function reRooted(spool: SpooledContext, dir: string): SpooledContext['entries'] {
  if (!dir) return spool.entries;
  return spool.entries.filter((e) => e.stat.path.startsWith(`${dir}/`)).map((e) => ({ ...e, stat: { ...e.stat, path: e.stat.path.slice(dir.length + 1) } }));
}
