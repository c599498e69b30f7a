import { BmError } from '../../core/errors';

/**
 * Reads BuildKit's plain progress (`docker buildx build --progress=plain`, and the Engine API's
 * decoded trace) line by line: which step runs, which one failed and why, and the last lines
 * for the error's details. Pure, so what a user is told about a failed build is unit-tested.
 */
export class BuildSteps {
  /** Vertex number → its name ("[2/4] RUN npm ci"), from lines like "#7 [2/4] RUN npm ci". */
  private readonly names = new Map<string, string>();
  private readonly tail: string[] = [];
  private lastStarted?: string;
  /** The step that failed, as the Dockerfile says it ("RUN npm ci"). */
  failedStep?: string;
  /** BuildKit's own words for the failure (the last "ERROR:" line). */
  failure?: string;

  constructor(private readonly keep = 30) {}

  /** Takes one line; returns a step's title when this line starts one (for the progress). */
  push(line: string): string | undefined {
    this.tail.push(line);
    while (this.tail.length > this.keep) this.tail.shift();
    // buildx: "#7 [2/4] RUN npm ci"; the Engine API's trace (as dockerode words it): "[3f2a…] [2/4] RUN npm ci",
    // or since dockerode 5 "[sha256:8aa45] [2/4] RUN npm ci".
    const step = /^(?:#(\d+)|\[((?:sha256:)?[0-9a-f]{5,64})\]) (\[[^\]]+\] .+)$/.exec(line);
    if (step) {
      const id = step[1] ?? step[2];
      if (this.names.has(id)) return undefined;
      this.names.set(id, step[3]);
      if (/^\[(internal|auth)\]/.test(step[3])) return undefined;
      this.lastStarted = step[3];
      return step[3];
    }
    const vertexError = /^#(\d+) ERROR: (.+)$/.exec(line);
    if (vertexError) {
      const name = this.names.get(vertexError[1]);
      if (name) this.failedStep = name.replace(/^\[[^\]]+\] /, '');
      this.failure = vertexError[2];
      return undefined;
    }
    const error = /^ERROR: (.+)$/.exec(line);
    if (error) {
      this.failure = error[1].replace(/^failed to solve: /, '');
      // The trace names no vertex with its error: the step that was running is the one.
      this.failedStep ??= this.lastStarted?.replace(/^\[[^\]]+\] /, '');
    }
    return undefined;
  }

  /** The last lines seen (what the log shows below the error sentence). */
  lastLines(): string {
    return this.tail.join('\n');
  }
}

/** What a cancelled build says, whichever builder ran it. */
export function buildCancelled(): BmError {
  return new BmError('Cancelled', 'Build cancelled; nothing was sent to the server.');
}

/**
 * What to do about a Dockerfile feature the building engine lacks: heredocs need BuildKit 0.10
 * (Docker 23+), COPY --link 0.10, RUN --mount any BuildKit (Docker 20.10's 0.8 has cache and
 * secret mounts but not heredocs). Empty when the failure is something else.
 */
export function featureHint(failure: string): string {
  if (/--mount option requires BuildKit/i.test(failure)) return ' (this engine builds without BuildKit: install docker buildx, or use Docker 23 or newer)';
  // A `# syntax=docker/dockerfile:1` line makes BuildKit pull that frontend from Docker Hub first.
  if (/resolve source metadata for docker\.io\/docker\/dockerfile/i.test(failure)) return ' (the Dockerfile\'s "# syntax=" line makes BuildKit fetch its frontend from Docker Hub, which this machine cannot reach: remove the line, the built-in frontend of Docker 23 or newer has heredocs and COPY --link, or pull that image once)';
  if (/unknown instruction|unknown flag: link|heredoc/i.test(failure)) return ' (heredocs and COPY --link need BuildKit 0.10, which comes with Docker 23 or newer on the building engine; Docker 20.10 has 0.8)';
  return '';
}
